import { buildDlqRecord, type DlqRecordInput } from '@app/contracts';
import type { IHeaders } from 'kafkajs';
import type { BatchProducer, OutgoingMessage } from './batch-producer';

/** Header naming the DLQ reason, so consumers can filter without parsing the body. */
export const DLQ_REASON_HEADER = 'streamcell-dlq-reason';

/**
 * Publishes rejected input to the dead-letter topic as `streamcell.dlq` envelopes
 * (`@app/contracts` `buildDlqRecord`: reason, detail, source coordinates, original bytes in base64).
 * The record key is the original message key, so a key's dead letters stay in order.
 */
export class DlqPublisher {
  constructor(
    private readonly producer: BatchProducer,
    /** Dead-letter topic name (default `streamcell.dlq`). */
    readonly topic: string = 'streamcell.dlq',
  ) {}

  /** Builds the outgoing DLQ messages without sending them (to join a larger batch). */
  toMessages(records: readonly DlqRecordInput[]): OutgoingMessage[] {
    return records.map((r) => {
      const headers: IHeaders = { [DLQ_REASON_HEADER]: r.reason };
      return { topic: this.topic, key: r.key, value: buildDlqRecord(r), headers };
    });
  }

  /** Sends the envelopes in one batch; resolves when they are durable. */
  async publish(records: readonly DlqRecordInput[]): Promise<void> {
    if (records.length === 0) return;
    await this.producer.sendBatch(this.toMessages(records));
  }
}
