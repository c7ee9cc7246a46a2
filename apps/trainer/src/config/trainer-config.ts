import { hostname } from 'node:os';

/** Trainer configuration, validated once at boot (see README for every variable). */
export interface TrainerConfig {
  readonly port: number;
  readonly host: string;
  readonly redisUrl: string;
  readonly kafkaBrokers: string[];
  readonly kafkaClientId: string;
  readonly modelsTopic: string;
  /** null only when ADMIN_AUTH_DISABLED=true. */
  readonly adminToken: string | null;
  /** When set, `source.kind=file` paths must lie under this directory. */
  readonly dataDir: string | null;
  readonly instanceId: string;
  readonly maxUploadBytes: number;
  /** tfjs backend for forecasters. */
  readonly forecastBackend: 'wasm' | 'cpu';
  /** tfjs backend for text models (wasm with the trainer's UnsortedSegmentSum kernel, or cpu). */
  readonly textBackend: 'wasm' | 'cpu';
}

/** Raised with a message naming the offending variable. */
export class ConfigError extends Error {}

function int(env: NodeJS.ProcessEnv, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(raw)}`);
  return n;
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const v = env[name];
  if (v === undefined || v.trim() === '') throw new ConfigError(`${name} is required`);
  return v.trim();
}

/** Parses and validates the trainer's environment; throws ConfigError naming the variable. */
export function loadTrainerConfig(env: NodeJS.ProcessEnv = process.env): TrainerConfig {
  const redisUrl = required(env, 'REDIS_URL');
  if (!/^rediss?:\/\//.test(redisUrl)) throw new ConfigError(`REDIS_URL must start with redis:// or rediss://, got ${JSON.stringify(redisUrl)}`);
  const kafkaBrokers = required(env, 'KAFKA_BROKERS').split(',').map((b) => b.trim()).filter(Boolean);
  for (const b of kafkaBrokers) {
    if (!/^[^:\s]+:\d{1,5}$/.test(b)) throw new ConfigError(`KAFKA_BROKERS must be host:port[,host:port...], got ${JSON.stringify(b)}`);
  }
  const disabledRaw = (env.ADMIN_AUTH_DISABLED ?? '').trim().toLowerCase();
  if (disabledRaw !== '' && disabledRaw !== 'true' && disabledRaw !== 'false') {
    throw new ConfigError(`ADMIN_AUTH_DISABLED must be "true" or "false", got ${JSON.stringify(env.ADMIN_AUTH_DISABLED)}`);
  }
  const authDisabled = disabledRaw === 'true';
  const token = env.ADMIN_TOKEN?.trim() ?? '';
  if (!authDisabled && token === '') {
    throw new ConfigError('ADMIN_TOKEN is required (set ADMIN_AUTH_DISABLED=true to run the admin API without auth, for local development only)');
  }
  if (token !== '' && token.length < 16) throw new ConfigError('ADMIN_TOKEN must be at least 16 characters');
  const backendOf = (name: string): 'wasm' | 'cpu' => {
    const v = (env[name] ?? 'wasm').trim();
    if (v !== 'wasm' && v !== 'cpu') throw new ConfigError(`${name} must be wasm or cpu, got ${JSON.stringify(v)}`);
    return v;
  };
  return {
    port: int(env, 'TRAINER_PORT', 3001, 0, 65535),
    host: env.TRAINER_HOST?.trim() || '0.0.0.0',
    redisUrl,
    kafkaBrokers,
    kafkaClientId: env.KAFKA_CLIENT_ID?.trim() || 'streamcell-trainer',
    modelsTopic: env.MODELS_TOPIC?.trim() || 'streamcell.models',
    adminToken: authDisabled ? null : token,
    dataDir: env.TRAINER_DATA_DIR?.trim() || null,
    instanceId: env.TRAINER_INSTANCE_ID?.trim() || hostname(),
    maxUploadBytes: int(env, 'TRAINER_MAX_UPLOAD_BYTES', 64 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    forecastBackend: backendOf('TRAINER_FORECAST_BACKEND'),
    textBackend: backendOf('TRAINER_TEXT_BACKEND'),
  };
}

/** DI token of the TrainerConfig. */
export const TRAINER_CONFIG = Symbol('TRAINER_CONFIG');
