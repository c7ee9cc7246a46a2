/**
 * Seeded tfjs-layers models for the e2e suites: the artifact a user would upload (model.json +
 * weights as `tfjs model.save` writes them, sidecar through the @app/lstm writer), seeding them
 * into the registry (Redis) with an activation on the suite's models topic, and reference
 * outputs computed by tfjs-layers itself over whole histories, independent of the worker's engine.
 *
 *   const registry = new TestRegistry(redisUrl, kafka.producerClient, modelsTopic);
 *   const fc = await registry.seed('forecaster', { task: 'forecast', seed: 7, units: 16, ... });
 *   const { outs } = stepOutputs(fc.model, rows);        // head output after every step
 */
import * as tf from '@tensorflow/tfjs';
import type { RedisLike } from '@app/state';
import type { Producer } from 'kafkajs';
import { Tokenizer, WEIGHTS_FILE, artifactToBuffers, saveTfjsModelToBuffers, seededRandom } from '@app/lstm';
import { KafkaModelEventPublisher, ModelRegistry, type SwapPolicy } from '@app/registry';
import { testRedisClient, type RedisTarget } from './e2e-env';

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
  /** Words of the tokenizer's index (ids 2.. in this order; OOV token `<OOV>` is 1). */
  readonly words: readonly string[];
  /** Pad tokens (id 0) a new stream's state runs through before its first token (default 0). */
  readonly paddingPrefix?: number;
  /** Weight scale: uniform in ±scale. */
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

/** The Keras tokenizer of a classifier: fitted on its words in order (equal counts keep that order). */
export function classifierTokenizer(def: ClassifierDef): Tokenizer {
  return new Tokenizer({ oovToken: '<OOV>' }).fitOnTexts(def.words);
}

/** The words of a tokenizer fitted on `corpus`, in index order (for a {@link ClassifierDef}). */
export function corpusWords(corpus: Iterable<string>): string[] {
  const t = new Tokenizer({ oovToken: '<OOV>' }).fitOnTexts(corpus);
  return [...t.wordIndex]
    .filter(([w]) => w !== '<OOV>')
    .sort((a, b) => a[1] - b[1])
    .map(([w]) => w);
}

/** Sidecar details the suites vary. */
export interface ArtifactOptions {
  /** Forecast input window (default 16). */
  readonly window?: number;
  /** Classifier input maxTokens (default 50). */
  readonly maxTokens?: number;
}

/**
 * The files of a model version: model.json + weights (`tfjs model.save`) and the streamcell.json
 * sidecar (task, input spec, scaler or tokenizer, labels, horizon, checksums) of `name`.
 */
export async function modelArtifact(
  name: string,
  def: ModelDef,
  model: tf.LayersModel,
  opts: ArtifactOptions = {},
): Promise<Map<string, Buffer>> {
  const saved = await saveTfjsModelToBuffers(model);
  const common = { name, version: 1, metrics: {} };
  return artifactToBuffers({
    modelJson: saved.get('model.json')!,
    weights: { [WEIGHTS_FILE]: saved.get(WEIGHTS_FILE)! },
    sidecar:
      def.task === 'forecast'
        ? {
            ...common,
            task: 'forecast',
            input: {
              features: Array.from({ length: def.features }, (_, i) => (i === 0 ? 'value' : `value${i}`)),
              includeTimeDelta: def.includeTimeDelta,
              window: opts.window ?? 16,
            },
            scaler: { type: 'standard', mean: [...def.mean], scale: [...def.std], count: 0 },
            labels: [],
            horizon: def.horizon,
          }
        : {
            ...common,
            task: 'classify',
            input: { maxTokens: opts.maxTokens ?? 50, paddingPrefix: def.paddingPrefix ?? 0, padding: 'pre' },
            tokenizer: classifierTokenizer(def).toKerasJson(),
            labels: ['neg', 'pos'],
          },
  });
}

/** Scaled feature row of one forecaster event. */
export function scaleFeatures(def: ForecasterDef, values: readonly number[], deltaSeconds: number): number[] {
  const raw = def.includeTimeDelta ? [...values, deltaSeconds] : [...values];
  return raw.map((x, i) => (x - def.mean[i]) / def.std[i]);
}

/** Head outputs and final (h, c) of one sequence run through a model's layers. */
export interface SequenceRun {
  /** Head output after every step. */
  readonly outs: Float32Array[];
  readonly h: Float32Array;
  readonly c: Float32Array;
}

/**
 * Head output after every step and the final (h, c) of running several sequences of equal length
 * (feature rows, or token ids for a classifier) through the tfjs-layers model's own layers in ONE
 * call: a twin LSTM layer (same config and weights) returning sequences and state, the model's
 * Dense head on every step, optionally from initial states. Prefix t's output equals running the
 * first t rows through the whole model.
 */
export function sequenceOutputs(
  model: tf.LayersModel,
  batch: readonly (readonly (readonly number[])[] | readonly number[])[],
  init: readonly { h: Float32Array | null; c: Float32Array | null }[] = [],
): SequenceRun[] {
  return tf.tidy(() => {
    const lstm = model.getLayer('lstm');
    const head = model.getLayer('head');
    const units = (lstm.getConfig() as { units: number }).units;
    const keys = batch.length;
    const steps = batch[0].length;
    let x: tf.Tensor;
    if (typeof batch[0][0] === 'number') {
      const ids = batch.map((r) => [...(r as readonly number[])]);
      x = model.getLayer('embedding').apply(tf.tensor2d(ids, [keys, steps], 'int32')) as tf.Tensor;
    } else {
      const rows = batch.map((r) => (r as readonly (readonly number[])[]).map((row) => [...row]));
      x = tf.tensor3d(rows, [keys, steps, rows[0][0].length]);
    }
    const seq = tf.layers.lstm({
      units,
      recurrentActivation: 'sigmoid',
      returnSequences: true,
      returnState: true,
    });
    const initial = (pick: 'h' | 'c'): tf.Tensor =>
      tf.tensor2d(
        batch.map((_, k) => Array.from(init[k]?.[pick] ?? new Float32Array(units))),
        [keys, units],
      );
    const initialState = [initial('h'), initial('c')];
    seq.apply(x, { initialState }); // builds the layer
    seq.setWeights(lstm.getWeights());
    const [hs, h, c] = seq.apply(x, { initialState }) as tf.Tensor[];
    const y = head.apply(hs.reshape([keys * steps, units])) as tf.Tensor;
    const flat = y.dataSync() as Float32Array;
    const width = y.shape[1]!;
    const hAll = h.dataSync() as Float32Array;
    const cAll = c.dataSync() as Float32Array;
    return batch.map((_, k) => {
      const outs: Float32Array[] = [];
      for (let t = 0; t < steps; t++)
        outs.push(flat.slice((k * steps + t) * width, (k * steps + t + 1) * width));
      return { outs, h: hAll.slice(k * units, (k + 1) * units), c: cAll.slice(k * units, (k + 1) * units) };
    });
  });
}

/** {@link sequenceOutputs} of one sequence, optionally from an initial (h, c). */
export function stepOutputs(
  model: tf.LayersModel,
  rows: readonly (readonly number[])[] | readonly number[],
  h0: Float32Array | null = null,
  c0: Float32Array | null = null,
): SequenceRun {
  return sequenceOutputs(model, [rows], [{ h: h0, c: c0 }])[0];
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

/** A model seeded into the registry. */
export interface SeededModel {
  readonly name: string;
  readonly version: number;
  readonly def: ModelDef;
  readonly model: tf.LayersModel;
}

/** The registry (Redis) of a suite, publishing activations on the suite's models topic. */
export class TestRegistry {
  readonly redis: RedisLike;
  readonly registry: ModelRegistry;

  constructor(target: RedisTarget, producer: Producer, modelsTopic: string) {
    this.redis = testRedisClient(target);
    this.registry = new ModelRegistry(this.redis, new KafkaModelEventPublisher(producer, modelsTopic));
  }

  /** Builds, imports and (by default) activates a seeded model as the next version of `name`. */
  async seed(
    name: string,
    def: ModelDef,
    opts: ArtifactOptions & { policy?: SwapPolicy; activate?: boolean } = {},
  ): Promise<SeededModel> {
    const model = buildModel(def);
    const files = await modelArtifact(name, def, model, opts);
    const version = await this.registry.createVersion(name, files, {
      task: def.task,
      source: 'imported',
      policy: opts.policy ?? 'reset',
      params: { seed: def.seed, units: def.units },
    });
    if (opts.activate ?? true) await this.registry.activate(name, version, opts.policy);
    return { name, version, def, model };
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
