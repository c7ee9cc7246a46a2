import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { RecurrentModel } from '../engine/recurrent-model';
import { artifactToBuffers, loadArtifact, loadLayersModel } from './artifact-store';
import {
  fromTfjsModel,
  loadTfjsModelFromBuffers,
  saveTfjsModelToBuffers,
  toTfjsModel,
  WEIGHTS_FILE,
} from './tfjs-interop';

const FIXTURES = path.join(__dirname, '../../fixtures');

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function textModel(): tf.Sequential {
  const m = tf.sequential();
  m.add(tf.layers.embedding({ inputDim: 30, outputDim: 5, maskZero: true, inputLength: 9 }));
  m.add(tf.layers.lstm({ units: 6, recurrentActivation: 'sigmoid', returnSequences: true }));
  m.add(tf.layers.dropout({ rate: 0.3 }));
  m.add(tf.layers.gru({ units: 4, recurrentActivation: 'sigmoid' }));
  m.add(tf.layers.dense({ units: 3, activation: 'softmax' }));
  // Non-zero biases so that bias handling is exercised.
  m.setWeights(m.getWeights().map((w, i) => tf.randomUniform(w.shape, -0.6, 0.6, 'float32', 17 + i)));
  return m;
}

const TOKENS = [
  [0, 0, 0, 4, 9, 2, 28, 1, 5],
  [3, 3, 3, 3, 3, 3, 3, 3, 3],
  [0, 0, 0, 0, 0, 0, 0, 0, 7],
];

describe('tfjs-layers interop', () => {
  it('saveTfjsModelToBuffers writes layers-format model.json + one shard that imports like the live model', async () => {
    const model = textModel();
    const buffers = await saveTfjsModelToBuffers(model);
    expect([...buffers.keys()]).toEqual(['model.json', WEIGHTS_FILE]);
    const mj = JSON.parse(buffers.get('model.json')!.toString());
    expect(mj.format).toBe('layers-model');
    expect(mj.modelTopology.class_name).toBe('Sequential');
    expect(mj.weightsManifest[0].paths).toEqual([WEIGHTS_FILE]);
    const fromFiles = await loadLayersModel(buffers);
    const live = fromTfjsModel(model);
    expect(fromFiles.spec).toEqual(live.spec);
    expect(live.spec.recurrent.map((r) => r.kind)).toEqual(['lstm', 'gru']);
    expect(live.spec.recurrent[1]).toMatchObject({ resetAfter: false, recurrentActivation: 'sigmoid' });
  });

  it('the imported spec steps to tfjs predict within 1e-5, and toTfjsModel / loadTfjsModelFromBuffers rebuild the same model', async () => {
    const model = textModel();
    const x = tf.tensor2d(TOKENS, [TOKENS.length, 9], 'float32');
    const want = (model.predict(x) as tf.Tensor).dataSync();

    const { spec } = fromTfjsModel(model);
    const engine = new RecurrentModel(spec, { kernel: 'ts' });
    const state = engine.createState(TOKENS.length);
    const ids = new Int32Array(TOKENS.length);
    for (let t = 0; t < 9; t++) {
      TOKENS.forEach((row, b) => (ids[b] = row[t]));
      engine.stepTokens(TOKENS.length, ids, state);
    }
    const got = new Float32Array(TOKENS.length * 3);
    engine.head(TOKENS.length, state, got);
    expect(maxAbsDiff(got, want)).toBeLessThanOrEqual(1e-5);

    const rebuilt = toTfjsModel(spec, 9);
    expect(maxAbsDiff((rebuilt.predict(x) as tf.Tensor).dataSync(), want)).toBeLessThanOrEqual(1e-6);
    const reloaded = await loadTfjsModelFromBuffers(await saveTfjsModelToBuffers(model));
    expect(maxAbsDiff((reloaded.predict(x) as tf.Tensor).dataSync(), want)).toBe(0);
  });

  it('a Keras-converted artifact loads into tfjs-layers (for fine-tuning) and predicts as Keras did', async () => {
    const dir = path.join(FIXTURES, 'keras-text-classifier');
    const art = await loadArtifact(dir);
    const exp = JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8'));
    const model = await loadTfjsModelFromBuffers(art.files);
    const pred = (model.predict(tf.tensor2d(exp.padded, undefined, 'float32')) as tf.Tensor).dataSync();
    expect(maxAbsDiff(pred, (exp.predictions as number[][]).flat())).toBeLessThanOrEqual(1e-5);
  });

  it('a trained tfjs model becomes a complete artifact', async () => {
    const buffers = await saveTfjsModelToBuffers(textModel());
    const artifact = artifactToBuffers({
      modelJson: buffers.get('model.json')!,
      weights: { [WEIGHTS_FILE]: buffers.get(WEIGHTS_FILE)! },
      sidecar: {
        task: 'classify',
        name: 'tickets',
        version: '1',
        input: { maxTokens: 9, paddingPrefix: 0, padding: 'pre' },
        tokenizer: {
          class_name: 'Tokenizer',
          config: {
            num_words: 30,
            filters: '',
            lower: true,
            split: ' ',
            char_level: false,
            oov_token: null,
            document_count: 0,
            word_counts: '{}',
            word_docs: '{}',
            index_docs: '{}',
            index_word: '{}',
            word_index: '{}',
          },
        },
        labels: ['a', 'b', 'c'],
      },
    });
    const loaded = await loadArtifact(artifact);
    expect(loaded.spec.head[0].units).toBe(3);
  });
});
