import type { IHeaders, Kafka, Producer, RecordMetadata } from 'kafkajs';
import { CompressionTypes } from 'kafkajs';

/** One message for {@link BatchProducer.sendBatch}. */
export interface OutgoingMessage {
  readonly topic: string;
  readonly key?: Buffer | string | null;
  readonly value: Buffer | string | null;
  /** Explicit partition; otherwise the default partitioner hashes the key (Java-compatible murmur2). */
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

  constructor(kafka: Kafka, options: BatchProducerOptions = {}) {
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      transactionalId: options.transactionalId,
    });
    this.compression = options.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
    this.timeoutMs = options.timeoutMs ?? 30000;
  }

  connect(): Promise<void> {
    return this.producer.connect();
  }

  disconnect(): Promise<void> {
    return this.producer.disconnect();
  }

  /**
   * Sends all messages in one call (one request per broker) and resolves once every in-sync
   * replica has them. Messages keep their relative order per topic-partition.
   */
  async sendBatch(messages: readonly OutgoingMessage[]): Promise<RecordMetadata[]> {
    if (messages.length === 0) return [];
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
