import {
  BOOT_ENV,
  EnvValidationError,
  KAFKA_SASL_ENV,
  REDIS_ENV,
  kafkaSasl,
  kafkaSaslProblems,
  type KafkaSasl,
  redisEnvProblems,
  env,
  durationBetween,
  parseDurationMs,
  parseIntInRange,
  parseNonNegativeInt,
  parseTopicName,
  validateEnv,
  otelEnv,
  type EnvVarSpec,
  type LogLevel,
} from '@app/config';
import type { TracingSettings } from '../observability/worker-tracing';
import { DEFAULT_MAX_DLQ_BYTES, DEFAULT_TOPICS, MAX_DLQ_BYTES, MIN_DLQ_BYTES } from '@app/contracts';

/**
 * The worker's environment (apps/stream-worker/README.md) as an @app/config spec: validated once at boot;
 * a bad value fails with an {@link EnvValidationError} naming the variable.
 */
export const WORKER_ENV = {
  KAFKA_BROKERS: env.brokers('Kafka bootstrap brokers, host:port[,host:port]'),
  REDIS_URL: env.redisUrl('Redis URL, redis://host:port[/db]; Cluster seed nodes comma-separated'),
  REDIS_CLUSTER: REDIS_ENV.REDIS_CLUSTER,
  REDIS_SENTINEL_MASTER: REDIS_ENV.REDIS_SENTINEL_MASTER,
  REDIS_WAIT_REPLICAS: {
    parse: parseNonNegativeInt,
    default: '0',
    description:
      'replicas that must acknowledge each batch of state writes (Redis WAIT) before its offsets are committed; 0 = do not wait. Set it when Redis has replicas that can take over (Cluster or Sentinel), so that a failover cannot lose written state',
  } satisfies EnvVarSpec<number>,
  REDIS_WAIT_TIMEOUT_MS: {
    parse: durationBetween(1),
    default: '1000',
    description: 'how long a batch waits for REDIS_WAIT_REPLICAS acknowledgements before it fails and is retried',
  } satisfies EnvVarSpec<number>,
  KAFKA_CLIENT_ID: env.string('Kafka client id', 'streamcell-worker'),
  ...KAFKA_SASL_ENV,
  KAFKA_GROUP_ID: env.string('consumer group of the workers', 'streamcell-worker'),
  SENSOR_TOPIC: env.topic('sensor readings in', DEFAULT_TOPICS.sensorReadings),
  TEXT_TOPIC: env.topic('text events in', DEFAULT_TOPICS.textEvents),
  FORECAST_TOPIC: env.topic('forecasts out', DEFAULT_TOPICS.forecasts),
  CLASSIFICATION_TOPIC: env.topic('classifications out', DEFAULT_TOPICS.classifications),
  DLQ_TOPIC: env.topic('dead letters out', DEFAULT_TOPICS.dlq),
  MODELS_TOPIC: env.topic('model activation events (compacted)', DEFAULT_TOPICS.models),
  SHADOW_TOPIC: {
    parse: parseTopicName,
    optional: true,
    description: 'outputs of shadow versions (prediction encoding, the shadow version in modelVersion); unset = shadow outputs are not published',
  } satisfies EnvVarSpec<string>,
  FORECAST_MODEL: modelName('registry model serving SENSOR_TOPIC', 'forecaster'),
  CLASSIFY_MODEL: modelName('registry model serving TEXT_TOPIC', 'classifier'),
  HTTP_PORT: env.port('port of /health, /health/ready and /metrics (0 = any free port)', 9464),
  STATE_TTL_MS: ms('idle TTL of a key state (0 = never expires)', '604800000'),
  MAX_EVENT_GAP_MS: ms('an event-time gap above this resets the key state (0 = off)', '0'),
  ALLOWED_LATENESS_MS: {
    parse: (raw: string) => {
      const n = Number(raw.trim());
      if (!/^-?\d+$/.test(raw.trim()) || n < -1) throw new Error(`"${raw}" must be -1 (off) or a number of milliseconds`);
      return n;
    },
    default: '0',
    description: 'events older than the key last event time minus this go to the DLQ as late_event (-1 = off)',
  } satisfies EnvVarSpec<number>,
  MAX_TEXT_LENGTH: env.positiveInt('longest text in characters', 10_000),
  MAX_PAYLOAD_BYTES: env.positiveInt('largest message value in bytes', 65_536),
  DLQ_MAX_BYTES: {
    parse: (raw: string) => parseIntInRange(raw, MIN_DLQ_BYTES, MAX_DLQ_BYTES),
    default: String(DEFAULT_MAX_DLQ_BYTES),
    description: `largest dead letter (record key + value) in bytes, ${MIN_DLQ_BYTES}-${MAX_DLQ_BYTES}: a rejected message that would not fit is carried as a truncated copy with its length and sha256; keep it at or under the DLQ topic's max.message.bytes`,
  } satisfies EnvVarSpec<number>,
  REWARM_STEPS: {
    parse: (raw: string) => {
      const n = parseNonNegativeInt(raw);
      if (n > 65_535) throw new Error(`"${raw}" is larger than 65535`);
      return n;
    },
    default: '16',
    description:
      'inputs kept per key for the rewarm swap policy, by models whose served version was activated with rewarm (others keep none); 0 = none',
  } satisfies EnvVarSpec<number>,
  BATCH_LINGER_MS: {
    parse: durationBetween(0, 1000),
    default: '0',
    description:
      'latency/throughput trade-off: how long a fetch may wait for more records before a unit of work starts. 0 = start as soon as any record is there (lowest latency); a few ms give fewer, larger units (more events per round trip) at the cost of up to that much latency',
  } satisfies EnvVarSpec<number>,
  COMMIT_INTERVAL_MS: {
    parse: durationBetween(0, 5000),
    default: '100',
    description:
      'least time between two offset commits: offsets of the units made durable meanwhile go out together (a commit shares the consumer connection with the fetches). 0 = commit each unit as soon as it is durable. A replay after a crash or rebalance starts at the last commit; the events it re-reads are skipped by the state offsets',
  } satisfies EnvVarSpec<number>,
  STUCK_PARTITION_READY_MS: {
    parse: durationBetween(1000),
    default: '60s',
    description:
      '/health/ready fails while a partition\'s batch has kept failing for longer than this (streamcell_partition_stuck_seconds); partitions waiting for their topic model\'s first activation do not count',
  } satisfies EnvVarSpec<number>,
  BOOT_PROBE_TIMEOUT: BOOT_ENV.BOOT_PROBE_TIMEOUT,
  LOG_LEVEL: BOOT_ENV.LOG_LEVEL,
  ...otelEnv('streamcell-worker'),
} as const;

function modelName(description: string, def: string): EnvVarSpec<string> {
  return {
    parse: (raw) => {
      const v = raw.trim();
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(v)) throw new Error(`"${raw}" is not a model name`);
      return v;
    },
    default: def,
    description,
  };
}

function ms(description: string, def: string): EnvVarSpec<number> {
  return { parse: parseDurationMs, default: def, description };
}

/** Typed worker configuration. */
export interface WorkerConfig {
  readonly kafkaBrokers: readonly string[];
  readonly redisUrl: string;
  /** REDIS_URL lists Redis Cluster seed nodes. */
  readonly redisCluster: boolean;
  /** Set: REDIS_URL lists Sentinels of the master of this name. */
  readonly redisSentinelMaster: string | null;
  /** Replicas that acknowledge each batch's state writes (0 = none). */
  readonly redisWaitReplicas: number;
  readonly redisWaitTimeoutMs: number;
  readonly kafkaClientId: string;
  /** SASL login to Kafka, or null for none. */
  readonly kafkaSasl: KafkaSasl | null;
  readonly kafkaGroupId: string;
  readonly sensorTopic: string;
  readonly textTopic: string;
  readonly forecastTopic: string;
  readonly classificationTopic: string;
  readonly dlqTopic: string;
  readonly modelsTopic: string;
  readonly forecastModel: string;
  readonly classifyModel: string;
  readonly httpPort: number;
  readonly stateTtlMs: number;
  readonly maxEventGapMs: number;
  readonly allowedLatenessMs: number;
  readonly maxTextLength: number;
  readonly maxPayloadBytes: number;
  /** Largest dead letter (record key + value), bytes. */
  readonly dlqMaxBytes: number;
  readonly rewarmSteps: number;
  /** SHADOW_TOPIC; null = shadow outputs are not published. */
  readonly shadowTopic: string | null;
  readonly logLevel: LogLevel;
  /** How long boot waits for Kafka and Redis (BOOT_PROBE_TIMEOUT) before exiting. */
  readonly bootProbeTimeoutMs: number;
  /** BATCH_LINGER_MS: broker-side fetch wait for more records (0 = answer with the first record). */
  readonly batchLingerMs: number;
  /** COMMIT_INTERVAL_MS: least time between two offset commits (0 = one per unit). */
  readonly commitIntervalMs: number;
  /** A partition failing this long makes the worker not ready. */
  readonly stuckPartitionReadyMs: number;
  /** OTEL_TRACES_EXPORTER and co. (docs/tracing.md); exporter `none` = tracing off. */
  readonly tracing: TracingSettings;
}

export { EnvValidationError as ConfigError };

/** Parses and validates the environment; throws naming every bad variable. */
export function loadWorkerConfig(source: Record<string, string | undefined> = process.env): WorkerConfig {
  const e = validateEnv(WORKER_ENV, source, (v) => [...redisEnvProblems(v), ...kafkaSaslProblems(v)]);
  return {
    kafkaBrokers: e.KAFKA_BROKERS,
    redisUrl: e.REDIS_URL,
    redisCluster: e.REDIS_CLUSTER,
    redisSentinelMaster: e.REDIS_SENTINEL_MASTER ?? null,
    redisWaitReplicas: e.REDIS_WAIT_REPLICAS,
    redisWaitTimeoutMs: e.REDIS_WAIT_TIMEOUT_MS,
    kafkaClientId: e.KAFKA_CLIENT_ID,
    kafkaSasl: kafkaSasl(e),
    kafkaGroupId: e.KAFKA_GROUP_ID,
    sensorTopic: e.SENSOR_TOPIC,
    textTopic: e.TEXT_TOPIC,
    forecastTopic: e.FORECAST_TOPIC,
    classificationTopic: e.CLASSIFICATION_TOPIC,
    dlqTopic: e.DLQ_TOPIC,
    modelsTopic: e.MODELS_TOPIC,
    forecastModel: e.FORECAST_MODEL,
    classifyModel: e.CLASSIFY_MODEL,
    httpPort: e.HTTP_PORT,
    stateTtlMs: e.STATE_TTL_MS,
    maxEventGapMs: e.MAX_EVENT_GAP_MS,
    allowedLatenessMs: e.ALLOWED_LATENESS_MS,
    maxTextLength: e.MAX_TEXT_LENGTH,
    maxPayloadBytes: e.MAX_PAYLOAD_BYTES,
    dlqMaxBytes: e.DLQ_MAX_BYTES,
    rewarmSteps: e.REWARM_STEPS,
    shadowTopic: (e.SHADOW_TOPIC) ?? null,
    logLevel: e.LOG_LEVEL,
    batchLingerMs: e.BATCH_LINGER_MS,
    commitIntervalMs: e.COMMIT_INTERVAL_MS,
    stuckPartitionReadyMs: e.STUCK_PARTITION_READY_MS,
    bootProbeTimeoutMs: e.BOOT_PROBE_TIMEOUT,
    tracing: { exporter: e.OTEL_SDK_DISABLED ? 'none' : e.OTEL_TRACES_EXPORTER, protocol: e.OTEL_EXPORTER_OTLP_PROTOCOL, serviceName: e.OTEL_SERVICE_NAME },
  };
}
