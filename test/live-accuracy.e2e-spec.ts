/**
 * Live accuracy, exactly once (docs/accuracy.md): readings flow through a worker that is
 * SIGKILLed twice mid-stream and an uninterrupted worker of an identical log. The test computes
 * every error itself from the two topics (readings in, forecasts out: horizon step k of the
 * forecast after reading i against the key's reading i + k) and compares with the trainer's
 * `GET /v1/models/{name}/accuracy`, its `/metrics` gauges and the compacted accuracy topic; the
 * crashed side's totals equal the uninterrupted side's bit for bit (no reading counted twice or
 * lost), and the raw accumulator fences stand at each partition's last reading.
 */
import { ACCURACY_QUANTA_PER_UNIT, labelQuanta, readAccuracy, StateStore, type AccuracyPartition, type AccuracyTotals } from '@app/state';
import { seededRandom } from '@app/lstm';
import { sleep, testRedisClient, uniqueSuffix, waitFor } from './support/e2e-env';
import { DUAL_FORECASTER, DualRun } from './support/dual-run';
import { sensorEvents, textEvents, type GeneratedEvent } from './support/event-streams';
import type { Collector } from './support/test-kafka';
import { TrainerProcess, trainerEnv } from './support/trainer-process';

const PARTITIONS = 2;
const KEYS = 60;
const PER_KEY = 30;
const H = DUAL_FORECASTER.horizon;

interface Expected {
  events: number;
  errors: number;
  mae: number;
  rmse: number;
  bias: number;
  /** The same over errors rounded to the documented quantum (what the accumulator sums exactly). */
  quantized: { mae: number; rmse: number; bias: number };
}

/** Errors from the topics: the readings as produced and the forecasts the worker emitted. */
function expectedAccuracy(events: readonly GeneratedEvent[], topic: string, forecasts: readonly Record<string, unknown>[]): Expected {
  const bySource = new Map<string, number[]>();
  for (const f of forecasts) {
    const s = f.source as { topic: string; partition: number; offset: string };
    if (s.topic === topic) bySource.set(`${s.partition}/${s.offset}`, f.forecast as number[]);
  }
  const next = new Map<number, bigint>();
  const perKey = new Map<string, { value: number; forecast: number[] }[]>();
  for (const e of events) {
    const o = next.get(e.partition) ?? 0n;
    next.set(e.partition, o + 1n);
    const forecast = bySource.get(`${e.partition}/${o}`);
    if (!forecast) throw new Error(`no forecast for ${topic}/${e.partition}/${o}`);
    let list = perKey.get(e.key);
    if (!list) perKey.set(e.key, (list = []));
    list.push({ value: e.body.value as number, forecast });
  }
  let errors = 0;
  let scored = 0;
  let sa = 0;
  let ss = 0;
  let se = 0;
  let qa = 0n;
  let qs = 0n;
  let qe = 0n;
  for (const list of perKey.values()) {
    list.forEach((r, i) => {
      let any = false;
      for (let k = 1; k <= H && i - k >= 0; k++) {
        const err = r.value - list[i - k].forecast[k - 1];
        errors++;
        any = true;
        sa += Math.abs(err);
        ss += err * err;
        se += err;
        const q = BigInt(Math.round(err * ACCURACY_QUANTA_PER_UNIT));
        qe += q;
        qa += q < 0n ? -q : q;
        qs += BigInt(Math.round(err * err * ACCURACY_QUANTA_PER_UNIT));
      }
      if (any) scored++;
    });
  }
  const u = (q: bigint) => Number(q) / ACCURACY_QUANTA_PER_UNIT;
  return {
    events: scored,
    errors,
    mae: sa / errors,
    rmse: Math.sqrt(ss / errors),
    bias: se / errors,
    quantized: { mae: u(qa) / errors, rmse: Math.sqrt(u(qs) / errors), bias: u(qe) / errors },
  };
}

function expectMatches(got: { events: number; errors: number; mae: number | null; rmse: number | null; bias: number | null }, want: Expected): void {
  expect(got.events).toBe(want.events);
  expect(got.errors).toBe(want.errors);
  // Exact against the documented rounding; within its bound (5e-10) of plain float64.
  expect({ mae: got.mae, rmse: got.rmse, bias: got.bias }).toEqual(want.quantized);
  expect(Math.abs(got.mae! - want.mae)).toBeLessThan(1e-9);
  expect(Math.abs(got.bias! - want.bias)).toBeLessThan(1e-9);
  expect(Math.abs(got.rmse! - want.rmse)).toBeLessThan(1e-6);
}

/** The value of a trainer gauge of version 1 of `model` in a /metrics text; null when absent. */
function gaugeOf(text: string, name: string, model: string): number | null {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{model="${model}",version="1"}`));
  return line ? Number(line.split(' ').pop()) : null;
}

/** Waits until the trainer's gauge `name` of `model` shows `want`; returns the /metrics text. */
async function gaugesShow(trainer: TrainerProcess, name: string, model: string, want: number): Promise<string> {
  let metrics = '';
  await waitFor(
    `the trainer gauge ${name} to show ${want}`,
    async () => {
      metrics = await (await fetch(`${trainer.base}/metrics`)).text();
      return gaugeOf(metrics, name, model) === want;
    },
    30_000,
    250,
  );
  return metrics;
}

describe('live accuracy: exactly once across SIGKILLs', () => {
  const run = new DualRun('acc', PARTITIONS);
  const seed = Number.parseInt(process.env.FAULT_SEED ?? String(Date.now() % 1e9), 10);
  const rnd = seededRandom(seed);
  const token = `token-${uniqueSuffix()}-accuracy`;
  const accuracyTopic = `acc-${run.s}.accuracy`;
  let trainer: TrainerProcess | undefined;
  let topicCollector: Collector;

  beforeAll(async () => {
    await run.setUp();
    trainer = await TrainerProcess.launch(`acc-${run.s}-trainer`, trainerEnv(run.stack, token, run.models, {
      ACCURACY_TOPIC: accuracyTopic,
      ACCURACY_PUBLISH_MS: '500',
      TRAINER_INSTANCE_ID: `acc-${run.s}`,
    }));
    // The trainer created the topic, compacted, at boot.
    topicCollector = await run.kafka.collect([accuracyTopic], `acc-${run.s}-topic`);
  });

  afterAll(async () => {
    await trainer?.stop();
    await run.tearDown();
  });

  it('equals the errors computed from the topics, and the uninterrupted run, after 2 SIGKILLs', async () => {
    const sensors = sensorEvents(`acc-sensor-${run.s}`, KEYS, PER_KEY, PARTITIONS, seed);
    // A few text events keep both input topics of the dual run busy (its drain waits on both).
    const texts = textEvents(`acc-text-${run.s}`, 8, 5, PARTITIONS, seed + 1);
    await run.produceReference(sensors, texts);
    const ref = run.worker('ref', true).start();
    const victim = run.worker('victim', false).start();
    await Promise.all([ref.ready(), victim.ready()]);

    const total = sensors.length;
    let fed = 0;
    const feedTo = (fraction: number) => {
      const from = fed;
      fed = fraction;
      const cut = <T>(a: readonly T[]) => a.slice(Math.floor(from * a.length), Math.floor(fraction * a.length));
      return run.feed(cut(sensors), cut(texts), 6, 100);
    };
    const kills: number[] = [];
    for (const point of [0.3, 0.65].map((f) => Math.floor((f + 0.1 * rnd()) * total))) {
      const feeding = feedTo(Math.min(1, point / total + 0.08));
      const floor = Math.max(point, (kills[kills.length - 1] ?? 0) + 1);
      await waitFor(`${floor} predictions`, () => run.predicted() >= floor || !victim.running, 120_000, 10);
      expect(victim.running).toBe(true);
      await sleep(Math.floor(rnd() * 100));
      kills.push(run.predicted());
      expect((await victim.stop('SIGKILL')).signal).toBe('SIGKILL');
      await feeding;
      victim.start();
      await victim.ready();
    }
    await feedTo(1);
    await run.drain();
    await run.verify(sensors, texts);
    for (const k of kills) expect(k).toBeLessThan(total);

    const forecasts = (topic: string) => run.collector.json(topic);
    const want = expectedAccuracy(sensors, run.side.sensor, forecasts(run.side.forecasts));
    const wantRef = expectedAccuracy(sensors, run.ref.sensor, forecasts(run.ref.forecasts));
    expect(want.events).toBe(KEYS * (PER_KEY - 1));
    expect(want.errors).toBe(KEYS * (H * (PER_KEY - H) + (H * (H - 1)) / 2));

    // The accumulators: the crashed side equals the uninterrupted one, fences at each partition's end.
    const redis = testRedisClient(run.stack);
    let victimTotals: AccuracyTotals | null;
    let refTotals: AccuracyTotals | null;
    try {
      victimTotals = await readAccuracy(redis, run.model.fc, 1);
      refTotals = await readAccuracy(redis, run.model.refFc, 1);
    } finally {
      redis.disconnect();
    }
    const ends = await run.kafka.endOffsets(run.side.sensor);
    expect(victimTotals!.fences).toEqual(
      Object.fromEntries([...ends].map(([p, end]) => [`${run.side.sensor}:${p}`, String(end - 1n)])),
    );
    const { fences: _v, ...victimSums } = victimTotals!;
    const { fences: _r, ...refSums } = refTotals!;
    expect(victimSums).toEqual(refSums);
    expectMatches(victimSums, want);
    expectMatches(refSums, wantRef);

    // The trainer: API, gauges, topic.
    const auth = { authorization: `Bearer ${token}` };
    expect((await fetch(`${trainer!.base}/v1/models/${run.model.fc}/accuracy`)).status).toBe(401);
    expect((await fetch(`${trainer!.base}/v1/models/no-such-model-${run.s}/accuracy`, { headers: auth })).status).toBe(404);
    const api = (await (await fetch(`${trainer!.base}/v1/models/${run.model.fc}/accuracy`, { headers: auth })).json()) as {
      model: string;
      activeVersion: number;
      versions: { version: number; events: number; errors: number; mae: number; rmse: number; bias: number }[];
    };
    expect(api.model).toBe(run.model.fc);
    expect(api.versions).toHaveLength(1);
    expectMatches(api.versions[0], want);

    const metrics = await gaugesShow(trainer!, 'streamcell_live_events', run.model.fc, want.events);
    const gauge = gaugeOf;
    expect(gauge(metrics, 'streamcell_live_mae', run.model.fc)).toBeCloseTo(want.mae, 9);
    expect(gauge(metrics, 'streamcell_live_rmse', run.model.fc)).toBeCloseTo(want.rmse, 6);
    expect(gauge(metrics, 'streamcell_live_bias', run.model.fc)).toBeCloseTo(want.bias, 9);

    const key = `${run.model.fc}@1`;
    const latest = () => {
      const mine = topicCollector.messages(accuracyTopic).filter((m) => m.key?.toString() === key);
      return mine.length > 0 ? (JSON.parse(mine[mine.length - 1].value!.toString()) as { events: number; errors: number; mae: number; rmse: number; bias: number }) : null;
    };
    await waitFor('the accuracy topic to carry the final totals', () => latest()?.events === want.events, 30_000, 250);
    expectMatches(latest()!, want);
    console.log(JSON.stringify({ suite: 'live-accuracy', seed, kills, events: want.events, errors: want.errors, mae: want.mae, rmse: want.rmse, bias: want.bias }));

    expect((await victim.stop('SIGTERM')).code).toBe(0);
    expect((await ref.stop('SIGTERM')).code).toBe(0);
  });

  it('classifier labels: the route, gauges and topic give log loss, accuracy at 0.5 and Brier, counted once', async () => {
    // Each key's latest classification (what the worker keeps in the key's extras) gets a label;
    // the labels are added to the classifier version's accumulator as the worker adds a unit's
    // (kind 'label', at the classification's offset), then once more (a replay).
    const latest = new Map<string, { p: number; partition: number; offset: bigint }>();
    for (const c of run.collector.json<{ streamId: string; scores: Record<string, number>; source: { partition: number; offset: string } }>(run.side.classes)) {
      const offset = BigInt(c.source.offset);
      const prev = latest.get(c.streamId);
      if (!prev || prev.offset < offset) latest.set(c.streamId, { p: Object.values(c.scores)[1], partition: c.source.partition, offset });
    }
    expect(latest.size).toBe(8);
    const labelled = [...latest.values()].map((c, i) => {
      const y: 0 | 1 = i % 3 === 0 ? 0 : 1;
      return { ...c, y };
    });
    const parts = new Map<number, AccuracyPartition>();
    for (const l of labelled) {
      const q = labelQuanta(l.p, l.y);
      const part = parts.get(l.partition) ?? { topic: run.side.text, partition: l.partition, readings: [] };
      (part.readings as unknown[]).push({ offset: l.offset, n: 1, sumErr: q.logLoss, sumAbs: q.correct, sumSq: q.brier });
      parts.set(l.partition, part);
    }
    const redis = testRedisClient(run.stack);
    try {
      const store = new StateStore(redis);
      for (let i = 0; i < 2; i++) await store.writeMany(run.model.cl, [], [{ version: '1', kind: 'label', partitions: [...parts.values()] }]);
    } finally {
      redis.disconnect();
    }
    const mean = (f: (l: (typeof labelled)[number]) => number) => labelled.reduce((a, l) => a + f(l), 0) / labelled.length;
    const want = {
      labels: labelled.length,
      logLoss: mean((l) => -Math.log(Math.max(1e-15, l.y === 1 ? l.p : 1 - l.p))),
      labelAccuracy: mean((l) => ((l.p >= 0.5) === (l.y === 1) ? 1 : 0)),
      brier: mean((l) => (l.p - l.y) ** 2),
    };
    const check = (got: { labels: number; logLoss: number; labelAccuracy: number; brier: number }) => {
      expect(got.labels).toBe(want.labels);
      expect(got.labelAccuracy).toBe(want.labelAccuracy);
      expect(Math.abs(got.logLoss - want.logLoss)).toBeLessThan(1e-9);
      expect(Math.abs(got.brier - want.brier)).toBeLessThan(1e-9);
    };
    const auth = { authorization: `Bearer ${token}` };
    const api = (await (await fetch(`${trainer!.base}/v1/models/${run.model.cl}/accuracy`, { headers: auth })).json()) as {
      versions: { version: number; events: number; mae: number | null; labels: number; logLoss: number; labelAccuracy: number; brier: number }[];
    };
    expect(api.versions).toHaveLength(1);
    expect(api.versions[0]).toMatchObject({ version: 1, events: 0, mae: null });
    check(api.versions[0]);

    const metrics = await gaugesShow(trainer!, 'streamcell_live_labels', run.model.cl, want.labels);
    const gauge = (text: string, name: string) => gaugeOf(text, name, run.model.cl);
    expect(gauge(metrics, 'streamcell_live_label_accuracy')).toBeCloseTo(want.labelAccuracy, 12);
    expect(gauge(metrics, 'streamcell_live_log_loss')).toBeCloseTo(want.logLoss, 8);
    expect(gauge(metrics, 'streamcell_live_brier')).toBeCloseTo(want.brier, 8);
    expect(gauge(metrics, 'streamcell_live_events')).toBeNull();

    const key = `${run.model.cl}@1`;
    const record = () => {
      const mine = topicCollector.messages(accuracyTopic).filter((m) => m.key?.toString() === key);
      return mine.length > 0 ? (JSON.parse(mine[mine.length - 1].value!.toString()) as Parameters<typeof check>[0]) : null;
    };
    await waitFor('the accuracy topic to carry the labels', () => record()?.labels === want.labels, 30_000, 250);
    check(record()!);
    console.log(JSON.stringify({ suite: 'live-accuracy', labels: want }));
  });
});
