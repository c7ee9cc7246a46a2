/**
 * A Keras-compatible LSTM layer for the tfjs-node (`tensorflow`) backend that runs the whole
 * sequence as ONE native TensorFlow op (`BlockLSTMV2`) forward and ONE (`BlockLSTMGradV2`)
 * backward, instead of tfjs-layers' per-timestep loop of ~15 small ops (plus as many gradient
 * ops), whose per-op dispatch cost dominates training on small models.
 *
 * Semantics match `tf.layers.lstm({ units, recurrentActivation: 'sigmoid' })` / Keras 2 LSTM:
 * gate order i, f, c, o; sigmoid gates, tanh cell input and output; zero initial state;
 * weights `kernel` (D x 4H), `recurrent_kernel` (H x 4H), `bias` (4H, unit forget bias),
 * so trained weights load into the project's own cells and into Keras unchanged.
 * Works only where the backend is `tensorflow` (it calls the native op through the tfjs-node
 * backend's `executeMultipleOutputs`).
 */
import type * as TfNs from '@tensorflow/tfjs';

type Tf = typeof TfNs;
type Tensor = TfNs.Tensor;

/** The subset of tfjs-node's NodeJSKernelBackend used here. */
interface NodeBackend {
  binding: {
    TF_ATTR_FLOAT: number;
    TF_ATTR_BOOL: number;
    TF_ATTR_TYPE: number;
    TF_FLOAT: number;
    TF_INT32: number;
    TF_INT64: number;
  };
  executeSingleOutput(name: string, attrs: OpAttr[], inputs: Tensor[]): Tensor;
  executeMultipleOutputs(name: string, attrs: OpAttr[], inputs: Tensor[], numOutputs: number): Tensor[];
}
interface OpAttr {
  name: string;
  type: number;
  value: number | boolean | number[];
}

/** Options of {@link fusedLstmLayer}. */
export interface FusedLstmOptions {
  units: number;
  returnSequences?: boolean;
  inputShape?: number[];
  name?: string;
}

/**
 * Defines the fused LSTM op and layer class for one tfjs namespace (the one tfjs-node extended).
 * Returns a factory for layers, and the raw differentiable op for use outside layers.
 */
export function defineFusedLstm(tf: Tf) {
  const nativeBackend = (): NodeBackend => {
    if (tf.getBackend() !== 'tensorflow')
      throw new Error(`fused LSTM needs the tensorflow backend, not ${tf.getBackend()}`);
    return tf.backend() as unknown as NodeBackend;
  };

  /** int64 scalar `seq_len_max` (tfjs has no int64 dtype: cast natively, cache per length). */
  const seqLenCache = new Map<number, Tensor>();
  const seqLenMax = (be: NodeBackend, t: number): Tensor => {
    let s = seqLenCache.get(t);
    if (!s) {
      const i32 = tf.scalar(t, 'int32');
      const warn = console.warn;
      console.warn = () => undefined; // tfjs-node warns once per int64 output
      try {
        s = be.executeSingleOutput(
          'Cast',
          [
            { name: 'SrcT', type: be.binding.TF_ATTR_TYPE, value: be.binding.TF_INT32 },
            { name: 'DstT', type: be.binding.TF_ATTR_TYPE, value: be.binding.TF_INT64 },
            { name: 'Truncate', type: be.binding.TF_ATTR_BOOL, value: false },
          ],
          [i32],
        );
      } finally {
        console.warn = warn;
      }
      tf.keep(s);
      i32.dispose();
      seqLenCache.set(t, s);
    }
    return s;
  };

  /**
   * Differentiable fused LSTM: x [B, T, D], kernel [D, 4H], recurrentKernel [H, 4H], bias [4H]
   * -> h [B, H] (last step) or [B, T, H] (returnSequences).
   */
  const fusedLstm = (
    x: Tensor,
    kernel: Tensor,
    recurrentKernel: Tensor,
    bias: Tensor,
    returnSequences: boolean,
  ): Tensor => {
    const op = tf.customGrad((...args: unknown[]) => {
      const [xb, k, rk, b] = args as Tensor[];
      const save = args[4] as (ts: Tensor[]) => void;
      const be = nativeBackend();
      const [batch, steps, inDim] = xb.shape;
      const units = rk.shape[0];
      const typeAttr: OpAttr = { name: 'T', type: be.binding.TF_ATTR_TYPE, value: be.binding.TF_FLOAT };
      const seq = seqLenMax(be, steps);
      const xt = tf.transpose(xb, [1, 0, 2]);
      const w = tf.concat([k, rk], 0);
      const zeros = tf.zeros([batch, units]);
      const peep = tf.zeros([units]);
      const outs = be.executeMultipleOutputs(
        'BlockLSTMV2',
        [
          { name: 'cell_clip', type: be.binding.TF_ATTR_FLOAT, value: -1 },
          { name: 'use_peephole', type: be.binding.TF_ATTR_BOOL, value: false },
          typeAttr,
        ],
        [seq, xt, zeros, zeros, w, peep, peep, peep, b],
        7,
      );
      const h = outs[6];
      save([xt, w, b, zeros, peep, ...outs]);
      const value = returnSequences
        ? tf.transpose(h, [1, 0, 2])
        : tf.reshape(tf.slice(h, [steps - 1, 0, 0], [1, batch, units]), [batch, units]);
      const gradFunc = (dy: Tensor | Tensor[], saved: Tensor[]): Tensor[] => {
        const g = Array.isArray(dy) ? dy[0] : dy;
        const [sxt, sw, sb, sz, sp, i, cs, f, o, ci, co, sh] = saved;
        const hGrad = returnSequences
          ? tf.transpose(g, [1, 0, 2])
          : tf.pad(tf.reshape(g, [1, batch, units]), [
              [steps - 1, 0],
              [0, 0],
              [0, 0],
            ]);
        const csGrad = tf.zerosLike(cs);
        const grads = be.executeMultipleOutputs(
          'BlockLSTMGradV2',
          [{ name: 'use_peephole', type: be.binding.TF_ATTR_BOOL, value: false }, typeAttr],
          [seq, sxt, sz, sz, sw, sp, sp, sp, sb, i, cs, f, o, ci, co, sh, csGrad, hGrad],
          8,
        );
        const [xGrad, , , wGrad, , , , bGrad] = grads;
        return [
          tf.transpose(xGrad, [1, 0, 2]),
          tf.slice(wGrad, [0, 0], [inDim, 4 * units]),
          tf.slice(wGrad, [inDim, 0], [units, 4 * units]),
          bGrad,
        ];
      };
      return { value, gradFunc };
    });
    return op(x, kernel, recurrentKernel, bias);
  };

  class FusedLstm extends tf.layers.Layer {
    static className = 'FusedLstm';
    readonly units: number;
    readonly returnSequences: boolean;
    private kernel!: TfNs.LayerVariable;
    private recurrentKernel!: TfNs.LayerVariable;
    private bias!: TfNs.LayerVariable;

    constructor(opts: FusedLstmOptions) {
      super({ name: opts.name, inputShape: opts.inputShape });
      this.units = opts.units;
      this.returnSequences = opts.returnSequences ?? false;
    }

    override build(inputShape: TfNs.Shape | TfNs.Shape[]): void {
      const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as TfNs.Shape;
      const inDim = shape[shape.length - 1] as number;
      const h = this.units;
      this.kernel = this.addWeight('kernel', [inDim, 4 * h], 'float32', tf.initializers.glorotUniform({}));
      this.recurrentKernel = this.addWeight(
        'recurrent_kernel',
        [h, 4 * h],
        'float32',
        tf.initializers.orthogonal({}),
      );
      // Keras unit_forget_bias: ones for the f block, zeros elsewhere.
      const b = new Float32Array(4 * h);
      b.fill(1, h, 2 * h);
      this.bias = this.addWeight('bias', [4 * h], 'float32', tf.initializers.zeros());
      this.bias.write(tf.tensor1d(b));
      this.built = true;
    }

    override computeOutputShape(inputShape: TfNs.Shape | TfNs.Shape[]): TfNs.Shape {
      const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as TfNs.Shape;
      return this.returnSequences ? [s[0], s[1], this.units] : [s[0], this.units];
    }

    override call(inputs: Tensor | Tensor[]): Tensor {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      return fusedLstm(
        x,
        this.kernel.read(),
        this.recurrentKernel.read(),
        this.bias.read(),
        this.returnSequences,
      );
    }

    override getConfig(): TfNs.serialization.ConfigDict {
      return { ...super.getConfig(), units: this.units, returnSequences: this.returnSequences };
    }
  }
  tf.serialization.registerClass(FusedLstm);

  return {
    fusedLstm,
    /** A FusedLstm layer, a drop-in for `tf.layers.lstm({ units, recurrentActivation: 'sigmoid' })`. */
    layer: (opts: FusedLstmOptions): TfNs.layers.Layer => new FusedLstm(opts),
  };
}
