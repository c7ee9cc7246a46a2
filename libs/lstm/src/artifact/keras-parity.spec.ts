import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { RecurrentModel, type KernelPreference } from '../engine/recurrent-model';
import { padSequences } from '../preprocess/pad-sequences';
import { StandardScaler } from '../preprocess/standard-scaler';
import { Tokenizer } from '../preprocess/tokenizer';
import { loadArtifact } from './artifact-store';
import type { ClassifyInputSpec } from './sidecar';

/**
 * Models trained and converted by Keras (scripts/fixtures/keras_fixtures.py: tf_keras +
 * tensorflowjs' converter) must reproduce Keras' model.predict when stepped one event at a time.
 */
const FIXTURES = path.join(__dirname, '../../fixtures');
const TOL = 1e-5;

function expected(name: string) {
  return JSON.parse(readFileSync(path.join(FIXTURES, name, 'expected.json'), 'utf8'));
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const kernels: KernelPreference[] = ['ts', 'auto'];

describe.each(kernels)('Keras parity, kernel %s', (kernel) => {
  it.each(['keras-text-classifier', 'keras-gru-classifier'])(
    '%s: Keras tokenizer + pad_sequences + token-by-token stepping = model.predict',
    async (name) => {
      const art = await loadArtifact(path.join(FIXTURES, name));
      const exp = expected(name);
      const input = art.sidecar.input as ClassifyInputSpec;
      const tok = Tokenizer.fromKerasJson(art.sidecar.tokenizer!);
      const seqs = tok.textsToSequences(exp.texts as string[]);
      expect(seqs).toEqual(exp.sequences);
      const padded = padSequences(seqs, {
        maxlen: input.maxTokens,
        padding: input.padding,
        truncating: input.padding,
      });
      expect(padded.map((r) => Array.from(r))).toEqual(exp.padded);

      const model = new RecurrentModel(art.spec, { kernel });
      const preds = exp.predictions as number[][];
      // One key at a time.
      for (const [i, row] of padded.entries()) {
        const state = model.createState(1);
        for (const t of row) model.stepTokens(1, Int32Array.of(t), state);
        const out = new Float32Array(model.outputDim);
        model.head(1, state, out);
        expect(maxAbsDiff(out, preds[i])).toBeLessThanOrEqual(TOL);
      }
      // All keys together, time-major.
      const B = padded.length;
      const T = input.maxTokens;
      const state = model.createState(B);
      const ids = new Int32Array(B);
      for (let t = 0; t < T; t++) {
        for (let b = 0; b < B; b++) ids[b] = padded[b][t];
        model.stepTokens(B, ids, state);
      }
      const out = new Float32Array(B * model.outputDim);
      model.head(B, state, out);
      expect(maxAbsDiff(out, preds.flat())).toBeLessThanOrEqual(TOL);
    },
  );

  it('keras-forecaster: scaled window stepped value by value = model.predict', async () => {
    const art = await loadArtifact(path.join(FIXTURES, 'keras-forecaster'));
    const exp = expected('keras-forecaster');
    const scaler = StandardScaler.fromJSON(art.sidecar.scaler);
    const model = new RecurrentModel(art.spec, { kernel });
    expect(model.inputDim).toBe(1);
    const preds = exp.predictions as number[][];
    (exp.raw as number[][]).forEach((window, i) => {
      const state = model.createState(1);
      const x = new Float32Array(1);
      window.forEach((v, t) => {
        scaler.transformRow([v], x);
        expect(Math.abs(x[0] - exp.inputs[i][t])).toBeLessThanOrEqual(1e-6);
        model.step(1, x, state);
      });
      const out = new Float32Array(1);
      model.head(1, state, out);
      expect(maxAbsDiff(out, preds[i])).toBeLessThanOrEqual(TOL);
    });
  });

  it('keras3-forecaster (Keras 3 .keras via the converter): LSTM → GRU → Dense → Dense, 2 features, horizon 2', async () => {
    const art = await loadArtifact(path.join(FIXTURES, 'keras3-forecaster'));
    expect(art.spec.recurrent.map((r) => r.kind)).toEqual(['lstm', 'gru']);
    expect(art.spec.recurrent[1]).toMatchObject({ resetAfter: true });
    const exp = expected('keras3-forecaster');
    const model = new RecurrentModel(art.spec, { kernel });
    const inputs = exp.inputs as number[][][];
    const B = inputs.length;
    const state = model.createState(B);
    const x = new Float32Array(B * 2);
    for (let t = 0; t < inputs[0].length; t++) {
      inputs.forEach((w, b) => x.set(w[t], b * 2));
      model.step(B, x, state);
    }
    const out = new Float32Array(B * 2);
    model.head(B, state, out);
    expect(maxAbsDiff(out, (exp.predictions as number[][]).flat())).toBeLessThanOrEqual(TOL);
  });
});

describe.each(kernels)('Keras 2 Functional with Masking, kernel %s', (kernel) => {
  it('keras-functional-masked: skipping all-mask_value steps (inputMaskValue) = model.predict', async () => {
    const art = await loadArtifact(path.join(FIXTURES, 'keras-functional-masked'));
    expect(art.inputMaskValue).toBe(0);
    expect(art.spec.recurrent.map((r) => [r.kind, r.units])).toEqual([
      ['lstm', 5],
      ['lstm', 4],
    ]);
    expect(art.spec.head[0].activation).toBe('tanh'); // Activation layer folded into the Dense
    const exp = expected('keras-functional-masked');
    const model = new RecurrentModel(art.spec, { kernel });
    const inputs = exp.inputs as number[][][];
    const B = inputs.length;
    const state = model.createState(B);
    const x = new Float32Array(B * 3);
    const mask = new Uint8Array(B);
    let skipped = 0;
    for (let t = 0; t < inputs[0].length; t++) {
      inputs.forEach((w, b) => {
        x.set(w[t], b * 3);
        mask[b] = w[t].every((v) => v === art.inputMaskValue) ? 0 : 1;
        skipped += 1 - mask[b];
      });
      model.step(B, x, state, mask);
    }
    expect(skipped).toBeGreaterThan(0);
    const out = new Float32Array(B * 3);
    model.head(B, state, out);
    expect(maxAbsDiff(out, (exp.predictions as number[][]).flat())).toBeLessThanOrEqual(TOL);
  });
});

describe('uint8-quantized weights (converter --quantize_uint8)', () => {
  it('dequantize to within half a quantization step of the float32 weights', async () => {
    const f = await loadArtifact(path.join(FIXTURES, 'keras3-forecaster'));
    const q = await loadArtifact(path.join(FIXTURES, 'keras3-forecaster-uint8'));
    const manifest = q.modelJson.weightsManifest[0].weights;
    const pairs: [Float32Array, Float32Array][] = [];
    f.spec.recurrent.forEach((r, i) => {
      const rq = q.spec.recurrent[i];
      pairs.push([r.kernel, rq.kernel], [r.recurrentKernel, rq.recurrentKernel], [r.bias!, rq.bias!]);
    });
    f.spec.head.forEach((h, i) =>
      pairs.push([h.kernel, q.spec.head[i].kernel], [h.bias!, q.spec.head[i].bias!]),
    );
    const maxStep = Math.max(...manifest.map((w) => w.quantization?.scale ?? 0));
    expect(maxStep).toBeGreaterThan(0);
    for (const [a, b] of pairs) expect(maxAbsDiff(a, b)).toBeLessThanOrEqual(maxStep / 2 + 1e-6);
  });
});
