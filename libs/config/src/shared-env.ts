import { env, type EnvProblem, type EnvValues } from './env-schema';
import { LOG_LEVELS } from './logging';

/** Kafka variables every app reads. */
export const KAFKA_ENV = {
  KAFKA_BROKERS: env.brokers('Kafka bootstrap brokers, host:port[,host:port]'),
  KAFKA_CLIENT_ID: env.string('Kafka client id', 'streamcell'),
} as const;

/** Kafka SASL mechanisms the apps log in with (kafkajs names). */
export const KAFKA_SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;

/** Kafka login (e.g. a Strimzi KafkaUser): all three variables, or none for no authentication. */
export const KAFKA_SASL_ENV = {
  KAFKA_SASL_MECHANISM: env.optional(env.oneOf(KAFKA_SASL_MECHANISMS, 'SASL mechanism of the Kafka login (with KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD)')),
  KAFKA_SASL_USERNAME: env.optional(env.string('Kafka SASL user name')),
  KAFKA_SASL_PASSWORD: env.secret('Kafka SASL password'),
} as const;

/** A Kafka SASL login, as kafkajs takes it. */
export interface KafkaSasl {
  readonly mechanism: (typeof KAFKA_SASL_MECHANISMS)[number];
  readonly username: string;
  readonly password: string;
}

/** Cross-variable rule of {@link KAFKA_SASL_ENV}: the three variables come together. */
export function kafkaSaslProblems(v: EnvValues<typeof KAFKA_SASL_ENV>): EnvProblem[] {
  const names = Object.keys(KAFKA_SASL_ENV) as (keyof typeof KAFKA_SASL_ENV)[];
  const set = names.filter((n) => v[n] !== undefined);
  if (set.length === 0 || set.length === names.length) return [];
  return names
    .filter((n) => v[n] === undefined)
    .map((variable) => ({ variable, message: `is required with ${set.join(' and ')} (a Kafka SASL login needs all three)` }));
}

/** The login of valid {@link KAFKA_SASL_ENV} values, or null without one. */
export function kafkaSasl(v: EnvValues<typeof KAFKA_SASL_ENV>): KafkaSasl | null {
  return v.KAFKA_SASL_MECHANISM && v.KAFKA_SASL_USERNAME && v.KAFKA_SASL_PASSWORD
    ? { mechanism: v.KAFKA_SASL_MECHANISM, username: v.KAFKA_SASL_USERNAME, password: v.KAFKA_SASL_PASSWORD }
    : null;
}

/** Redis variables every app reads. */
export const REDIS_ENV = {
  REDIS_URL: env.redisUrl('Redis URL, redis://[user:pass@]host:port[/db]'),
  REDIS_CLUSTER: env.boolean('true: REDIS_URL lists Redis Cluster seed nodes (comma-separated URLs)', false, true),
  REDIS_SENTINEL_MASTER: env.optional({
    parse: (raw: string) => {
      const v = raw.trim();
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(v)) throw new Error(`"${raw}" is not a Sentinel master name`);
      return v;
    },
    description: 'name of the master to reach through Redis Sentinel; REDIS_URL then lists the Sentinels (comma-separated URLs)',
  }),
} as const;

/** Cross-variable rules of {@link REDIS_ENV}: Cluster and Sentinel exclude each other. */
export function redisEnvProblems(v: { REDIS_CLUSTER: boolean; REDIS_SENTINEL_MASTER?: string }): EnvProblem[] {
  return v.REDIS_CLUSTER && v.REDIS_SENTINEL_MASTER !== undefined
    ? [{ variable: 'REDIS_SENTINEL_MASTER', message: 'cannot be combined with REDIS_CLUSTER=true (a Redis Cluster fails over by itself)' }]
    : [];
}

/** Boot behaviour and logging, the same in every app. */
export const BOOT_ENV = {
  BOOT_PROBE_TIMEOUT: env.durationMs('how long boot waits for Kafka and Redis before exiting (exit code 3)', '20s'),
  LOG_LEVEL: env.oneOf(LOG_LEVELS, 'log level', 'info'),
} as const;

/** The three shared groups together. */
export const SHARED_ENV = { ...KAFKA_ENV, ...REDIS_ENV, ...BOOT_ENV } as const;

/** Typed values of {@link SHARED_ENV}. */
export type SharedEnv = EnvValues<typeof SHARED_ENV>;
