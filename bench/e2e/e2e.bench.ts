/**
 * End-to-end benchmark of the stream-worker (docs/hot-path.md; docs/architecture.md, Data path).
 *
 *   npm run bench:e2e            (after npm run build; starts Kafka + Redis containers itself
 *                                 unless STREAMCELL_BENCH_KAFKA_BROKERS and
 *                                 STREAMCELL_BENCH_REDIS_URL point at an existing stack)
 *
 * Measures, in one run, and prints one JSON line per result on stdout (each with the 1-minute
 * load average, as the machine may be shared):
 *   engine       incremental stepping (1 step per event per key) vs recomputing a 64-event
 *                window per event, engine only (@app/lstm RecurrentModel, same kernel);
 *   throughput   events/s through the worker (`node dist/apps/stream-worker/src/main.js`) vs a
 *                kafkajs pass-through (consume, produce the same messages acks=all, commit; no
 *                state, no model) over the same pre-filled topic, overall and steady (first to
 *                last output); target ratio ≥ 0.8;
 *   latency      p50/p99/max from an event's send time to its output being read, of the worker
 *                and of the pass-through at 10 %, 50 % and 90 % of the worker's measured max
 *                rate (sent every BENCH_TICK_MS), and at 50 % in BENCH_BURST_TICK_MS bursts, with
 *                the ratio worker ÷ pass-through;
 *   stage_breakdown  at 50 %: the worker's own streamcell_batch_stage_seconds and
 *                streamcell_event_to_emit_seconds over that run (two /metrics scrapes), its event
 *                loop delay and GC time; each latency line also gives the bench process's own
 *                event loop delay (its producer and collector);
 *   state_bytes_per_key  the worker's records: payload bytes per key (the subject of the target
 *                1.25 · (2·H·4)), sampled MEMORY USAGE per key and the used_memory delta over
 *                the run per key, with what Redis adds shown apart;
 *   state_layout the same keys written directly with each record layout, each in an empty
 *                database;
 *   shadow_cost  events/s of a worker whose forecaster has a second version in shadow ÷ the same
 *                forecaster alone (two fresh workers over the same pre-filled topic);
 *   key_curve    events/s and Redis used_memory per key at 1e3, 1e4, 1e5 and 1e6 distinct keys
 *                (two events per key, at least 40,000 events; the 1e6 point one event per key);
 *   tracing_cost events/s of inputs with an unrelated header of a traceparent's size, tracing
 *                off (bare), vs inputs with a traceparent, tracing off (off) and on (OTLP to an in-process receiver),
 *                alternating runs; the header pass-through alone in ns (tracing-cost.ts).
 * Progress goes to stderr. Env: BENCH_EVENTS (default 40000), BENCH_KEYS (2000), BENCH_UNITS
 * (64), BENCH_PARTITIONS (16), BENCH_LATENCY_SECONDS (15, per rate and side), BENCH_TICK_MS (10),
 * BENCH_BURST_TICK_MS (50; 0 skips the burst run),
 * BENCH_CURVE_KEYS (1000,10000,100000,1000000; empty skips the curve), BENCH_REWARM_STEPS
 * (worker's REWARM_STEPS, default 16), BENCH_POLICY (activation policy of the forecaster, default
 * reset; rewarm makes the worker keep the input ring), BENCH_TRACING_ROUNDS (2: bare/off/on rounds; 0
 * skips), BENCH_ONLY=engine (skip the stack), BENCH_ONLY=shadow (the engine result and shadow_cost
 * only) or BENCH_ONLY=tracing (only tracing_cost).
 */
import { loadavg } from 'os';
import { monitorEventLoopDelay, performance } from 'perf_hooks';
import { Kafka, logLevel } from 'kafkajs';
import { RecurrentModel, randomRecurrentModelSpec, seededRandom } from '@app/lstm';
import {
  createRedisClient,
  decodeStateRecord,
  StateStore,
  stateKey,
  type RedisLike,
  type StateRecord,
} from '@app/state';
import { sleep, uniqueSuffix, waitFor } from '../../test/support/e2e-env';
import { TestRegistry, type ForecasterDef } from '../../test/support/model-fixtures';
import { partitionFor, TestKafka, type OutMessage } from '../../test/support/test-kafka';
import { suiteTopics, topicEnv, WorkerProcess, workerEnv } from '../../test/support/worker-process';
import { acquireBenchStack, type BenchStack } from './bench-stack';
import { histogramDelta, parseGauge, parseHistogram, summarizeMs } from './prom-histogram';
import { tracingCost, withInertHeaders, withTraceparents } from './tracing-cost';
import {
  measureLayouts,
  memoryInfo,
  preloadStateScripts,
  type LayoutCase,
  type MemoryInfo,
} from './state-memory';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 40_000);
const KEYS = Number(process.env.BENCH_KEYS ?? 2_000);
const UNITS = Number(process.env.BENCH_UNITS ?? 64);
// 16 partitions keep one partition's backlog (2,500 events) under 1 MB of predictions: with
// fewer, the worker's single produce call per partition batch exceeds the broker's
// message.max.bytes and the partition stalls (reported; see the issue note).
const PARTITIONS = Number(process.env.BENCH_PARTITIONS ?? 16);
const LATENCY_SECONDS = Number(process.env.BENCH_LATENCY_SECONDS ?? 15);
const REWARM_STEPS = process.env.BENCH_REWARM_STEPS ?? '16';
const POLICY = (process.env.BENCH_POLICY ?? 'reset') as 'reset' | 'rewarm' | 'keep';
/** bare/off/on rounds of the tracing_cost runs (0 skips them). */
const TRACING_ROUNDS = Number(process.env.BENCH_TRACING_ROUNDS ?? 2);
/** The worker's idle TTL default (7 days): the bench keeps it, so expires entries count. */
const TTL_MS = 7 * 24 * 3600 * 1000;
const WINDOW = 64;
/** Rates of the latency runs, as fractions of the worker's measured max rate. */
const LATENCY_FRACTIONS = [0.1, 0.5, 0.9];
/**
 * Send interval of the latency runs' producer, ms (BENCH_TICK_MS, default 10): each tick sends
 * what the rate owes since the last one, in one request. A fleet of sensors each reading every
 * second arrives nearly evenly; 10 ms keeps that shape within what one producer can send.
 */
const TICK_MS = Number(process.env.BENCH_TICK_MS ?? 10);
/**
 * A second 50 % run with every event of this interval sent at once (BENCH_BURST_TICK_MS, default
 * 50, the tick of the earlier benches; 0 skips it): the cost of bursty arrivals.
 */
const BURST_TICK_MS = Number(process.env.BENCH_BURST_TICK_MS ?? 50);
const STAGES = ['fetch_wait', 'decode', 'state_load', 'step', 'produce', 'state_write', 'commit'] as const;
/** Distinct keys of the key-count curve (BENCH_CURVE_KEYS, comma-separated; empty skips it). */
const CURVE_KEYS = (process.env.BENCH_CURVE_KEYS ?? '1000,10000,100000,1000000')
  .split(',')
  .filter((x) => x.trim() !== '')
  .map(Number);
/** Events of a curve point: two per key (at least 40,000); from 1e6 keys on, one per key. */
const curveEvents = (keys: number): number => (keys >= 1_000_000 ? keys : Math.max(40_000, 2 * keys));

/** Latency figures of one run. */
interface LatencyFigures {
  readonly events: number;
  readonly achievedRate: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Event loop delay of the bench process over the run (its producer and collector). */
  readonly benchEventLoopDelayMs?: { readonly p99: number | null; readonly max: number | null };
}

/** Sends sensor events at `rate` for `seconds` in `tickMs` ticks (ts = send time); returns how many. */
async function produceAtRate(
  kafka: TestKafka,
  topic: string,
  prefix: string,
  firstIndex: number,
  rate: number,
  seconds: number,
  tickMs: number,
): Promise<number> {
  let sent = 0;
  const startWall = Date.now();
  while (Date.now() - startWall < seconds * 1000) {
    // Catch up to the schedule (rate × elapsed), however long the last send took.
    const n = Math.floor((rate * (Date.now() - startWall)) / 1000) - sent;
    if (n > 0) {
      const now = Date.now();
      await kafka.produce(
        topic,
        benchEvents(prefix, n, firstIndex + sent, () => now),
        5000,
      );
      sent += n;
    }
    await sleep(Math.max(0, tickMs - ((Date.now() - startWall) % tickMs)));
  }
  return sent;
}

/** Event ts (send time) → the collector reading the output record, per output. */
function latencyFigures(
  outs: readonly { value: Buffer | null; receivedAt: number }[],
  sent: number,
): LatencyFigures {
  const lat = outs
    .map((m) => {
      const body = JSON.parse(m.value!.toString('utf8')) as { ts: number | string };
      const sentAt = typeof body.ts === 'number' ? body.ts : Date.parse(body.ts);
      return m.receivedAt - sentAt;
    })
    .sort((a, b) => a - b);
  return {
    events: sent,
    achievedRate: Math.round(sent / LATENCY_SECONDS),
    p50Ms: percentile(lat, 50),
    p99Ms: percentile(lat, 99),
    maxMs: lat[lat.length - 1],
  };
}

function emit(result: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ bench: 'e2e', at: new Date().toISOString(), ...result })}\n`);
}

function progress(msg: string): void {
  process.stderr.write(`[bench:e2e] ${msg}\n`);
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Engine only: one step per event (stored state) vs re-running the last 64 events per event. */
function engineBench(): void {
  const batch = 256;
  const inputDim = 2;
  const spec = randomRecurrentModelSpec({
    seed: 5,
    inputDim,
    units: [UNITS],
    cell: 'lstm',
    head: [{ units: 1, activation: 'linear' }],
    scale: 0.2,
  });
  const model = new RecurrentModel(spec);
  const x = new Float32Array(batch * inputDim);
  const rnd = seededRandom(9);
  for (let i = 0; i < x.length; i++) x[i] = rnd() * 2 - 1;
  const out = new Float32Array(batch * model.outputDim);
  const state = model.createState(batch);
  const run = (fn: () => void, minMs: number): { events: number; ms: number } => {
    let events = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < minMs) {
      fn();
      events += batch;
    }
    return { events, ms: performance.now() - t0 };
  };
  // Warm up both paths.
  for (let i = 0; i < 50; i++) model.step(batch, x, state);
  const incremental = run(() => {
    model.step(batch, x, state);
    model.head(batch, state, out);
  }, 2000);
  const windowState = model.createState(batch);
  const recompute = run(() => {
    windowState.fill(0);
    for (let t = 0; t < WINDOW; t++) model.step(batch, x, windowState);
    model.head(batch, windowState, out);
  }, 2000);
  const incRate = (incremental.events / incremental.ms) * 1000;
  const winRate = (recompute.events / recompute.ms) * 1000;
  emit({
    metric: 'engine_incremental_vs_window',
    kernel: model.kernel,
    units: UNITS,
    inputDim,
    batch,
    window: WINDOW,
    incrementalEventsPerSec: Math.round(incRate),
    windowRecomputeEventsPerSec: Math.round(winRate),
    speedup: Number((incRate / winRate).toFixed(2)),
  });
}

/** The sensor events of the bench: KEYS sensors, EVENTS readings, interleaved, in-order per key. */
function benchEvents(
  prefix: string,
  count: number,
  firstIndex: number,
  tsOf: (i: number) => number,
): OutMessage[] {
  const out: OutMessage[] = [];
  for (let i = firstIndex; i < firstIndex + count; i++) {
    const k = i % KEYS;
    const key = `${prefix}-${k}`;
    const value = Math.round((20 + 5 * Math.sin(i / KEYS / 3 + k) + ((i * 7919) % 100) / 100) * 1000) / 1000;
    out.push({
      key,
      value: JSON.stringify({ sensorId: key, ts: tsOf(i), value }),
      partition: partitionFor(key, PARTITIONS),
    });
  }
  return out;
}

/** A running kafkajs pass-through: how many events it copied, when, and how to stop it. */
interface PassThrough {
  readonly copied: () => number;
  readonly firstAt: () => number;
  readonly lastAt: () => number;
  stop(): Promise<void>;
}

/**
 * kafkajs pass-through: consume, produce the same messages (acks all, idempotent) per partition
 * batch, commit — what any kafkajs consume-transform-produce service does, without state or model.
 */
async function startPassThrough(brokers: string, inTopic: string, outTopic: string, group: string): Promise<PassThrough> {
  const kafka = new Kafka({ clientId: group, brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: group, maxWaitTimeInMs: 100 });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await Promise.all([consumer.connect(), producer.connect()]);
  await consumer.subscribe({ topic: inTopic, fromBeginning: true });
  let done = 0;
  let first = 0;
  let last = 0;
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, commitOffsetsIfNecessary, heartbeat }) => {
      if (batch.messages.length === 0) return;
      await producer.send({
        topic: outTopic,
        acks: -1,
        messages: batch.messages.map((m) => ({ key: m.key, value: m.value, partition: batch.partition % 2 })),
      });
      resolveOffset(batch.lastOffset());
      await commitOffsetsIfNecessary({
        topics: [
          {
            topic: batch.topic,
            partitions: [
              { partition: batch.partition, offset: (BigInt(batch.lastOffset()) + 1n).toString() },
            ],
          },
        ],
      });
      await heartbeat();
      const now = performance.now();
      if (first === 0) first = now;
      last = now;
      done += batch.messages.length;
    },
  });
  await joined;
  return {
    copied: () => done,
    firstAt: () => first,
    lastAt: () => last,
    stop: async () => {
      await consumer.disconnect();
      await producer.disconnect();
    },
  };
}

/** The pass-through over a pre-filled topic: wall time to copy `total` events, and first-to-last batch span. */
async function passThrough(
  brokers: string,
  inTopic: string,
  outTopic: string,
  group: string,
  total: number,
): Promise<{ ms: number; spanMs: number }> {
  const t0 = performance.now();
  const pt = await startPassThrough(brokers, inTopic, outTopic, group);
  await waitFor('pass-through to copy every event', () => pt.copied() >= total, 600_000, 20);
  const ms = performance.now() - t0;
  await pt.stop();
  return { ms, spanMs: pt.lastAt() - pt.firstAt() };
}

const percentileOf = (xs: number[], p: number): number =>
  percentile(
    [...xs].sort((a, b) => a - b),
    p,
  );
const msOf = (seconds: number | null): number | null => (seconds === null ? null : Number((seconds * 1000).toFixed(1)));
const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/**
 * After the worker has stopped: its records (payload, MEMORY USAGE, used_memory delta since
 * `memBefore`), then the layout comparison on the same key names.
 */
async function stateBytes(
  probe: RedisLike,
  redisUrl: string,
  model: string,
  keyPrefix: string,
  memBefore: MemoryInfo,
): Promise<void> {
  const memAfter = await memoryInfo(probe);
  const store = new StateStore(probe);
  const keys = Array.from({ length: KEYS }, (_, k) => `${keyPrefix}-${k}`);
  const raw = await store.loadRaw(model, keys);
  const stored = raw.filter((b): b is Buffer => b !== null);
  const records = stored.map((b) => b.length);
  const report = await store.bytesPerKey(model, keys);
  const hc = 2 * UNITS * 4;
  const target = 1.25 * hc;
  const recordAvg = mean(records);
  const perKey = (x: number): number => Math.round(x / Math.max(1, stored.length));
  const usedPerKey = (memAfter.used - memBefore.used) / Math.max(1, stored.length);
  const sample: StateRecord = decodeStateRecord(stored[0]);
  emit({
    metric: 'state_bytes_per_key',
    units: UNITS,
    policy: POLICY,
    rewarmSteps: Number(REWARM_STEPS),
    keys: stored.length,
    format: stored[0][0],
    ringRows: sample.ring?.count ?? 0,
    recordBytesAvg: Math.round(recordAvg),
    recordBytesP50: percentileOf(records, 50),
    recordBytesMax: Math.max(...records),
    hcBytes: hc,
    target,
    targetOn: 'record payload bytes per key',
    withinTarget: Math.max(...records) <= target,
    memoryUsageAvg: Math.round(report.avgRedisBytes),
    memoryUsageMax: report.maxRedisBytes,
    usedMemoryDeltaPerKey: Math.round(usedPerKey),
    keyNameBytes: Math.round(report.avgKeyNameBytes),
    redisOverheadMemoryUsage: Math.round(report.avgRedisBytes - recordAvg),
    redisOverheadUsedMemory: Math.round(usedPerKey - recordAvg),
    // used_memory = dataset (values, key names, objects) + overhead (dicts, clients, scripts)
    usedMemoryDatasetDeltaPerKey: perKey(
      memAfter.used - memAfter.overhead - (memBefore.used - memBefore.overhead),
    ),
    usedMemoryOverheadDeltaPerKey: perKey(memAfter.overhead - memBefore.overhead),
    clientsMemoryDeltaPerKey: perKey(memAfter.clients - memBefore.clients),
    keysAdded: memAfter.keys - memBefore.keys,
    note: 'MEMORY USAGE omits the expires entry of the TTL and the dict bucket arrays; the used_memory delta includes them',
  });

  // The same key names, each layout in its own empty database.
  const redisKeys = keys.map((k) => store.redisKey(model, k));
  const withFormat1Extras = (r: StateRecord): StateRecord => ({ ...r, extras: new Float32Array(10) });
  const ringRows = Number(REWARM_STEPS) || 16;
  const dim = 2;
  const ring = { count: ringRows, dim, rows: new Float32Array(ringRows * dim).fill(20.5) };
  const plain: StateRecord = { ...sample, ring: null };
  const cases: LayoutCase[] = [
    {
      name: `format 1 + ${ringRows}-input ring (previous default)`,
      format: 1,
      ttlMs: TTL_MS,
      record: { ...withFormat1Extras(plain), ring },
    },
    { name: 'format 1, no ring', format: 1, ttlMs: TTL_MS, record: withFormat1Extras(plain) },
    { name: 'format 2, no ring (default)', format: 2, ttlMs: TTL_MS, record: plain },
    {
      name: `format 2 + ${ringRows}-input ring (rewarm models)`,
      format: 2,
      ttlMs: TTL_MS,
      record: { ...plain, ring },
    },
    { name: 'format 2, no ring, no TTL', format: 2, ttlMs: 0, record: plain },
    {
      name: 'format 2, no ring, short key names',
      format: 2,
      ttlMs: TTL_MS,
      record: plain,
      // what a deployment's keys look like: sc:{forecaster:pump-0001}:st
      redisKeys: keys.map((_, k) => stateKey('forecaster', `pump-${String(k).padStart(4, '0')}`)),
    },
  ];
  progress('state layout comparison');
  for (const r of await measureLayouts(redisUrl, redisKeys, cases)) {
    emit({
      metric: 'state_layout',
      units: UNITS,
      keys: redisKeys.length,
      ...r,
      withinTarget: r.recordBytes <= target,
      overheadMemoryUsage: r.memoryUsageAvg - r.recordBytes,
      overheadUsedMemory: r.usedMemoryPerKey - r.recordBytes,
    });
  }
}

/** Counts the records of a topic and the span of their timestamps, keeping nothing else. */
async function outputSpan(
  kafka: TestKafka,
  topic: string,
  group: string,
): Promise<{ count: () => number; spanMs: () => number; stop: () => Promise<void> }> {
  const consumer = kafka.kafka.consumer({ groupId: group, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let count = 0;
  let first = Infinity;
  let last = -Infinity;
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) {
        const ts = Number(m.timestamp);
        if (ts < first) first = ts;
        if (ts > last) last = ts;
      }
      count += batch.messages.length;
    },
  });
  await joined;
  return { count: () => count, spanMs: () => last - first, stop: () => consumer.disconnect() };
}

/**
 * Throughput and Redis memory against the number of distinct keys (H = UNITS): for each point a
 * fresh topic is pre-filled, a fresh worker drains it (rate from its first to its last prediction,
 * read from its /metrics), and used_memory is compared before and after.
 */
async function keyCurve(
  stack: BenchStack,
  kafka: TestKafka,
  probe: RedisLike,
  model: string,
  classifier: string,
  s: string,
  workers: WorkerProcess[],
): Promise<void> {
  for (const keys of CURVE_KEYS) {
    const events = curveEvents(keys);
    const t = suiteTopics(`bench-${s}-k${keys}`);
    await kafka.createSuiteTopics(t, { sensor: PARTITIONS, forecasts: 2 });
    progress(`key curve: ${keys} keys, ${events} events`);
    const prefix = `k${keys}-${s}`;
    const base = Date.parse('2026-11-27T00:00:00Z');
    for (let i = 0; i < events; i += 100_000) {
      const msgs: OutMessage[] = [];
      for (let j = i; j < Math.min(events, i + 100_000); j++) {
        const key = `${prefix}-${j % keys}`;
        msgs.push({
          key,
          value: JSON.stringify({ sensorId: key, ts: base + Math.floor(j / keys) * 1000, value: 20 + (j % 97) / 10 }),
          partition: partitionFor(key, PARTITIONS),
        });
      }
      await kafka.produce(t.sensor, msgs, 5000);
    }
    const memBefore = await memoryInfo(probe);
    const worker = new WorkerProcess(
      `bench-${s}-k${keys}-worker`,
      workerEnv(stack, {
        KAFKA_GROUP_ID: `bench-${s}-k${keys}-worker`,
        ...topicEnv(t),
        FORECAST_MODEL: model,
        CLASSIFY_MODEL: classifier,
        REWARM_STEPS,
      }),
    );
    workers.push(worker);
    const span = await outputSpan(kafka, t.forecasts, `bench-${s}-k${keys}-span`);
    worker.start();
    await worker.ready(120_000);
    const load0 = loadavg()[0];
    await waitFor(`the worker to predict ${events} events of ${keys} keys`, () => span.count() >= events, 1_200_000, 250);
    await span.stop();
    await worker.stop('SIGTERM');
    const memAfter = await memoryInfo(probe);
    const seconds = span.spanMs() / 1000;
    emit({
      metric: 'key_curve',
      keys,
      units: UNITS,
      events,
      eventsPerKey: events / keys,
      eventsPerSec: Math.round(events / Math.max(0.001, seconds)),
      drainSeconds: Number(seconds.toFixed(1)),
      usedMemoryPerKey: Math.round((memAfter.used - memBefore.used) / keys),
      loadAvg1m: Number(((load0 + loadavg()[0]) / 2).toFixed(2)),
      note: 'events/s over the span of the predictions\' record timestamps (first to last); used_memory delta over the point divided by its keys',
    });
  }
}

async function main(): Promise<void> {
  const workers: WorkerProcess[] = [];
  engineBench();
  if (process.env.BENCH_ONLY === 'engine') return;

  const stack = await acquireBenchStack();
  // Interrupted (Ctrl-C, timeout): stop the worker and the containers this run started.
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) return;
    interrupted = true;
    progress(`${signal}: stopping what this run started`);
    void (async () => {
      for (const w of workers) await w.dispose();
      await stack.stop();
      process.exit(130);
    })();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const s = uniqueSuffix();
  const t = suiteTopics(`bench-${s}`);
  const passTopic = `bench-${s}.passthrough`;
  const kafka = new TestKafka(stack.brokers, `bench-${s}`);
  let registry: TestRegistry | null = null;
  let probe: RedisLike | null = null;
  const deferred: (() => Promise<Record<string, unknown>>)[] = [];
  try {
    await kafka.connect();
    await kafka.createSuiteTopics(t, { sensor: PARTITIONS, forecasts: 2 }, [{ topic: passTopic, partitions: 2 }]);
    registry = new TestRegistry(stack.redisUrl, kafka.producerClient, t.models);
    const fc: ForecasterDef = {
      task: 'forecast',
      seed: 3,
      units: UNITS,
      features: 1,
      includeTimeDelta: true,
      horizon: 1,
      mean: [20, 1],
      std: [5, 1],
      scale: 0.1,
    };
    const model = `bench-${s}-fc`;
    await registry.seed(model, fc, { policy: POLICY });
    await registry.seed(`bench-${s}-cl`, {
      task: 'classify',
      seed: 4,
      units: 8,
      embedDim: 4,
      words: ['a', 'b'],
    });

    const base = Date.parse('2026-11-27T00:00:00Z');
    if (process.env.BENCH_ONLY === 'tracing' || TRACING_ROUNDS > 0) {
      const plain = benchEvents(`bench-${s}`, EVENTS, 0, (i) => base + i * 10);
      const traced = withTraceparents(plain);
      const bareEvents = withInertHeaders(plain);
      const runTracing = () =>
        tracingCost(stack, kafka, s, { events: traced, bareEvents, partitions: PARTITIONS, model: fc, rounds: Math.max(1, TRACING_ROUNDS), workers, progress });
      if (process.env.BENCH_ONLY === 'tracing') {
        emit({ ...(await runTracing()), loadAvg1m: Number(loadavg()[0].toFixed(2)) });
        return;
      }
      deferred.push(runTracing);
    }
    progress(`producing ${EVENTS} events over ${KEYS} keys into ${PARTITIONS} partitions`);
    await kafka.produce(
      t.sensor,
      benchEvents(`bench-${s}`, EVENTS, 0, (i) => base + i * 10),
      2000,
    );

    if (process.env.BENCH_ONLY === 'shadow') {
      await shadowCost(stack, kafka, registry, fc, `bench-${s}`, t, workers);
      return;
    }

    progress('pass-through run');
    const pass = await passThrough(stack.brokers, t.sensor, passTopic, `bench-${s}-pass`, EVENTS);
    const passRate = (EVENTS / pass.ms) * 1000;

    progress('worker run');
    // used_memory before any state key exists (scripts cached, so the delta is the keys').
    probe = createRedisClient(stack.redisUrl, { connectionName: 'bench-probe' });
    await preloadStateScripts(probe);
    const memBefore = await memoryInfo(probe);
    const collector = await kafka.collect([t.forecasts, t.dlq], `bench-${s}-collector`);
    const worker = new WorkerProcess(
      `bench-${s}-worker`,
      workerEnv(stack, {
        KAFKA_GROUP_ID: `bench-${s}-worker`,
        ...topicEnv(t),
        FORECAST_MODEL: model,
        CLASSIFY_MODEL: `bench-${s}-cl`,
        REWARM_STEPS,
      }),
    );
    workers.push(worker);
    const t0 = performance.now();
    worker.start();
    const readyMs = await worker.ready(120_000);
    const tReady = performance.now();
    let firstAt = 0;
    let lastCount = 0;
    let lastProgress = performance.now();
    await waitFor(
      'a prediction for every event',
      () => {
        const count = collector.distinctSources(t.forecasts);
        if (firstAt === 0 && count > 0) firstAt = performance.now();
        if (count > lastCount) {
          lastCount = count;
          lastProgress = performance.now();
        } else if (performance.now() - lastProgress > 60_000) {
          throw new Error(
            `the worker made no progress for 60 s at ${count}/${EVENTS} predictions; log tail:\n${worker.logs.slice(-1500)}`,
          );
        }
        return count >= EVENTS;
      },
      900_000,
      10,
    );
    const tDone = performance.now();
    const outs = collector.messages(t.forecasts);
    const spanMs = Math.max(...outs.map((m) => m.timestamp)) - Math.min(...outs.map((m) => m.timestamp));
    const workerRate = (EVENTS / (tDone - tReady)) * 1000;
    emit({
      metric: 'throughput',
      events: EVENTS,
      keys: KEYS,
      partitions: PARTITIONS,
      units: UNITS,
      passThroughEventsPerSec: Math.round(passRate),
      passThroughSteadyEventsPerSec: Math.round((EVENTS / Math.max(1, pass.spanMs)) * 1000),
      workerEventsPerSec: Math.round(workerRate),
      workerSteadyEventsPerSec: Math.round((EVENTS / Math.max(1, spanMs)) * 1000),
      ratio: Number((workerRate / passRate).toFixed(3)),
      steadyRatio: Number((((EVENTS / Math.max(1, spanMs)) * 1000) / ((EVENTS / Math.max(1, pass.spanMs)) * 1000)).toFixed(3)),
      target: 0.8,
      workerBootMs: readyMs,
      workerStartToReadyMs: Math.round(tReady - t0),
      dlq: collector.count(t.dlq),
      loadAvg1m: Number(loadavg()[0].toFixed(2)),
    });

    await shadowCost(stack, kafka, registry, fc, `bench-${s}`, t, workers);

    // Latency at fractions of the worker's measured max rate, the worker and the pass-through
    // each alone on the machine in turn (same rates, same producer, same collector).
    const liveIn = `bench-${s}.live-in`;
    const liveOut = `bench-${s}.live-out`;
    await kafka.createTopics([
      { topic: liveIn, partitions: PARTITIONS },
      { topic: liveOut, partitions: 2 },
    ]);
    const live = await startPassThrough(stack.brokers, liveIn, liveOut, `bench-${s}-live`);
    const liveCollector = await kafka.collect([liveOut], `bench-${s}-live-collector`);
    let sentSoFar = EVENTS;
    const timedRun = async (
      topic: string,
      rate: number,
      tickMs: number,
      out: { count: () => number; messages: () => readonly { value: Buffer | null; receivedAt: number; timestamp: number }[] },
    ): Promise<LatencyFigures> => {
      const from = out.count();
      // The bench's own event loop (producer and collector): a stall here shows in both sides' figures.
      const loop = monitorEventLoopDelay({ resolution: 5 });
      loop.enable();
      const sent = await produceAtRate(kafka, topic, `bench-${s}`, sentSoFar, rate, LATENCY_SECONDS, tickMs);
      sentSoFar += sent;
      await waitFor(`${sent} outputs of the ${topic} run`, () => out.count() - from >= sent, 300_000, 20);
      loop.disable();
      return {
        ...latencyFigures(out.messages().slice(from, from + sent), sent),
        benchEventLoopDelayMs: { p99: msOf(loop.percentile(99) / 1e9), max: msOf(loop.max / 1e9) },
      };
    };
    const runs = LATENCY_FRACTIONS.map((fraction) => ({ fraction, tickMs: TICK_MS }));
    if (BURST_TICK_MS > 0 && BURST_TICK_MS !== TICK_MS) runs.push({ fraction: 0.5, tickMs: BURST_TICK_MS });
    for (const { fraction, tickMs } of runs) {
      const rate = Math.max(10, workerRate * fraction);
      progress(
        `latency at ${Math.round(fraction * 100)} % of the worker's max rate: ${Math.round(rate)} events/s in ${tickMs} ms ticks for ${LATENCY_SECONDS} s each`,
      );
      const before = await worker.http('/metrics');
      const load0 = loadavg()[0];
      const w = await timedRun(t.sensor, rate, tickMs, {
        count: () => collector.count(t.forecasts),
        messages: () => collector.messages(t.forecasts),
      });
      const after = await worker.http('/metrics');
      const p = await timedRun(liveIn, rate, tickMs, {
        count: () => liveCollector.count(liveOut),
        messages: () => liveCollector.messages(liveOut),
      });
      emit({
        metric: 'latency',
        fractionOfMaxRate: fraction,
        targetRate: Math.round(rate),
        tickMs,
        worker: w,
        passThrough: p,
        ratioP50: Number((w.p50Ms / Math.max(1, p.p50Ms)).toFixed(2)),
        ratioP99: Number((w.p99Ms / Math.max(1, p.p99Ms)).toFixed(2)),
        loadAvg1m: Number(load0.toFixed(2)),
        note: 'ms from the event ts (send time) to the collector reading the output; the pass-through copies the same events',
      });
      if (fraction === 0.5) {
        const stages = histogramDelta(
          parseHistogram(before.body, 'streamcell_batch_stage_seconds', 'stage'),
          parseHistogram(after.body, 'streamcell_batch_stage_seconds', 'stage'),
        );
        const e2e = histogramDelta(
          parseHistogram(before.body, 'streamcell_event_to_emit_seconds'),
          parseHistogram(after.body, 'streamcell_event_to_emit_seconds'),
        ).get('');
        emit({
          metric: 'stage_breakdown',
          fractionOfMaxRate: fraction,
          targetRate: Math.round(rate),
          tickMs,
          stages: Object.fromEntries(STAGES.map((st) => [st, stages.has(st) ? summarizeMs(stages.get(st)!) : null])),
          eventToEmit: e2e ? summarizeMs(e2e) : null,
          // Over the run: the 'before' scrape reset prom-client's event loop delay histogram.
          eventLoopDelayMs: Object.fromEntries(
            (['p50', 'p99', 'max'] as const).map((q) => [q, msOf(parseGauge(after.body, `streamcell_worker_nodejs_eventloop_lag_${q}_seconds`))]),
          ),
          gc: Object.fromEntries(
            [
              ...histogramDelta(
                parseHistogram(before.body, 'streamcell_worker_nodejs_gc_duration_seconds', 'kind'),
                parseHistogram(after.body, 'streamcell_worker_nodejs_gc_duration_seconds', 'kind'),
              ),
            ].map(([kind, h]) => [kind, { count: h.count, totalMs: Math.round(h.sum * 1000) }]),
          ),
          loadAvg1m: Number(loadavg()[0].toFixed(2)),
          note: 'from the worker\'s own /metrics (streamcell_batch_stage_seconds, streamcell_event_to_emit_seconds, event loop delay and GC) over the 50 % run: per unit of work; p50/p99 are bucket upper bounds',
        });
      }
    }
    await live.stop();

    const exit = await worker.stop('SIGTERM');
    progress(`worker stopped: ${JSON.stringify(exit)}`);
    await stateBytes(probe, stack.redisUrl, model, `bench-${s}`, memBefore);
    await keyCurve(stack, kafka, probe, model, `bench-${s}-cl`, s, workers);
    for (const run of deferred) emit({ ...(await run()), loadAvg1m: Number(loadavg()[0].toFixed(2)) });
  } finally {
    for (const w of workers) await w.dispose();
    await kafka.disconnect();
    await registry?.close();
    await probe?.quit();
    await stack.stop();
  }
}

/**
 * Cost of a shadow version: events/s of two fresh workers over the same pre-filled topic, one
 * serving a forecaster alone, one serving the same forecaster with a second version (same
 * architecture, other weights) in shadow (stepped on every event with its own state, nothing
 * published). Same run, same machine, one after the other; `ratio` = with ÷ without.
 */
async function shadowCost(
  stack: BenchStack,
  kafka: TestKafka,
  registry: TestRegistry,
  fc: ForecasterDef,
  prefix: string,
  t: ReturnType<typeof suiteTopics>,
  workers: WorkerProcess[],
): Promise<void> {
  const rates: number[] = [];
  let shadowEvents = 0;
  for (const withShadow of [false, true]) {
    const tag = withShadow ? 'shadow' : 'alone';
    const model = `${prefix}-fc-${tag}`;
    await registry.seed(model, fc);
    if (withShadow) {
      await registry.seed(model, { ...fc, seed: fc.seed + 100 }, { activate: false });
      await registry.registry.setShadow(model, 2);
    }
    const out = `${prefix}.${tag}-forecasts`;
    await kafka.createTopics([{ topic: out, partitions: 2 }]);
    const collector = await kafka.collect([out], `${prefix}-${tag}-collector`);
    progress(`shadow cost: worker run, ${withShadow ? 'with a shadow version' : 'no shadow'}`);
    const worker = new WorkerProcess(
      `${prefix}-worker-${tag}`,
      workerEnv(stack, {
        KAFKA_GROUP_ID: `${prefix}-worker-${tag}`,
        ...topicEnv(t),
        FORECAST_TOPIC: out,
        FORECAST_MODEL: model,
        CLASSIFY_MODEL: `${prefix}-cl`,
      }),
    );
    workers.push(worker);
    worker.start();
    await worker.ready(120_000);
    const t0 = performance.now();
    await waitFor(`${tag}: a prediction for every event`, () => collector.distinctSources(out) >= EVENTS, 900_000, 10);
    rates.push((EVENTS / (performance.now() - t0)) * 1000);
    if (withShadow) {
      const m = /^streamcell_shadow_events_total\{model="[^"]+"\} (\d+)/m.exec((await worker.http('/metrics')).body);
      shadowEvents = Number(m?.[1] ?? 0);
    }
    await worker.stop('SIGTERM');
  }
  emit({
    metric: 'shadow_cost',
    events: EVENTS,
    keys: KEYS,
    partitions: PARTITIONS,
    units: UNITS,
    withoutShadowEventsPerSec: Math.round(rates[0]),
    withShadowEventsPerSec: Math.round(rates[1]),
    ratio: Number((rates[1] / rates[0]).toFixed(3)),
    shadowEventsStepped: shadowEvents,
    loadAvg1m: Number(loadavg()[0].toFixed(2)),
    note: 'events/s from ready to the last prediction read, one fresh worker each over the same pre-filled topic; ratio = with one shadow version ÷ without',
  });
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`[bench:e2e] failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
