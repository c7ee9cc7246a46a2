import { Kafka, logLevel, type Admin } from 'kafkajs';
import { kafkaJsSasl, type KafkaSaslLogin } from '@app/kafka';

/** A bounded slice of a topic: by offsets per partition, or by time (either end optional). */
export interface KafkaRange {
  readonly topic: string;
  /** ISO-8601 or epoch ms, inclusive. */
  readonly fromTime?: string | number;
  /** ISO-8601 or epoch ms, exclusive. */
  readonly toTime?: string | number;
  /** partition → first offset (inclusive). */
  readonly fromOffsets?: Readonly<Record<string, string>>;
  /** partition → end offset (exclusive). */
  readonly toOffsets?: Readonly<Record<string, string>>;
}

/** One message of the range. */
export interface RangeMessage {
  readonly partition: number;
  readonly offset: string;
  readonly timestamp: number;
  readonly key: string | null;
  readonly value: Buffer | null;
}

/** The resolved range (what was actually read), recorded in the version's data range. */
export interface ResolvedRange {
  readonly fromOffsets: Record<string, string>;
  readonly toOffsets: Record<string, string>;
}

/** Bytes of training data a job may still read (keys and values), shared by its reads. */
export class DataBudget {
  private used = 0;
  constructor(readonly maxBytes: number) {}

  /** Counts `n` more bytes; false once the job has read more than `maxBytes`. */
  take(n: number): boolean {
    this.used += n;
    return this.used <= this.maxBytes;
  }

  /** Why the read stopped. */
  exceeded(topic: string): Error {
    return new Error(`training data over TRAINER_MAX_DATA_BYTES (${this.maxBytes} bytes) while reading ${topic}: narrow the range or raise the limit`);
  }
}

function ms(t: string | number): number {
  const n = typeof t === 'number' ? t : Number.isFinite(Number(t)) ? Number(t) : Date.parse(t);
  if (!Number.isFinite(n)) throw new Error(`invalid time ${String(t)}`);
  return n;
}

async function offsetsAt(admin: Admin, topic: string, t: number | undefined, fallback: 'low' | 'high') {
  const wm = await admin.fetchTopicOffsets(topic);
  const out = new Map<number, bigint>();
  if (t === undefined) {
    for (const p of wm) out.set(p.partition, BigInt(fallback === 'low' ? p.low : p.high));
    return out;
  }
  const byTime = await admin.fetchTopicOffsetsByTimestamp(topic, t);
  for (const p of byTime) {
    const high = wm.find((w) => w.partition === p.partition)!.high;
    // -1: no message at or after t; the partition's range ends (or starts) at its end.
    out.set(p.partition, BigInt(p.offset === '-1' ? high : p.offset));
  }
  return out;
}

/** Where a training job reads Kafka: the brokers and the app's SASL login (null for none). */
export interface KafkaAccess {
  readonly brokers: string[];
  readonly sasl: KafkaSaslLogin | null;
}

/**
 * Reads a bounded range of a topic's history with a consumer group of its own
 * (`groupId`, never committing), so the stream-workers' group and offsets are untouched.
 * The end is fixed when the read starts; the group is deleted afterwards.
 */
export async function readKafkaRange(
  access: KafkaAccess,
  range: KafkaRange,
  groupId: string,
  onMessage: (m: RangeMessage) => void,
  timeoutMs = 120_000,
  budget?: DataBudget,
): Promise<ResolvedRange> {
  const kafka = new Kafka({ clientId: groupId, brokers: access.brokers, logLevel: logLevel.ERROR, ...kafkaJsSasl(access.sasl) });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const fromTime = range.fromTime !== undefined ? ms(range.fromTime) : undefined;
    const toTime = range.toTime !== undefined ? ms(range.toTime) : undefined;
    const start = await offsetsAt(admin, range.topic, fromTime, 'low');
    const end = await offsetsAt(admin, range.topic, toTime, 'high');
    const wm = await admin.fetchTopicOffsets(range.topic);
    for (const w of wm) {
      const low = BigInt(w.low);
      const high = BigInt(w.high);
      if (range.fromOffsets?.[w.partition] !== undefined) start.set(w.partition, BigInt(range.fromOffsets[w.partition]));
      if (range.toOffsets?.[w.partition] !== undefined) end.set(w.partition, BigInt(range.toOffsets[w.partition]));
      if (range.fromOffsets && range.fromOffsets[w.partition] === undefined && !range.fromTime) start.set(w.partition, low);
      if (range.toOffsets && range.toOffsets[w.partition] === undefined && !range.toTime) end.set(w.partition, high);
      if (start.get(w.partition)! < low) start.set(w.partition, low);
      if (end.get(w.partition)! > high) end.set(w.partition, high);
    }
    const resolved: ResolvedRange = { fromOffsets: {}, toOffsets: {} };
    const pending = new Set<number>();
    for (const [p, s] of start) {
      resolved.fromOffsets[p] = String(s);
      resolved.toOffsets[p] = String(end.get(p)!);
      if (end.get(p)! > s) pending.add(p);
    }
    if (pending.size === 0) return resolved;

    // The job's own group starts at the range: its offsets are set before it has members, so
    // the first fetch (and any fetch after kafkajs restarts the consumer) begins there; no seek
    // races the group join.
    await admin.setOffsets({
      groupId,
      topic: range.topic,
      partitions: [...pending].map((p) => ({ partition: p, offset: String(start.get(p)!) })),
    });
    /** Next offset to deliver per partition: redelivered messages after a restart are skipped. */
    const next = new Map(start);
    const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: range.topic, fromBeginning: true });
      let finish!: () => void;
      let fail!: (e: Error) => void;
      const done = new Promise<void>((res, rej) => {
        finish = res;
        fail = rej;
      });
      let over = false;
      await consumer.run({
        autoCommit: false,
        eachBatch: async (payload) => {
          if (over) return;
          const { batch } = payload;
          const p = batch.partition;
          const s = start.get(p)!;
          const e = end.get(p)!;
          for (const m of batch.messages) {
            const off = BigInt(m.offset);
            if (off < s || off < next.get(p)!) continue;
            if (off >= e) break;
            next.set(p, off + 1n);
            const ts = Number(m.timestamp);
            if (toTime !== undefined && ts >= toTime) continue;
            if (budget && !budget.take((m.value?.length ?? 0) + (m.key?.length ?? 0))) {
              over = true;
              consumer.pause([{ topic: range.topic }]);
              return fail(budget.exceeded(range.topic));
            }
            onMessage({ partition: p, offset: m.offset, timestamp: ts, key: m.key?.toString('utf8') ?? null, value: m.value });
          }
          const last = batch.messages.length > 0 ? BigInt(batch.messages[batch.messages.length - 1].offset) : -1n;
          if (last + 1n >= e || BigInt(batch.highWatermark) <= e && last + 1n >= BigInt(batch.highWatermark)) {
            pending.delete(p);
            consumer.pause([{ topic: range.topic, partitions: [p] }]);
            if (pending.size === 0) finish();
          }
          await payload.heartbeat();
        },
      });
      const timer = setTimeout(() => fail(new Error(`reading ${range.topic} timed out after ${timeoutMs} ms`)), timeoutMs);
      try {
        await done;
      } finally {
        clearTimeout(timer);
      }
    } finally {
      await consumer.disconnect();
      await admin.deleteGroups([groupId]).catch(() => undefined);
    }
    return resolved;
  } finally {
    await admin.disconnect();
  }
}
