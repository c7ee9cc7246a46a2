import Redis from 'ioredis';
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import type { TrainerConfig } from './config/trainer-config';

/** The trainer's connections: one Redis client and one Kafka producer. */
export interface TrainerInfra {
  readonly redis: Redis;
  readonly kafka: Kafka;
  readonly producer: Producer;
  close(): Promise<void>;
}

/** Creates the compacted models topic when it is missing (connects and disconnects `admin`). */
export async function ensureModelsTopic(admin: Admin, topic: string): Promise<void> {
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(topic)) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }],
      });
    }
  } finally {
    await admin.disconnect();
  }
}

/** Fails with a message naming what did not answer. */
export class ProbeError extends Error {}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new ProbeError(`${what} did not answer within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: Error) => {
        clearTimeout(t);
        reject(new ProbeError(`${what}: ${e.message}`));
      },
    );
  });
}

/**
 * Connects to Redis and Kafka, probing both (boot fails fast when either is unreachable) and
 * creating the compacted models topic when it is missing.
 */
export async function connectInfra(config: TrainerConfig, probeTimeoutMs = 15_000): Promise<TrainerInfra> {
  const redis = new Redis(config.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 3 });
  try {
    await withTimeout(redis.connect().then(() => redis.ping()), probeTimeoutMs, `Redis at REDIS_URL (${config.redisUrl})`);
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  const kafka = new Kafka({ clientId: config.kafkaClientId, brokers: config.kafkaBrokers, logLevel: logLevel.ERROR, retry: { retries: 3 } });
  const admin = kafka.admin();
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  try {
    await withTimeout(
      (async () => {
        await ensureModelsTopic(admin, config.modelsTopic);
        await producer.connect();
      })(),
      probeTimeoutMs,
      `Kafka at KAFKA_BROKERS (${config.kafkaBrokers.join(',')})`,
    );
  } catch (err) {
    redis.disconnect();
    await admin.disconnect().catch(() => undefined);
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
