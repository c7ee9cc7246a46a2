import * as tf from '@tensorflow/tfjs';
import { RecurrentModel, loadArtifact } from '@app/lstm';
import { predictClasses, trainClassifier } from './classifier-trainer';
import type { SensorReading, TextExample } from './dataset';
import { fitRecurrentModel, fitShapeOf } from './fit-loop';
import { predictForecasts, trainForecaster } from './forecaster-trainer';
import { Tokenizer } from './preprocess';
import { seededRandom } from './seeded-random';
import { buildClassifier, buildForecaster } from './tf-models';
import { withDefaults, type EpochProgress, type TrainParams } from './train-params';

const weightsOf = (m: tf.LayersModel) => m.getWeights().map((t) => t.dataSync() as Float32Array);

function maxRelDiff(a: Float32Array[], b: Float32Array[]): number {
  let d = 0;
  a.forEach((w, i) => w.forEach((v, j) => (d = Math.max(d, Math.abs(v - b[i][j]) / (1 + Math.abs(b[i][j]))))));
  return d;
}

function texts(n: number, labels: string[]): TextExample[] {
  const r = seededRandom(9);
  const words = ['pump', 'valve', 'broken', 'fine', 'leak', 'ok', 'noise', 'hot', 'cold', 'again', 'now', 'still'];
  return Array.from({ length: n }, (_, i) => {
    const label = labels[i % labels.length];
    const len = 2 + Math.floor(r() * 8);
    const ws = Array.from({ length: len }, () => words[Math.floor(r() * words.length)]);
    ws.push(label === labels[0] ? 'broken' : label === labels[1] ? 'fine' : 'noise');
    return { text: ws.join(' '), label };
  });
}

function readings(n: number): SensorReading[] {
  const out: SensorReading[] = [];
  for (const key of ['a', 'b']) {
    for (let i = 0; i < n; i++) out.push({ key, ts: i * 1000, values: [Math.sin(i / 3 + (key === 'b' ? 1 : 0)) * 5 + 20] });
  }
  return out;
}

async function bothRoutes<T>(train: (route: 'simd' | 'tfjs', onEpoch: (e: EpochProgress) => void) => Promise<{ model: tf.LayersModel; route: string; metrics: Record<string, number> } & T>) {
  const runs = [];
  for (const route of ['simd', 'tfjs'] as const) {
    const epochs: EpochProgress[] = [];
    const res = await train(route, (e) => epochs.push(e));
    runs.push({ res, epochs, weights: weightsOf(res.model) });
  }
  return runs;
}

describe('the trainer fit loop: SIMD kernel and tfjs-layers routes agree', () => {
  // The tfjs reference runs on the pure-JS cpu backend.
  jest.setTimeout(60_000);
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  const params = (over: Partial<TrainParams>): TrainParams => withDefaults({ hiddenUnits: 8, epochs: 3, batchSize: 16, learningRate: 0.01, validationSplit: 0.2, seed: 3, ...over });

  it.each([
    ['binary, one LSTM', ['bad', 'good'], 1],
    ['three labels, two stacked LSTMs', ['bad', 'good', 'meh'], 2],
  ] as const)('text classifier (%s): per-epoch loss, val loss, accuracy and trained weights', async (_n, labels, layers) => {
    const data = texts(60, [...labels]);
    const p = params({ layers, vocabSize: 30, embeddingDim: 8, maxlen: 8 });
    const [simd, tfjs] = await bothRoutes((route, onEpoch) => trainClassifier(data, p, onEpoch, undefined, route));
    expect(simd.res.route).toBe('simd');
    expect(tfjs.res.route).toBe('tfjs');
    expect(simd.epochs).toHaveLength(3);
    expect(simd.epochs.map((e) => e.route)).toEqual(['simd', 'simd', 'simd']);
    expect(tfjs.epochs.map((e) => e.route)).toEqual(['tfjs', 'tfjs', 'tfjs']);
    simd.epochs.forEach((e, i) => {
      const t = tfjs.epochs[i];
      expect(e.epoch).toBe(i + 1);
      expect(e.loss).toBeCloseTo(t.loss, 4);
      expect(e.valLoss!).toBeCloseTo(t.valLoss!, 4);
      expect(e.metrics.accuracy).toBeCloseTo(t.metrics.accuracy, 5);
      expect(e.metrics.valAccuracy).toBeCloseTo(t.metrics.valAccuracy, 5);
    });
    expect(maxRelDiff(simd.weights, tfjs.weights)).toBeLessThan(1e-4);
    expect(simd.res.metrics.accuracy).toBeCloseTo(tfjs.res.metrics.accuracy, 5);
  });

  it('forecaster: per-epoch loss, val loss and trained weights', async () => {
    const data = readings(40);
    const p = params({ window: 8, horizon: 2 });
    const [simd, tfjs] = await bothRoutes((route, onEpoch) => trainForecaster(data, p, onEpoch, undefined, route));
    expect(simd.res.route).toBe('simd');
    simd.epochs.forEach((e, i) => {
      expect(e.loss).toBeCloseTo(tfjs.epochs[i].loss, 4);
      expect(e.valLoss!).toBeCloseTo(tfjs.epochs[i].valLoss!, 4);
      expect(e.metrics).toEqual({});
    });
    expect(maxRelDiff(simd.weights, tfjs.weights)).toBeLessThan(1e-4);
    expect(simd.epochs[2].loss).toBeLessThan(simd.epochs[0].loss);
  });

  it('the streaming engine (libs/lstm, as the worker serves) predicts what the SIMD-trained artifact predicts', async () => {
    const data = texts(60, ['bad', 'good', 'meh']);
    const cls = await trainClassifier(data, params({ layers: 2, vocabSize: 30, embeddingDim: 8, maxlen: 8 }), () => undefined);
    expect(cls.route).toBe('simd');
    const art = await loadArtifact(cls.files);
    const engine = new RecurrentModel(art.spec, { kernel: 'wasm' });
    const tokenizer = Tokenizer.fromKerasJson(art.sidecar.tokenizer!);
    const expected = predictClasses(cls.model, art.sidecar, cls.holdout.map((e) => e.text));
    cls.holdout.forEach((e, i) => {
      // A stream steps only its tokens (the last maxlen) from a zero state; mask_zero made training's pre-padding a no-op.
      const ids = tokenizer.textsToSequences([e.text])[0].slice(-8);
      const state = engine.createState(1);
      for (const id of ids) engine.stepTokens(1, Int32Array.of(id), state);
      const out = new Float32Array(engine.outputDim);
      engine.head(1, state, out);
      out.forEach((v, k) => expect(Math.abs(v - expected[i][k])).toBeLessThan(1e-5));
    });

    const fc = await trainForecaster(readings(40), params({ window: 8, horizon: 2 }), () => undefined);
    expect(fc.route).toBe('simd');
    const fart = await loadArtifact(fc.files);
    const fengine = new RecurrentModel(fart.spec, { kernel: 'wasm' });
    const raw = predictForecasts(fc.model, fart.sidecar, fc.holdout);
    const { mean, scale } = fart.sidecar.scaler!;
    fc.holdout.forEach((ex, i) => {
      const state = fengine.createState(1);
      for (const row of ex.history) fengine.step(1, Float32Array.of((row[0] - mean[0]) / scale[0]), state);
      const out = new Float32Array(2);
      fengine.head(1, state, out);
      out.forEach((v, k) => expect(Math.abs(v * scale[0] + mean[0] - raw[i * 2 + k])).toBeLessThan(1e-4 * (1 + Math.abs(raw[i * 2 + k]))));
    });
  });

  it('trains units that are not a multiple of 4 on the SIMD kernel (zero-padded lanes)', async () => {
    const epochs: EpochProgress[] = [];
    const res = await trainForecaster(readings(30), params({ hiddenUnits: 6, window: 6, epochs: 2 }), (e) => epochs.push(e));
    expect(res.route).toBe('simd');
    expect(epochs.map((e) => [e.epoch, e.route])).toEqual([
      [1, 'simd'],
      [2, 'simd'],
    ]);
    // The model keeps its own shape: LSTM(6), recurrent kernel 6 × 24.
    expect(res.model.getWeights().map((w) => w.shape)).toEqual([[1, 24], [6, 24], [24], [6, 1], [1]]);
    expect(epochs.every((e) => Number.isFinite(e.loss) && Number.isFinite(e.valLoss))).toBe(true);
  });

  it('falls back to tfjs-layers for models the kernel does not train (a GRU) and says why', async () => {
    const model = tf.sequential();
    model.add(tf.layers.gru({ units: 4, inputShape: [5, 1] }));
    model.add(tf.layers.dense({ units: 1 }));
    const r = seededRandom(3);
    const set = (n: number) => ({ x: Float32Array.from({ length: n * 5 }, () => r()), y: Float32Array.from({ length: n }, () => r()), n });
    const epochs: EpochProgress[] = [];
    const out = await fitRecurrentModel(model, 5, set(20), set(6), { epochs: 2, batchSize: 8, learningRate: 0.01 }, (e) => epochs.push(e));
    expect(out.route).toBe('tfjs');
    expect(out.reason).toMatch(/GRU/);
    expect(epochs.map((e) => [e.epoch, e.route])).toEqual([
      [1, 'tfjs'],
      [2, 'tfjs'],
    ]);
    expect(epochs.every((e) => Number.isFinite(e.loss) && Number.isFinite(e.valLoss))).toBe(true);
    model.dispose();
  });

  it('the same seed trains bit-identical weights', async () => {
    const data = texts(60, ['bad', 'good']);
    const p = params({ vocabSize: 30, embeddingDim: 8, maxlen: 10 });
    const a = await trainClassifier(data, p, () => undefined);
    const b = await trainClassifier(data, p, () => undefined);
    const wa = weightsOf(a.model);
    weightsOf(b.model).forEach((w, i) => expect(Array.from(w)).toEqual(Array.from(wa[i])));
  });

  it('reads the model shape, and names what the kernel cannot train', () => {
    const text = fitShapeOf(buildClassifier({ hiddenUnits: 8, layers: 2, seed: 1 }, 50, 4, 7, 3), 7);
    expect(text).toEqual({ shape: { vocab: 50, inputDim: 4, units: 8, layers: 2, outputs: 3, head: 'softmax', steps: 7, maskZero: true }, unsupported: null });
    const fc = fitShapeOf(buildForecaster({ hiddenUnits: 8, layers: 1, seed: 1 }, 3, 2), 5);
    expect(fc).toEqual({ shape: { vocab: 0, inputDim: 3, units: 8, layers: 1, outputs: 2, head: 'linear', steps: 5, maskZero: false }, unsupported: null });
    const hard = tf.sequential();
    hard.add(tf.layers.lstm({ units: 8, inputShape: [5, 1] }));
    hard.add(tf.layers.dense({ units: 1 }));
    expect(fitShapeOf(hard, 5).unsupported).toMatch(/hardSigmoid|hard_sigmoid/);
    const gru = tf.sequential();
    gru.add(tf.layers.gru({ units: 8, inputShape: [5, 1] }));
    gru.add(tf.layers.dense({ units: 1 }));
    expect(fitShapeOf(gru, 5).unsupported).toMatch(/GRU/);
  });
});
