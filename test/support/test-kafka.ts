/**
 * Kafka for e2e suites: one client per suite with an admin and an idempotent producer (topics,
 * produce, end and committed offsets) and in-memory collectors of what the worker writes.
 */
import { restartOnCrash } from '@app/kafka';
import { Kafka, logLevel, type Admin, type Consumer, type ConsumerRunConfig, type IHeaders, type Producer } from 'kafkajs';
import { sleep, uniqueName } from './e2e-env';
import type { SuiteTopics } from './worker-process';

/** One message read back from a topic, bytes untouched. */
export interface CollectedMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  /** Kafka record timestamp (ms). */
  readonly timestamp: number;
  /** Local clock when the collector saw it (ms). */
  readonly receivedAt: number;
  /** Record headers as kafkajs reads them. */
  readonly headers?: IHeaders;
}

/**
 * A message to produce. With an explicit `partition` two topics can hold identical logs; without
 * one the client's default partitioner (Java-compatible murmur2 of the key) picks it.
 */
export interface OutMessage {
  readonly key: string | Buffer | null;
  readonly value: string | Buffer | null;
  readonly partition?: number;
  readonly headers?: IHeaders;
}

/** Stable partition for a key (FNV-1a), independent of the client's partitioner. */
export function partitionFor(key: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % partitions;
}

/** Kafka client, admin and an idempotent producer for one suite. */
export class TestKafka {
  readonly kafka: Kafka;
  private admin: Admin | null = null;
  private producer: Producer | null = null;
  private readonly consumers: Consumer[] = [];
  private closing = false;

  constructor(brokers: string, clientId = 'streamcell-e2e') {
    this.kafka = new Kafka({ clientId, brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  }

  async connect(): Promise<void> {
    this.admin = this.kafka.admin();
    await this.admin.connect();
    this.producer = this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
    await this.producer.connect();
  }

  /** The connected idempotent producer (for the registry's activation publisher). */
  get producerClient(): Producer {
    if (!this.producer) throw new Error('TestKafka.connect() first');
    return this.producer;
  }

  /**
   * Creates a suite's topics: each input and output topic with the partitions `partitions` gives
   * it (1 where it gives none), the models topic compacted with one partition, plus `extra`.
   */
  async createSuiteTopics(
    t: SuiteTopics,
    partitions: Partial<Record<Exclude<keyof SuiteTopics, 'models'>, number>>,
    extra: readonly { topic: string; partitions: number }[] = [],
  ): Promise<void> {
    const roles = ['sensor', 'text', 'forecasts', 'classes', 'dlq'] as const;
    await this.createTopics([
      ...roles.map((role) => ({ topic: t[role], partitions: partitions[role] ?? 1 })),
      ...extra,
      { topic: t.models, partitions: 1, compact: true },
    ]);
  }

  /** Creates topics and waits until the metadata shows a leader for every partition. */
  async createTopics(
    topics: readonly { topic: string; partitions: number; compact?: boolean }[],
  ): Promise<void> {
    const admin = this.admin!;
    await admin.createTopics({
      waitForLeaders: true,
      topics: topics.map((t) => ({
        topic: t.topic,
        numPartitions: t.partitions,
        replicationFactor: 1,
        configEntries: t.compact ? [{ name: 'cleanup.policy', value: 'compact' }] : [],
      })),
    });
    // Leaders elected is not yet "every broker knows": wait until metadata shows all partitions led.
    const names = topics.map((t) => t.topic);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const md = await admin.fetchTopicMetadata({ topics: names }).catch(() => null);
      const led =
        md !== null &&
        md.topics.every(
          (t) =>
            t.partitions.length === topics.find((x) => x.topic === t.name)!.partitions &&
            t.partitions.every((p) => p.leader >= 0),
        );
      if (led) return;
      if (Date.now() > deadline) throw new Error(`topics ${names.join(',')} have no leaders after 30 s`);
      await sleep(200);
    }
  }

  /** Produces in chunks (acks all), preserving order per partition. */
  async produce(topic: string, messages: readonly OutMessage[], chunk = 500): Promise<void> {
    for (let i = 0; i < messages.length; i += chunk) {
      await this.producer!.send({
        topic,
        acks: -1,
        messages: messages
          .slice(i, i + chunk)
          .map((m) => ({ key: m.key, value: m.value, partition: m.partition, headers: m.headers })),
      });
    }
  }

  /** End offsets per partition (high watermarks). */
  async endOffsets(topic: string): Promise<Map<number, bigint>> {
    const res = await this.admin!.fetchTopicOffsets(topic);
    return new Map(res.map((r) => [r.partition, BigInt(r.high)]));
  }

  /**
   * Committed offsets of a group on a topic (-1 when none). Retries for up to 30 s while the
   * broker cannot answer yet (a restarted broker loads its group coordinator first).
   */
  async committed(groupId: string, topic: string): Promise<Map<number, bigint>> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const res = await this.admin!.fetchOffsets({ groupId, topics: [topic] });
        const out = new Map<number, bigint>();
        for (const t of res) for (const p of t.partitions) out.set(p.partition, BigInt(p.offset));
        return out;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await sleep(250);
      }
    }
  }

  /**
   * Starts reading `topics` from the beginning into memory (own group, nothing committed) and
   * resolves with the live collector once the group is joined.
   */
  async collect(topics: readonly string[], groupId = uniqueName('e2e-collector')): Promise<Collector> {
    const consumer = this.kafka.consumer({ groupId, sessionTimeout: 10_000, maxWaitTimeInMs: 100 });
    this.consumers.push(consumer);
    await consumer.connect();
    await consumer.subscribe({ topics: [...topics], fromBeginning: true });
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    const collector = new Collector();
    const runConfig: ConsumerRunConfig = {
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const now = Date.now();
        for (const m of batch.messages) {
          collector.add({
            topic: batch.topic,
            partition: batch.partition,
            offset: m.offset,
            key: m.key,
            value: m.value,
            timestamp: Number(m.timestamp),
            receivedAt: now,
            headers: m.headers,
          });
        }
      },
    };
    // Suites that take the broker away need their collector back afterwards.
    restartOnCrash(consumer, () => consumer.run(runConfig), () => !this.closing);
    await consumer.run(runConfig);
    await joined;
    return collector;
  }

  async disconnect(): Promise<void> {
    this.closing = true;
    for (const c of this.consumers) await c.disconnect().catch(() => undefined);
    await this.producer?.disconnect().catch(() => undefined);
    await this.admin?.disconnect().catch(() => undefined);
  }
}

/** In-memory sink of collected messages, by topic. */
export class Collector {
  private readonly byTopic = new Map<string, CollectedMessage[]>();
  private readonly seen = new Set<string>();
  private readonly sources = new Map<string, Set<string>>();

  add(m: CollectedMessage): void {
    // A consumer rebalance can re-deliver; keep one copy per (topic, partition, offset).
    const id = `${m.topic}/${m.partition}/${m.offset}`;
    if (this.seen.has(id)) return;
    this.seen.add(id);
    const src = sourceId(m.value);
    if (src) {
      let set = this.sources.get(m.topic);
      if (!set) this.sources.set(m.topic, (set = new Set()));
      set.add(src);
    }
    let list = this.byTopic.get(m.topic);
    if (!list) this.byTopic.set(m.topic, (list = []));
    list.push(m);
  }

  /** Messages of one topic in arrival order. */
  messages(topic: string): readonly CollectedMessage[] {
    return this.byTopic.get(topic) ?? [];
  }

  /** Distinct source coordinates (`topic/partition/offset`) of the messages of one topic. */
  distinctSources(topic: string): number {
    return this.sources.get(topic)?.size ?? 0;
  }

  count(topic: string): number {
    return this.byTopic.get(topic)?.length ?? 0;
  }

  /** Waits until `topic` holds at least `n` messages and returns them. */
  async waitFor(topic: string, n: number, timeoutMs: number): Promise<readonly CollectedMessage[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.count(topic) < n) {
      if (Date.now() > deadline)
        throw new Error(`${topic}: ${this.count(topic)} of ${n} messages after ${timeoutMs} ms`);
      await sleep(100);
    }
    return this.messages(topic);
  }

  /** JSON bodies of one topic. */
  json<T = Record<string, unknown>>(topic: string): T[] {
    return this.messages(topic).map((m) => JSON.parse(m.value!.toString('utf8')) as T);
  }
}

/** `topic/partition/offset` of a prediction or dead letter body, or null. */
function sourceId(value: Buffer | null): string | null {
  if (!value) return null;
  try {
    const body = JSON.parse(value.toString('utf8')) as {
      source?: { topic?: string; partition?: number; offset?: string };
    };
    return body.source ? `${body.source.topic}/${body.source.partition}/${body.source.offset}` : null;
  } catch {
    return null;
  }
}
