import type { IHeaders, Kafka, Producer, RecordMetadata } from 'kafkajs';
import { CompressionTypes } from 'kafkajs';
import { memoKeyPartitioner } from './key-partitioner';

/** One message for {@link BatchProducer.sendBatch}. */
export interface OutgoingMessage {
  readonly topic: string;
  readonly key?: Buffer | string | null;
  readonly value: Buffer | string | null;
  /** Explicit partition; otherwise the key's hash picks it (Java-compatible murmur2, key-partitioner.ts). */
  readonly partition?: number;
  readonly headers?: IHeaders;
  readonly timestamp?: string;
}

/** Options of {@link BatchProducer}. */
export interface BatchProducerOptions {
  /** Compression of every batch (default none; gzip is the only built-in codec of kafkajs). */
  readonly compression?: 'none' | 'gzip';
  /** Broker-side wait for acknowledgement, ms (default 30000). */
  readonly timeoutMs?: number;
  /** Transactional id; when set, {@link BatchProducer.producer} can run transactions. */
  readonly transactionalId?: string;
  /**
   * Upper bound of one produce request's payload, bytes (default 512 KiB). kafkajs puts all of a
   * partition's messages of one call into one record batch, and the broker refuses a record batch
   * over `message.max.bytes` (1 MiB by default) on every retry: a large backlog drained in one
   * batch would then stall its partition forever. Larger sends are split into sequential requests.
   */
  readonly maxRequestBytes?: number;
}

/** Default of {@link BatchProducerOptions.maxRequestBytes}. */
export const DEFAULT_MAX_REQUEST_BYTES = 512 * 1024;

// Record overhead beyond key and value (varints, attributes, headers count), an upper bound.
const RECORD_OVERHEAD_BYTES = 32;

function byteLength(v: Buffer | string | null | undefined): number {
  if (v == null) return 0;
  return typeof v === 'string' ? Buffer.byteLength(v) : v.length;
}

// Header names and values, plus a varint overhead per header (e.g. a trace context: ~70-600 bytes).
function headersLength(h: IHeaders | undefined): number {
  if (h === undefined) return 0;
  let n = 0;
  for (const [name, v] of Object.entries(h)) {
    for (const x of Array.isArray(v) ? v : [v]) n += Buffer.byteLength(name) + byteLength(x) + 10;
  }
  return n;
}

/**
 * Splits messages, in order, into runs whose estimated size (key, value, headers) stays within `maxBytes` (a single
 * message over the bound forms a run of its own).
 */
export function chunkBySize<T extends OutgoingMessage>(messages: readonly T[], maxBytes: number): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const m of messages) {
    const bytes = byteLength(m.key) + byteLength(m.value) + headersLength(m.headers) + RECORD_OVERHEAD_BYTES;
    if (current.length > 0 && size + bytes > maxBytes) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(m);
    size += bytes;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/**
 * An idempotent producer (acks = all, one request in flight, so a retry can neither duplicate nor
 * reorder) that sends any number of messages to any number of topics in one `sendBatch` call.
 */
export class BatchProducer {
  /** The underlying kafkajs producer, for what this class does not cover. */
  readonly producer: Producer;
  private readonly compression: CompressionTypes;
  private readonly timeoutMs: number;
  private readonly maxRequestBytes: number;

  constructor(kafka: Kafka, options: BatchProducerOptions = {}) {
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      transactionalId: options.transactionalId,
      createPartitioner: memoKeyPartitioner,
    });
    this.compression = options.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
    this.timeoutMs = options.timeoutMs ?? 30000;
    this.maxRequestBytes = options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
  }

  connect(): Promise<void> {
    return this.producer.connect();
  }

  disconnect(): Promise<void> {
    return this.producer.disconnect();
  }

  /**
   * Sends all messages (one request per broker, or a few sequential ones when they exceed
   * {@link BatchProducerOptions.maxRequestBytes}) and resolves once every in-sync replica has
   * them. Messages keep their relative order per topic-partition.
   */
  async sendBatch(messages: readonly OutgoingMessage[]): Promise<RecordMetadata[]> {
    if (messages.length === 0) return [];
    const chunks = chunkBySize(messages, this.maxRequestBytes);
    if (chunks.length === 1) return this.sendChunk(messages);
    const metadata: RecordMetadata[] = [];
    for (const chunk of chunks) metadata.push(...(await this.sendChunk(chunk)));
    return metadata;
  }

  private sendChunk(messages: readonly OutgoingMessage[]): Promise<RecordMetadata[]> {
    const byTopic = new Map<string, { key?: Buffer | string | null; value: Buffer | string | null; partition?: number; headers?: IHeaders; timestamp?: string }[]>();
    for (const m of messages) {
      let list = byTopic.get(m.topic);
      if (!list) byTopic.set(m.topic, (list = []));
      list.push({ key: m.key, value: m.value, partition: m.partition, headers: m.headers, timestamp: m.timestamp });
    }
    return this.producer.sendBatch({
      acks: -1,
      timeout: this.timeoutMs,
      compression: this.compression,
      topicMessages: [...byTopic].map(([topic, msgs]) => ({ topic, messages: msgs })),
    });
  }
}
