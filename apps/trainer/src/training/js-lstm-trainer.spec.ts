import * as tf from '@tensorflow/tfjs';
import { JsLstmTrainer, type JsLstmShape, type JsLstmWeights } from './js-lstm-trainer';
import { seededRandom } from './seeded-random';

function rand(n: number, r: () => number, scale = 0.3): Float32Array {
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
}

function weights(s: JsLstmShape, seed: number): JsLstmWeights {
  const r = seededRandom(seed);
  const H = s.units;
  return {
    embeddings: s.vocab > 0 ? rand(s.vocab * s.inputDim, r) : null,
    kernel: rand(s.inputDim * 4 * H, r),
    recurrentKernel: rand(H * 4 * H, r),
    bias: rand(4 * H, r, 0.1),
    denseKernel: rand(H * s.outputs, r),
    denseBias: rand(s.outputs, r, 0.1),
  };
}

/** tfjs-layers reference: one SGD(lr=1) step, so new = old − gradient. */
async function tfjsGradients(s: JsLstmShape, w: JsLstmWeights, x: tf.Tensor, y: tf.Tensor, T: number) {
  const m = tf.sequential();
  if (s.vocab > 0) m.add(tf.layers.embedding({ inputDim: s.vocab, outputDim: s.inputDim, inputLength: T }));
  m.add(tf.layers.lstm({ units: s.units, recurrentActivation: 'sigmoid', ...(s.vocab > 0 ? {} : { inputShape: [T, s.inputDim] }) }));
  m.add(tf.layers.dense({ units: s.outputs, activation: s.head }));
  const H = s.units;
  const list = [
    ...(w.embeddings ? [tf.tensor2d(w.embeddings, [s.vocab, s.inputDim])] : []),
    tf.tensor2d(w.kernel, [s.inputDim, 4 * H]),
    tf.tensor2d(w.recurrentKernel, [H, 4 * H]),
    tf.tensor1d(w.bias),
    tf.tensor2d(w.denseKernel, [H, s.outputs]),
    tf.tensor1d(w.denseBias),
  ];
  m.setWeights(list);
  m.compile({ optimizer: tf.train.sgd(1), loss: s.head === 'sigmoid' ? 'binaryCrossentropy' : 'meanSquaredError' });
  const loss = (await m.trainOnBatch(x, y)) as number;
  const after = m.getWeights().map((t) => t.dataSync() as Float32Array);
  const grads = list.map((t, i) => {
    const before = t.dataSync() as Float32Array;
    return before.map((v, j) => v - after[i][j]);
  });
  m.dispose();
  return { loss, grads };
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

describe('JsLstmTrainer gradients match tfjs-layers', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('embedding → LSTM → Dense(sigmoid), binary cross-entropy', async () => {
    const s: JsLstmShape = { vocab: 20, inputDim: 4, units: 5, outputs: 1, head: 'sigmoid' };
    const w = weights(s, 1);
    const B = 6;
    const T = 7;
    const r = seededRandom(2);
    const ids = Int32Array.from({ length: B * T }, () => Math.floor(r() * 20));
    const y = Float32Array.from({ length: B }, (_, i) => i % 2);
    const ref = await tfjsGradients(s, w, tf.tensor2d(ids, [B, T], 'int32'), tf.tensor2d(y, [B, 1]), T);
    const g = new JsLstmTrainer(s, w).gradients(ids, y, B, T);
    expect(g.loss).toBeCloseTo(ref.loss, 5);
    const mine = [g.embeddings!, g.kernel, g.recurrentKernel, g.bias, g.denseKernel, g.denseBias];
    mine.forEach((m, i) => expect(maxAbsDiff(m, ref.grads[i])).toBeLessThan(1e-5));
  });

  it('features → LSTM → Dense(linear, 3 outputs), MSE', async () => {
    const s: JsLstmShape = { vocab: 0, inputDim: 2, units: 4, outputs: 3, head: 'linear' };
    const w = weights(s, 3);
    const B = 5;
    const T = 9;
    const r = seededRandom(4);
    const x = Float32Array.from({ length: B * T * 2 }, () => r() * 2 - 1);
    const y = Float32Array.from({ length: B * 3 }, () => r());
    const ref = await tfjsGradients(s, w, tf.tensor3d(x, [B, T, 2]), tf.tensor2d(y, [B, 3]), T);
    const g = new JsLstmTrainer(s, w).gradients(x, y, B, T);
    expect(g.loss).toBeCloseTo(ref.loss, 5);
    const mine = [g.kernel, g.recurrentKernel, g.bias, g.denseKernel, g.denseBias];
    mine.forEach((m, i) => expect(maxAbsDiff(m, ref.grads[i])).toBeLessThan(1e-5));
  });
});
