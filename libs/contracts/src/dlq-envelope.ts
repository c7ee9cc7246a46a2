import { createHash } from 'node:crypto';
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
  /** Original key bytes, base64 (its first {@link DLQ_KEY_COPY_BYTES} when `keyBytes` is set); null when absent. */
  readonly key: string | null;
  /** Original value bytes, base64 (a prefix of them when `valueBytes` is set); null for a tombstone. */
  readonly value: string | null;
  /** ISO-8601. */
  readonly at: string;
  /** Set only when `key` is a truncated copy: the original key's length in bytes. */
  readonly keyBytes?: number;
  /** Set only when `key` is a truncated copy: sha256 (hex) of the original key. */
  readonly keySha256?: string;
  /** Set only when `value` is a truncated copy: the original value's length in bytes. */
  readonly valueBytes?: number;
  /** Set only when `value` is a truncated copy: sha256 (hex) of the original value. */
  readonly valueSha256?: string;
}

/** A dead letter ready to produce: the Kafka record key and value. */
export interface DeadLetter {
  /** The original key, cut to {@link DLQ_KEY_COPY_BYTES} bytes when longer (null when absent). */
  readonly key: Buffer | null;
  readonly value: string;
}

/**
 * Default bound of one dead letter (Kafka key + value bytes): a quarter of the broker's default
 * `message.max.bytes` (1 MiB), so a dead letter always fits a topic with the broker defaults.
 */
export const DEFAULT_MAX_DLQ_BYTES = 256 * 1024;
/** Smallest accepted bound: room for the envelope's fixed fields with the longest detail, topic and key copy. */
export const MIN_DLQ_BYTES = 8 * 1024;
/** Largest accepted bound: under the broker's default `message.max.bytes` (1,048,588) with the record batch overhead. */
export const MAX_DLQ_BYTES = 1_000_000;
/** Longest key copied whole into a dead letter (record key and envelope); longer keys are cut. */
export const DLQ_KEY_COPY_BYTES = 1024;
/** Longest `detail` in UTF-16 units; longer ones are cut and end with `…`. */
export const DLQ_DETAIL_CHARS = 500;

function isoOf(at: Date | number | string | undefined): string {
  if (at === undefined) return new Date().toISOString();
  if (typeof at === 'string') return at;
  return (typeof at === 'number' ? new Date(at) : at).toISOString();
}

function sha256Hex(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

function envelope(
  input: DlqRecordInput,
  detail: string,
  at: string,
  key: string,
  value: string,
  tail: string,
): string {
  const s = input.source;
  return (
    `{"reason":${JSON.stringify(input.reason)},"detail":${JSON.stringify(detail)},` +
    `"source":{"topic":${JSON.stringify(s.topic)},"partition":${s.partition | 0},"offset":${JSON.stringify(s.offset)}},` +
    `"key":${key},"value":${value},"at":${JSON.stringify(at)}${tail}}`
  );
}

function b64(b: Buffer | null): string {
  return b === null ? 'null' : `"${b.toString('base64')}"`;
}

/**
 * Builds a dead letter whose Kafka key plus value never exceed `maxBytes` (default
 * {@link DEFAULT_MAX_DLQ_BYTES}), so it always fits the DLQ topic, whatever the rejected message
 * was. The value is the JSON envelope: reason, detail, source coordinates, the original key and
 * value bytes (base64, so any bytes survive) and the rejection time, in a fixed field order.
 *
 * When the whole envelope would not fit, it carries a truncated copy instead: a key over
 * {@link DLQ_KEY_COPY_BYTES} bytes keeps its first that many bytes plus `keyBytes` and
 * `keySha256`; the value keeps the longest prefix that fits plus `valueBytes` (the original
 * length) and `valueSha256` (of the original bytes). The source coordinates locate the original
 * message in the input topic while its retention lasts. A `detail` over {@link DLQ_DETAIL_CHARS}
 * is cut.
 */
export function buildDeadLetter(input: DlqRecordInput, maxBytes: number = DEFAULT_MAX_DLQ_BYTES): DeadLetter {
  const at = isoOf(input.at);
  const detail =
    input.detail.length > DLQ_DETAIL_CHARS ? `${input.detail.slice(0, DLQ_DETAIL_CHARS - 1)}…` : input.detail;
  const { key, value } = input;
  const whole = envelope(input, detail, at, b64(key), b64(value), '');
  const keyLen = key === null ? 0 : key.length;
  if (keyLen <= DLQ_KEY_COPY_BYTES && keyLen + Buffer.byteLength(whole) <= maxBytes) return { key, value: whole };

  let keyField = b64(key);
  let tail = '';
  let recordKey = key;
  if (key !== null && key.length > DLQ_KEY_COPY_BYTES) {
    recordKey = key.subarray(0, DLQ_KEY_COPY_BYTES);
    keyField = b64(recordKey);
    tail += `,"keyBytes":${key.length},"keySha256":"${sha256Hex(key)}"`;
  }
  const recordKeyLen = recordKey === null ? 0 : recordKey.length;
  const withKey = envelope(input, detail, at, keyField, b64(value), tail);
  if (value === null || recordKeyLen + Buffer.byteLength(withKey) <= maxBytes) return { key: recordKey, value: withKey };

  tail += `,"valueBytes":${value.length},"valueSha256":"${sha256Hex(value)}"`;
  const fixed = recordKeyLen + Buffer.byteLength(envelope(input, detail, at, keyField, '""', tail));
  // base64 of 3n bytes is exactly 4n characters.
  const copy = Math.max(0, Math.min(value.length, Math.floor((maxBytes - fixed) / 4) * 3));
  return { key: recordKey, value: envelope(input, detail, at, keyField, b64(value.subarray(0, copy)), tail) };
}

/**
 * The JSON value of a `streamcell.dlq` record (see {@link buildDeadLetter}, whose bound applies to
 * the value plus the record key it returns).
 */
export function buildDlqRecord(input: DlqRecordInput, maxBytes: number = DEFAULT_MAX_DLQ_BYTES): string {
  return buildDeadLetter(input, maxBytes).value;
}

/** Parses a DLQ record's JSON (no validation beyond JSON; use `validateMessage('dlqEnvelope', …)`). */
export function parseDlqRecord(json: string | Buffer): DlqEnvelope {
  return JSON.parse(typeof json === 'string' ? json : json.toString('utf8')) as DlqEnvelope;
}
