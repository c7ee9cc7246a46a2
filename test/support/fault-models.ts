import * as tf from '@tensorflow/tfjs';
import { seededRandom } from './fault-env';

/**
 * Seeded tfjs-layers models for the fault suites, the artifact files a user would upload
 * (model.json + weights, as `tfjs model.save` writes them) and reference outputs computed by
 * tfjs-layers itself (whole history in one call), independent of the worker's engine.
 */

/** A seeded forecaster: LSTM(units) → Dense(horizon), features scaled by (mean, std). */
export interface ForecasterDef {
  readonly task: 'forecast';
  readonly seed: number;
  readonly units: number;
  /** Raw input features per event (value or values). */
  readonly features: number;
  readonly includeTimeDelta: boolean;
  readonly horizon: number;
  /** One (mean, std) per model input feature (incl. the time delta last when present). */
  readonly mean: readonly number[];
  readonly std: readonly number[];
  /** Weight scale: uniform in ±scale. */
  readonly scale?: number;
}

/** A seeded binary text classifier: Embedding → LSTM → Dense(1, sigmoid). */
export interface ClassifierDef {
  readonly task: 'classify';
  readonly seed: number;
  readonly units: number;
  readonly embedDim: number;
  /** Words of the tokenizer's index (ids 1..n in this order; OOV token id 1 when oov). */
  readonly words: readonly string[];
  readonly scale?: number;
}

export type ModelDef = ForecasterDef | ClassifierDef;

/** Model input width (features + time delta). */
export function inputDim(def: ForecasterDef): number {
  return def.features + (def.includeTimeDelta ? 1 : 0);
}

/** Vocabulary rows of a classifier's embedding (padding 0, OOV 1, then the words). */
export function vocabSize(def: ClassifierDef): number {
  return def.words.length + 2;
}

/** Builds the tfjs-layers model of `def` with deterministic weights. */
export function buildModel(def: ModelDef): tf.LayersModel {
  const rnd = seededRandom(def.seed);
  const scale = def.scale ?? 0.4;
  let model: tf.LayersModel;
  if (def.task === 'forecast') {
    const input = tf.input({ shape: [null, inputDim(def)], name: 'readings' });
    const h = tf.layers
      .lstm({ units: def.units, recurrentActivation: 'sigmoid', name: 'lstm' })
      .apply(input) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: def.horizon, name: 'head' }).apply(h) as tf.SymbolicTensor;
    model = tf.model({ inputs: input, outputs: out, name: 'forecaster' });
  } else {
    const input = tf.input({ shape: [null], name: 'tokens', dtype: 'int32' });
    const e = tf.layers
      .embedding({ inputDim: vocabSize(def), outputDim: def.embedDim, name: 'embedding' })
      .apply(input) as tf.SymbolicTensor;
    const h = tf.layers
      .lstm({ units: def.units, recurrentActivation: 'sigmoid', name: 'lstm' })
      .apply(e) as tf.SymbolicTensor;
    const out = tf.layers
      .dense({ units: 1, activation: 'sigmoid', name: 'head' })
      .apply(h) as tf.SymbolicTensor;
    model = tf.model({ inputs: input, outputs: out, name: 'classifier' });
  }
  model.setWeights(
    model.getWeights().map((w) => {
      const n = w.size;
      const data = new Float32Array(n);
      for (let i = 0; i < n; i++) data[i] = (rnd() * 2 - 1) * scale;
      return tf.tensor(data, w.shape, 'float32');
    }),
  );
  return model;
}

/** The files `tfjs model.save` writes: model.json + one weights shard. */
export async function modelFiles(model: tf.LayersModel): Promise<Map<string, Buffer>> {
  let files: Map<string, Buffer> | null = null;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weightsFile = 'group1-shard1of1.bin';
      const data = tf.io.concatenateArrayBuffers(artifacts.weightData as ArrayBuffer | ArrayBuffer[]);
      const json = {
        modelTopology: artifacts.modelTopology,
        format: 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [weightsFile], weights: artifacts.weightSpecs }],
      };
      files = new Map([
        ['model.json', Buffer.from(JSON.stringify(json), 'utf8')],
        [weightsFile, Buffer.from(data)],
      ]);
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return files!;
}

/** Scaled feature row of one forecaster event. */
export function scaleFeatures(def: ForecasterDef, values: readonly number[], deltaSeconds: number): number[] {
  const raw = def.includeTimeDelta ? [...values, deltaSeconds] : [...values];
  return raw.map((x, i) => (x - def.mean[i]) / def.std[i]);
}

/**
 * Head output after every step and the final (h, c) of running `rows` (feature rows, or token ids
 * for a classifier) through the tfjs-layers model's own layers in one call, optionally from an
 * initial state. Prefix t's output equals running the first t rows through the whole model.
 */
export function stepOutputs(
  model: tf.LayersModel,
  rows: readonly (readonly number[])[] | readonly number[],
  h0: Float32Array | null = null,
  c0: Float32Array | null = null,
): { outs: Float32Array[]; h: Float32Array; c: Float32Array } {
  return tf.tidy(() => {
    const lstm = model.getLayer('lstm');
    const head = model.getLayer('head');
    const units = (lstm.getConfig() as { units: number }).units;
    let x: tf.Tensor;
    if (typeof rows[0] === 'number') {
      const ids = rows as readonly number[];
      x = model.getLayer('embedding').apply(tf.tensor2d([[...ids]], [1, ids.length], 'int32')) as tf.Tensor;
    } else {
      const r = rows as readonly (readonly number[])[];
      x = tf.tensor3d([r.map((row) => [...row])], [1, r.length, r[0].length]);
    }
    const seq = tf.layers.lstm({
      units,
      recurrentActivation: 'sigmoid',
      returnSequences: true,
      returnState: true,
    });
    const hInit = tf.tensor2d([Array.from(h0 ?? new Float32Array(units))], [1, units]);
    const cInit = tf.tensor2d([Array.from(c0 ?? new Float32Array(units))], [1, units]);
    seq.apply(x, { initialState: [hInit, cInit] });
    seq.setWeights(lstm.getWeights());
    const [hs, h, c] = seq.apply(x, { initialState: [hInit, cInit] }) as tf.Tensor[];
    const steps = hs.shape[1]!;
    const y = head.apply(hs.reshape([steps, units])) as tf.Tensor;
    const flat = y.dataSync() as Float32Array;
    const width = y.shape[1]!;
    const outs: Float32Array[] = [];
    for (let t = 0; t < steps; t++) outs.push(flat.slice(t * width, (t + 1) * width));
    return { outs, h: h.dataSync() as Float32Array, c: c.dataSync() as Float32Array };
  });
}

/** De-scaled forecast after every event of one key's history (tfjs-layers, from zero state). */
export function referenceForecasts(
  def: ForecasterDef,
  model: tf.LayersModel,
  rows: readonly (readonly number[])[],
): number[][] {
  return stepOutputs(model, rows).outs.map((o) => Array.from(o, (v) => v * def.std[0] + def.mean[0]));
}

/** Keras-tokenizer ids of a text for a {@link ClassifierDef} (lower-case, default filters, OOV = 1). */
export function tokenIds(def: ClassifierDef, text: string): number[] {
  const filters = new Set('!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n');
  let s = '';
  for (const ch of text.toLowerCase()) s += filters.has(ch) ? ' ' : ch;
  const index = new Map(def.words.map((w, i) => [w, i + 2]));
  return s
    .split(' ')
    .filter((w) => w.length > 0)
    .map((w) => index.get(w) ?? 1);
}

/**
 * Positive-class probability after every event of one stream: the output at each event's last
 * token of the stream's whole token sequence through the tfjs-layers classifier.
 */
export function referenceClassifierScores(
  model: tf.LayersModel,
  tokensPerEvent: readonly (readonly number[])[],
): number[] {
  const all = tokensPerEvent.flat();
  const { outs } = stepOutputs(model, all);
  const res: number[] = [];
  let at = 0;
  for (const tokens of tokensPerEvent) {
    at += tokens.length;
    res.push(outs[at - 1][0]);
  }
  return res;
}
