/**
 * `bench:e2e` tracing cost (docs/tracing.md): the worker's throughput over the same pre-filled
 * topic with inputs carrying an unrelated header of a traceparent's size and tracing off (`bare`:
 * nothing to propagate, as before tracing existed, with records of the same size), inputs with a
 * W3C traceparent and tracing off (`off`: OTEL_TRACES_EXPORTER unset, no
 * SDK, the headers carried through), and the same inputs with tracing on (`on`: OTLP/HTTP
 * protobuf to an in-process receiver that counts what it gets). Runs alternate bare/off/on so
 * machine load drifts hit every side. Plus the header pass-through alone, in ns per output.
 */
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { waitFor } from '../../test/support/e2e-env';
import type { ForecasterDef } from '../../test/support/model-fixtures';
import { TestRegistry } from '../../test/support/model-fixtures';
import { OtlpReceiver } from '../../test/support/otlp-receiver';
import type { OutMessage, TestKafka } from '../../test/support/test-kafka';
import { suiteTopics, topicEnv, WorkerProcess, workerEnv } from '../../test/support/worker-process';
import type { BenchStack } from './bench-stack';
import { UNTRACED } from '../../apps/stream-worker/src/pipeline/trace-headers';
import type { InputMessage } from '../../apps/stream-worker/src/pipeline/ports';

type Side = 'bare' | 'off' | 'on';

/** ns per output of the tracing-off header path (UNTRACED.outputHeaders), with and without a traceparent. */
export function headerPathNs(): { withTraceparentNs: number; withoutHeadersNs: number } {
  const n = 200_000;
  const traced: InputMessage[] = Array.from({ length: 1000 }, () => ({
    offset: '0',
    key: null,
    value: null,
    headers: { traceparent: Buffer.from(`00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`) },
  }));
  const bare: InputMessage[] = traced.map((m) => ({ ...m, headers: undefined }));
  const time = (ms: InputMessage[]): number => {
    let sink = 0;
    for (let i = 0; i < 20_000; i++) sink += UNTRACED.outputHeaders(0, 0, ms[i % ms.length]) === undefined ? 0 : 1;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) sink += UNTRACED.outputHeaders(0, 0, ms[i % ms.length]) === undefined ? 0 : 1;
    const ns = Number(process.hrtime.bigint() - t0) / n;
    if (sink < 0) throw new Error('unreachable');
    return Number(ns.toFixed(1));
  };
  return { withTraceparentNs: time(traced), withoutHeadersNs: time(bare) };
}

/** One worker run's figures. */
interface RunFigures {
  readonly eventsPerSec: number;
  readonly steadyEventsPerSec: number;
}

/** Inputs with a fresh traceparent each (as from a traced producer). */
export function withTraceparents(messages: readonly OutMessage[]): OutMessage[] {
  return messages.map((m) => ({
    ...m,
    headers: { traceparent: `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01` },
  }));
}

/**
 * The same inputs with a header the worker does not read, of a traceparent's exact size (key and
 * value): the records are as large as the traced ones, so the `bare` side differs from `off` only
 * in what the worker does with trace context. Record size alone moves throughput (a fetch holds
 * at most 256 KiB per partition), so inputs without any header would not isolate it.
 */
export function withInertHeaders(messages: readonly OutMessage[]): OutMessage[] {
  return messages.map((m) => ({
    ...m,
    headers: { 'x-unrelated': `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01` },
  }));
}

/**
 * Measures `rounds` × (bare, off, on) worker runs over `events` (each run on its own copy of the input
 * topic, with its own model name so that no stored state is reused) and returns the JSON result.
 */
export async function tracingCost(
  stack: BenchStack,
  kafka: TestKafka,
  s: string,
  opts: { events: readonly OutMessage[]; bareEvents: readonly OutMessage[]; partitions: number; model: ForecasterDef; rounds: number; workers: WorkerProcess[]; progress: (m: string) => void },
): Promise<Record<string, unknown>> {
  const receiver = await OtlpReceiver.start({ keep: false });
  const runs: { tracing: Side; round: number; figures: RunFigures; loadAvg1m: number }[] = [];
  try {
    for (let round = 0; round < opts.rounds; round++) {
      for (const tracing of ['bare', 'off', 'on'] as const) {
        const tag = `bench-${s}-tr${round}${tracing}`;
        const t = suiteTopics(tag);
        await kafka.createSuiteTopics(t, { sensor: opts.partitions, forecasts: 2 });
        const registry = new TestRegistry(stack.redisUrl, kafka.producerClient, t.models);
        try {
          await registry.seed(`${tag}-fc`, opts.model);
          const events = tracing === 'bare' ? opts.bareEvents : opts.events;
          await kafka.produce(t.sensor, events, 2000);
          const collector = await kafka.collect([t.forecasts], `${tag}-collector`);
          const worker = new WorkerProcess(
            `${tag}-worker`,
            workerEnv(stack, {
              KAFKA_GROUP_ID: `${tag}-worker`,
              ...topicEnv(t),
              FORECAST_MODEL: `${tag}-fc`,
              CLASSIFY_MODEL: `${tag}-cl`,
              ...(tracing === 'on'
                ? { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_SERVICE_NAME: `${tag}-worker` }
                : {}),
            }),
          );
          opts.workers.push(worker);
          opts.progress(`tracing ${tracing}, round ${round + 1}/${opts.rounds}: ${events.length} events`);
          worker.start();
          await worker.ready(120_000);
          const tReady = performance.now();
          const load0 = loadavg()[0];
          await waitFor(`a prediction for every event (tracing ${tracing})`, () => collector.distinctSources(t.forecasts) >= opts.events.length, 600_000, 10);
          const tDone = performance.now();
          const outs = collector.messages(t.forecasts);
          const spanMs = Math.max(...outs.map((m) => m.timestamp)) - Math.min(...outs.map((m) => m.timestamp));
          await worker.stop('SIGTERM');
          runs.push({
            tracing,
            round,
            figures: {
              eventsPerSec: Math.round((opts.events.length / (tDone - tReady)) * 1000),
              steadyEventsPerSec: Math.round((opts.events.length / Math.max(1, spanMs)) * 1000),
            },
            loadAvg1m: Number(load0.toFixed(2)),
          });
        } finally {
          await registry.close();
        }
      }
    }
  } finally {
    await receiver.close();
  }
  const median = (xs: number[]): number => {
    const a = [...xs].sort((x, y) => x - y);
    return a.length % 2 === 1 ? a[(a.length - 1) / 2] : Math.round((a[a.length / 2 - 1] + a[a.length / 2]) / 2);
  };
  const side = (tracing: Side) => runs.filter((r) => r.tracing === tracing);
  const bare = median(side('bare').map((r) => r.figures.eventsPerSec));
  const bareSteady = median(side('bare').map((r) => r.figures.steadyEventsPerSec));
  const off = median(side('off').map((r) => r.figures.eventsPerSec));
  const on = median(side('on').map((r) => r.figures.eventsPerSec));
  const offSteady = median(side('off').map((r) => r.figures.steadyEventsPerSec));
  const onSteady = median(side('on').map((r) => r.figures.steadyEventsPerSec));
  return {
    metric: 'tracing_cost',
    events: opts.events.length,
    partitions: opts.partitions,
    rounds: opts.rounds,
    bareEventsPerSec: bare,
    offEventsPerSec: off,
    onEventsPerSec: on,
    bareSteadyEventsPerSec: bareSteady,
    offSteadyEventsPerSec: offSteady,
    onSteadyEventsPerSec: onSteady,
    ratioOffToBare: Number((off / bare).toFixed(3)),
    ratioOnToOff: Number((on / off).toFixed(3)),
    steadyRatioOffToBare: Number((offSteady / bareSteady).toFixed(3)),
    steadyRatioOnToOff: Number((onSteady / offSteady).toFixed(3)),
    headerPassThrough: headerPathNs(),
    otlpRequests: receiver.requests,
    otlpBytes: receiver.bytes,
    runs,
    note: 'bare = inputs with an unrelated header of a traceparent\'s size (same record bytes, nothing to propagate), tracing off; off = every input with a traceparent, OTEL_TRACES_EXPORTER unset (no SDK; headers carried through); on = the same inputs, OTLP/HTTP protobuf to an in-process receiver (unit + stage spans, links to inputs); medians of alternating runs; headerPassThrough: UNTRACED.outputHeaders alone, ns per output',
  };
}
