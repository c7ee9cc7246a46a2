import { createRedisClient, type RedisLike } from '@app/state';
import { probeRedis, RedisUnreachableError } from '@app/config';
import {
  createKafkaClient,
  ensureTopics,
  KafkaUnreachableError,
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

/** Creates the compacted models topic when it is missing (connects and disconnects `admin`). */
export async function ensureModelsTopic(admin: Admin, topic: string): Promise<void> {
  await admin.connect();
  try {
    await ensureTopics(admin, [{ topic, partitions: 1, configs: { 'cleanup.policy': 'compact' } }]);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Kafka or Redis (or both) did not answer the boot probe. The message names each unreachable
 * address and the variable that sets it.
 */
export class DependencyUnreachableError extends Error {
  constructor(readonly causes: readonly (KafkaUnreachableError | RedisUnreachableError)[]) {
    super(causes.map((c) => `${c.message} (${c instanceof KafkaUnreachableError ? 'KAFKA_BROKERS' : 'REDIS_URL'})`).join('; '));
    this.name = 'DependencyUnreachableError';
  }
}

/** The trainer's Kafka client settings (also what the boot probe uses). */
function kafkaClientConfig(config: TrainerConfig): KafkaClientConfig {
  return { brokers: config.kafkaBrokers, clientId: config.kafkaClientId, sasl: config.kafkaSasl, logLevel: 'error', retry: { retries: 3 } };
}

/**
 * Probes Kafka and Redis together with the shared boot probes; both are given the whole
 * deadline. Throws {@link DependencyUnreachableError} naming every one that did not answer.
 */
async function probeDependencies(config: TrainerConfig, deadlineMs: number): Promise<void> {
  const results = await Promise.allSettled([probeKafka(kafkaClientConfig(config), deadlineMs), probeRedis(config.redisUrl, deadlineMs, config.redisSentinelMaster)]);
  const unreachable: (KafkaUnreachableError | RedisUnreachableError)[] = [];
  for (const r of results) {
    if (r.status === 'fulfilled') continue;
    if (r.reason instanceof KafkaUnreachableError || r.reason instanceof RedisUnreachableError) unreachable.push(r.reason);
    else throw r.reason;
  }
  if (unreachable.length > 0) throw new DependencyUnreachableError(unreachable);
}

/**
 * Probes Redis and Kafka (boot fails fast, naming the address, when either is unreachable within
 * `probeTimeoutMs`, default BOOT_PROBE_TIMEOUT), then connects both and creates the compacted
 * models topic when it is missing.
 */
export async function connectInfra(config: TrainerConfig, probeTimeoutMs = config.bootProbeTimeoutMs): Promise<TrainerInfra> {
  await probeDependencies(config, probeTimeoutMs);
  const redis = createRedisClient(config.redisUrl, {
    lazyConnect: true,
    maxRetriesPerRequest: 3,
    cluster: config.redisCluster,
    sentinelMaster: config.redisSentinelMaster,
  });
  const kafka = createKafkaClient(kafkaClientConfig(config));
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  try {
    await redis.connect();
    await ensureModelsTopic(kafka.admin(), config.modelsTopic);
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
