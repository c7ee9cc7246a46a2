/**
 * The closed loop end to end (docs/closed-loop.md), with no operator action after the policy is
 * set: a forecaster trained by the trainer on one regime serves a stream; the generator changes
 * regime; the live error of the active version rises past the policy's threshold; the trainer's
 * control loop starts a retrain on the recent history by itself, puts its version in shadow, judges
 * it on live events and promotes it warm. Real Kafka, Redis, trainer and worker processes; once the
 * shadow exists the worker is SIGKILLed while a burst of readings is in flight, and a successor of
 * the same group and environment takes over.
 *
 * Checked against outside references: the action log shows each step with its reason and numbers;
 * the drift's holdout error is the registry's recorded metric of v1; every version's live totals
 * (which the loop acted on) equal the errors computed here from the topics — the readings in, the
 * served forecasts and the shadow's forecasts (SHADOW_TOPIC) out; the verdict's numbers are within
 * those totals; forecasts of readings produced after the promotion all come from v2, which took
 * over the keys warm. The topics' records are deduplicated by their source (the successor replays
 * what the killed worker emitted but had not committed) and every duplicate is byte-identical.
 */
import { readAccuracy } from '@app/state';
import { allOffsets, checkCoverage } from './support/prediction-checks';
import { e2eStack, sleep, testRedisClient, uniqueName, uniqueSuffix, waitFor } from './support/e2e-env';
import { TestKafka, type Collector } from './support/test-kafka';
import { TrainerProcess, trainerEnv } from './support/trainer-process';
import { suiteTopics, topicEnv, WorkerProcess, workerEnv } from './support/worker-process';

const KEYS = 3;
const PARTITIONS = 2;
/** The first regime's level and the second's: the version trained on the first is far off on the second. */
const LEVEL_A = 20;
const LEVEL_B = 60;
const HISTORY_MS = 12_000;

interface Action {
  action: string;
  by: string;
  reason: string;
  version?: number;
  jobId?: string;
  evidence?: Record<string, number | string | null>;
}
interface Forecast {
  sensorId: string;
  modelVersion: string;
  forecast: number[];
  source: { topic: string; partition: number; offset: string };
}

describe('closed loop: drift → retrain → shadow → warm promotion, by itself', () => {
  const stack = e2eStack();
  const s = uniqueSuffix();
  const t = suiteTopics(`cl-${s}`);
  const shadowTopic = `cl-${s}.shadow`;
  const model = `cl-pump-${s}`;
  const token = `closed-loop-e2e-${s}-0123456789`;
  const kafka = new TestKafka(stack.brokers, `cl-${s}`);
  const redis = testRedisClient(stack);
  let trainer: TrainerProcess;
  let worker: WorkerProcess;
  let collector: Collector;
  /** Every reading produced, in order, with its partition. */
  const produced: { key: string; value: number; partition: number }[] = [];
  let step = 0;

  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${trainer.base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json().catch(() => null)) as Record<string, unknown> };
  };
  const actions = async (): Promise<Action[]> => ((await api('GET', `/v1/models/${model}/actions?limit=100`)).body.actions as Action[]).reverse();

  /** `partition/offset` of every reading produced, in order (the suite is the topic's only producer). */
  function offsetIds(): string[] {
    const offsets = new Map<number, bigint>();
    return produced.map((r) => {
      const o = offsets.get(r.partition) ?? 0n;
      offsets.set(r.partition, o + 1n);
      return `${r.partition}/${o}`;
    });
  }

  /** `n` readings per sensor around `level`, continuing the series (one minute apart in event time). */
  async function produce(n: number, level: number): Promise<void> {
    const out: { key: string; value: string; partition: number }[] = [];
    for (let i = 0; i < n; i++, step++) {
      for (let k = 0; k < KEYS; k++) {
        const key = `cl-${k}-${s}`;
        const value = Math.round((level + 4 * Math.sin(step / 5 + k)) * 1000) / 1000;
        const partition = k % PARTITIONS;
        produced.push({ key, value, partition });
        out.push({ key, value: JSON.stringify({ sensorId: key, ts: Date.UTC(2026, 0, 1) + step * 60_000, value }), partition });
      }
    }
    await kafka.produce(t.sensor, out);
  }

  beforeAll(async () => {
    await kafka.connect();
    await kafka.createSuiteTopics(t, { sensor: PARTITIONS, forecasts: 2 }, [{ topic: shadowTopic, partitions: 1 }]);
    collector = await kafka.collect([t.forecasts, shadowTopic, t.dlq], `cl-collector-${s}`);
    trainer = await TrainerProcess.launch(uniqueName('cl-trainer'), trainerEnv(stack, token, t.models, {
      TRAINER_INSTANCE_ID: `cl-${s}`,
      TRAINER_SOURCE_TOPICS: t.sensor,
      POLICY_LOOP_MS: '300',
    }));
  });

  afterAll(async () => {
    await worker?.dispose();
    await trainer?.stop();
    await kafka.disconnect();
    redis.disconnect();
  }, 60_000);

  it('retrains on drift, judges the result in shadow and promotes it warm, logging why', async () => {
    // v1: trained by the trainer on the first regime, active.
    await produce(80, LEVEL_A);
    const train = await api('POST', `/v1/models/${model}/retrain`, {
      task: 'forecast',
      source: { kind: 'kafka', topic: t.sensor },
      hiddenUnits: 8,
      epochs: 2,
      window: 8,
      seed: 3,
      activate: 'always',
    });
    expect(train.status).toBe(202);
    await waitFor('v1 active', async () => ((await api('GET', `/v1/models/${model}`)).body?.active as { version?: number } | null)?.version === 1, 180_000, 200);
    const v1 = ((await api('GET', `/v1/models/${model}`)).body.versions as { version: number; metrics: Record<string, number> }[])[0];

    worker = new WorkerProcess(
      `closed-loop-${s}`,
      workerEnv(stack, { KAFKA_GROUP_ID: `cl-${s}`, ...topicEnv(t), FORECAST_MODEL: model, CLASSIFY_MODEL: `cl-none-${s}`, SHADOW_TOPIC: shadowTopic }),
    ).start();
    await worker.ready();

    // The policy, paused while the second regime fills the retrain's history window.
    const policy = {
      autoPromote: { margin: 0.2, minEvents: 60, warmupEvents: 30 },
      drift: {
        threshold: 3,
        windowEvents: 45,
        minEvents: 30,
        consecutiveWindows: 2,
        cooldownMs: 600_000,
        retrain: { historyMs: HISTORY_MS, hiddenUnits: 8, epochs: 3, window: 8, seed: 5 },
      },
      by: 'e2e',
      reason: 'closed-loop suite',
    };
    expect((await api('PUT', `/v1/models/${model}/policy`, policy)).status).toBe(200);
    expect((await api('POST', `/v1/models/${model}/policy/pause`, { by: 'e2e' })).status).toBe(200);
    await waitFor('the first regime scored', async () => ((await readAccuracy(redis, model, 1))?.errors ?? 0) >= 150, 120_000, 200);

    // The second regime: longer than the history window before the loop may act, so the
    // retrain reads only the new regime; then the stream keeps flowing until v2 serves.
    const regimeB = Date.now();
    while (Date.now() - regimeB < HISTORY_MS + 2000) {
      await produce(2, LEVEL_B);
      await sleep(250);
    }
    expect((await api('POST', `/v1/models/${model}/policy/resume`, { by: 'e2e' })).status).toBe(200);
    let promoted = false;
    const feeding = (async () => {
      const until = Date.now() + 420_000;
      while (!promoted && Date.now() < until) {
        await produce(1, LEVEL_B);
        await sleep(200);
      }
    })();
    const settled = (log: Action[]) => log.some((a) => a.action === 'promoted' || a.action === 'rejected' || a.action === 'retrain_failed');
    let kill: { burst: number; forecastBeforeKill: number; settledBeforeKill: boolean } | undefined;
    try {
      // Once v2 is in shadow: a burst of readings in several sends, and a SIGKILL once a third of
      // them is forecast (units of the rest in flight); a successor of the same group and env takes over.
      await waitFor('the shadow', async () => (await actions()).some((a) => a.action === 'shadowed' || a.action === 'retrain_failed'), 400_000, 200);
      const burstFrom = produced.length;
      for (let i = 0; i < 10; i++) await produce(2, LEVEL_B);
      const burstIds = new Set(offsetIds().slice(burstFrom));
      const forecastOfBurst = () => collector.json<Forecast>(t.forecasts).filter((f) => burstIds.has(`${f.source.partition}/${f.source.offset}`)).length;
      await waitFor('a third of the burst forecast', () => collector.distinctSources(t.forecasts) >= burstFrom + burstIds.size / 3 || !worker.running, 120_000, 1);
      kill = { burst: burstIds.size, forecastBeforeKill: forecastOfBurst(), settledBeforeKill: settled(await actions()) };
      expect((await worker.stop('SIGKILL')).signal).toBe('SIGKILL');
      worker.start();
      await worker.ready();
      await waitFor('the loop to promote', async () => settled(await actions()), 400_000, 500);
    } finally {
      promoted = true;
      await feeding;
    }

    // The log: policy set, paused, resumed, then the loop's own steps, each with its reason.
    const log = await actions();
    expect(log.map((a) => a.action)).toEqual(['policy_set', 'paused', 'resumed', 'retrain_started', 'shadowed', 'promoted']);
    const [, , , started, shadowed, promotion] = log;
    for (const a of [started, shadowed, promotion]) expect(a.by).toBe(`policy:cl-${s}`);
    expect(started.reason).toMatch(/^drift: live mae .* is .*× the holdout mae .* of v1 \(threshold 3, 2 windows in a row\)$/);
    const ev = started.evidence!;
    expect(ev.holdoutError).toBe(v1.metrics.mae);
    expect(ev.ratio).toBeCloseTo((ev.liveError as number) / v1.metrics.mae, 9);
    expect(ev.ratio as number).toBeGreaterThan(3);
    expect(ev.windowEvents as number).toBeGreaterThanOrEqual(30);
    expect(shadowed).toMatchObject({ version: 2, jobId: started.jobId });
    const job = (await api('GET', `/v1/jobs/${started.jobId}`)).body as { status: string; activate: string; source: { fromTime: string; toTime: string } };
    expect(job).toMatchObject({ status: 'succeeded', activate: 'never' });
    expect(Number(job.source.toTime) - Number(job.source.fromTime)).toBe(HISTORY_MS);
    expect(Number(job.source.fromTime)).toBeGreaterThanOrEqual(regimeB);
    expect(promotion.version).toBe(2);
    expect(promotion.reason).toMatch(/^shadow v2 mae [\d.]+ over \d+ events vs active v1 [\d.]+ over \d+ \(below [\d.]+, margin 0.2\)$/);
    const pe = promotion.evidence!;
    expect(pe.shadowError as number).toBeLessThan((pe.activeError as number) * 0.8);
    expect(Math.min(pe.shadowEvents as number, pe.activeEvents as number)).toBeGreaterThanOrEqual(60);
    expect((await api('GET', `/v1/models/${model}`)).body).toMatchObject({ active: { version: 2, policy: 'warm' }, shadow: null });

    // Readings after the promotion: served by v2, every key handed over warm.
    await waitFor('the worker to serve v2', () => worker.logLines('model version active').some((l) => l.version === 2), 60_000);
    const before = produced.length;
    await produce(5, LEVEL_B);
    await waitFor('forecasts of every reading', () => collector.distinctSources(t.forecasts) >= produced.length, 120_000, 100);
    const forecasts = collector.json<Forecast>(t.forecasts);
    const shadowForecasts = collector.json<Forecast>(shadowTopic);
    const idOf = offsetIds();
    // Each reading forecast at least once; what the successor replayed is byte-identical.
    expect(allOffsets(await kafka.endOffsets(t.sensor))).toEqual(new Set(idOf));
    const served = checkCoverage(collector.messages(t.forecasts), t.sensor, new Set(idOf));
    expect({ missing: served.missing, unexpected: served.unexpected, differing: served.differingDuplicates }).toEqual({ missing: [], unexpected: [], differing: [] });
    const inShadow = checkCoverage(collector.messages(shadowTopic), t.sensor, new Set(idOf));
    expect({ unexpected: inShadow.unexpected, differing: inShadow.differingDuplicates }).toEqual({ unexpected: [], differing: [] });
    const servedBy = new Map(forecasts.map((f) => [`${f.source.partition}/${f.source.offset}`, f]));
    expect(idOf.slice(before).map((id) => servedBy.get(id)?.modelVersion)).toEqual(new Array(produced.length - before).fill('2'));
    expect((await worker.http('/metrics')).body).toMatch(new RegExp(`streamcell_swap_policy_total\\{policy="warm"\\} ${KEYS}\\b`));
    expect(collector.count(t.dlq)).toBe(0);

    // Every version's live totals, computed from the topics: a reading a version processed (served
    // or in shadow) scores that version's forecast of the key's previous reading (horizon 1).
    const shadowBy = new Map(shadowForecasts.map((f) => [`${f.source.partition}/${f.source.offset}`, f]));
    const expected = new Map<string, { errors: number; sumAbs: number; sumSq: number }>();
    const lastOf = new Map<string, Map<string, number>>(); // version → key → forecast of the key's last reading
    produced.forEach((r, i) => {
      for (const f of [servedBy.get(idOf[i]), shadowBy.get(idOf[i])]) {
        if (!f) continue;
        const last = lastOf.get(f.modelVersion) ?? new Map<string, number>();
        lastOf.set(f.modelVersion, last);
        const prev = last.get(r.key);
        if (prev !== undefined) {
          const e = expected.get(f.modelVersion) ?? { errors: 0, sumAbs: 0, sumSq: 0 };
          const err = r.value - prev;
          expected.set(f.modelVersion, { errors: e.errors + 1, sumAbs: e.sumAbs + Math.abs(err), sumSq: e.sumSq + err * err });
        }
        last.set(r.key, f.forecast[0]);
      }
    });
    // v1's last forecasts before the promotion are never scored (the keys went on with v2's records).
    for (const version of ['1', '2']) {
      const live = (await readAccuracy(redis, model, version))!;
      const want = expected.get(version)!;
      expect(live.errors).toBe(want.errors);
      expect(live.sumAbs).toBeCloseTo(want.sumAbs, 4);
      expect(live.sumSq).toBeCloseTo(want.sumSq, 3);
    }
    console.log(
      JSON.stringify({
        suite: 'closed-loop',
        log: log.map((a) => `${a.action} (${a.by}): ${a.reason}`),
        kill,
        replayed: { forecasts: served.predictions - served.covered, shadow: inShadow.predictions - inShadow.covered },
        live: Object.fromEntries([...expected].map(([v, e]) => [`v${v}`, { errors: e.errors, mae: e.sumAbs / e.errors }])),
      }),
    );
    // The verdict was taken on spans within those totals.
    expect(pe.shadowEvents as number).toBeLessThanOrEqual(expected.get('2')!.errors);
    expect(pe.activeEvents as number).toBeLessThanOrEqual(expected.get('1')!.errors);
  });
});
