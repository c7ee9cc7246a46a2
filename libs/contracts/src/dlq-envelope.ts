import type { DlqReason } from './dlq-reason';
import type { SourceCoordinates } from './prediction-encoder';

/** Input of {@link buildDlqRecord}. */
export interface DlqRecordInput {
  readonly reason: DlqReason;
  readonly detail: string;
  readonly source: SourceCoordinates;
  /** Original key bytes (null when the message had none). */
  readonly key: Buffer | null;
  /** Original value bytes (null for a tombstone). */
  readonly value: Buffer | null;
  /** When the message was rejected (Date, epoch ms or ISO string); defaults to now. */
  readonly at?: Date | number | string;
}

/** Parsed `streamcell.dlq` message. */
export interface DlqEnvelope {
  readonly reason: DlqReason;
  readonly detail: string;
  readonly source: SourceCoordinates;
  /** Original key bytes, base64; null when absent. */
  readonly key: string | null;
  /** Original value bytes, base64; null for a tombstone. */
  readonly value: string | null;
  /** ISO-8601. */
  readonly at: string;
}

function isoOf(at: Date | number | string | undefined): string {
  if (at === undefined) return new Date().toISOString();
  if (typeof at === 'string') return at;
  return (typeof at === 'number' ? new Date(at) : at).toISOString();
}

/**
 * Builds the JSON of a `streamcell.dlq` record: reason, detail, source coordinates, the original
 * key and value bytes (base64, so any bytes survive) and the rejection time. Field order is fixed.
 */
export function buildDlqRecord(input: DlqRecordInput): string {
  const s = input.source;
  return (
    `{"reason":${JSON.stringify(input.reason)},"detail":${JSON.stringify(input.detail)},` +
    `"source":{"topic":${JSON.stringify(s.topic)},"partition":${s.partition | 0},"offset":${JSON.stringify(s.offset)}},` +
    `"key":${input.key === null ? 'null' : `"${input.key.toString('base64')}"`},` +
    `"value":${input.value === null ? 'null' : `"${input.value.toString('base64')}"`},` +
    `"at":${JSON.stringify(isoOf(input.at))}}`
  );
}

/** Parses a DLQ record's JSON (no validation beyond JSON; use `validateMessage('dlqEnvelope', …)`). */
export function parseDlqRecord(json: string | Buffer): DlqEnvelope {
  return JSON.parse(typeof json === 'string' ? json : json.toString('utf8')) as DlqEnvelope;
}
