import { ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { PartitionBatch } from '../pipeline/ports';
import { ActiveUnitTrace, MAX_UNIT_LINKS } from './worker-tracing';

const traceparent = (i: number): string => `00-${(i + 1).toString(16).padStart(32, '0')}-${(i + 1).toString(16).padStart(16, '0')}-01`;

describe('ActiveUnitTrace', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const tracer = provider.getTracer('test');
  afterEach(() => exporter.reset());

  it('is a root CONSUMER span linked to at most MAX_UNIT_LINKS inputs, counting the rest; stage spans are its children', () => {
    const n = MAX_UNIT_LINKS + 22;
    const messages = Array.from({ length: n + 1 }, (_, i) => ({ offset: String(i), key: null, value: null, headers: i < n ? { traceparent: traceparent(i) } : {} }));
    const batches: PartitionBatch[] = [{ topic: 'in', partition: 3, messages }];
    const unit = new ActiveUnitTrace(tracer, batches, 'group');
    unit.stage('decode', 0.001);
    unit.committed(performance.now() - 2, performance.now());
    // A traced input keeps its context; the untraced one gets the unit span's.
    expect(unit.outputHeaders(0, 5, messages[5])).toEqual({ traceparent: traceparent(5) });
    const own = String(unit.outputHeaders(0, n, messages[n]).traceparent).split('-');
    unit.end({ predictions: n, deadLetters: 1, skipped: 0, waiting: 0 });

    const spans = exporter.getFinishedSpans();
    const root = spans.find((s) => s.name === 'process in')!;
    expect(root.kind).toBe(SpanKind.CONSUMER);
    expect(root.parentSpanContext).toBeUndefined();
    expect(root.links).toHaveLength(MAX_UNIT_LINKS);
    expect(root.links[0].context.traceId).toBe(traceparent(0).split('-')[1]);
    expect(root.attributes).toMatchObject({
      'messaging.system': 'kafka',
      'messaging.destination.name': 'in',
      'messaging.destination.partition.id': '3',
      'messaging.batch.message_count': n + 1,
      'streamcell.trace.inputs_traced': n,
      'streamcell.trace.links_dropped': 22,
      'streamcell.unit.dead_letters': 1,
    });
    expect(own[1]).toBe(root.spanContext().traceId);
    expect(own[2]).toBe(root.spanContext().spanId);
    for (const name of ['decode', 'commit']) {
      const child = spans.find((s) => s.name === name)!;
      expect(child.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
      expect(child.spanContext().traceId).toBe(root.spanContext().traceId);
    }
  });

  it('a failed unit ends with an error status', () => {
    const unit = new ActiveUnitTrace(tracer, [{ topic: 'in', partition: 0, messages: [] }], 'group');
    unit.end(null, new Error('redis away'));
    const [span] = exporter.getFinishedSpans();
    expect(span.status).toEqual({ code: 2, message: 'redis away' });
    expect(trace.getSpanContext(ROOT_CONTEXT)).toBeUndefined();
  });
});
