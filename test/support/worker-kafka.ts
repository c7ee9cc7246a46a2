/**
 * Kafka helpers for the worker e2e suites: topic creation, bulk produce, and collecting what the
 * worker writes to an output topic.
 */
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, type Consumer, type Producer } from 'kafkajs';

/** A kafkajs client for the harness brokers (quiet logs). */
export function testKafka(brokers: string, clientId = 'e2e'): Kafka {
  return new Kafka({ clientId, brokers: brokers.split(','), logLevel: logLevel.NOTHING });
}

/** A short unique suffix for topic, group and model names. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

/** Creates topics (partitions each) and waits for their leaders. */
export async function createTopics(kafka: Kafka, topics: readonly string[], partitions: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: topics.map((topic) => ({ topic, numPartitions: partitions })), waitForLeaders: false });
    // Leaders elected is not yet "every broker knows": wait until metadata shows all partitions led.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const md = await admin.fetchTopicMetadata({ topics: [...topics] }).catch(() => null);
      const ok = md !== null && md.topics.every((t) => t.partitions.length === partitions && t.partitions.every((p) => p.leader >= 0));
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`topics ${topics.join(',')} have no leaders after 30 s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await admin.disconnect();
  }
}

/** Produces keyed JSON-ish messages in chunks (acks all), preserving order per key. */
export async function produceAll(
  producer: Producer,
  topic: string,
  messages: readonly { key: string; value: string }[],
  chunk = 2000,
): Promise<void> {
  for (let i = 0; i < messages.length; i += chunk) {
    await producer.send({ topic, acks: -1, messages: messages.slice(i, i + chunk).map((m) => ({ key: m.key, value: m.value })) });
  }
}

/** A consumed message. */
export interface CollectedMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  readonly value: string;
}

/** Collects every message of some topics from the beginning (its own consumer group). */
export class TopicCollector {
  readonly messages: CollectedMessage[] = [];
  private consumer: Consumer | null = null;

  constructor(
    private readonly kafka: Kafka,
    private readonly topics: readonly string[],
  ) {}

  async start(): Promise<void> {
    const consumer = this.kafka.consumer({ groupId: uniqueName('e2e-collector'), maxWaitTimeInMs: 100 });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topics: [...this.topics], fromBeginning: true });
    let joined!: () => void;
    const joinedP = new Promise<void>((r) => (joined = r));
    consumer.on(consumer.events.GROUP_JOIN, () => joined());
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          this.messages.push({
            topic: batch.topic,
            partition: batch.partition,
            offset: m.offset,
            key: m.key ? m.key.toString('utf8') : null,
            value: m.value ? m.value.toString('utf8') : '',
          });
        }
      },
    });
    await joinedP;
  }

  /** Messages of one topic. */
  of(topic: string): CollectedMessage[] {
    return this.messages.filter((m) => m.topic === topic);
  }

  /** Waits until `topic` holds at least `n` messages. */
  async waitFor(topic: string, n: number, timeoutMs: number): Promise<CollectedMessage[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const got = this.of(topic);
      if (got.length >= n) return got;
      if (Date.now() > deadline) throw new Error(`${topic}: ${got.length} of ${n} messages after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }
}
