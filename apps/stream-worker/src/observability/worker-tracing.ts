import {
  DiagLogLevel,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  diag,
  trace,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import type { BasicTracerProvider, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { ATTR_ERROR_TYPE, ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { InputMessage, OutputHeaders, PartitionBatch, PipelineStage, UnitTrace } from '../pipeline/ports';
import { inputSpanContext, inputTraceHeaders, traceContextHeaders } from '../pipeline/trace-headers';
import type { WorkerLogger } from './worker-logger';

/**
 * The worker's spans (docs/tracing.md): one CONSUMER span per unit of work, a root linked to the
 * span contexts its input records carry, with a child span per stage (decode, state_load, step,
 * produce, state_write, commit). Started only when OTEL_TRACES_EXPORTER is not `none`: otherwise
 * nothing of the OpenTelemetry SDK is loaded and units run {@link UNTRACED}.
 */

/**
 * Links per unit span: the first traced inputs of the unit in fetch order (a unit holds up to a
 * fetch, thousands of records); only those are parsed for links, the others' traceparent
 * headers are counted in `streamcell.trace.links_dropped`. The SDK's OTEL_SPAN_LINK_COUNT_LIMIT
 * (default 128 too) can lower it further.
 */
export const MAX_UNIT_LINKS = 128;

// Messaging semantic conventions (incubating in @opentelemetry/semantic-conventions: copied, as
// its README advises for incubating names).
const ATTR_MESSAGING_SYSTEM = 'messaging.system';
const ATTR_MESSAGING_OPERATION_TYPE = 'messaging.operation.type';
const ATTR_MESSAGING_OPERATION_NAME = 'messaging.operation.name';
const ATTR_MESSAGING_CONSUMER_GROUP_NAME = 'messaging.consumer.group.name';
const ATTR_MESSAGING_DESTINATION_NAME = 'messaging.destination.name';
const ATTR_MESSAGING_DESTINATION_PARTITION_ID = 'messaging.destination.partition.id';
const ATTR_MESSAGING_BATCH_MESSAGE_COUNT = 'messaging.batch.message_count';

/** What the worker reads from the standard OTEL_* variables (the SDK reads the rest itself). */
export interface TracingSettings {
  readonly exporter: 'none' | 'otlp' | 'console';
  readonly protocol: 'http/protobuf' | 'http/json';
  readonly serviceName: string;
}

/** A unit's summary for its span. */
export interface UnitSummary {
  readonly predictions: number;
  readonly deadLetters: number;
  readonly skipped: number;
  readonly waiting: number;
}

export class WorkerTracing {
  private constructor(
    private readonly provider: BasicTracerProvider,
    private readonly tracer: Tracer,
    private readonly groupId: string,
  ) {}

  /** The SDK with its exporter and batch span processor, or null when tracing is off. */
  static async start(settings: TracingSettings, groupId: string, logger: WorkerLogger): Promise<WorkerTracing | null> {
    if (settings.exporter === 'none') return null;
    // Export failures (collector away) and SDK warnings go to the worker's log.
    diag.setLogger(
      {
        error: (m: string, ...args: unknown[]) => logger.warn(`opentelemetry: ${m}`, { args: args.map(String) }),
        warn: (m: string, ...args: unknown[]) => logger.warn(`opentelemetry: ${m}`, { args: args.map(String) }),
        info: () => undefined,
        debug: () => undefined,
        verbose: () => undefined,
      },
      DiagLogLevel.WARN,
    );
    // Loaded here, not at the top: with tracing off the SDK is never loaded.
    const sdk = await import('@opentelemetry/sdk-trace-base');
    const res = await import('@opentelemetry/resources');
    let exporter: SpanExporter;
    if (settings.exporter === 'console') exporter = new sdk.ConsoleSpanExporter();
    else if (settings.protocol === 'http/json') exporter = new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter();
    else exporter = new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter();
    // Sampler, span limits, batch processor queue, OTLP endpoint/headers/timeout: the SDK's own
    // reading of the standard variables.
    const provider = new sdk.BasicTracerProvider({
      resource: res
        .defaultResource()
        .merge(res.resourceFromAttributes({ [ATTR_SERVICE_NAME]: settings.serviceName }))
        .merge(res.detectResources({ detectors: [res.envDetector] })),
      spanProcessors: [new sdk.BatchSpanProcessor(exporter)],
    });
    return new WorkerTracing(provider, provider.getTracer('streamcell-worker'), groupId);
  }

  /** Starts the span of a unit of work (its batches as fetched). */
  startUnit(batches: readonly PartitionBatch[]): ActiveUnitTrace {
    return new ActiveUnitTrace(this.tracer, batches, this.groupId);
  }

  /** Exports what is buffered and stops the SDK. */
  shutdown(): Promise<void> {
    return this.provider.shutdown();
  }
}

/** A unit's span and its stages; outputs of untraced inputs are children of the unit span. */
export class ActiveUnitTrace implements UnitTrace {
  private readonly span: Span;
  private readonly context: Context;
  private unitHeaders: OutputHeaders | undefined;

  constructor(
    private readonly tracer: Tracer,
    batches: readonly PartitionBatch[],
    groupId: string,
  ) {
    const links: Link[] = [];
    let traced = 0;
    let dropped = 0;
    let messages = 0;
    for (const b of batches) {
      messages += b.messages.length;
      for (const m of b.messages) {
        if (m.headers?.traceparent === undefined) continue;
        if (links.length >= MAX_UNIT_LINKS) {
          dropped++;
          continue;
        }
        const sc = inputSpanContext(m);
        if (sc === null) continue;
        traced++;
        links.push({ context: sc });
      }
    }
    const topics = [...new Set(batches.map((b) => b.topic))];
    const attributes: Attributes = {
      [ATTR_MESSAGING_SYSTEM]: 'kafka',
      [ATTR_MESSAGING_OPERATION_TYPE]: 'process',
      [ATTR_MESSAGING_OPERATION_NAME]: 'process',
      [ATTR_MESSAGING_CONSUMER_GROUP_NAME]: groupId,
      [ATTR_MESSAGING_BATCH_MESSAGE_COUNT]: messages,
      'streamcell.unit.partitions': batches.length,
      'streamcell.trace.inputs_traced': traced + dropped,
      'streamcell.trace.links_dropped': dropped,
    };
    if (topics.length === 1) attributes[ATTR_MESSAGING_DESTINATION_NAME] = topics[0];
    if (batches.length === 1) attributes[ATTR_MESSAGING_DESTINATION_PARTITION_ID] = String(batches[0].partition);
    // A root: a unit serves many traces at once, each input's is a link (messaging conventions
    // for batch processing).
    this.span = tracer.startSpan(topics.length === 1 ? `process ${topics[0]}` : 'process', { kind: SpanKind.CONSUMER, attributes, links, root: true });
    this.context = trace.setSpan(ROOT_CONTEXT, this.span);
  }

  stage(stage: PipelineStage, seconds: number): void {
    const end = performance.now();
    this.child(stage, end - seconds * 1000, end);
  }

  /** The unit's offsets were committed from `startMs` to `endMs` (performance.now()). */
  committed(startMs: number, endMs: number): void {
    this.child('commit', startMs, endMs);
  }

  outputHeaders(_batch: number, _index: number, input: InputMessage): OutputHeaders {
    return inputTraceHeaders(input) ?? (this.unitHeaders ??= traceContextHeaders(this.span.spanContext()));
  }

  /** The unit is durable (or failed with `error`: it is retried, nothing of it committed). */
  end(summary: UnitSummary | null, error?: unknown): void {
    if (summary !== null) {
      this.span.setAttributes({
        'streamcell.unit.predictions': summary.predictions,
        'streamcell.unit.dead_letters': summary.deadLetters,
        'streamcell.unit.skipped': summary.skipped,
        'streamcell.unit.waiting_partitions': summary.waiting,
      });
    }
    if (error !== undefined) {
      const e = error instanceof Error ? error : new Error(typeof error === 'string' ? error : 'the unit failed');
      this.span.recordException(e);
      this.span.setAttribute(ATTR_ERROR_TYPE, e.name);
      this.span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
    }
    this.span.end();
  }

  private child(name: string, startMs: number, endMs: number): void {
    const span = this.tracer.startSpan(
      name,
      { kind: name === 'produce' ? SpanKind.PRODUCER : SpanKind.INTERNAL, startTime: performance.timeOrigin + startMs },
      this.context,
    );
    span.end(performance.timeOrigin + endMs);
  }
}
