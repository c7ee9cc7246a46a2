import * as tf from '@tensorflow/tfjs';
import { JsLstmTrainer } from './js-lstm-trainer';
import { seededRandom } from './seeded-random';
import { SimdLstmTrainer, simdUnsupportedReason, type SimdLstmShape } from './simd-lstm-trainer';
import { buildClassifier, buildForecaster } from './tf-models';

type Case = { shape: SimdLstmShape; model: () => tf.Sequential; x: Int32Array | Float32Array; y: Float32Array; n: number; loss: string };

const weightsOf = (m: tf.LayersModel) => m.getWeights().map((t) => t.dataSync() as Float32Array);

/** Pre-padded token rows (as pad_sequences 'pre'), some fully padded, some full length. */
function paddedIds(n: number, T: number, vocab: number, seed: number): Int32Array {
  const r = seededRandom(seed);
  const ids = new Int32Array(n * T);
  for (let b = 0; b < n; b++) {
    const len = b % 7 === 3 ? 0 : b % 5 === 0 ? T : 1 + Math.floor(r() * T);
    for (let t = T - len; t < T; t++) ids[b * T + t] = 1 + Math.floor(r() * (vocab - 1));
  }
  return ids;
}

function textCase(n: number, numClasses: number, layers: number, units = 8): Case {
  const T = 9;
  const vocab = 23;
  const E = 6;
  const r = seededRandom(11);
  const labels = Array.from({ length: n }, () => Math.floor(r() * numClasses));
  const y = numClasses === 2 ? Float32Array.from(labels) : Float32Array.from({ length: n * numClasses }, (_, i) => (labels[Math.floor(i / numClasses)] === i % numClasses ? 1 : 0));
  return {
    shape: { vocab, inputDim: E, units, layers, outputs: numClasses === 2 ? 1 : numClasses, head: numClasses === 2 ? 'sigmoid' : 'softmax', steps: T, maxBatch: 8, maskZero: true },
    model: () => buildClassifier({ hiddenUnits: units, layers, seed: 3 }, vocab, E, T, numClasses),
    x: paddedIds(n, T, vocab, 5),
    y,
    n,
    loss: numClasses === 2 ? 'binaryCrossentropy' : 'categoricalCrossentropy',
  };
}

function forecastCase(n: number, layers: number, units = 8): Case {
  const T = 11;
  const D = 2;
  const K = 3;
  const r = seededRandom(7);
  return {
    shape: { vocab: 0, inputDim: D, units, layers, outputs: K, head: 'linear', steps: T, maxBatch: 8, maskZero: false },
    model: () => buildForecaster({ hiddenUnits: units, layers, seed: 4 }, D, K),
    x: Float32Array.from({ length: n * T * D }, () => r() * 2 - 1),
    y: Float32Array.from({ length: n * K }, () => r() * 2 - 1),
    n,
    loss: 'meanSquaredError',
  };
}

function tensorsOf(c: Case, from = 0, to = c.n): [tf.Tensor, tf.Tensor] {
  const { steps: T, inputDim: D, vocab, outputs: K } = c.shape;
  const n = to - from;
  const x = vocab > 0 ? tf.tensor2d(c.x.slice(from * T, to * T), [n, T], 'int32') : tf.tensor3d(c.x.slice(from * T * D, to * T * D), [n, T, D]);
  return [x, tf.tensor2d(c.y.slice(from * K, to * K), [n, K])];
}

/** max |a − b| / (1 + |b|) over every weight array. */
function maxRelDiff(a: Float32Array[], b: Float32Array[]): number {
  let d = 0;
  a.forEach((w, i) => w.forEach((v, j) => (d = Math.max(d, Math.abs(v - b[i][j]) / (1 + Math.abs(b[i][j]))))));
  return d;
}

const cases: [string, () => Case][] = [
  ['masked text, Dense(sigmoid), BCE', () => textCase(8, 2, 1)],
  ['masked text, 2 stacked LSTMs, Dense(softmax), categorical CE', () => textCase(8, 3, 2)],
  ['forecast, 2 features → Dense(3), MSE', () => forecastCase(8, 1)],
  ['forecast, 3 stacked LSTMs', () => forecastCase(8, 3)],
  // Units not a multiple of 4 train on zero-padded lanes.
  ['masked text, 2 stacked LSTM(6) (padded to 8), Dense(softmax)', () => textCase(8, 3, 2, 6)],
  ['forecast, 2 stacked LSTM(3) (padded to 4), as many units as outputs', () => forecastCase(8, 2, 3)],
];

describe('SimdLstmTrainer matches tfjs-layers', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('the kernel is built and loads', () => {
    expect(simdUnsupportedReason(textCase(1, 2, 1).shape)).toBeNull();
    expect(simdUnsupportedReason({ ...textCase(1, 2, 1).shape, units: 6 })).toBeNull();
    expect(simdUnsupportedReason({ ...textCase(1, 2, 1).shape, units: 0 })).toMatch(/no LSTM units/);
  });

  /** Gradients of one batch against one tfjs SGD(lr = 1) step (new weights = old − gradient). */
  async function expectTfjsGradients(c: Case, edit: (w: Float32Array[]) => void = () => undefined) {
    const m = c.model();
    const w0 = weightsOf(m);
    edit(w0);
    m.setWeights(w0.map((w, i) => tf.tensor(w, m.getWeights()[i].shape)));
    m.compile({ optimizer: tf.train.sgd(1), loss: c.loss });
    const [x, y] = tensorsOf(c);
    const refLoss = (await m.trainOnBatch(x, y)) as number;
    const w1 = weightsOf(m);
    const ref = w0.map((w, i) => w.map((v, j) => v - w1[i][j]));
    const got = new SimdLstmTrainer(c.shape, w0).gradients(c.x, c.y, c.n);
    expect(got.loss).toBeCloseTo(refLoss, 5);
    got.grads.forEach((g, i) => g.forEach((v, j) => expect(Math.abs(v - ref[i][j])).toBeLessThan(1e-5)));
    m.dispose();
    tf.dispose([x, y]);
    return got.grads;
  }

  it.each(cases)('gradients of one batch: %s', async (_name, make) => {
    const grads = await expectTfjsGradients(make());
    // The gradient is not trivially zero anywhere it should not be.
    grads.forEach((g) => expect(g.some((v) => v !== 0)).toBe(true));
  });

  it.each([
    ['sigmoid', () => textCase(8, 2, 1)],
    ['softmax', () => textCase(8, 3, 1)],
  ] as const)('gradients where the %s head saturates (clipped probabilities pass no gradient, as in tfjs)', async (_name, make) => {
    const c = make();
    // A large first output bias: p ≈ 1 for class 0 / the positive output.
    await expectTfjsGradients(c, (w) => (w[w.length - 1][0] = 40));
  });

  it.each(cases)('one epoch of Adam (batch 3, last batch partial) gives tfjs fit weights: %s', async (_name, make) => {
    const c = make();
    const m = c.model();
    const w0 = weightsOf(m);
    m.compile({ optimizer: tf.train.adam(0.01), loss: c.loss });
    const [x, y] = tensorsOf(c);
    const h = await m.fit(x, y, { epochs: 1, batchSize: 3, shuffle: false, verbose: 0 });
    const trainer = new SimdLstmTrainer({ ...c.shape, maxBatch: 3 }, w0);
    const per = c.x.length / c.n;
    let loss = 0;
    for (let s = 0; s < c.n; s += 3) {
      const B = Math.min(3, c.n - s);
      loss += trainer.trainBatch(c.x.subarray(s * per, (s + B) * per), c.y.subarray(s * c.shape.outputs, (s + B) * c.shape.outputs), B, 0.01).loss * B;
    }
    expect(loss / c.n).toBeCloseTo(h.history.loss[0] as number, 5);
    expect(maxRelDiff(trainer.getWeights(), weightsOf(m))).toBeLessThan(1e-5);
    // Predictions and evaluation of the trained weights equal tfjs'.
    const pred = m.predict(x) as tf.Tensor;
    const mine = trainer.predict(c.x, c.n);
    (pred.dataSync() as Float32Array).forEach((v, i) => expect(Math.abs(mine[i] - v)).toBeLessThan(1e-5));
    const ev = m.evaluate(x, y, { batchSize: 3 }) as tf.Scalar;
    expect(trainer.evaluate(c.x, c.y, c.n).loss).toBeCloseTo(ev.dataSync()[0], 5);
    m.dispose();
    tf.dispose([x, y, pred, ev]);
  });
});

describe('SimdLstmTrainer', () => {
  it('matches the scalar JS BPTT on an unmasked text model', () => {
    const c = textCase(8, 2, 1);
    const shape = { ...c.shape, maskZero: false };
    const w0 = weightsOf(c.model());
    const js = new JsLstmTrainer(
      { vocab: shape.vocab, inputDim: shape.inputDim, units: shape.units, outputs: 1, head: 'sigmoid' },
      { embeddings: w0[0].slice(), kernel: w0[1].slice(), recurrentKernel: w0[2].slice(), bias: w0[3].slice(), denseKernel: w0[4].slice(), denseBias: w0[5].slice() },
    );
    const simd = new SimdLstmTrainer(shape, w0);
    for (let s = 0; s < 8; s += 4) {
      const xs = c.x.subarray(s * shape.steps, (s + 4) * shape.steps);
      const ys = c.y.subarray(s, s + 4);
      expect(simd.trainBatch(xs, ys, 4, 0.01).loss).toBeCloseTo(js.trainBatch(xs, ys, 4, shape.steps, 0.01), 5);
    }
    const w = js.w;
    expect(maxRelDiff(simd.getWeights(), [w.embeddings!, w.kernel, w.recurrentKernel, w.bias, w.denseKernel, w.denseBias])).toBeLessThan(1e-5);
  });

  it("an example's outputs do not depend on the rest of its batch (bit-identical)", () => {
    for (const c of [textCase(8, 2, 2), forecastCase(8, 2)]) {
      const t = new SimdLstmTrainer(c.shape, weightsOf(c.model()));
      const all = t.predict(c.x, c.n);
      const per = c.x.length / c.n;
      const K = c.shape.outputs;
      for (let i = 0; i < c.n; i++) {
        const alone = t.predict(c.x.subarray(i * per, (i + 1) * per), 1);
        expect(Array.from(alone)).toEqual(Array.from(all.subarray(i * K, (i + 1) * K)));
      }
    }
  });

  it('is deterministic: the same weights and batches give bit-identical weights', () => {
    const run = () => {
      const c = textCase(8, 3, 2);
      const t = new SimdLstmTrainer(c.shape, weightsOf(c.model()));
      for (let e = 0; e < 3; e++) t.trainBatch(c.x, c.y, c.n, 0.01);
      return t.getWeights();
    };
    const a = run();
    const b = run();
    a.forEach((w, i) => expect(Buffer.from(w.buffer).equals(Buffer.from(b[i].buffer))).toBe(true));
  });

  it('rejects token ids outside the vocabulary', () => {
    const c = textCase(2, 2, 1);
    const t = new SimdLstmTrainer(c.shape, weightsOf(c.model()));
    const bad = c.x.slice();
    bad[3] = c.shape.vocab;
    expect(() => t.trainBatch(bad, c.y, 2, 0.01)).toThrow(/outside the vocabulary/);
  });
});
