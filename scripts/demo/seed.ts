/**
 * Seeds the demo's two models into the registry and activates them (publishing the activation
 * on the models topic), unless the model already has an active version.
 *
 *   forecaster  LSTM(2) → Dense(3): a hand-set smoother (one slow and one fast moving average of
 *               the scaled reading) with a 3-step horizon, so forecasts follow the signal and a
 *               spike shows up as a large anomaly score.
 *   classifier  Embedding(1) → LSTM(1) → Dense(1, sigmoid): each word's embedding is its
 *               sentiment (+1 / −1 / 0); the cell accumulates it with slow forgetting, so a ticket
 *               stream's label follows the mood of its recent messages.
 *
 * Hand-set weights keep the demo instant and deterministic; `npm run demo` with a trainer can
 * retrain them from the topic history afterwards.
 *
 * Creates the topics first when they are missing (the broker does not auto-create them).
 *
 * Env: REDIS_URL, KAFKA_BROKERS, SENSOR_TOPIC, TEXT_TOPIC, FORECAST_TOPIC, CLASSIFICATION_TOPIC,
 * DLQ_TOPIC, MODELS_TOPIC, FORECAST_MODEL, CLASSIFY_MODEL.
 */
import Redis from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { KafkaModelEventPublisher, ModelRegistry } from '@app/registry';
import {
  Tokenizer,
  artifactToBuffers,
  saveTfjsModelToBuffers,
  toTfjsModel,
  type RecurrentModelSpec,
} from '@app/lstm';
import { NEGATIVE_WORDS, NEUTRAL_WORDS, POSITIVE_WORDS } from './demo-data';

const sigmoidOpen = 6;

function forecasterSpec(): RecurrentModelSpec {
  const H = 2;
  const kernel = new Float32Array(1 * 4 * H);
  const bias = new Float32Array(4 * H);
  // Gate blocks i, f, c, o. Unit 0: slow average (i≈0.27, f≈0.73); unit 1: fast (i≈0.73, f≈0.27).
  bias[0] = -1;
  bias[1] = 1;
  bias[H + 0] = 1;
  bias[H + 1] = -1;
  kernel[2 * H + 0] = 0.5;
  kernel[2 * H + 1] = 0.5;
  bias[3 * H + 0] = sigmoidOpen;
  bias[3 * H + 1] = sigmoidOpen;
  // h ≈ 0.5·x for small x, so forecast (scaled) ≈ 2·(mix of fast and slow).
  const mix = [0.8, 0.6, 0.4];
  const head = new Float32Array(H * 3);
  mix.forEach((a, k) => {
    head[0 * 3 + k] = 2 * (1 - a);
    head[1 * 3 + k] = 2 * a;
  });
  return {
    embedding: null,
    recurrent: [
      {
        kind: 'lstm',
        inputDim: 1,
        units: H,
        kernel,
        recurrentKernel: new Float32Array(H * 4 * H),
        bias,
        activation: 'tanh',
        recurrentActivation: 'sigmoid',
      },
    ],
    head: [
      { kind: 'dense', inputDim: H, units: 3, kernel: head, bias: new Float32Array(3), activation: 'linear' },
    ],
  };
}

function classifierSpec(tokenizer: Tokenizer): RecurrentModelSpec {
  const index = tokenizer.toKerasJson();
  const wordIndex = JSON.parse(index.config.word_index) as Record<string, number>;
  const rows = Math.max(...Object.values(wordIndex)) + 1;
  const embeddings = new Float32Array(rows);
  for (const w of POSITIVE_WORDS) embeddings[wordIndex[w]] = 1;
  for (const w of NEGATIVE_WORDS) embeddings[wordIndex[w]] = -1;
  return {
    embedding: { kind: 'embedding', inputDim: rows, outputDim: 1, embeddings, maskZero: false },
    recurrent: [
      {
        kind: 'lstm',
        inputDim: 1,
        units: 1,
        // i, f, c, o: write the word's sentiment into the cell, forget slowly, always output.
        kernel: Float32Array.from([0, 0, 1.5, 0]),
        recurrentKernel: new Float32Array(4),
        bias: Float32Array.from([sigmoidOpen, 2, 0, sigmoidOpen]),
        activation: 'tanh',
        recurrentActivation: 'sigmoid',
      },
    ],
    head: [
      {
        kind: 'dense',
        inputDim: 1,
        units: 1,
        kernel: Float32Array.from([5]),
        bias: Float32Array.from([0]),
        activation: 'sigmoid',
      },
    ],
  };
}

async function artifact(
  spec: RecurrentModelSpec,
  sidecar: Parameters<typeof artifactToBuffers>[0]['sidecar'],
): Promise<Map<string, Buffer>> {
  const files = await saveTfjsModelToBuffers(toTfjsModel(spec));
  const modelJson = files.get('model.json')!;
  const weights = new Map([...files].filter(([name]) => name !== 'model.json'));
  return artifactToBuffers({ modelJson, weights, sidecar });
}

async function main(): Promise<void> {
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
  const modelsTopic = process.env.MODELS_TOPIC ?? 'streamcell.models';
  const names = {
    forecast: process.env.FORECAST_MODEL ?? 'forecaster',
    classify: process.env.CLASSIFY_MODEL ?? 'classifier',
  };

  const tokenizer = new Tokenizer({ oovToken: '<OOV>' }).fitOnTexts([
    [...POSITIVE_WORDS, ...NEGATIVE_WORDS, ...NEUTRAL_WORDS].join(' '),
  ]);
  const artifacts = {
    forecast: await artifact(forecasterSpec(), {
      task: 'forecast',
      name: names.forecast,
      version: 'demo-1',
      input: { features: ['value'], includeTimeDelta: false, window: 16 },
      scaler: { type: 'standard', mean: [20], scale: [5], count: 0 },
      labels: [],
      horizon: 3,
      metrics: {},
    }),
    classify: await artifact(classifierSpec(tokenizer), {
      task: 'classify',
      name: names.classify,
      version: 'demo-1',
      input: { maxTokens: 64, paddingPrefix: 0, padding: 'pre' },
      tokenizer: tokenizer.toKerasJson(),
      labels: ['neg', 'pos'],
      metrics: {},
    }),
  };

  const kafka = new Kafka({ clientId: 'streamcell-demo-seed', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const existing = new Set(await admin.listTopics());
  const wanted = [
    { topic: process.env.SENSOR_TOPIC ?? 'sensor.readings', numPartitions: 3 },
    { topic: process.env.TEXT_TOPIC ?? 'text.events', numPartitions: 3 },
    { topic: process.env.FORECAST_TOPIC ?? 'predictions.forecasts', numPartitions: 3 },
    { topic: process.env.CLASSIFICATION_TOPIC ?? 'predictions.classifications', numPartitions: 3 },
    { topic: process.env.DLQ_TOPIC ?? 'streamcell.dlq', numPartitions: 1 },
    { topic: modelsTopic, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
  ].filter((t) => !existing.has(t.topic));
  if (wanted.length > 0) {
    await admin.createTopics({
      waitForLeaders: true,
      topics: wanted.map((t) => ({ replicationFactor: 1, ...t })),
    });
    console.log(`[demo] created topics ${wanted.map((t) => t.topic).join(', ')}`);
  }
  await admin.disconnect();

  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 3 });
  const producer = kafka.producer();
  await producer.connect();
  try {
    const registry = new ModelRegistry(redis, new KafkaModelEventPublisher(producer, modelsTopic));
    for (const task of ['forecast', 'classify'] as const) {
      const name = names[task];
      const active = await registry.getActive(name);
      if (active) {
        console.log(`[demo] ${name}: version ${active.version} already active`);
        continue;
      }
      const version = await registry.createVersion(name, artifacts[task], {
        task,
        source: 'imported',
        policy: 'reset',
        params: { demo: true },
      });
      await registry.activate(name, version);
      console.log(`[demo] ${name}: imported and activated version ${version}`);
    }
  } finally {
    await producer.disconnect();
    redis.disconnect();
  }
}

main().catch((err: unknown) => {
  console.error(`[demo] seeding failed: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
