import { createHash } from 'crypto';
import Redis from 'ioredis';
import { KafkaModelEventPublisher, ModelRegistry, type SwapPolicy } from '@app/registry';
import type { Producer } from 'kafkajs';
import { buildModel, modelFiles, type ModelDef } from './fault-models';
import type * as tf from '@tensorflow/tfjs';

/** A model seeded into the registry. */
export interface SeededModel {
  readonly name: string;
  readonly version: number;
  readonly def: ModelDef;
  readonly model: tf.LayersModel;
}

/** Keras `Tokenizer.to_json()` of a tokenizer fitted on `words` in this order, OOV token at 1. */
export function kerasTokenizerJson(words: readonly string[]): Record<string, unknown> {
  const wordIndex: Record<string, number> = { '<OOV>': 1 };
  const indexWord: Record<string, string> = { '1': '<OOV>' };
  const counts: Record<string, number> = {};
  const docs: Record<string, number> = {};
  const indexDocs: Record<string, number> = {};
  words.forEach((w, i) => {
    wordIndex[w] = i + 2;
    indexWord[String(i + 2)] = w;
    // Decreasing counts reproduce this order when Keras sorts by frequency.
    counts[w] = words.length - i + 1;
    docs[w] = 1;
    indexDocs[String(i + 2)] = 1;
  });
  return {
    class_name: 'Tokenizer',
    config: {
      num_words: null,
      filters: '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n',
      lower: true,
      split: ' ',
      char_level: false,
      oov_token: '<OOV>',
      document_count: words.length,
      word_counts: JSON.stringify(counts),
      word_docs: JSON.stringify(docs),
      index_docs: JSON.stringify(indexDocs),
      index_word: JSON.stringify(indexWord),
      word_index: JSON.stringify(wordIndex),
    },
  };
}

/**
 * The streamcell.json sidecar of a seeded model in the @app/lstm schema (version 1): task, input
 * spec, scaler or tokenizer, labels, horizon, and the sha256 of every other file.
 */
export function sidecarFor(
  name: string,
  def: ModelDef,
  files: ReadonlyMap<string, Buffer>,
  window = 16,
): Record<string, unknown> {
  const sums: Record<string, string> = {};
  for (const [f, data] of files) sums[f] = createHash('sha256').update(data).digest('hex');
  const common = {
    schemaVersion: 1,
    name,
    version: 1,
    createdAt: new Date().toISOString(),
    metrics: {},
    files: sums,
  };
  if (def.task === 'forecast') {
    return {
      ...common,
      task: 'forecast',
      input: {
        features: Array.from({ length: def.features }, (_, i) => (i === 0 ? 'value' : `value${i}`)),
        includeTimeDelta: def.includeTimeDelta,
        window,
      },
      scaler: { type: 'standard', mean: [...def.mean], scale: [...def.std], count: 0 },
      labels: [],
      horizon: def.horizon,
    };
  }
  return {
    ...common,
    task: 'classify',
    input: { maxTokens: 50, paddingPrefix: 0, padding: 'pre' },
    tokenizer: kerasTokenizerJson(def.words),
    labels: ['neg', 'pos'],
  };
}

/** Registry + activation publisher on a suite's models topic. */
export class FaultRegistry {
  readonly redis: Redis;
  readonly registry: ModelRegistry;

  constructor(redisUrl: string, producer: Producer, modelsTopic: string) {
    this.redis = new Redis(redisUrl, { maxRetriesPerRequest: 3, lazyConnect: false });
    this.registry = new ModelRegistry(this.redis, new KafkaModelEventPublisher(producer, modelsTopic));
  }

  /** Builds, imports and (by default) activates a seeded model under `name`. */
  async seed(
    name: string,
    def: ModelDef,
    opts: { policy?: SwapPolicy; activate?: boolean; window?: number } = {},
  ): Promise<SeededModel> {
    const model = buildModel(def);
    const files = await modelFiles(model);
    files.set(
      'streamcell.json',
      Buffer.from(JSON.stringify(sidecarFor(name, def, files, opts.window), null, 2), 'utf8'),
    );
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
