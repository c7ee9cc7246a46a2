import { ROOT_CONTEXT, defaultTextMapSetter, isSpanContextValid, trace, type SpanContext, type TextMapGetter } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { PlacedOutput } from './encode-stage';
import type { InputMessage, PartitionBatch, RecordHeaders, UnitTrace } from './ports';

/**
 * W3C trace context across the worker's Kafka hop (docs/tracing.md): an output record (a
 * prediction or a dead letter) carries the `traceparent` / `tracestate` of the message it came
 * from. The headers are parsed and written again by OpenTelemetry's W3C propagator, so a
 * malformed or oversized header is not copied (the propagator refuses it) and an output never
 * grows by more than a valid trace context.
 */

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
  outputHeaders: (_batch, _index, input) => {
    const sc = inputSpanContext(input);
    return sc === null ? undefined : traceContextHeaders(sc);
  },
};

/** Gives each output the trace context headers its unit trace assigns to its source message. */
export function attachTraceHeaders(outputs: PlacedOutput[], batches: readonly PartitionBatch[], unit: UnitTrace): void {
  for (let i = 0; i < outputs.length; i++) {
    const o = outputs[i];
    const headers = unit.outputHeaders(o.batch, o.index, batches[o.batch].messages[o.index]);
    if (headers !== undefined) outputs[i] = { ...o, record: { ...o.record, headers } };
  }
}
