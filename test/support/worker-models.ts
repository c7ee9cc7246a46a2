/**
 * Seeded tfjs-layers models for the worker e2e suites, their registry artifacts (model.json +
 * weights via `saveTfjsModelToBuffers`, sidecar via `artifactToBuffers`), and reference outputs
 * computed by tfjs-layers itself over each key's whole history in one predict call.
 *
 *   const f = buildForecaster({ seed: 7, units: 16, includeTimeDelta: true, horizon: 3, ... });
 *   await seedModel(redisUrl, producer, modelsTopic, 'forecaster', f.files, 'forecast');
 *   const outs = sequenceOutputs(f.model, batchOfRows);   // [key][step][unit]
 */
import * as tf from '@tensorflow/tfjs';
import Redis from 'ioredis';
import type { Producer } from 'kafkajs';
import {
  Tokenizer,
  WEIGHTS_FILE,
  artifactToBuffers,
  saveTfjsModelToBuffers,
  type SidecarDraft,
} from '@app/lstm';
import { KafkaModelEventPublisher, ModelRegistry, type ModelTask, type SwapPolicy } from '@app/registry';

import { seededRandom } from '@app/lstm';

/** The project's seeded PRNG (mulberry32), shared with the engine's random specs. */
export { seededRandom };

function seedWeights(model: tf.LayersModel, seed: number, scale: number): void {
  const rnd = seededRandom(seed);
  model.setWeights(
    model.getWeights().map((w) => {
      const data = new Float32Array(w.size);
      for (let i = 0; i < data.length; i++) data[i] = (rnd() * 2 - 1) * scale;
      return tf.tensor(data, w.shape, 'float32');
    }),
  );
}

/** A forecaster definition: LSTM(units, sigmoid recurrent activation) → Dense(horizon). */
export interface ForecasterSpec {
  readonly seed: number;
  readonly units: number;
  readonly features: readonly string[];
  readonly includeTimeDelta: boolean;
  readonly horizon: number;
  /** Scaler over every input feature (delta last). */
  readonly mean: readonly number[];
  readonly scale: readonly number[];
  readonly weightScale?: number;
}

/** A built model with its artifact files. */
export interface BuiltModel<S> {
  readonly spec: S;
  readonly model: tf.LayersModel;
  readonly files: Map<string, Buffer>;
}

async function artifact(model: tf.LayersModel, sidecar: SidecarDraft): Promise<Map<string, Buffer>> {
  const saved = await saveTfjsModelToBuffers(model);
  return artifactToBuffers({
    modelJson: saved.get('model.json')!,
    weights: { [WEIGHTS_FILE]: saved.get(WEIGHTS_FILE)! },
    sidecar,
  });
}

/** Builds and packages a seeded forecaster. */
export async function buildForecaster(
  name: string,
  spec: ForecasterSpec,
): Promise<BuiltModel<ForecasterSpec>> {
  const width = spec.features.length + (spec.includeTimeDelta ? 1 : 0);
  const input = tf.input({ shape: [null, width], name: 'readings' });
  const h = tf.layers
    .lstm({ units: spec.units, recurrentActivation: 'sigmoid', name: 'lstm' })
    .apply(input) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: spec.horizon, name: 'head' }).apply(h) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out, name: 'forecaster' });
  seedWeights(model, spec.seed, spec.weightScale ?? 0.3);
  const files = await artifact(model, {
    task: 'forecast',
    name,
    version: 1,
    input: { features: [...spec.features], includeTimeDelta: spec.includeTimeDelta, window: 50 },
    scaler: { type: 'standard', mean: [...spec.mean], scale: [...spec.scale], count: 0 },
    labels: [],
    horizon: spec.horizon,
    metrics: {},
  });
  return { spec, model, files };
}

/** A binary text classifier definition: Embedding → LSTM → Dense(1, sigmoid). */
export interface ClassifierSpec {
  readonly seed: number;
  readonly units: number;
  readonly embedDim: number;
  /** Texts the tokenizer is fitted on (Keras fit_on_texts), OOV token `<OOV>`. */
  readonly corpus: readonly string[];
  /** Pad tokens the model expects before a stream's first token. */
  readonly paddingPrefix: number;
  readonly weightScale?: number;
}

/** Builds and packages a seeded classifier; also returns its tokenizer. */
export async function buildClassifier(
  name: string,
  spec: ClassifierSpec,
): Promise<BuiltModel<ClassifierSpec> & { tokenizer: Tokenizer }> {
  const tokenizer = new Tokenizer({ oovToken: '<OOV>' }).fitOnTexts(spec.corpus);
  const input = tf.input({ shape: [null], name: 'tokens', dtype: 'int32' });
  const e = tf.layers
    .embedding({ inputDim: tokenizer.vocabularySize, outputDim: spec.embedDim, name: 'embedding' })
    .apply(input) as tf.SymbolicTensor;
  const h = tf.layers
    .lstm({ units: spec.units, recurrentActivation: 'sigmoid', name: 'lstm' })
    .apply(e) as tf.SymbolicTensor;
  const out = tf.layers
    .dense({ units: 1, activation: 'sigmoid', name: 'head' })
    .apply(h) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out, name: 'classifier' });
  seedWeights(model, spec.seed, spec.weightScale ?? 0.5);
  const files = await artifact(model, {
    task: 'classify',
    name,
    version: 1,
    input: { maxTokens: 100, paddingPrefix: spec.paddingPrefix, padding: 'pre' },
    tokenizer: tokenizer.toKerasJson(),
    labels: ['neg', 'pos'],
    metrics: {},
  });
  return { spec, model, files, tokenizer };
}

/**
 * Head output after every step of every sequence, from tfjs-layers in ONE predict call: the
 * model's own layers, with a twin LSTM layer (same config and weights) returning sequences, and
 * the same Dense head applied to every step. `inputs`: [keys][steps][features] (forecast) or
 * [keys][steps] token ids (classify); all sequences must have the same length.
 */
export function sequenceOutputs(
  model: tf.LayersModel,
  inputs: readonly (readonly (readonly number[] | number)[])[],
): Float32Array[][] {
  return tf.tidy(() => {
    const lstm = model.getLayer('lstm');
    const head = model.getLayer('head');
    const cfg = lstm.getConfig() as { units: number };
    const twin = tf.layers.lstm({ units: cfg.units, recurrentActivation: 'sigmoid', returnSequences: true });
    const keys = inputs.length;
    const steps = inputs[0].length;
    let x: tf.Tensor;
    let embedding: tf.layers.Layer | null = null;
    try {
      embedding = model.getLayer('embedding');
    } catch {
      embedding = null;
    }
    if (embedding) {
      const ids = tf.tensor2d(
        inputs.map((r) => r.map((v) => v as number)),
        [keys, steps],
        'int32',
      );
      x = embedding.apply(ids) as tf.Tensor;
    } else {
      const d = (inputs[0][0] as readonly number[]).length;
      x = tf.tensor3d(
        inputs.map((r) => r.map((row) => [...(row as readonly number[])])),
        [keys, steps, d],
      );
    }
    twin.apply(x); // builds the layer
    twin.setWeights(lstm.getWeights());
    const hs = twin.apply(x) as tf.Tensor;
    const y = head.apply(hs) as tf.Tensor; // Dense on the last axis: [keys, steps, units]
    const units = y.shape[2]!;
    const flat = y.dataSync() as Float32Array;
    const out: Float32Array[][] = [];
    for (let k = 0; k < keys; k++) {
      const rows: Float32Array[] = [];
      for (let t = 0; t < steps; t++)
        rows.push(flat.slice((k * steps + t) * units, (k * steps + t + 1) * units));
      out.push(rows);
    }
    return out;
  });
}

/**
 * Stores `files` as a new version of `name` in the registry (Redis) and activates it, publishing
 * the activation on `modelsTopic`. Returns the version number.
 */
export async function seedModel(
  redisUrl: string,
  producer: Producer,
  modelsTopic: string,
  name: string,
  files: ReadonlyMap<string, Buffer>,
  task: ModelTask,
  opts: { policy?: SwapPolicy; activate?: boolean } = {},
): Promise<number> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 3 });
  try {
    const registry = new ModelRegistry(redis, new KafkaModelEventPublisher(producer, modelsTopic));
    const version = await registry.createVersion(name, files, {
      task,
      source: 'imported',
      policy: opts.policy ?? 'reset',
    });
    if (opts.activate ?? true) await registry.activate(name, version, opts.policy);
    return version;
  } finally {
    redis.disconnect();
  }
}
