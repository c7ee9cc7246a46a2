/**
 * The worker's environment (WORKER-CONTRACT.md), validated once at boot. A bad value throws a
 * {@link ConfigError} naming the variable; main.ts prints it and exits 1.
 */
export interface WorkerConfig {
  readonly kafkaBrokers: readonly string[];
  readonly redisUrl: string;
  readonly kafkaClientId: string;
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
  readonly rewarmSteps: number;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
}

/** A configuration problem; the message names the variable. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

function str(env: Env, name: string, def?: string): string {
  const v = env[name];
  if (v === undefined || v.trim() === '') {
    if (def === undefined) throw new ConfigError(name, 'is required');
    return def;
  }
  return v.trim();
}

function int(env: Env, name: string, def: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return def;
  const t = raw.trim();
  if (!/^-?\d+$/.test(t)) throw new ConfigError(name, `must be an integer, got '${raw}'`);
  const n = Number(t);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function topic(env: Env, name: string, def: string): string {
  const v = str(env, name, def);
  if (!/^[a-zA-Z0-9._-]{1,249}$/.test(v)) throw new ConfigError(name, `'${v}' is not a valid Kafka topic name`);
  return v;
}

function modelName(env: Env, name: string, def: string): string {
  const v = str(env, name, def);
  if (!/^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$/.test(v)) throw new ConfigError(name, `'${v}' is not a valid model name`);
  return v;
}

/** Parses and validates the environment. */
export function loadWorkerConfig(env: Env = process.env): WorkerConfig {
  const brokersRaw = str(env, 'KAFKA_BROKERS');
  const kafkaBrokers = brokersRaw.split(',').map((b) => b.trim());
  for (const b of kafkaBrokers) {
    const m = /^([^:\s]+):(\d{1,5})$/.exec(b);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) {
      throw new ConfigError('KAFKA_BROKERS', `'${b}' is not host:port (expected host:port[,host:port])`);
    }
  }
  const redisUrl = str(env, 'REDIS_URL');
  let u: URL;
  try {
    u = new URL(redisUrl);
  } catch {
    throw new ConfigError('REDIS_URL', `'${redisUrl}' is not a URL (expected redis://host:port[/db])`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new ConfigError('REDIS_URL', `'${redisUrl}' must start with redis:// or rediss://`);
  }
  if (!u.hostname) throw new ConfigError('REDIS_URL', `'${redisUrl}' has no host`);
  const level = str(env, 'LOG_LEVEL', 'info').toLowerCase();
  if (level !== 'debug' && level !== 'info' && level !== 'warn' && level !== 'error') {
    throw new ConfigError('LOG_LEVEL', `must be debug, info, warn or error, got '${level}'`);
  }
  return {
    kafkaBrokers,
    redisUrl,
    kafkaClientId: str(env, 'KAFKA_CLIENT_ID', 'streamcell-worker'),
    kafkaGroupId: str(env, 'KAFKA_GROUP_ID', 'streamcell-worker'),
    sensorTopic: topic(env, 'SENSOR_TOPIC', 'sensor.readings'),
    textTopic: topic(env, 'TEXT_TOPIC', 'text.events'),
    forecastTopic: topic(env, 'FORECAST_TOPIC', 'predictions.forecasts'),
    classificationTopic: topic(env, 'CLASSIFICATION_TOPIC', 'predictions.classifications'),
    dlqTopic: topic(env, 'DLQ_TOPIC', 'streamcell.dlq'),
    modelsTopic: topic(env, 'MODELS_TOPIC', 'streamcell.models'),
    forecastModel: modelName(env, 'FORECAST_MODEL', 'forecaster'),
    classifyModel: modelName(env, 'CLASSIFY_MODEL', 'classifier'),
    httpPort: int(env, 'HTTP_PORT', 9464, 0, 65535),
    stateTtlMs: int(env, 'STATE_TTL_MS', 604_800_000, 0),
    maxEventGapMs: int(env, 'MAX_EVENT_GAP_MS', 0, 0),
    allowedLatenessMs: int(env, 'ALLOWED_LATENESS_MS', 0, -1),
    maxTextLength: int(env, 'MAX_TEXT_LENGTH', 10_000, 1),
    maxPayloadBytes: int(env, 'MAX_PAYLOAD_BYTES', 65_536, 1),
    rewarmSteps: int(env, 'REWARM_STEPS', 16, 0, 65_535),
    logLevel: level,
  };
}
