import * as tf from '@tensorflow/tfjs';
import type { GruLayerSpec, RecurrentModelSpec } from './model-spec';
import { randomRecurrentModelSpec, seededRandom } from './random-spec';
import { RecurrentModel } from './recurrent-model';
import type { KernelKind } from './stepper';
import { loadWasmKernel } from './wasm-stepper';

// Parity of incremental stepping against TensorFlow.js (cpu backend) running the whole sequence
// in one predict. tfjs-layers' GRU refuses reset_after=true, so for that variant the reference is
// built from tfjs ops following Keras' GRUCell line by line.

const TOL = 1e-5;
const kernels: KernelKind[] = loadWasmKernel().module ? ['ts', 'wasm'] : ['ts'];

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = d; // NaN propagates as a failure
  }
  return m;
}

/** Runs fn inside a tfjs scope so intermediate tensors are freed. */
function scoped<T>(fn: () => T): T {
  tf.engine().startScope();
  try {
    return fn();
  } finally {
    tf.engine().endScope();
  }
}

const tfAct = (a: string): string => (a === 'hard_sigmoid' ? 'hardSigmoid' : a);

interface Reference {
  /** Per layer: B × T × H. */
  seqs: Float32Array[];
  /** Per LSTM layer: final c, B × H (GRU layers: null). */
  finalC: (Float32Array | null)[];
  /** B × T × outputDim. */
  head: Float32Array;
}

/** Runs the whole sequences (B × T × D) through tfjs-layers in one predict. */
function layersReference(spec: RecurrentModelSpec, x: Float32Array, B: number, T: number): Reference {
  return scoped(() => {
    const D = spec.recurrent[0].inputDim;
    const input = tf.input({ shape: [T, D] });
    let seq: tf.SymbolicTensor = input;
    const outputs: tf.SymbolicTensor[] = [];
    const setters: (() => void)[] = [];
    for (const l of spec.recurrent) {
      const common = {
        units: l.units,
        returnSequences: true,
        returnState: true,
        activation: tfAct(l.activation),
        recurrentActivation: tfAct(l.recurrentActivation),
        useBias: l.bias !== null,
        // Weights are overwritten below; skip tfjs' slow orthogonal initialisation.
        kernelInitializer: 'zeros',
        recurrentInitializer: 'zeros',
      } as const;
      const layer =
        l.kind === 'lstm'
          ? tf.layers.lstm(common as unknown as Parameters<typeof tf.layers.lstm>[0])
          : tf.layers.gru(common as unknown as Parameters<typeof tf.layers.gru>[0]);
      const res = layer.apply(seq) as tf.SymbolicTensor[];
      seq = res[0];
      outputs.push(res[0]);
      if (l.kind === 'lstm') outputs.push(res[2]);
      const G = l.kind === 'lstm' ? 4 : 3;
      setters.push(() => {
        const w: tf.Tensor[] = [
          tf.tensor2d(l.kernel, [l.inputDim, G * l.units]),
          tf.tensor2d(l.recurrentKernel, [l.units, G * l.units]),
        ];
        if (l.bias) w.push(tf.tensor1d(l.bias));
        layer.setWeights(w);
      });
    }
    let h: tf.SymbolicTensor = seq;
    for (const d of spec.head) {
      const dense = tf.layers.dense({
        units: d.units,
        activation: tfAct(d.activation) as 'linear',
        useBias: d.bias !== null,
      });
      h = dense.apply(h) as tf.SymbolicTensor;
      setters.push(() => {
        const w: tf.Tensor[] = [tf.tensor2d(d.kernel, [d.inputDim, d.units])];
        if (d.bias) w.push(tf.tensor1d(d.bias));
        dense.setWeights(w);
      });
    }
    outputs.push(h);
    const model = tf.model({ inputs: input, outputs });
    setters.forEach((s) => s());
    const res = model.predict(tf.tensor3d(x, [B, T, D])) as tf.Tensor[];
    const ref: Reference = { seqs: [], finalC: [], head: res[res.length - 1].dataSync() as Float32Array };
    let k = 0;
    for (const l of spec.recurrent) {
      ref.seqs.push(res[k++].dataSync() as Float32Array);
      ref.finalC.push(l.kind === 'lstm' ? (res[k++].dataSync() as Float32Array) : null);
    }
    return ref;
  });
}

function opAct(name: string, t: tf.Tensor): tf.Tensor {
  switch (name) {
    case 'sigmoid':
      return tf.sigmoid(t);
    case 'tanh':
      return tf.tanh(t);
    case 'relu':
      return tf.relu(t);
    case 'hard_sigmoid':
      return tf.clipByValue(tf.add(tf.mul(t, 0.2), 0.5), 0, 1);
    case 'softmax':
      return tf.softmax(t);
    default:
      return t;
  }
}

/** Keras GRUCell (reset_after=true) written with tfjs ops, for every stacked layer and the head. */
function gruResetAfterReference(spec: RecurrentModelSpec, x: Float32Array, B: number, T: number): Reference {
  return scoped(() => {
    const D = spec.recurrent[0].inputDim;
    let seq = tf.tensor3d(x, [B, T, D]);
    const ref: Reference = { seqs: [], finalC: [], head: new Float32Array(0) };
    for (const l of spec.recurrent as GruLayerSpec[]) {
      const H = l.units;
      const W = tf.tensor2d(l.kernel, [l.inputDim, 3 * H]);
      const U = tf.tensor2d(l.recurrentKernel, [H, 3 * H]);
      const bIn = l.bias ? tf.tensor1d(l.bias.subarray(0, 3 * H)) : tf.zeros([3 * H]);
      const bRec = l.bias ? tf.tensor1d(l.bias.subarray(3 * H)) : tf.zeros([3 * H]);
      let h: tf.Tensor2D = tf.zeros([B, H]);
      const steps: tf.Tensor2D[] = [];
      for (let t = 0; t < T; t++) {
        const xt = tf.reshape(tf.slice(seq, [0, t, 0], [B, 1, l.inputDim]), [B, l.inputDim]);
        const mx = tf.add(tf.matMul(xt, W), bIn);
        const mi = tf.add(tf.matMul(h, U), bRec);
        const [xz, xr, xh] = tf.split(mx, 3, 1);
        const [rz, rr, rh] = tf.split(mi, 3, 1);
        const z = opAct(l.recurrentActivation, tf.add(xz, rz));
        const r = opAct(l.recurrentActivation, tf.add(xr, rr));
        const hh = opAct(l.activation, tf.add(xh, tf.mul(r, rh)));
        h = tf.add<tf.Tensor2D>(tf.mul(z, h), tf.mul(tf.sub(1, z), hh));
        steps.push(h);
      }
      seq = tf.stack(steps, 1) as tf.Tensor3D;
      ref.seqs.push(seq.dataSync() as Float32Array);
      ref.finalC.push(null);
    }
    let out: tf.Tensor = seq;
    for (const d of spec.head) {
      const k = tf.tensor2d(d.kernel, [d.inputDim, d.units]);
      let y = tf.matMul(tf.reshape(out, [B * T, d.inputDim]), k);
      if (d.bias) y = tf.add(y, tf.tensor1d(d.bias));
      out = tf.reshape(opAct(d.activation, y), [B, T, d.units]);
    }
    ref.head = out.dataSync() as Float32Array;
    return ref;
  });
}

/** Steps the engine one event at a time and compares h of every layer, final c and the head. */
function compareStepping(
  spec: RecurrentModelSpec,
  kernel: KernelKind,
  ref: Reference,
  x: Float32Array,
  B: number,
  T: number,
) {
  const model = new RecurrentModel(spec, { kernel });
  expect(model.kernel).toBe(kernel);
  const D = model.inputDim;
  const state = model.createState(B);
  const xt = new Float32Array(B * D);
  const out = new Float32Array(B * model.outputDim);
  let errH = 0;
  let errC = 0;
  let errHead = 0;
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) xt.set(x.subarray((b * T + t) * D, (b * T + t + 1) * D), b * D);
    model.step(B, xt, state);
    model.head(B, state, out);
    model.layout.forEach((l, li) => {
      for (let b = 0; b < B; b++) {
        const got = state.subarray(
          b * model.stateSize + l.hOffset,
          b * model.stateSize + l.hOffset + l.units,
        );
        const want = ref.seqs[li].subarray((b * T + t) * l.units, (b * T + t + 1) * l.units);
        errH = Math.max(errH, maxAbsDiff(got, want));
      }
    });
    for (let b = 0; b < B; b++) {
      const O = model.outputDim;
      errHead = Math.max(
        errHead,
        maxAbsDiff(out.subarray(b * O, (b + 1) * O), ref.head.subarray((b * T + t) * O, (b * T + t + 1) * O)),
      );
    }
  }
  model.layout.forEach((l, li) => {
    const c = ref.finalC[li];
    if (!c) return;
    for (let b = 0; b < B; b++) {
      const got = state.subarray(b * model.stateSize + l.cOffset, b * model.stateSize + l.cOffset + l.units);
      errC = Math.max(errC, maxAbsDiff(got, c.subarray(b * l.units, (b + 1) * l.units)));
    }
  });
  return { errH, errC, errHead };
}

interface Case {
  name: string;
  cell: 'lstm' | 'gru';
  resetAfter?: boolean;
  D: number;
  units: number[];
  T: number;
  bias: boolean;
  headAct: 'linear' | 'sigmoid' | 'softmax' | 'relu' | 'tanh';
  recurrentActivation?: 'sigmoid' | 'hard_sigmoid';
  activation?: 'tanh' | 'relu' | 'linear';
}

// Random shapes, drawn once from a fixed seed so failures reproduce.
function randomCases(): Case[] {
  const rnd = seededRandom(20261127);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const cases: Case[] = [];
  const cells: { cell: 'lstm' | 'gru'; resetAfter?: boolean }[] = [
    { cell: 'lstm' },
    { cell: 'gru', resetAfter: false },
    { cell: 'gru', resetAfter: true },
  ];
  for (const c of cells) {
    for (const layers of [1, 2]) {
      for (const bias of [true, false]) {
        const units = Array.from({ length: layers }, () => int(1, 40));
        cases.push({
          name: '',
          ...c,
          D: int(1, 12),
          units,
          T: int(20, 100),
          bias,
          headAct: pick(['linear', 'sigmoid', 'softmax', 'relu', 'tanh'] as const),
        });
      }
    }
  }
  // Other cell activations Keras allows.
  cases.push({
    name: '',
    cell: 'lstm',
    D: 5,
    units: [9],
    T: 40,
    bias: true,
    headAct: 'linear',
    recurrentActivation: 'hard_sigmoid',
  });
  cases.push({
    name: '',
    cell: 'gru',
    resetAfter: false,
    D: 3,
    units: [6],
    T: 40,
    bias: true,
    headAct: 'sigmoid',
    recurrentActivation: 'hard_sigmoid',
    activation: 'relu',
  });
  cases.push({
    name: '',
    cell: 'lstm',
    D: 4,
    units: [8],
    T: 30,
    bias: true,
    headAct: 'linear',
    activation: 'linear',
  });
  for (const c of cases) {
    c.name = `${c.cell}${c.cell === 'gru' ? `(reset_after=${c.resetAfter})` : ''} D=${c.D} H=${c.units.join('+')} T=${c.T} bias=${c.bias} head=${c.headAct}${c.recurrentActivation ? ` rec=${c.recurrentActivation}` : ''}${c.activation ? ` act=${c.activation}` : ''}`;
  }
  return cases;
}

describe('engine parity with tfjs (whole sequence in one predict vs one event at a time)', () => {
  const cases = randomCases();
  it.each(cases.map((c, i) => [c.name, c, i] as const))('%s', (_name, c, i) => {
    const B = 3;
    const spec = randomRecurrentModelSpec({
      cell: c.cell,
      resetAfter: c.resetAfter,
      inputDim: c.D,
      units: c.units,
      useBias: c.bias,
      activation: c.activation,
      recurrentActivation: c.recurrentActivation,
      head: [{ units: c.headAct === 'softmax' ? 4 : 2, activation: c.headAct }],
      scale: 0.6,
      seed: 100 + i,
    });
    const rnd = seededRandom(7 + i);
    const x = Float32Array.from({ length: B * c.T * c.D }, () => (rnd() * 2 - 1) * 2);
    const ref =
      c.cell === 'gru' && c.resetAfter
        ? gruResetAfterReference(spec, x, B, c.T)
        : layersReference(spec, x, B, c.T);
    for (const kernel of kernels) {
      const err = compareStepping(spec, kernel, ref, x, B, c.T);
      if (!(err.errH <= TOL && err.errC <= TOL && err.errHead <= TOL)) {
        throw new Error(`${kernel} kernel: max abs errors ${JSON.stringify(err)} exceed ${TOL}`);
      }
      expect(err.errH).toBeLessThanOrEqual(TOL);
      expect(err.errC).toBeLessThanOrEqual(TOL);
      expect(err.errHead).toBeLessThanOrEqual(TOL);
    }
  });

  it('the tfjs-ops reset_after=true GRU reference matches a hand computation of Keras GRUCell', () => {
    const spec = randomRecurrentModelSpec({
      cell: 'gru',
      resetAfter: true,
      inputDim: 3,
      units: [4],
      seed: 5,
    });
    const x = Float32Array.from([0.5, -1, 2]);
    const ref = gruResetAfterReference(spec, x, 1, 1);
    const l = spec.recurrent[0] as GruLayerSpec;
    const H = 4;
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    for (let u = 0; u < H; u++) {
      const mx = (g: number) =>
        x.reduce((s, xi, r) => s + xi * l.kernel[r * 3 * H + g * H + u], 0) + l.bias![g * H + u];
      const mi = (g: number) => l.bias![3 * H + g * H + u]; // h0 = 0
      const z = sig(mx(0) + mi(0));
      const r = sig(mx(1) + mi(1));
      const hh = Math.tanh(mx(2) + r * mi(2));
      expect(Math.abs(ref.seqs[0][u] - (1 - z) * hh)).toBeLessThan(1e-6);
    }
  });
});

describe('text model parity: Embedding → LSTM → Dense(sigmoid)', () => {
  for (const maskZero of [true, false]) {
    it(`token sequences of varied length, zero-padded prefix, maskZero=${maskZero}`, () => {
      const vocab = 50;
      const E = 8;
      const H = 16;
      const spec = randomRecurrentModelSpec({
        cell: 'lstm',
        inputDim: E,
        units: [H],
        vocabulary: vocab,
        maskZero,
        head: [{ units: 1, activation: 'sigmoid' }],
        seed: maskZero ? 11 : 12,
      });
      const rnd = seededRandom(maskZero ? 3 : 4);
      const T = 60;
      const lengths = [1, 5, 17, 33, 60, 42];
      const B = lengths.length;
      // Pre-padded like pad_sequences(padding='pre'); some zeros inside sequences too.
      const tokens = new Int32Array(B * T);
      lengths.forEach((len, b) => {
        for (let t = T - len; t < T; t++)
          tokens[b * T + t] = rnd() < 0.1 ? 0 : 1 + Math.floor(rnd() * (vocab - 1));
      });
      const emb = spec.embedding!;
      const l = spec.recurrent[0];
      const d = spec.head[0];
      const ref = tf.tidy(() => {
        const input = tf.input({ shape: [T], dtype: 'int32' });
        const embedding = tf.layers.embedding({ inputDim: vocab, outputDim: E, maskZero });
        const lstm = tf.layers.lstm({
          units: H,
          returnState: true,
          recurrentActivation: 'sigmoid',
          kernelInitializer: 'zeros',
          recurrentInitializer: 'zeros',
        });
        const dense = tf.layers.dense({ units: 1, activation: 'sigmoid' });
        const [, hT, cT] = lstm.apply(embedding.apply(input)) as tf.SymbolicTensor[];
        const y = dense.apply(hT) as tf.SymbolicTensor;
        const model = tf.model({ inputs: input, outputs: [hT, cT, y] });
        embedding.setWeights([tf.tensor2d(emb.embeddings, [vocab, E])]);
        lstm.setWeights([
          tf.tensor2d(l.kernel, [E, 4 * H]),
          tf.tensor2d(l.recurrentKernel, [H, 4 * H]),
          tf.tensor1d(l.bias!),
        ]);
        dense.setWeights([tf.tensor2d(d.kernel, [H, 1]), tf.tensor1d(d.bias!)]);
        const out = model.predict(tf.tensor2d(tokens, [B, T], 'int32')) as tf.Tensor[];
        return out.map((o) => o.dataSync() as Float32Array);
      });
      for (const kernel of kernels) {
        const model = new RecurrentModel(spec, { kernel });
        const state = model.createState(B);
        const step = new Int32Array(B);
        for (let t = 0; t < T; t++) {
          for (let b = 0; b < B; b++) step[b] = tokens[b * T + t];
          model.stepTokens(B, step, state);
        }
        const out = new Float32Array(B);
        model.head(B, state, out);
        const lay = model.layout[0];
        for (let b = 0; b < B; b++) {
          const row = state.subarray(b * model.stateSize, (b + 1) * model.stateSize);
          expect(
            maxAbsDiff(row.subarray(lay.hOffset, lay.hOffset + H), ref[0].subarray(b * H, (b + 1) * H)),
          ).toBeLessThanOrEqual(TOL);
          expect(
            maxAbsDiff(row.subarray(lay.cOffset, lay.cOffset + H), ref[1].subarray(b * H, (b + 1) * H)),
          ).toBeLessThanOrEqual(TOL);
        }
        expect(maxAbsDiff(out, ref[2])).toBeLessThanOrEqual(TOL);
      }
    });
  }
});
