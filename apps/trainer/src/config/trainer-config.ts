import { hostname } from 'node:os';
import {
  BOOT_ENV,
  KAFKA_ENV,
  KAFKA_SASL_ENV,
  REDIS_ENV,
  env,
  kafkaSasl,
  kafkaSaslProblems,
  parseTopicName,
  redisEnvProblems,
  validateEnv,
  type EnvValues,
  type EnvVarSpec,
  type KafkaSasl,
  type LogLevel,
} from '@app/config';
import { DEFAULT_TOPICS } from '@app/contracts';

/** The shortest bearer token the admin API accepts. */
const MIN_TOKEN_LENGTH = 16;

/**
 * A comma-separated list of topic names, each optionally ending in `*` (a prefix match: the
 * part before it must itself be a legal topic name).
 */
function topicPatterns(description: string, def: string): EnvVarSpec<string[]> {
  return {
    parse: (raw) => {
      const items = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
      if (items.length === 0) throw new Error('lists no topic');
      return items.map((t) => (t.endsWith('*') ? `${parseTopicName(t.slice(0, -1))}*` : parseTopicName(t)));
    },
    default: def,
    description,
  };
}

/**
 * The trainer's environment as an `@app/config` spec (README configuration table; every default
 * here is the documented one). Kafka, Redis and the boot probe deadline are the shared
 * declarations; only the client id default is the trainer's own.
 */
export const TRAINER_ENV = {
  KAFKA_BROKERS: KAFKA_ENV.KAFKA_BROKERS,
  KAFKA_CLIENT_ID: env.string('Kafka client id', 'streamcell-trainer'),
  ...KAFKA_SASL_ENV,
  REDIS_URL: REDIS_ENV.REDIS_URL,
  REDIS_CLUSTER: REDIS_ENV.REDIS_CLUSTER,
  REDIS_SENTINEL_MASTER: REDIS_ENV.REDIS_SENTINEL_MASTER,
  BOOT_PROBE_TIMEOUT: BOOT_ENV.BOOT_PROBE_TIMEOUT,
  LOG_LEVEL: BOOT_ENV.LOG_LEVEL,
  MODELS_TOPIC: env.topic('model activation events (compacted, created when missing)', DEFAULT_TOPICS.models),
  SENSOR_TOPIC: env.topic("input topic of forecast models (key resets are produced to it; backtests read it)", DEFAULT_TOPICS.sensorReadings),
  TEXT_TOPIC: env.topic("input topic of classify models (key resets are produced to it; backtests read it)", DEFAULT_TOPICS.textEvents),
  ACCURACY_TOPIC: env.topic('live accuracy per model version (compacted, created when missing)', DEFAULT_TOPICS.accuracy),
  ACCURACY_PUBLISH_MS: env.intInRange('how often live accuracy is read, exported as gauges and published, ms', 100, 3_600_000, 10_000),
  POLICY_LOOP_MS: env.intInRange('how often the control loop looks at each model with a policy, ms (docs/closed-loop.md)', 100, 3_600_000, 5_000),
  ADMIN_TOKEN: env.secret(`bearer token of every /v1 route (>= ${MIN_TOKEN_LENGTH} characters)`, MIN_TOKEN_LENGTH),
  // Strict on purpose: only the word "true" turns authentication off.
  ADMIN_AUTH_DISABLED: env.boolean('true runs /v1 without auth (local development only)', false, true),
  TRAINER_PORT: env.port('admin HTTP port (0 = any free port)', 3001),
  TRAINER_HOST: env.string('admin HTTP listen address', '0.0.0.0'),
  TRAINER_DATA_DIR: env.optional(env.string('root of file training sources; unset: file sources are refused')),
  TRAINER_SOURCE_TOPICS: topicPatterns(
    'Kafka topics a retrain may read (source.topic, source.labelsTopic); a trailing * matches a prefix',
    `${DEFAULT_TOPICS.sensorReadings},${DEFAULT_TOPICS.textEvents}`,
  ),
  TRAINER_INSTANCE_ID: env.string('owner id of jobs', hostname()),
  TRAINER_MAX_UPLOAD_BYTES: env.intInRange('request body limit in bytes (retrain and import)', 1024, 1024 * 1024 * 1024, 64 * 1024 * 1024),
  TRAINER_MAX_JOBS: env.intInRange('training jobs running at once in this trainer; more get 429', 1, 64, 2),
  TRAINER_JOB_MEMORY_MB: env.intInRange('V8 heap limit of each training process (--max-old-space-size), MiB', 128, 65536, 2048),
  TRAINER_MAX_DATA_BYTES: env.intInRange(
    'training data a job may read (file size, Kafka message bytes)',
    1024,
    16 * 1024 * 1024 * 1024,
    256 * 1024 * 1024,
  ),
  TRAINER_FORECAST_BACKEND: env.oneOf(['wasm', 'cpu'] as const, 'tfjs backend for forecasters', 'wasm'),
  TRAINER_TEXT_BACKEND: env.oneOf(['wasm', 'cpu'] as const, 'tfjs backend for text models', 'wasm'),
} as const;

/** Typed values of {@link TRAINER_ENV}. */
export type TrainerEnv = EnvValues<typeof TRAINER_ENV>;

/** Trainer configuration, validated once at boot (see README for every variable). */
export interface TrainerConfig {
  readonly port: number;
  readonly host: string;
  readonly redisUrl: string;
  /** REDIS_URL lists Redis Cluster seed nodes. */
  readonly redisCluster: boolean;
  /** Set: REDIS_URL lists Sentinels of the master of this name. */
  readonly redisSentinelMaster: string | null;
  readonly kafkaBrokers: string[];
  readonly kafkaClientId: string;
  /** SASL login to Kafka (also used by training processes), or null for none. */
  readonly kafkaSasl: KafkaSasl | null;
  readonly modelsTopic: string;
  /** Input topics by task (the workers' SENSOR_TOPIC / TEXT_TOPIC): key resets and backtests. */
  readonly inputTopics: { readonly forecast: string; readonly classify: string };
  /** Compacted live accuracy topic (docs/accuracy.md). */
  readonly accuracyTopic: string;
  /** Period of the live accuracy export (gauges and topic), ms. */
  readonly accuracyPublishMs: number;
  /** Period of the control loop (docs/closed-loop.md), ms; a model's loop lease lives 3 periods. */
  readonly policyLoopMs: number;
  /** null only when ADMIN_AUTH_DISABLED=true. */
  readonly adminToken: string | null;
  /** Root of `source.kind=file` paths (compared by real path); null: file sources are refused. */
  readonly dataDir: string | null;
  /** Topics a retrain may read: exact names, or prefixes ending in `*`. */
  readonly sourceTopics: readonly string[];
  readonly instanceId: string;
  /** Body limit of the retrain and import routes (every content type). */
  readonly maxUploadBytes: number;
  /** Jobs running at once in this process; one more gets 429. */
  readonly maxJobs: number;
  /** V8 heap limit of each training process, MiB. */
  readonly jobMemoryMb: number;
  /** Bytes of training data a job may read. */
  readonly maxDataBytes: number;
  /** tfjs backend for forecasters. */
  readonly forecastBackend: 'wasm' | 'cpu';
  /** tfjs backend for text models (wasm with the trainer's UnsortedSegmentSum kernel, or cpu). */
  readonly textBackend: 'wasm' | 'cpu';
  /** How long boot waits for Kafka and Redis (BOOT_PROBE_TIMEOUT) before giving up. */
  readonly bootProbeTimeoutMs: number;
  readonly logLevel: LogLevel;
}

/**
 * Parses and validates the trainer's environment; throws `EnvValidationError` (from
 * `@app/config`) naming every bad variable. The admin API has no token only when
 * ADMIN_AUTH_DISABLED=true says so.
 */
export function loadTrainerConfig(source: Record<string, string | undefined> = process.env): TrainerConfig {
  const e = validateEnv(TRAINER_ENV, source, (v) => [
    ...(!v.ADMIN_AUTH_DISABLED && v.ADMIN_TOKEN === undefined
      ? [
          {
            variable: 'ADMIN_TOKEN',
            message: 'is required (set ADMIN_AUTH_DISABLED=true to run the admin API without auth, for local development only)',
          },
        ]
      : []),
    ...redisEnvProblems(v),
    ...kafkaSaslProblems(v),
  ]);
  return {
    port: e.TRAINER_PORT,
    host: e.TRAINER_HOST,
    redisUrl: e.REDIS_URL,
    redisCluster: e.REDIS_CLUSTER,
    redisSentinelMaster: e.REDIS_SENTINEL_MASTER ?? null,
    kafkaBrokers: e.KAFKA_BROKERS,
    kafkaClientId: e.KAFKA_CLIENT_ID,
    kafkaSasl: kafkaSasl(e),
    modelsTopic: e.MODELS_TOPIC,
    inputTopics: { forecast: e.SENSOR_TOPIC, classify: e.TEXT_TOPIC },
    accuracyTopic: e.ACCURACY_TOPIC,
    accuracyPublishMs: e.ACCURACY_PUBLISH_MS,
    policyLoopMs: e.POLICY_LOOP_MS,
    adminToken: e.ADMIN_AUTH_DISABLED ? null : (e.ADMIN_TOKEN ?? null),
    dataDir: e.TRAINER_DATA_DIR ?? null,
    sourceTopics: e.TRAINER_SOURCE_TOPICS,
    instanceId: e.TRAINER_INSTANCE_ID,
    maxUploadBytes: e.TRAINER_MAX_UPLOAD_BYTES,
    maxJobs: e.TRAINER_MAX_JOBS,
    jobMemoryMb: e.TRAINER_JOB_MEMORY_MB,
    maxDataBytes: e.TRAINER_MAX_DATA_BYTES,
    forecastBackend: e.TRAINER_FORECAST_BACKEND,
    textBackend: e.TRAINER_TEXT_BACKEND,
    bootProbeTimeoutMs: e.BOOT_PROBE_TIMEOUT,
    logLevel: e.LOG_LEVEL,
  };
}

/** True when `topic` is named by one of `patterns` (exact, or by a prefix ending in `*`). */
export function topicAllowed(patterns: readonly string[], topic: string): boolean {
  return patterns.some((p) => (p.endsWith('*') ? topic.startsWith(p.slice(0, -1)) : topic === p));
}

/** DI token of the TrainerConfig. */
export const TRAINER_CONFIG = Symbol('TRAINER_CONFIG');
