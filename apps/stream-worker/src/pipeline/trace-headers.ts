import { ROOT_CONTEXT, defaultTextMapSetter, isSpanContextValid, trace, type SpanContext, type TextMapGetter } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { PlacedOutput } from './encode-stage';
import type { InputMessage, OutputHeaders, PartitionBatch, RecordHeaders, UnitTrace } from './ports';

/**
 * W3C trace context across the worker's Kafka hop (docs/tracing.md): an output record (a
 * prediction or a dead letter) carries the `traceparent` / `tracestate` of the message it came
 * from. A canonical version-00 `traceparent` alone (the common case) is passed on as the bytes
 * it came as after a check of those bytes; anything else (a `tracestate`, another version,
 * a repeated header) is parsed and written again by OpenTelemetry's W3C propagator. Either way a
 * malformed or oversized header is not copied and an output never grows by more than a valid
 * trace context.
 */

/** `00-<32 hex trace id, not all zero>-<16 hex span id, not all zero>-<2 hex flags>` (W3C, lowercase hex). */
const TRACEPARENT_V00 = /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;

/** {@link TRACEPARENT_V00} on the bytes as kafkajs reads them, without decoding them. */
function isCanonicalTraceparent(v: Buffer | string): boolean {
  if (typeof v === 'string') return TRACEPARENT_V00.test(v);
  if (v.length !== 55 || v[0] !== 0x30 || v[1] !== 0x30 || v[2] !== 0x2d || v[35] !== 0x2d || v[52] !== 0x2d) return false;
  let traceBits = 0;
  let spanBits = 0;
  for (let i = 3; i < 55; i++) {
    if (i === 35 || i === 52) continue;
    const c = v[i];
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
    if (i < 35) traceBits |= c ^ 0x30;
    else if (i < 52) spanBits |= c ^ 0x30;
  }
  return traceBits !== 0 && spanBits !== 0;
}

const propagator = new W3CTraceContextPropagator();

const headerGetter: TextMapGetter<RecordHeaders> = {
  keys: (h) => Object.keys(h),
  get: (h, key) => {
    const v = h[key];
    if (v === undefined) return undefined;
    return Array.isArray(v) ? v.map(String) : String(v);
  },
};

/** The valid span context a message carries in its headers, or null. */
export function inputSpanContext(m: InputMessage): SpanContext | null {
  const h = m.headers;
  // The common case without tracing upstream: one property lookup.
  if (h === undefined || h.traceparent === undefined) return null;
  const sc = trace.getSpanContext(propagator.extract(ROOT_CONTEXT, h, headerGetter));
  return sc !== undefined && isSpanContextValid(sc) ? sc : null;
}

/** The trace context headers an output of `m` carries (see above), or undefined when it has none. */
export function inputTraceHeaders(m: InputMessage): OutputHeaders | undefined {
  const h = m.headers;
  // The common case without tracing upstream: one property lookup.
  if (h === undefined) return undefined;
  const tp = h.traceparent;
  if (tp === undefined) return undefined;
  if (h.tracestate === undefined && !Array.isArray(tp) && isCanonicalTraceparent(tp)) return { traceparent: tp };
  const sc = inputSpanContext(m);
  return sc === null ? undefined : traceContextHeaders(sc);
}

/** `traceparent` (and `tracestate` when it has entries) of a span context. */
export function traceContextHeaders(sc: SpanContext): Record<string, string> {
  const out: Record<string, string> = {};
  propagator.inject(trace.setSpanContext(ROOT_CONTEXT, sc), out, defaultTextMapSetter);
  return out;
}

/**
 * The trace of a unit while tracing is off: no spans, no stage timings; an output carries its
 * input's trace context unchanged (the worker is then a pass-through hop of the trace) and an
 * input without one gives an output without one.
 */
export const UNTRACED: UnitTrace = {
  stage: () => undefined,
  outputHeaders: (_batch, _index, input) => inputTraceHeaders(input),
};

/** Gives each output the trace context headers its unit trace assigns to its source message. */
export function attachTraceHeaders(outputs: PlacedOutput[], batches: readonly PartitionBatch[], unit: UnitTrace): void {
  for (let i = 0; i < outputs.length; i++) {
    const o = outputs[i];
    const headers = unit.outputHeaders(o.batch, o.index, batches[o.batch].messages[o.index]);
    if (headers !== undefined) outputs[i] = { ...o, record: { ...o.record, headers } };
  }
}
