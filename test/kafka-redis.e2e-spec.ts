/**
 * The foundation end to end: 1,000 keyed messages through a real Kafka consumer group
 * (libs/kafka BatchConsumer, commit after the handler) into binary per-key records in a real
 * Redis (libs/state StateStore, compare-and-set writes), read back and checked.
 */
import { BatchConsumer, BatchProducer, createKafkaClient, ensureTopics, type Kafka, type PartitionBatch } from '@app/kafka';
import { StateStore, createRedisClient, decodeStateRecord, type RedisLike, type StateRecord, type StateWrite } from '@app/state';
import { e2eStack, uniqueName, waitFor } from './support/e2e-env';

const KEYS = 50;
const MESSAGES = 1000;
const PER_KEY = MESSAGES / KEYS;
const DIM = 4;

/** The deterministic vector of message `seq` of `key`: what Redis must hold after the last one. */
function vectorOf(key: number, seq: number): Float32Array {
  return Float32Array.from({ length: DIM }, (_, i) => Math.fround(key * 1000 + seq + i / 8));
}

/** A fresh topic of `partitions`, created through libs/kafka. */
async function createUniqueTopic(kafka: Kafka, prefix: string, partitions: number): Promise<string> {
  const topic = uniqueName(prefix);
  await ensureTopics(kafka, [{ topic, partitions, replicationFactor: 1 }]);
  return topic;
}

describe('Kafka → consumer group → Redis (libs/kafka + libs/state)', () => {
  let kafka: Kafka;
  let redis: RedisLike;
  let store: StateStore;

  beforeAll(() => {
    const stack = e2eStack();
    kafka = createKafkaClient({ brokers: stack.brokers.split(','), clientId: 'foundation-e2e', logLevel: 'error' });
    redis = createRedisClient(stack.redisUrl, { connectionName: 'foundation-e2e' });
    store = new StateStore(redis, { keyPrefix: uniqueName('e2e') + ':' });
  });

  afterAll(async () => {
    await redis.quit();
  });

  // commitIntervalMs 0: one commit per unit; 60 s: nothing is committed before stop(), which commits what is durable.
  it.each([0, 60_000])('moves 1,000 keyed messages in per-key order into binary Redis records and commits the offsets (commit interval %i ms)', async (commitIntervalMs) => {
    const topic = await createUniqueTopic(kafka, 'foundation', 4);
    const groupId = uniqueName('foundation-group');
    // Each case its own state namespace: the records of one would be the other's starting point.
    const MODEL = uniqueName('foundation-e2e');

    // Produce: message j of key k carries (k, j) and its vector as raw float32 bytes.
    const producer = new BatchProducer(kafka);
    await producer.connect();
    const outgoing = [];
    for (let seq = 0; seq < PER_KEY; seq++) {
      for (let k = 0; k < KEYS; k++) {
        const header = Buffer.alloc(8);
        header.writeUInt32BE(k, 0);
        header.writeUInt32BE(seq, 4);
        outgoing.push({ topic, key: `key-${k}`, value: Buffer.concat([header, Buffer.from(vectorOf(k, seq).buffer)]) });
      }
    }
    // Two calls, so the consumer sees more than one batch per partition.
    await producer.sendBatch(outgoing.slice(0, MESSAGES / 2));
    await producer.sendBatch(outgoing.slice(MESSAGES / 2));
    await producer.disconnect();

    // Consume: each partition batch is applied to the stored records, one load and one write per batch.
    const seenPerKey = new Map<string, number[]>();
    const partitionsPerKey = new Map<string, Set<number>>();
    let consumed = 0;
    let batches = 0;
    const handler = async (batch: PartitionBatch): Promise<void> => {
      const keys = [...new Set(batch.messages.map((m) => m.key!.toString()))];
      const loaded = await store.loadMany(MODEL, keys);
      const current = new Map<string, StateRecord | null>(keys.map((k, i) => [k, loaded[i]]));
      for (const m of batch.messages) {
        const key = m.key!.toString();
        const value = m.value!;
        const seq = value.readUInt32BE(4);
        const prev = current.get(key) ?? null;
        const steps = prev ? prev.steps : 0;
        if (seq !== steps) throw new Error(`${key}: got seq ${seq} after ${steps} steps (order broken)`);
        const vector = new Float32Array(value.subarray(8).buffer.slice(value.byteOffset + 8, value.byteOffset + value.length));
        current.set(key, {
          modelVersion: 'v1',
          partition: batch.partition,
          offset: BigInt(m.offset),
          steps: steps + 1,
          lastEventTs: Number(m.timestamp),
          state: vector,
          extras: new Float32Array(0),
          ring: null,
        });
        (seenPerKey.get(key) ?? seenPerKey.set(key, []).get(key)!).push(seq);
        (partitionsPerKey.get(key) ?? partitionsPerKey.set(key, new Set()).get(key)!).add(batch.partition);
      }
      const writes: StateWrite[] = keys.map((k) => ({ key: k, record: current.get(k)! }));
      const outcomes = await store.writeMany(MODEL, writes);
      if (outcomes.some((o) => o !== 'applied')) throw new Error(`stale writes in batch: ${outcomes.join(',')}`);
      consumed += batch.messages.length;
      batches += 1;
    };
    const errors: unknown[] = [];
    const consumer = new BatchConsumer(kafka, {
      groupId,
      topics: [topic],
      handler,
      commitIntervalMs,
      onError: (err) => errors.push(err),
    });
    let commits = 0;
    consumer.consumer.on(consumer.consumer.events.COMMIT_OFFSETS, () => commits++);
    await consumer.start();
    try {
      await waitFor(`all ${MESSAGES} messages consumed (at ${consumed})`, () => consumed >= MESSAGES, 90_000);
      // With the long interval, at most the first unit's offsets were committed (at once: no commit came before it).
      if (commitIntervalMs > 0) expect(commits).toBeLessThanOrEqual(1);
    } finally {
      await consumer.stop();
    }
    expect(errors).toEqual([]);
    expect(consumed).toBe(MESSAGES);
    expect(batches).toBeGreaterThanOrEqual(4);

    // Per key: every message seen exactly once, in production order, from one partition.
    expect(seenPerKey.size).toBe(KEYS);
    for (const [key, seqs] of seenPerKey) {
      expect({ key, seqs }).toEqual({ key, seqs: Array.from({ length: PER_KEY }, (_, i) => i) });
      expect(partitionsPerKey.get(key)!.size).toBe(1);
    }

    // Redis holds binary records (not JSON) whose contents are the last message of each key.
    const allKeys = Array.from({ length: KEYS }, (_, k) => `key-${k}`);
    const raw = await store.loadRaw(MODEL, allKeys);
    const records = await store.loadMany(MODEL, allKeys);
    for (let k = 0; k < KEYS; k++) {
      const bytes = raw[k];
      expect(bytes).toBeInstanceOf(Buffer);
      expect(() => JSON.parse(bytes!.toString('utf8'))).toThrow();
      const rec = decodeStateRecord(bytes!);
      expect(rec.steps).toBe(PER_KEY);
      expect(Array.from(rec.state)).toEqual(Array.from(vectorOf(k, PER_KEY - 1)));
      expect(records[k]!.offset).toBe(rec.offset);
      expect(records[k]!.partition).toBe([...partitionsPerKey.get(`key-${k}`)!][0]);
    }

    // The group committed exactly the end of every partition.
    const admin = kafka.admin();
    await admin.connect();
    try {
      const ends = await admin.fetchTopicOffsets(topic);
      const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
      const byPartition = new Map(committed[0].partitions.map((p) => [p.partition, p.offset]));
      let total = 0;
      for (const end of ends) {
        expect({ partition: end.partition, committed: byPartition.get(end.partition) }).toEqual({
          partition: end.partition,
          committed: end.high,
        });
        total += Number(end.high);
      }
      expect(total).toBe(MESSAGES);
    } finally {
      await admin.disconnect();
    }
  });

  it('redelivers a batch whose handler failed, without skipping or committing it', async () => {
    const topic = await createUniqueTopic(kafka, 'foundation-retry', 1);
    const producer = new BatchProducer(kafka);
    await producer.connect();
    await producer.sendBatch(Array.from({ length: 20 }, (_, i) => ({ topic, key: 'k', value: String(i) })));
    await producer.disconnect();

    const delivered: string[][] = [];
    let failuresLeft = 2;
    const consumer = new BatchConsumer(kafka, {
      groupId: uniqueName('foundation-retry'),
      topics: [topic],
      retryDelayMs: 100,
      // Short long-polls, so a resumed partition is fetched again at once.
      consumerConfig: { maxWaitTimeInMs: 200 },
      handler: async (batch) => {
        delivered.push(batch.messages.map((m) => m.value!.toString()));
        if (failuresLeft > 0) {
          failuresLeft -= 1;
          throw new Error('simulated Redis outage');
        }
      },
    });
    await consumer.start();
    try {
      await waitFor('a successful delivery after two failures', () => failuresLeft === 0 && delivered.length >= 3, 60_000);
    } finally {
      await consumer.stop();
    }
    // The first three deliveries start at the same offset: nothing was skipped.
    expect(delivered.slice(0, 3).map((d) => d[0])).toEqual(['0', '0', '0']);
    expect(delivered.flat().filter((v, i, all) => all.indexOf(v) === i)).toHaveLength(20);
  });
});
