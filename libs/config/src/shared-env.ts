import { env, type EnvProblem, type EnvValues } from './env-schema';
import { LOG_LEVELS } from './logging';

/** Kafka variables every app reads. */
export const KAFKA_ENV = {
  KAFKA_BROKERS: env.brokers('Kafka bootstrap brokers, host:port[,host:port]'),
  KAFKA_CLIENT_ID: env.string('Kafka client id', 'streamcell'),
} as const;

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
