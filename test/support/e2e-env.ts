import { randomBytes } from 'crypto';
import { createKafkaClient, ensureTopics, type Kafka, type KafkaMessage } from '@app/kafka';

/** Addresses of the stack test/global-setup.ts started. */
export interface E2EAddresses {
  /** Broker list for kafkajs. */
  readonly brokers: string[];
  /** `redis://127.0.0.1:<port>`. */
  readonly redisUrl: string;
}

/** Reads STREAMCELL_TEST_KAFKA_BROKERS / STREAMCELL_TEST_REDIS_URL; throws if the global setup did not run. */
export function e2eAddresses(): E2EAddresses {
  const brokers = process.env.STREAMCELL_TEST_KAFKA_BROKERS;
  const redisUrl = process.env.STREAMCELL_TEST_REDIS_URL;
  if (!brokers || !redisUrl) {
    throw new Error(
      'STREAMCELL_TEST_KAFKA_BROKERS / STREAMCELL_TEST_REDIS_URL are not set: run e2e suites with `npm run test:e2e` (jest globalSetup starts the stack)',
    );
  }
  return { brokers: brokers.split(','), redisUrl };
}

/** A kafkajs client on the e2e broker (quiet logs). */
export function e2eKafka(clientId = 'e2e'): Kafka {
  return createKafkaClient({ brokers: e2eAddresses().brokers, clientId, logLevel: 'error' });
}

/** `prefix-<time>-<random>`: unique per call, legal as topic, group and key names. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

/** Creates a fresh topic for one test and returns its name. */
export async function createUniqueTopic(
  kafka: Kafka,
  prefix: string,
  partitions = 4,
  configs?: Record<string, string>,
): Promise<string> {
  const topic = uniqueName(prefix);
  await ensureTopics(kafka, [{ topic, partitions, replicationFactor: 1, configs }]);
  return topic;
}

/** Polls `check` every `everyMs` until it is true; throws naming `what` after `timeoutMs`. */
export async function waitUntil(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
  everyMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A message read by {@link collectMessages}, with its coordinates. */
export interface CollectedMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: KafkaMessage['headers'];
}

/**
 * Reads `count` messages from `topic` (from the beginning, in a fresh consumer group) and
 * disconnects; throws after `timeoutMs` saying how many arrived. Messages come back in arrival
 * order (offset order within each partition).
 */
export async function collectMessages(
  kafka: Kafka,
  topic: string,
  count: number,
  timeoutMs = 60_000,
): Promise<CollectedMessage[]> {
  const consumer = kafka.consumer({ groupId: uniqueName('collector'), allowAutoTopicCreation: false });
  const out: CollectedMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic: t, partition, message }) => {
        out.push({ topic: t, partition, offset: message.offset, key: message.key, value: message.value, headers: message.headers });
      },
    });
    await waitUntil(`${count} messages on ${topic} (got ${out.length})`, () => out.length >= count, timeoutMs);
    return out;
  } catch (err) {
    throw new Error(`collectMessages(${topic}): ${(err as Error).message.replace(/\(got \d+\)/, `(got ${out.length})`)}`);
  } finally {
    await consumer.disconnect();
  }
}
