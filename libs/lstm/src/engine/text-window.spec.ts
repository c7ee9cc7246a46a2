import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { importFromModelJson } from '../artifact/artifact-store';
import { parseModelJson } from '../artifact/model-json';
import { padSequence } from '../preprocess/pad-sequences';
import { Tokenizer } from '../preprocess/tokenizer';
import { randomRecurrentModelSpec, seededRandom } from './random-spec';
import { RecurrentModel, type KernelPreference } from './recurrent-model';
import { TextWindow } from './text-window';

/** Keras' reading: pad_sequences the row, then step every position of it from zeros, then the head. */
function reference(model: RecurrentModel, row: number[], maxlen: number, padding: 'pre' | 'post', truncating: 'pre' | 'post'): Float32Array {
  const padded = padSequence(row, maxlen, padding, truncating, 0);
  const state = model.createState(1);
  const id = new Int32Array(1);
  for (const t of padded) {
    id[0] = t;
    model.stepTokens(1, id, state);
  }
  const out = new Float32Array(model.outputDim);
  model.head(1, state, out);
  return out;
}

function flatten(rows: number[][]): { tokens: Int32Array; offsets: Int32Array } {
  const offsets = new Int32Array(rows.length + 1);
  rows.forEach((r, i) => (offsets[i + 1] = offsets[i] + r.length));
  const tokens = new Int32Array(offsets[rows.length]);
  rows.forEach((r, i) => tokens.set(r, offsets[i]));
  return { tokens, offsets };
}

const kernels: KernelPreference[] = ['ts', 'auto'];

describe.each(kernels)('TextWindow, kernel %s', (kernel) => {
  const cases = [
    { cell: 'lstm' as const, maskZero: false, padding: 'pre' as const, truncating: 'pre' as const },
    { cell: 'lstm' as const, maskZero: true, padding: 'pre' as const, truncating: 'post' as const },
    { cell: 'gru' as const, maskZero: false, padding: 'post' as const, truncating: 'pre' as const },
    { cell: 'gru' as const, maskZero: true, padding: 'post' as const, truncating: 'post' as const },
  ];
  it.each(cases)('equals pad_sequences + stepping every position, bit for bit, batched ($cell, mask_zero $maskZero, padding $padding, truncating $truncating)', (c) => {
    const vocab = 30;
    const maxlen = 9;
    const spec = randomRecurrentModelSpec({
      cell: c.cell,
      inputDim: 5,
      units: [7, 4],
      vocabulary: vocab,
      maskZero: c.maskZero,
      head: [{ units: 3, activation: 'softmax' }],
      seed: 17,
    });
    const model = new RecurrentModel(spec, { kernel });
    const window = new TextWindow(model, { maxlen, padding: c.padding, truncating: c.truncating, maskZero: c.maskZero });
    const rnd = seededRandom(3);
    // Lengths 0 .. 2 × maxlen, in a shuffled order so rows of different lengths share steps.
    const rows = Array.from({ length: 2 * maxlen + 1 }, (_, n) => Array.from({ length: n }, () => 1 + Math.floor(rnd() * (vocab - 1))));
    rows.sort(() => rnd() - 0.5);
    const { tokens, offsets } = flatten(rows);
    const out = new Float32Array(rows.length * model.outputDim);
    window.evaluate(rows.length, tokens, offsets, out);
    rows.forEach((r, i) => {
      expect(Array.from(out.subarray(i * 3, i * 3 + 3))).toEqual(Array.from(reference(model, r, maxlen, c.padding, c.truncating)));
    });
    // The same row alone gives the same bits as in the batch.
    const alone = new Float32Array(3);
    window.evaluate(1, tokens, offsets.subarray(4, 6), alone);
    const j = 4;
    expect(Array.from(alone)).toEqual(Array.from(out.subarray(j * 3, j * 3 + 3)));
  });

  it('caches the states after 0..maxlen pad tokens (pre padding without masking); zeros otherwise', () => {
    const spec = randomRecurrentModelSpec({ cell: 'lstm', inputDim: 4, units: [6], vocabulary: 10, seed: 2 });
    const model = new RecurrentModel(spec, { kernel });
    const w = new TextWindow(model, { maxlen: 5, padding: 'pre' });
    const state = model.createState(1);
    expect(Array.from(w.padState(0))).toEqual(Array.from(state));
    for (let k = 1; k <= 5; k++) {
      model.stepTokens(1, new Int32Array(1), state);
      expect(Array.from(w.padState(k))).toEqual(Array.from(state));
    }
    const post = new TextWindow(model, { maxlen: 5, padding: 'post' });
    expect(Array.from(post.padState(5))).toEqual(new Array(model.stateSize).fill(0));
  });

  it('refuses bad options and out-of-range rows, naming them', () => {
    const spec = randomRecurrentModelSpec({ cell: 'gru', inputDim: 3, units: [4], vocabulary: 8, seed: 1 });
    const model = new RecurrentModel(spec, { kernel });
    expect(() => new TextWindow(model, { maxlen: 0, padding: 'pre' })).toThrow(/maxlen/);
    expect(() => new TextWindow(model, { maxlen: 70_000, padding: 'pre' })).toThrow(/maxlen/);
    expect(() => new TextWindow(model, { maxlen: 3, padding: 'middle' as 'pre' })).toThrow(/padding/);
    const w = new TextWindow(model, { maxlen: 3, padding: 'pre' });
    const out = new Float32Array(4);
    expect(() => w.evaluate(1, Int32Array.of(9), Int32Array.of(0, 1), out)).toThrow(/token id 9/);
    expect(() => w.evaluate(1, Int32Array.of(1), Int32Array.of(0, 2), out)).toThrow(/row 0/);
    expect(() => w.evaluate(2, Int32Array.of(1), Int32Array.of(0, 1), out)).toThrow(/offsets/);
  });
});

/**
 * Real Keras (scripts/fixtures/keras_parity_fixtures.py): after each message of a stream, Keras'
 * model.predict on pad_sequences([last maxlen tokens so far]) — here tokenized by this package's
 * Tokenizer from the raw text and scored by TextWindow, the worker's window mode.
 */
const FIXTURES = path.join(__dirname, '../../fixtures/keras-streams');
const TEXT_FIXTURES = ['classic-lstm', 'masked-gru', 'softmax-3class'];

interface StreamCase {
  id: string;
  messages: string[];
  tokens: number[][];
  window: number[][];
  stream?: number[][];
}

describe.each(kernels)('TextWindow against Keras fixtures, kernel %s', (kernel) => {
  it.each(TEXT_FIXTURES)('%s: every message of every stream within 1e-5 of Keras', (name) => {
    const dir = path.join(FIXTURES, name);
    const exp = JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8')) as {
      maxlen: number;
      padding: 'pre' | 'post';
      truncating: 'pre' | 'post';
      streams: StreamCase[];
    };
    const modelJson = parseModelJson(readFileSync(path.join(dir, 'model.json')));
    const imported = importFromModelJson(modelJson, (p) => readFileSync(path.join(dir, p)));
    const model = new RecurrentModel(imported.spec, { kernel });
    const tok = Tokenizer.fromKerasJson(readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
    const window = new TextWindow(model, { maxlen: exp.maxlen, padding: exp.padding, maskZero: imported.spec.embedding?.maskZero });
    let maxErr = 0;
    let rows = 0;
    for (const s of exp.streams) {
      let soFar: number[] = [];
      s.messages.forEach((m, i) => {
        const ids = tok.textToSequence(m);
        expect(ids).toEqual(s.tokens[i]);
        soFar = [...soFar, ...ids];
        const w = soFar.slice(-exp.maxlen);
        const out = new Float32Array(model.outputDim);
        window.evaluate(1, Int32Array.from(w), Int32Array.of(0, w.length), out);
        s.window[i].forEach((v, j) => (maxErr = Math.max(maxErr, Math.abs(out[j] - v))));
        rows++;
      });
    }
    expect(rows).toBeGreaterThan(30);
    expect(maxErr).toBeLessThanOrEqual(1e-5);
  });
});
