import { Logger } from '@nestjs/common';
import { createRedisClient, type RedisLike } from '@app/state';
import { probeDependencies, probeRedis } from '@app/config';
import {
  createKafkaClient,
  ensureTopics,
  probeKafka,
  type Admin,
  type Kafka,
  type KafkaClientConfig,
  type Producer,
} from '@app/kafka';
import type { TrainerConfig } from './config/trainer-config';

/** The trainer's connections: one Redis client and one Kafka producer. */
export interface TrainerInfra {
  readonly redis: RedisLike;
  readonly kafka: Kafka;
  readonly producer: Producer;
  close(): Promise<void>;
}

/**
 * Creates the compacted models topic (and the other compacted topics in `more`, e.g. the live
 * accuracy topic) when missing (connects and disconnects `admin`).
 */
export async function ensureModelsTopic(admin: Admin, topic: string, more: readonly string[] = []): Promise<void> {
  await admin.connect();
  try {
    await ensureTopics(
      admin,
      [topic, ...more].map((t) => ({ topic: t, partitions: 1, configs: { 'cleanup.policy': 'compact' } })),
    );
  } finally {
    await admin.disconnect();
  }
}

/** The trainer's Kafka client settings (also what the boot probe uses). */
function kafkaClientConfig(config: TrainerConfig): KafkaClientConfig {
  return { brokers: config.kafkaBrokers, clientId: config.kafkaClientId, sasl: config.kafkaSasl, logLevel: 'error', retry: { retries: 3 } };
}

/**
 * Probes Kafka and Redis in parallel within `probeTimeoutMs` (default BOOT_PROBE_TIMEOUT); throws
 * `DependencyUnreachableError` of `@app/config` naming each unreachable address and its variable.
 */
export async function probeInfra(config: TrainerConfig, probeTimeoutMs = config.bootProbeTimeoutMs): Promise<void> {
  await probeDependencies(
    [
      { name: 'Kafka', variable: 'KAFKA_BROKERS', probe: (ms) => probeKafka(kafkaClientConfig(config), ms) },
      { name: 'Redis', variable: 'REDIS_URL', probe: (ms) => probeRedis(config.redisUrl, ms, config.redisSentinelMaster) },
    ],
    probeTimeoutMs,
  );
}

/**
 * Probes Redis and Kafka (boot fails fast with `DependencyUnreachableError` of `@app/config`,
 * naming the address and its variable, when either is unreachable within `probeTimeoutMs`,
 * default BOOT_PROBE_TIMEOUT), then connects both and creates the compacted
 * models topic when it is missing.
 */
export async function connectInfra(config: TrainerConfig, probeTimeoutMs = config.bootProbeTimeoutMs): Promise<TrainerInfra> {
  await probeInfra(config, probeTimeoutMs);
  const redis = createRedisClient(config.redisUrl, {
    lazyConnect: true,
    maxRetriesPerRequest: 3,
    cluster: config.redisCluster,
    sentinelMaster: config.redisSentinelMaster,
  });
  // Connection errors while Redis is away: one line per 10 s instead of ioredis' "Unhandled
  // error event" per retry; commands fail on their own and their callers answer 503 or retry.
  let lastErrorLog = 0;
  redis.on('error', (err: Error) => {
    if (Date.now() - lastErrorLog < 10_000) return;
    lastErrorLog = Date.now();
    new Logger('redis').warn(`Redis connection error: ${err.message}`);
  });
  const kafka = createKafkaClient(kafkaClientConfig(config));
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  try {
    await redis.connect();
    await ensureModelsTopic(kafka.admin(), config.modelsTopic, [config.accuracyTopic]);
    await producer.connect();
  } catch (err) {
    redis.disconnect();
    await producer.disconnect().catch(() => undefined);
    throw err;
  }
  return {
    redis,
    kafka,
    producer,
    async close() {
      await producer.disconnect().catch(() => undefined);
      redis.disconnect();
    },
  };
}
