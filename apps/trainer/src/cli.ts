/**
 * streamcell trainer CLI.
 *
 *   node dist/apps/trainer/src/cli.js train --model NAME --task forecast|classify --file data.csv
 *        [--epochs N --hidden-units N --layers N --batch-size N --learning-rate X --validation-split X
 *         --seed N --window N --horizon N --embedding-dim N --vocab-size N --maxlen N]
 *        [--activate if-better|always|never] [--out DIR]
 *   node dist/apps/trainer/src/cli.js list [--model NAME]
 *   node dist/apps/trainer/src/cli.js import --model NAME --dir DIR [--task T --labels a,b --maxlen N
 *         --padding pre|post --text-mode window|stream --window N --scaler '{"mean":[..],"scale":[..]}'] [--activate]
 *   node dist/apps/trainer/src/cli.js activate --model NAME --version V [--policy reset|rewarm|keep]
 *
 * Env: REDIS_URL and REDIS_CLUSTER (registry), KAFKA_BROKERS and MODELS_TOPIC (activation events),
 * validated with the trainer's declarations (a bad value exits 2 naming the variable).
 * `train --out DIR` without REDIS_URL trains fully offline and only writes the files.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { EnvValidationError, KAFKA_SASL_ENV, env, kafkaSasl, kafkaSaslProblems, redisEnvProblems, validateEnv } from '@app/config';
import { kafkaJsSasl } from '@app/kafka';
import { createRedisClient, type RedisLike } from '@app/state';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { InMemoryModelEventPublisher, KafkaModelEventPublisher, ModelRegistry, type ModelEventPublisher, type SwapPolicy } from '@app/registry';
import { TRAINER_ENV } from './config/trainer-config';
import { ensureModelsTopic } from './infra';
import { JobStore } from './jobs/job-store';
import { InvalidRequestError } from './services/invalid-request.error';
import { trainInProcess } from './services/jobs.service';
import { ModelsService } from './services/models.service';
import { readImportDir } from './training/import-artifact';
import { initTrainingBackend } from './training/tf-backend';
import type { ActivateMode } from './training/train-job';
import type { TrainParams } from './training/train-params';
import { trainClassifier } from './training/classifier-trainer';
import { trainForecaster } from './training/forecaster-trainer';
import { formatOf, parseDatasetFile } from './training/dataset';
import { withDefaults } from './training/train-params';

const USAGE = `usage: cli.js <train|list|import|activate> [options]  (see the header of apps/trainer/src/cli.ts or apps/trainer/README.md)`;

class UsageError extends Error {}

/** The part of the trainer's environment the CLI reads; everything is optional here. */
const CLI_ENV = {
  REDIS_URL: env.optional(TRAINER_ENV.REDIS_URL),
  REDIS_CLUSTER: TRAINER_ENV.REDIS_CLUSTER,
  REDIS_SENTINEL_MASTER: TRAINER_ENV.REDIS_SENTINEL_MASTER,
  KAFKA_BROKERS: env.optional(TRAINER_ENV.KAFKA_BROKERS),
  ...KAFKA_SASL_ENV,
  MODELS_TOPIC: TRAINER_ENV.MODELS_TOPIC,
} as const;

function cliEnv() {
  try {
    return validateEnv(CLI_ENV, process.env, (v) => [...redisEnvProblems(v), ...kafkaSaslProblems(v)]);
  } catch (e) {
    throw e instanceof EnvValidationError ? new UsageError(e.message) : e;
  }
}

interface Conn {
  registry: ModelRegistry;
  redis: RedisLike;
  close(): Promise<void>;
  canPublish: boolean;
}

async function connect(needPublish: boolean): Promise<Conn> {
  const e = cliEnv();
  if (!e.REDIS_URL) throw new UsageError('REDIS_URL is required (the registry lives in Redis)');
  const redis = createRedisClient(e.REDIS_URL, {
    maxRetriesPerRequest: 3,
    cluster: e.REDIS_CLUSTER,
    sentinelMaster: e.REDIS_SENTINEL_MASTER,
  });
  let producer: Producer | null = null;
  let publisher: ModelEventPublisher = new InMemoryModelEventPublisher();
  const brokers = e.KAFKA_BROKERS ?? [];
  if (needPublish) {
    if (brokers.length === 0) {
      redis.disconnect();
      throw new UsageError('KAFKA_BROKERS is required to activate (workers learn about activations from the models topic)');
    }
    const kafka = new Kafka({ clientId: 'streamcell-trainer-cli', brokers, logLevel: logLevel.NOTHING, ...kafkaJsSasl(kafkaSasl(e)) });
    const topic = e.MODELS_TOPIC;
    await ensureModelsTopic(kafka.admin(), topic);
    producer = kafka.producer();
    await producer.connect();
    publisher = new KafkaModelEventPublisher(producer, topic);
  }
  return {
    registry: new ModelRegistry(redis, publisher),
    redis,
    canPublish: needPublish,
    async close() {
      await producer?.disconnect();
      redis.disconnect();
    },
  };
}

function num(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got ${v}`);
  return n;
}

async function train(argv: string[]): Promise<void> {
  const { values: o } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' }, task: { type: 'string' }, file: { type: 'string' }, out: { type: 'string' },
      activate: { type: 'string', default: 'if-better' }, policy: { type: 'string' },
      epochs: { type: 'string' }, 'hidden-units': { type: 'string' }, layers: { type: 'string' }, 'batch-size': { type: 'string' },
      'learning-rate': { type: 'string' }, 'validation-split': { type: 'string' }, seed: { type: 'string' },
      window: { type: 'string' }, horizon: { type: 'string' }, 'embedding-dim': { type: 'string' },
      'vocab-size': { type: 'string' }, maxlen: { type: 'string' },
    },
  });
  if (!o.file) throw new UsageError('--file is required');
  if (o.task !== 'forecast' && o.task !== 'classify') throw new UsageError('--task must be forecast or classify');
  if (!['if-better', 'always', 'never'].includes(o.activate)) throw new UsageError('--activate must be if-better, always or never');
  const raw: Partial<Record<keyof TrainParams, number | undefined>> = {
    epochs: num(o.epochs, 'epochs'), hiddenUnits: num(o['hidden-units'], 'hidden-units'), layers: num(o.layers, 'layers'),
    batchSize: num(o['batch-size'], 'batch-size'), learningRate: num(o['learning-rate'], 'learning-rate'),
    validationSplit: num(o['validation-split'], 'validation-split'), seed: num(o.seed, 'seed'), window: num(o.window, 'window'),
    horizon: num(o.horizon, 'horizon'), embeddingDim: num(o['embedding-dim'], 'embedding-dim'), vocabSize: num(o['vocab-size'], 'vocab-size'),
    maxlen: num(o.maxlen, 'maxlen'),
  };
  const params = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined)) as Partial<TrainParams>;
  const backend = await initTrainingBackend('wasm');
  console.error(`backend: ${backend}`);
  const onEpoch = (e: { epoch: number; epochs: number; loss: number; valLoss: number | null; examplesPerSecond: number }) =>
    console.error(`epoch ${e.epoch}/${e.epochs} loss ${e.loss.toFixed(4)}${e.valLoss !== null ? ` val_loss ${e.valLoss.toFixed(4)}` : ''} (${e.examplesPerSecond.toFixed(0)} examples/s)`);

  if (o.out && !process.env.REDIS_URL) {
    // Fully offline: no registry, only the artifact files.
    const text = await readFile(o.file, 'utf8');
    const { dataset, rejected } = parseDatasetFile(text, formatOf(o.file), o.task, o.model);
    if (rejected.total > 0) console.error(`rejected: ${rejected.total} records (${rejected.summary()})`);
    const p = withDefaults(params);
    const res = dataset.task === 'forecast' ? await trainForecaster(dataset.readings, p, onEpoch) : await trainClassifier(dataset.examples, p, onEpoch);
    await mkdir(o.out, { recursive: true });
    for (const [name, data] of res.files) await writeFile(join(o.out, name), data);
    console.log(JSON.stringify({ out: resolve(o.out), metrics: res.metrics, trainExamples: res.trainExamples }));
    return;
  }
  if (!o.model) throw new UsageError('--model is required');
  const conn = await connect(o.activate !== 'never');
  try {
    // The admin API's rules: the model's task, the parent version's parameters where these
    // options set none, and the model lock (no second job for the model meanwhile).
    const result = await trainInProcess(
      conn.registry,
      new JobStore(conn.redis),
      o.model,
      {
        ...params,
        task: o.task,
        source: { kind: 'file', path: resolve(o.file) },
        activate: o.activate as ActivateMode,
        ...(o.policy ? { policy: o.policy as SwapPolicy } : {}),
      },
      { brokers: [], onPhase: (p, d) => console.error(`${p}${d ? `: ${d}` : ''}`), onEpoch },
    );
    let active = null;
    if (result.shouldActivate) active = await conn.registry.activate(o.model, result.version);
    if (o.out) {
      const files = await conn.registry.loadVersionFiles(o.model, result.version);
      await mkdir(o.out, { recursive: true });
      for (const [name, data] of files) await writeFile(join(o.out, name), data);
    }
    console.log(JSON.stringify({ model: o.model, ...result, active }));
  } finally {
    await conn.close();
  }
}

async function list(argv: string[]): Promise<void> {
  const { values: o } = parseArgs({ args: argv, options: { model: { type: 'string' } } });
  const conn = await connect(false);
  try {
    if (o.model) {
      const m = await conn.registry.getModel(o.model);
      if (!m) throw new UsageError(`model ${o.model} not found`);
      console.log(JSON.stringify(m, null, 2));
    } else console.log(JSON.stringify(await conn.registry.listModels(), null, 2));
  } finally {
    await conn.close();
  }
}

async function importCmd(argv: string[]): Promise<void> {
  const { values: o } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' }, dir: { type: 'string' }, task: { type: 'string' }, labels: { type: 'string' },
      maxlen: { type: 'string' }, window: { type: 'string' }, activate: { type: 'boolean', default: false }, policy: { type: 'string' },
      padding: { type: 'string' }, 'text-mode': { type: 'string' }, scaler: { type: 'string' },
    },
  });
  if (!o.model || !o.dir) throw new UsageError('--model and --dir are required');
  if (o.policy && !['reset', 'rewarm', 'keep'].includes(o.policy)) throw new UsageError('--policy must be reset, rewarm or keep');
  if (o.padding !== undefined && o.padding !== 'pre' && o.padding !== 'post') throw new UsageError('--padding must be pre or post');
  const mode = o['text-mode'];
  if (mode !== undefined && mode !== 'window' && mode !== 'stream') throw new UsageError('--text-mode must be window or stream');
  let scaler: { mean: number[]; scale: number[] } | undefined;
  if (o.scaler !== undefined) {
    try {
      scaler = JSON.parse(o.scaler) as { mean: number[]; scale: number[] };
    } catch {
      throw new UsageError('--scaler must be JSON {"mean":[...],"scale":[...]}');
    }
  }
  const files = await readImportDir(o.dir);
  const conn = await connect(o.activate);
  try {
    // The admin API's import: the artifact checks and the model's task (a model keeps one).
    const imported = await new ModelsService(conn.registry).importVersion(o.model, files, {
      ...(o.task === 'forecast' || o.task === 'classify' ? { task: o.task } : {}),
      ...(o.labels ? { labels: o.labels.split(',') } : {}),
      ...(o.maxlen ? { maxlen: num(o.maxlen, 'maxlen')! } : {}),
      ...(o.window ? { window: num(o.window, 'window')! } : {}),
      ...(o.padding ? { padding: o.padding } : {}),
      ...(mode ? { mode } : {}),
      ...(scaler ? { scaler } : {}),
      ...(o.policy ? { policy: o.policy as SwapPolicy } : {}),
      path: resolve(o.dir),
      activate: o.activate,
    });
    console.log(JSON.stringify(imported));
  } finally {
    await conn.close();
  }
}

async function activate(argv: string[]): Promise<void> {
  const { values: o } = parseArgs({ args: argv, options: { model: { type: 'string' }, version: { type: 'string' }, policy: { type: 'string' } } });
  if (!o.model || !o.version) throw new UsageError('--model and --version are required');
  if (o.policy && !['reset', 'rewarm', 'keep'].includes(o.policy)) throw new UsageError('--policy must be reset, rewarm or keep');
  const conn = await connect(true);
  try {
    const p = await conn.registry.activate(o.model, num(o.version, 'version')!, o.policy as SwapPolicy | undefined);
    console.log(JSON.stringify({ model: o.model, active: p }));
  } finally {
    await conn.close();
  }
}

async function main(): Promise<void> {
  const [cmd, ...rest] = process.argv.slice(2);
  switch (cmd) {
    case 'train':
      return train(rest);
    case 'list':
      return list(rest);
    case 'import':
      return importCmd(rest);
    case 'activate':
      return activate(rest);
    default:
      throw new UsageError(USAGE);
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    const usage = err instanceof UsageError || err instanceof InvalidRequestError;
    console.error(usage ? err.message : `error: ${err.message}`);
    process.exit(usage ? 2 : 1);
  },
);
