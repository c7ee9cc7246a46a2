import * as tf from '@tensorflow/tfjs';
import { SimdLstmTrainer, simdUnsupportedReason, type BatchScore, type SimdLstmShape } from './simd-lstm-trainer';
import type { EpochProgress, TrainParams } from './train-params';

/** Examples of one split, row-major: x is n × steps token ids, or n × steps × features values; y is n × outputs. */
export interface FitSet {
  readonly x: Int32Array | Float32Array;
  readonly y: Float32Array;
  readonly n: number;
}

/** The model's shape as the fit loop needs it (the SIMD kernel's shape without its batch size). */
export type FitShape = Omit<SimdLstmShape, 'maxBatch'>;

/** Which implementation trained the model. */
export type FitRoute = EpochProgress['route'];

/** A fit's route: the SIMD kernel where it supports the model (`auto`), or one forced. */
export type FitRouteChoice = 'auto' | FitRoute;

type LayerConfig = Record<string, unknown>;

/**
 * Reads an `[Embedding →] recurrent layers → Dense(sigmoid | softmax | linear)` model (tf-models.ts
 * builds these) as a {@link FitShape}, with the reason the SIMD kernel cannot train it (other
 * activations, dropout, missing biases, non-LSTM layers, ...) or null when it can.
 */
export function fitShapeOf(model: tf.LayersModel, steps: number): { shape: FitShape; unsupported: string | null } {
  const layers = model.layers;
  const cfg = (i: number) => layers[i].getConfig() as LayerConfig;
  const first = layers[0]?.getClassName() === 'Embedding' ? 1 : 0;
  const dense = layers[layers.length - 1];
  const d = dense?.getConfig() as LayerConfig | undefined;
  const head = d?.activation;
  if (!d || dense.getClassName() !== 'Dense' || layers.length - first < 2 || (head !== 'sigmoid' && head !== 'softmax' && head !== 'linear')) {
    throw new Error('cannot fit this model: expected [Embedding →] recurrent layers → Dense(sigmoid | softmax | linear)');
  }
  const e = first === 1 ? cfg(0) : null;
  const rnn = layers.slice(first, -1);
  const shape: FitShape = {
    vocab: e ? Number(e.inputDim) : 0,
    inputDim: e ? Number(e.outputDim) : rnn[0].getWeights()[0]?.shape[0] ?? 0,
    units: Number((rnn[0].getConfig() as LayerConfig).units),
    layers: rnn.length,
    outputs: Number(d.units),
    head,
    steps,
    maskZero: e?.maskZero === true,
  };
  const why = (): string | null => {
    if (d.useBias !== true) return 'Dense without bias';
    for (let i = 0; i < rnn.length; i++) {
      const c = rnn[i].getConfig() as LayerConfig;
      if (rnn[i].getClassName() !== 'LSTM') return `${rnn[i].getClassName()} layer`;
      if (c.activation !== 'tanh' || c.recurrentActivation !== 'sigmoid') return `LSTM activations ${String(c.activation)}/${String(c.recurrentActivation)}`;
      if (c.useBias !== true || Number(c.dropout ?? 0) !== 0 || Number(c.recurrentDropout ?? 0) !== 0) return 'LSTM without bias or with dropout';
      if (c.goBackwards === true || c.stateful === true || c.returnSequences !== (i < rnn.length - 1)) return 'LSTM direction, state or sequence options';
      if (Number(c.units) !== shape.units) return 'stacked LSTMs of different sizes';
    }
    return null;
  };
  return { shape, unsupported: why() };
}

/** Outcome of {@link fitRecurrentModel}: the route taken and, for tfjs, why the SIMD kernel was not used. */
export interface FitOutcome {
  readonly route: FitRoute;
  readonly reason: string | null;
}

const lossName = { sigmoid: 'binaryCrossentropy', softmax: 'categoricalCrossentropy', linear: 'meanSquaredError' } as const;

/**
 * The trainer's one fit loop for both tasks: `epochs` passes over `train` in order (callers shuffle
 * with the seed beforehand), batches of `batchSize`, Adam(learningRate), per-epoch progress (loss,
 * validation loss, accuracy for classifier heads). Uses the WASM SIMD BPTT kernel when it supports
 * the shape and leaves the trained weights in `model`; otherwise tfjs-layers' `fit` on the current
 * backend. Both compute the same math (simd-lstm-trainer.spec.ts).
 */
export async function fitRecurrentModel(
  model: tf.LayersModel,
  steps: number,
  train: FitSet,
  val: FitSet | null,
  p: Pick<TrainParams, 'epochs' | 'batchSize' | 'learningRate'>,
  onEpoch: (e: EpochProgress) => void,
  route: FitRouteChoice = 'auto',
): Promise<FitOutcome> {
  const { shape, unsupported } = fitShapeOf(model, steps);
  const full: SimdLstmShape = { ...shape, maxBatch: Math.max(1, Math.min(p.batchSize, train.n)) };
  let reason = route === 'tfjs' ? 'tfjs requested' : (unsupported ?? simdUnsupportedReason(full));
  const job: FitJob = { model, shape: full, train, val, p, onEpoch };
  if (reason === null) {
    let trainer: SimdLstmTrainer | null = null;
    try {
      trainer = new SimdLstmTrainer(full, model.getWeights().map((t) => t.dataSync() as Float32Array));
    } catch (err) {
      // E.g. the kernel's memory cannot grow to this batch × steps × units.
      reason = (err as Error).message;
    }
    if (trainer) {
      await fitSimd(job, trainer);
      return { route: 'simd', reason: null };
    }
  }
  if (route === 'simd') throw new Error(`SIMD training kernel unavailable: ${reason}`);
  await fitTfjs(job);
  return { route: 'tfjs', reason };
}

function progress(route: FitRoute, shape: FitShape, p: Pick<TrainParams, 'epochs'>, epoch: number, n: number, seconds: number, tr: BatchScore, vn: number, va: BatchScore | null): EpochProgress {
  const metrics: Record<string, number> = {};
  if (shape.head !== 'linear') {
    metrics.accuracy = tr.correct / n;
    if (va) metrics.valAccuracy = va.correct / vn;
  }
  return { epoch, epochs: p.epochs, loss: tr.loss, valLoss: va ? va.loss : null, metrics, examplesPerSecond: n / Math.max(seconds, 1e-9), route };
}

/** Everything one fit works on. */
interface FitJob {
  readonly model: tf.LayersModel;
  readonly shape: SimdLstmShape;
  readonly train: FitSet;
  readonly val: FitSet | null;
  readonly p: Pick<TrainParams, 'epochs' | 'batchSize' | 'learningRate'>;
  readonly onEpoch: (e: EpochProgress) => void;
}

async function fitSimd({ model, shape, train, val, p, onEpoch }: FitJob, trainer: SimdLstmTrainer): Promise<void> {
  const per = train.x.length / Math.max(train.n, 1);
  const K = shape.outputs;
  const B = shape.maxBatch;
  for (let e = 0; e < p.epochs; e++) {
    const t0 = Date.now();
    let loss = 0;
    let correct = 0;
    for (let s = 0; s < train.n; s += B) {
      const b = Math.min(B, train.n - s);
      const r = trainer.trainBatch(train.x.subarray(s * per, (s + b) * per), train.y.subarray(s * K, (s + b) * K), b, p.learningRate);
      loss += r.loss * b;
      correct += r.correct;
    }
    const seconds = (Date.now() - t0) / 1000;
    const va = val && val.n > 0 ? trainer.evaluate(val.x, val.y, val.n) : null;
    onEpoch(progress('simd', shape, p, e + 1, train.n, seconds, { loss: loss / train.n, correct }, val?.n ?? 0, va));
    // Let progress messages leave before the next epoch (training runs off the HTTP loop).
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const shapes = model.getWeights().map((t) => t.shape);
  const trained = trainer.getWeights().map((w, i) => tf.tensor(w, shapes[i], 'float32'));
  model.setWeights(trained);
  tf.dispose(trained);
}

function tensorsOf(shape: FitShape, s: FitSet): [tf.Tensor, tf.Tensor] {
  const x = shape.vocab > 0 ? tf.tensor2d(s.x, [s.n, shape.steps], 'int32') : tf.tensor3d(s.x, [s.n, shape.steps, shape.inputDim]);
  return [x, tf.tensor2d(s.y, [s.n, shape.outputs])];
}

async function fitTfjs({ model, shape, train, val, p, onEpoch }: FitJob): Promise<void> {
  const classify = shape.head !== 'linear';
  model.compile({ optimizer: tf.train.adam(p.learningRate), loss: lossName[shape.head], ...(classify ? { metrics: ['accuracy'] } : {}) });
  const [x, y] = tensorsOf(shape, train);
  const v = val && val.n > 0 ? tensorsOf(shape, val) : null;
  let t0 = Date.now();
  try {
    await model.fit(x, y, {
      epochs: p.epochs,
      batchSize: p.batchSize,
      shuffle: false,
      verbose: 0,
      ...(v ? { validationData: v } : {}),
      callbacks: {
        onEpochEnd: async (epoch, logs) => {
          const seconds = (Date.now() - t0) / 1000;
          const tr = { loss: Number(logs?.loss), correct: Number(logs?.acc ?? 0) * train.n };
          const va = logs?.val_loss !== undefined ? { loss: Number(logs.val_loss), correct: Number(logs.val_acc ?? 0) * (val?.n ?? 0) } : null;
          onEpoch(progress('tfjs', shape, p, epoch + 1, train.n, seconds, tr, val?.n ?? 0, va));
          t0 = Date.now();
        },
      },
    });
  } finally {
    tf.dispose([x, y, ...(v ?? [])]);
  }
}
