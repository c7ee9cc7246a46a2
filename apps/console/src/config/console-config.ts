import {
  BOOT_ENV,
  KAFKA_ENV,
  KAFKA_SASL_ENV,
  env,
  kafkaSasl,
  kafkaSaslProblems,
  validateEnv,
  type EnvVarSpec,
  type EnvValues,
  type KafkaSasl,
  type LogLevel,
} from '@app/config';
import { DEFAULT_TOPICS } from '@app/contracts';

/** A finite number in [min, max] (the anomaly threshold is a z-score, so a decimal). */
function decimal(description: string, min: number, max: number, def: number): EnvVarSpec<number> {
  return {
    parse: (s) => {
      const n = Number(s.trim());
      if (s.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new Error(`must be a number in [${min}, ${max}]`);
      return n;
    },
    default: String(def),
    description,
  };
}

/** An http(s) base URL without a trailing slash. */
function baseUrl(u: string): string {
  let url: URL;
  try {
    url = new URL(u);
  } catch {
    throw new Error(`${JSON.stringify(u)} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`${JSON.stringify(u)} must be http(s)`);
  if (url.username || url.password || url.search || url.hash) throw new Error(`${JSON.stringify(u)} must have no credentials, query or fragment`);
  return url.origin + url.pathname.replace(/\/+$/, '');
}

/** Comma-separated http(s) base URLs. */
function urlList(description: string): EnvVarSpec<string[]> & { readonly optional: true } {
  return {
    parse: (s) =>
      s
        .split(',')
        .map((u) => u.trim())
        .filter((u) => u.length > 0)
        .map(baseUrl),
    optional: true,
    description,
  };
}

/** The console's environment (apps/console/README.md lists every variable). */
export const CONSOLE_ENV = {
  KAFKA_BROKERS: KAFKA_ENV.KAFKA_BROKERS,
  KAFKA_CLIENT_ID: env.string('Kafka client id', 'streamcell-console'),
  ...KAFKA_SASL_ENV,
  CONSOLE_GROUP_PREFIX: env.string('prefix of the console consumer group (a unique suffix is added per process)', 'streamcell-console'),
  BOOT_PROBE_TIMEOUT: BOOT_ENV.BOOT_PROBE_TIMEOUT,
  LOG_LEVEL: BOOT_ENV.LOG_LEVEL,
  CONSOLE_PORT: env.port('console HTTP port (0 = any free port)', 3002),
  CONSOLE_HOST: env.string('console HTTP listen address', '0.0.0.0'),
  TRAINER_URL: { parse: (s: string) => baseUrl(s.trim()), description: 'base URL of the trainer admin API, e.g. http://127.0.0.1:3001' } as EnvVarSpec<string>,
  WORKER_METRICS_URLS: urlList('base URLs of the workers health/metrics servers, comma-separated (Fleet page)'),
  WORKER_GROUP_ID: env.string('consumer group of the workers (lag per partition on the Fleet page)', 'streamcell-worker'),
  SENSOR_TOPIC: env.topic('sensor readings', DEFAULT_TOPICS.sensorReadings),
  TEXT_TOPIC: env.topic('text events', DEFAULT_TOPICS.textEvents),
  FORECAST_TOPIC: env.topic('forecasts', DEFAULT_TOPICS.forecasts),
  CLASSIFICATION_TOPIC: env.topic('classifications', DEFAULT_TOPICS.classifications),
  DLQ_TOPIC: env.topic('dead letters', DEFAULT_TOPICS.dlq),
  MODELS_TOPIC: env.topic('model activation events', DEFAULT_TOPICS.models),
  CONSOLE_MAX_KEYS: env.intInRange('keys kept in memory (least recently updated evicted first)', 10, 1_000_000, 5000),
  CONSOLE_POINTS_PER_KEY: env.intInRange('points kept per key', 10, 100_000, 600),
  CONSOLE_BACKFILL: env.intInRange('messages per partition read back at start', 0, 100_000, 500),
  CONSOLE_ANOMALY_THRESHOLD: decimal('|anomaly score| at or above which a point is flagged', 0, 1000, 3),
  CONSOLE_SESSION_TTL: env.durationMs('idle lifetime of a login session', '12h'),
  CONSOLE_COOKIE_SECURE: env.boolean('mark the session cookie Secure (behind https)', false),
} as const;

/** Typed values of {@link CONSOLE_ENV}. */
export type ConsoleEnv = EnvValues<typeof CONSOLE_ENV>;

/** The console's configuration, validated once at boot. */
export interface ConsoleConfig {
  readonly port: number;
  readonly host: string;
  readonly kafkaBrokers: string[];
  readonly kafkaClientId: string;
  /** SASL login to Kafka, or null for none. */
  readonly kafkaSasl: KafkaSasl | null;
  readonly groupPrefix: string;
  readonly bootProbeTimeoutMs: number;
  readonly logLevel: LogLevel;
  readonly trainerUrl: string;
  readonly workerUrls: string[];
  readonly workerGroupId: string;
  readonly topics: {
    readonly sensor: string;
    readonly text: string;
    readonly forecasts: string;
    readonly classifications: string;
    readonly dlq: string;
    readonly models: string;
  };
  readonly maxKeys: number;
  readonly pointsPerKey: number;
  readonly backfill: number;
  readonly anomalyThreshold: number;
  readonly sessionTtlMs: number;
  readonly cookieSecure: boolean;
}

/** Parses the console's environment; throws `EnvValidationError` naming every bad variable. */
export function loadConsoleConfig(source: Record<string, string | undefined> = process.env): ConsoleConfig {
  const e = validateEnv(CONSOLE_ENV, source, kafkaSaslProblems);
  return {
    port: e.CONSOLE_PORT,
    host: e.CONSOLE_HOST,
    kafkaBrokers: e.KAFKA_BROKERS,
    kafkaClientId: e.KAFKA_CLIENT_ID,
    kafkaSasl: kafkaSasl(e),
    groupPrefix: e.CONSOLE_GROUP_PREFIX,
    bootProbeTimeoutMs: e.BOOT_PROBE_TIMEOUT,
    logLevel: e.LOG_LEVEL,
    trainerUrl: e.TRAINER_URL,
    workerUrls: e.WORKER_METRICS_URLS ?? [],
    workerGroupId: e.WORKER_GROUP_ID,
    topics: {
      sensor: e.SENSOR_TOPIC,
      text: e.TEXT_TOPIC,
      forecasts: e.FORECAST_TOPIC,
      classifications: e.CLASSIFICATION_TOPIC,
      dlq: e.DLQ_TOPIC,
      models: e.MODELS_TOPIC,
    },
    maxKeys: e.CONSOLE_MAX_KEYS,
    pointsPerKey: e.CONSOLE_POINTS_PER_KEY,
    backfill: e.CONSOLE_BACKFILL,
    anomalyThreshold: e.CONSOLE_ANOMALY_THRESHOLD,
    sessionTtlMs: e.CONSOLE_SESSION_TTL,
    cookieSecure: e.CONSOLE_COOKIE_SECURE,
  };
}

/** Injection token of the {@link ConsoleConfig}. */
export const CONSOLE_CONFIG = Symbol('CONSOLE_CONFIG');
