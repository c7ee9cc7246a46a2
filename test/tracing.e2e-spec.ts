/**
 * Traces across the worker's Kafka hop (docs/tracing.md): readings published with W3C
 * `traceparent` (some with `tracestate`), some without, one with a malformed header, and one bad
 * event for the DLQ; the worker runs with OTEL_TRACES_EXPORTER=otlp pointed at an in-process
 * OTLP/HTTP receiver (protobuf, the default protocol). Each prediction and the dead letter carry
 * their input's trace context; outputs of untraced inputs are children of their unit's exported
 * span; unit spans link to every traced input and have one child span per stage. A worker whose
 * collector is away keeps predicting (spans are dropped, a warning logged).
 */
import { randomBytes } from 'node:crypto';
import { e2eStack, uniqueSuffix, waitFor } from './support/e2e-env';
import { TestKafka, type Collector, type CollectedMessage, type OutMessage } from './support/test-kafka';
import { TestRegistry } from './support/model-fixtures';
import { suiteTopics, topicEnv, WorkerProcess, workerEnv } from './support/worker-process';
import { assignOffsets, sensorEvents } from './support/event-streams';
import { DUAL_CLASSIFIER, DUAL_FORECASTER } from './support/dual-run';
import { OtlpReceiver, type ReceivedSpan } from './support/otlp-receiver';

const PARTITIONS = 2;
const STAGES = ['decode', 'state_load', 'step', 'produce', 'state_write', 'commit'];

interface Planned {
  readonly msg: OutMessage;
  /** The traceparent sent (valid ones only), its tracestate, and whether it is a bad event. */
  readonly traceparent: string | null;
  readonly tracestate: string | null;
  readonly bad: boolean;
  offset?: string;
}

const header = (m: CollectedMessage, name: string): string | null => {
  const v = m.headers?.[name];
  if (v === undefined) return null;
  return String(Array.isArray(v) ? v[0] : v);
};
const source = (m: CollectedMessage): string => {
  const body = JSON.parse(m.value!.toString('utf8')) as { source: { partition: number; offset: string } };
  return `${body.source.partition}/${body.source.offset}`;
};

describe('tracing: W3C trace context from inputs to outputs, OTLP spans of units and stages', () => {
  const stack = e2eStack();
  const s = uniqueSuffix();
  const t = suiteTopics(`tr-${s}`);
  const kafka = new TestKafka(stack.brokers, `tr-${s}`);
  const service = `tr-${s}-worker`;
  let registry: TestRegistry;
  let collector: Collector;
  let receiver: OtlpReceiver;
  let worker: WorkerProcess;
  let orphan: WorkerProcess | undefined;
  const plan: Planned[] = [];

  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
    await kafka.connect();
    await kafka.createSuiteTopics(t, { sensor: PARTITIONS });
    registry = new TestRegistry(stack.redisUrl, kafka.producerClient, t.models);
    await registry.seed(`tr-${s}-fc`, DUAL_FORECASTER);
    await registry.seed(`tr-${s}-cl`, DUAL_CLASSIFIER);
    collector = await kafka.collect([t.forecasts, t.dlq], `tr-${s}-collector`);
    worker = await WorkerProcess.launch(
      service,
      workerEnv(stack, {
        KAFKA_GROUP_ID: `tr-${s}`,
        ...topicEnv(t),
        FORECAST_MODEL: `tr-${s}-fc`,
        CLASSIFY_MODEL: `tr-${s}-cl`,
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        OTEL_SERVICE_NAME: service,
        OTEL_BSP_SCHEDULE_DELAY: '200',
      }),
    );
  });

  afterAll(async () => {
    await worker?.dispose();
    await orphan?.dispose();
    await kafka.disconnect();
    await registry?.close();
    await receiver?.close();
  });

  it('predictions and dead letters carry their input trace context; unit and stage spans are exported with links', async () => {
    const events = sensorEvents(`tr-sensor-${s}`, 12, 5, PARTITIONS, 7);
    events.forEach((e, i) => {
      // Every 6th input untraced, one with a malformed traceparent (not copied: untraced).
      const kind = i % 6 === 5 ? 'none' : i === 7 ? 'malformed' : 'traced';
      const traceparent = kind === 'traced' ? `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01` : null;
      const tracestate = kind === 'traced' && i % 2 === 0 ? `streamcell=e${i},other=x` : null;
      const headers: Record<string, string> = {};
      if (traceparent !== null) headers.traceparent = traceparent;
      if (tracestate !== null) headers.tracestate = tracestate;
      if (kind === 'malformed') headers.traceparent = '00-not-a-trace-context';
      plan.push({ msg: { key: e.key, value: JSON.stringify(e.body), partition: e.partition, headers }, traceparent, tracestate, bad: false });
    });
    const badTraceparent = `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
    plan.push({
      msg: { key: events[0].key, value: '{"sensorId": not json', partition: events[0].partition, headers: { traceparent: badTraceparent } },
      traceparent: badTraceparent,
      tracestate: null,
      bad: true,
    });
    assignOffsets(plan, (p) => String(p.msg.partition));
    // Two halves, the second once the first is predicted: at least two units of work.
    const half = Math.floor(plan.length / 2);
    await kafka.produce(t.sensor, plan.slice(0, half).map((p) => p.msg));
    await waitFor('the first half predicted', () => collector.distinctSources(t.forecasts) >= half, 90_000, 100);
    await kafka.produce(t.sensor, plan.slice(half).map((p) => p.msg));

    const byInput = new Map(plan.map((p) => [`${p.msg.partition}/${p.offset}`, p]));
    await waitFor(
      'a prediction for every good input and the dead letter',
      () => collector.distinctSources(t.forecasts) >= events.length && collector.distinctSources(t.dlq) >= 1,
      90_000,
      100,
    );
    // SIGTERM: the worker exports what its span processor still holds before exiting.
    const exit = await worker.stop('SIGTERM');
    expect(exit.code).toBe(0);
    const units = (): ReceivedSpan[] => receiver.spans().filter((sp) => sp.kind === 5 && sp.name.startsWith('process'));
    await waitFor('unit spans', () => units().length > 0, 10_000, 50);
    expect(receiver.errors).toEqual([]);

    const spans = receiver.spans();
    const unitSpans = units();
    expect(unitSpans.length).toBeGreaterThanOrEqual(2);
    const unitById = new Map(unitSpans.map((u) => [u.spanId, u]));
    for (const sp of spans) expect(sp.serviceName).toBe(service);
    for (const u of unitSpans) {
      expect(u.parentSpanId).toBe('');
      expect(u.name).toBe(`process ${t.sensor}`);
      expect(u.attributes['messaging.system']).toBe('kafka');
      expect(u.attributes['messaging.consumer.group.name']).toBe(`tr-${s}`);
    }

    // Predictions: a traced input's context as sent (trace id, parent span id, tracestate); an
    // untraced or malformed one's: the unit span's (an exported span).
    const predictions = collector.messages(t.forecasts);
    let traced = 0;
    let untraced = 0;
    for (const m of predictions) {
      const input = byInput.get(source(m))!;
      expect(input).toBeDefined();
      const tp = header(m, 'traceparent');
      expect(tp).not.toBeNull();
      if (input.traceparent !== null) {
        traced++;
        expect(tp).toBe(input.traceparent);
        expect(header(m, 'tracestate')).toBe(input.tracestate);
      } else {
        untraced++;
        const [, traceId, parentId] = tp!.split('-');
        const unit = unitById.get(parentId);
        expect(unit).toBeDefined();
        expect(unit!.traceId).toBe(traceId);
        expect(header(m, 'tracestate')).toBeNull();
      }
    }
    expect(traced).toBeGreaterThanOrEqual(plan.filter((p) => !p.bad && p.traceparent !== null).length);
    expect(untraced).toBeGreaterThanOrEqual(plan.filter((p) => p.traceparent === null).length);

    // The dead letter carries the bad input's trace context.
    const dlq = collector.messages(t.dlq);
    expect(dlq.length).toBeGreaterThanOrEqual(1);
    for (const m of dlq) expect(header(m, 'traceparent')).toBe(badTraceparent);

    // Unit spans link to every traced input (no unit here holds more than the link cap).
    const linked = new Set(unitSpans.flatMap((u) => u.links.map((l) => `${l.traceId}-${l.spanId}`)));
    for (const u of unitSpans) expect(u.attributes['streamcell.trace.links_dropped']).toBe(0);
    for (const p of plan) {
      if (p.traceparent === null) continue;
      const [, traceId, spanId] = p.traceparent.split('-');
      expect(linked.has(`${traceId}-${spanId}`)).toBe(true);
    }
    const withState = unitSpans.flatMap((u) => u.links).filter((l) => l.traceState !== '');
    expect(withState.length).toBeGreaterThan(0);

    // Every stage has spans, each a child of an exported unit span in its trace.
    for (const stage of STAGES) {
      const of = spans.filter((sp) => sp.name === stage);
      expect({ stage, count: of.length > 0 }).toEqual({ stage, count: true });
      for (const sp of of) {
        const unit = unitById.get(sp.parentSpanId);
        expect(unit).toBeDefined();
        expect(sp.traceId).toBe(unit!.traceId);
        expect(sp.endNs).toBeGreaterThanOrEqual(sp.startNs);
      }
    }
    console.log(
      JSON.stringify({
        suite: 'tracing',
        inputs: plan.length,
        predictions: predictions.length,
        deadLetters: dlq.length,
        unitSpans: unitSpans.length,
        spans: spans.length,
        exportRequests: receiver.requests,
      }),
    );
  });

  it('a collector that is away costs spans, not predictions', async () => {
    // The receiver's port once it is closed: nothing listens there.
    const endpoint = receiver.endpoint;
    await receiver.close();
    const t2 = suiteTopics(`tr2-${s}`);
    await kafka.createSuiteTopics(t2, { sensor: PARTITIONS });
    const registry2 = new TestRegistry(stack.redisUrl, kafka.producerClient, t2.models);
    try {
      await registry2.seed(`tr2-${s}-fc`, DUAL_FORECASTER);
      const out = await kafka.collect([t2.forecasts], `tr2-${s}-collector`);
      orphan = await WorkerProcess.launch(
        `tr2-${s}-worker`,
        workerEnv(stack, {
          KAFKA_GROUP_ID: `tr2-${s}`,
          ...topicEnv(t2),
          FORECAST_MODEL: `tr2-${s}-fc`,
          CLASSIFY_MODEL: `tr2-${s}-cl`,
          OTEL_TRACES_EXPORTER: 'otlp',
          OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
          OTEL_BSP_SCHEDULE_DELAY: '100',
        }),
      );
      const tp = plan[0].traceparent!;
      const events = sensorEvents(`tr2-sensor-${s}`, 10, 4, PARTITIONS, 8);
      await kafka.produce(
        t2.sensor,
        events.map((e) => ({ key: e.key, value: JSON.stringify(e.body), partition: e.partition, headers: { traceparent: tp } })),
      );
      await waitFor('every reading predicted with the collector away', () => out.distinctSources(t2.forecasts) >= events.length, 60_000, 100);
      for (const m of out.messages(t2.forecasts)) expect(header(m, 'traceparent')).toBe(tp);
      await waitFor('an export warning', () => orphan!.logs.includes('opentelemetry:'), 30_000, 100);
      expect(orphan.running).toBe(true);
      const exit = await orphan.stop('SIGTERM');
      expect(exit.code).toBe(0);
    } finally {
      await registry2.close();
    }
  });
});
