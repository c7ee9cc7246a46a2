import { isUtf8 } from 'node:buffer';
import type { ValidateFunction } from 'ajv';
import type { DlqReason } from './dlq-reason';
import { describeErrors, validators } from './schema-validators';

/** Limits the decoders enforce; every field is optional and has a safe default. */
export interface DecodeLimits {
  /** Largest accepted message value in bytes (default 1 MiB) → `payload_too_large`. */
  readonly maxPayloadBytes?: number;
  /** Largest accepted key in UTF-8 bytes (default and contract maximum 256) → `key_too_long`. */
  readonly maxKeyBytes?: number;
  /** Sensor readings: the feature count the model expects; unset = any → `feature_count`. */
  readonly featureCount?: number;
  /** Text events: largest text in Unicode code points (default 10,000) → `text_too_long`. */
  readonly maxTextChars?: number;
  /**
   * When set, an event naming a `model` must name a known one → `unknown_model`.
   * Events without `model` are always accepted (the topic's default model serves them).
   */
  readonly knownModels?: ReadonlySet<string> | ((name: string) => boolean);
}

/** A valid sensor reading, ready for the batch planner. */
export interface SensorReadingEvent {
  /** The message key (= body sensorId). */
  readonly key: string;
  /** Event time, epoch milliseconds. */
  readonly ts: number;
  /** `ts` as the producer sent it (ISO string or epoch ms); predictions echo it unchanged. */
  readonly rawTs: string | number;
  /** Features (`value` becomes a length-1 array; empty for a control record). */
  readonly values: Float64Array;
  /** Start the key's sequence afresh (always true for a control record). */
  readonly reset: boolean;
  /** Named model, when the event selects one. */
  readonly model?: string;
  /** A control record (no reading): `reset` sets the key's state to the initial one at its offset. */
  readonly control?: InputControl;
}

/**
 * What a control record asks of its key (schema field `control`): `reset` its state, or score
 * a `label` (text events only) against its latest classification (docs/accuracy.md).
 */
export type InputControl = 'reset' | 'label';

/** A valid text event. */
export interface TextEvent {
  /** The message key (= body streamId). */
  readonly key: string;
  /** Event time, epoch milliseconds. */
  readonly ts: number;
  /** `ts` as the producer sent it (ISO string or epoch ms); predictions echo it unchanged. */
  readonly rawTs: string | number;
  /** The text ('' for a control record). */
  readonly text: string;
  readonly reset: boolean;
  readonly model?: string;
  /** A control record (no text): see {@link SensorReadingEvent.control}. */
  readonly control?: InputControl;
  /** With `control: 'label'`: the key's true class (1 = the classifier's second label). */
  readonly label?: 0 | 1;
}

/** Why a message was rejected: a DLQ reason code and a one-line detail naming the field. */
export interface DecodeFailure {
  readonly ok: false;
  readonly reason: DlqReason;
  readonly detail: string;
}

/** Outcome of decoding one message: the typed event, or the DLQ reason. Never throws. */
export type DecodeResult<E> = { readonly ok: true; readonly event: E } | DecodeFailure;

/** Default of {@link DecodeLimits.maxPayloadBytes}. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;
/** Contract maximum (and default) of {@link DecodeLimits.maxKeyBytes}. */
export const MAX_KEY_BYTES = 256;
/** Default of {@link DecodeLimits.maxTextChars}. */
export const DEFAULT_MAX_TEXT_CHARS = 10_000;

const NO_LIMITS: DecodeLimits = {};

function fail(reason: DlqReason, detail: string): DecodeFailure {
  return { ok: false, reason, detail };
}

/** Checks shared by both inputs that need no parsing; returns the key string or a failure. */
function checkEnvelope(
  key: Buffer | null,
  value: Buffer | null,
  limits: DecodeLimits,
): string | DecodeFailure {
  const maxPayload = limits.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  if (value !== null && value.length > maxPayload) {
    return fail('payload_too_large', `value is ${value.length} bytes, limit ${maxPayload}`);
  }
  if (key === null || key.length === 0) return fail('key_missing', 'message has no key');
  const maxKey = Math.min(limits.maxKeyBytes ?? MAX_KEY_BYTES, MAX_KEY_BYTES);
  if (key.length > maxKey) return fail('key_too_long', `key is ${key.length} bytes UTF-8, limit ${maxKey}`);
  if (!isUtf8(key)) return fail('key_mismatch', 'message key is not valid UTF-8');
  return key.toString('utf8');
}

/** JSON.parse of the value; objects only. */
function parseBody(
  value: Buffer | null,
): { readonly ok: true; readonly body: Record<string, unknown> } | DecodeFailure {
  if (value === null || value.length === 0) return fail('invalid_json', 'message value is empty');
  let body: unknown;
  try {
    body = JSON.parse(value.toString('utf8'));
  } catch (e) {
    return fail('invalid_json', (e as Error).message);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return fail('schema_violation', '/ must be object');
  }
  return { ok: true, body: body as Record<string, unknown> };
}

// JSON has no NaN/Infinity literals, but 1e999 parses to Infinity: catch it before the schema
// (whose number check would call it a type error) so the reason is the precise one.
function findNonFinite(body: Record<string, unknown>): string | null {
  const ts = body.ts;
  if (typeof ts === 'number' && !Number.isFinite(ts)) return '/ts must be a finite number';
  const v = body.value;
  if (typeof v === 'number' && !Number.isFinite(v)) return '/value must be a finite number';
  const vs = body.values;
  if (Array.isArray(vs)) {
    for (let i = 0; i < vs.length; i++) {
      const x: unknown = vs[i];
      if (typeof x === 'number' && !Number.isFinite(x)) return `/values/${i} must be a finite number`;
    }
  }
  return null;
}

/** Epoch ms of a schema-valid `ts`, or NaN for a date-time string Date cannot represent. */
function toEpochMs(ts: unknown): number {
  return typeof ts === 'number' ? ts : Date.parse(ts as string);
}

function checkModel(model: unknown, limits: DecodeLimits): DecodeFailure | null {
  if (model === undefined || limits.knownModels === undefined) return null;
  const known = limits.knownModels;
  const ok = typeof known === 'function' ? known(model as string) : known.has(model as string);
  return ok ? null : fail('unknown_model', `/model ${JSON.stringify(model)} is not served here`);
}

function countCodePoints(s: string, stopAfter: number): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // A high surrogate followed by a low one is one code point.
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    if (++n > stopAfter) return n;
  }
  return n;
}

/** What both inputs have once the checks up to the schema passed. */
interface DecodedHead {
  readonly ok: true;
  /** The message key as UTF-8. */
  readonly keyStr: string;
  /** The schema-valid body. */
  readonly body: Record<string, unknown>;
  /** `ts` as sent. */
  readonly rawTs: string | number;
  /** `ts` in epoch ms. */
  readonly ts: number;
}

/**
 * The checks both inputs run first, in order: the envelope (payload_too_large, key_missing,
 * key_too_long, key_mismatch), invalid_json, non_finite, schema_violation against `validate`,
 * then schema_violation for a `ts` Date cannot represent.
 */
function decodeHead(
  key: Buffer | null,
  value: Buffer | null,
  limits: DecodeLimits,
  validate: ValidateFunction,
): DecodedHead | DecodeFailure {
  const keyStr = checkEnvelope(key, value, limits);
  if (typeof keyStr !== 'string') return keyStr;
  const parsed = parseBody(value);
  if (!parsed.ok) return parsed;
  const body = parsed.body;
  const nonFinite = findNonFinite(body);
  if (nonFinite !== null) return fail('non_finite', nonFinite);
  if (!validate(body)) return fail('schema_violation', describeErrors(validate.errors));
  const rawTs = body.ts as string | number;
  const ts = toEpochMs(rawTs);
  if (Number.isNaN(ts)) return fail('schema_violation', '/ts is not a representable date-time');
  return { ok: true, keyStr, body, rawTs, ts };
}

/**
 * The checks both inputs run last, in order: key_mismatch (the body's `idField` differs from the
 * key), then unknown_model. Null when both pass.
 */
function checkKeyAndModel(
  head: DecodedHead,
  idField: 'sensorId' | 'streamId',
  limits: DecodeLimits,
): DecodeFailure | null {
  if (head.body[idField] !== head.keyStr) {
    return fail('key_mismatch', `/${idField} differs from the message key`);
  }
  return checkModel(head.body.model, limits);
}

/**
 * A schema-valid control record (`control` present, so no reading or text): the key and model
 * checks of any event, then an event that resets its key and carries `payload` (empty values or
 * text).
 */
function controlEvent<P extends object>(
  head: DecodedHead,
  idField: 'sensorId' | 'streamId',
  limits: DecodeLimits,
  payload: P,
): DecodeResult<{ key: string; ts: number; rawTs: string | number; reset: boolean; model?: string; control: InputControl } & P> {
  const tailFailure = checkKeyAndModel(head, idField, limits);
  if (tailFailure) return tailFailure;
  const { keyStr, body, rawTs, ts } = head;
  const base = { key: keyStr, ts, rawTs, ...payload, reset: body.control === 'reset', control: body.control as InputControl };
  return { ok: true, event: body.model === undefined ? base : { ...base, model: body.model as string } };
}

/**
 * Decodes and validates one `sensor.readings` message (hot path: no exceptions escape, one
 * JSON.parse, one compiled schema check, then cheap checks).
 *
 * Order of checks (the first failing one is the reason): payload_too_large, key_missing,
 * key_too_long, key_mismatch (key not UTF-8), invalid_json, non_finite, schema_violation,
 * feature_count, key_mismatch (body sensorId ≠ key), unknown_model. `late_event` needs the key's
 * state, so the caller applies {@link isLate} after loading it.
 */
export function decodeSensorReading(
  key: Buffer | null,
  value: Buffer | null,
  limits: DecodeLimits = NO_LIMITS,
): DecodeResult<SensorReadingEvent> {
  const head = decodeHead(key, value, limits, validators.sensorReading);
  if (!head.ok) return head;
  const { keyStr, body, rawTs, ts } = head;
  if (body.control !== undefined) return controlEvent(head, 'sensorId', limits, { values: new Float64Array(0) });
  let values: Float64Array;
  if (typeof body.value === 'number') {
    values = new Float64Array(1);
    values[0] = body.value;
  } else {
    values = Float64Array.from(body.values as number[]);
  }
  if (limits.featureCount !== undefined && values.length !== limits.featureCount) {
    return fail(
      'feature_count',
      `/values has ${values.length} features, the model expects ${limits.featureCount}`,
    );
  }
  const tailFailure = checkKeyAndModel(head, 'sensorId', limits);
  if (tailFailure) return tailFailure;
  const event: SensorReadingEvent =
    body.model === undefined
      ? { key: keyStr, ts, rawTs, values, reset: body.reset === true }
      : { key: keyStr, ts, rawTs, values, reset: body.reset === true, model: body.model as string };
  return { ok: true, event };
}

/**
 * Decodes and validates one `text.events` message. Same order of checks as
 * {@link decodeSensorReading}, with text_too_long (code points over `maxTextChars`) after the
 * schema check instead of feature_count.
 */
export function decodeTextEvent(
  key: Buffer | null,
  value: Buffer | null,
  limits: DecodeLimits = NO_LIMITS,
): DecodeResult<TextEvent> {
  const head = decodeHead(key, value, limits, validators.textEvent);
  if (!head.ok) return head;
  const { keyStr, body, rawTs, ts } = head;
  if (body.control === 'label') {
    if (body.label !== 0 && body.label !== 1) return fail('schema_violation', '/label (0 or 1) is required with control "label"');
    return controlEvent(head, 'streamId', limits, { text: '', label: body.label });
  }
  if (body.control !== undefined) return controlEvent(head, 'streamId', limits, { text: '' });
  const text = body.text as string;
  const maxChars = limits.maxTextChars ?? DEFAULT_MAX_TEXT_CHARS;
  // String length (UTF-16 units) bounds the code point count from above: count only when needed.
  if (text.length > maxChars) {
    const n = countCodePoints(text, maxChars);
    if (n > maxChars) return fail('text_too_long', `/text is longer than ${maxChars} characters`);
  }
  const tailFailure = checkKeyAndModel(head, 'streamId', limits);
  if (tailFailure) return tailFailure;
  const event: TextEvent =
    body.model === undefined
      ? { key: keyStr, ts, rawTs, text, reset: body.reset === true }
      : { key: keyStr, ts, rawTs, text, reset: body.reset === true, model: body.model as string };
  return { ok: true, event };
}

/**
 * True when an event is later than allowed: its time is more than `allowedLatenessMs` before
 * the key's last applied event time. No previous time (null, undefined, NaN) is never late;
 * `Infinity` disables the check. An event exactly at the bound is on time.
 */
export function isLate(
  eventTs: number,
  lastTs: number | null | undefined,
  allowedLatenessMs: number,
): boolean {
  if (lastTs === null || lastTs === undefined || Number.isNaN(lastTs)) return false;
  return eventTs < lastTs - allowedLatenessMs;
}
