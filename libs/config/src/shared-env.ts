import { env, type EnvValues } from './env-schema';

/** Kafka variables every app reads. */
export const KAFKA_ENV = {
  KAFKA_BROKERS: env.brokers('Kafka bootstrap brokers, host:port[,host:port]'),
  KAFKA_CLIENT_ID: env.string('Kafka client id', 'streamcell'),
  KAFKA_CONNECTION_TIMEOUT: env.durationMs('TCP connect timeout per broker', '3s'),
  KAFKA_REQUEST_TIMEOUT: env.durationMs('Kafka request timeout', '30s'),
  KAFKA_LOG_LEVEL: env.oneOf(['nothing', 'error', 'warn', 'info', 'debug'] as const, 'kafkajs log level', 'warn'),
} as const;

/** Redis variables every app reads. */
export const REDIS_ENV = {
  REDIS_URL: env.redisUrl('Redis URL, redis://[user:pass@]host:port[/db]'),
  REDIS_CLUSTER: env.boolean('true: REDIS_URL lists Redis Cluster seed nodes (comma-separated URLs)', false, true),
} as const;

/** Boot behaviour. */
export const BOOT_ENV = {
  BOOT_PROBE_TIMEOUT: env.durationMs('how long boot waits for Kafka and Redis before exiting', '20s'),
} as const;

/** The three shared groups together. */
export const SHARED_ENV = { ...KAFKA_ENV, ...REDIS_ENV, ...BOOT_ENV } as const;

/** Typed values of {@link SHARED_ENV}. */
export type SharedEnv = EnvValues<typeof SHARED_ENV>;
