/**
 * Backtest end to end: two versions of a seeded forecaster, a real worker on the run's Kafka and
 * Redis, the trainer's `POST /v1/models/{name}/versions/{v}/backtest` job. The outside reference
 * is what the running worker published: with v1 active, keys A fed a known series (fresh keys:
 * from the initial state); with v2 active, fresh keys B fed the same readings. The backtest of
 * v1 over A's offsets replays v1 and the active v2 from the initial state: its forecasts must
 * equal, number for number, what the worker published for A (v1) and for B (v2), and its error
 * statistics must equal those computed here from those published forecasts and the readings
 * (docs/backtest.md: step k of the forecast after reading j targets reading j + k).
 */
import { e2eStack, uniqueName } from './support/e2e-env';
import { DUAL_FORECASTER } from './support/dual-run';
import { TestRegistry } from './support/model-fixtures';
import { TestKafka, type Collector } from './support/test-kafka';
import { TrainerProcess, trainerEnv } from './support/trainer-process';
import { suiteTopics, topicEnv, WorkerProcess, workerEnv } from './support/worker-process';

const BASE_TS = 1_795_200_000_000;
const N = 9;
const HORIZON = DUAL_FORECASTER.horizon;

interface Forecast {
  sensorId: string;
  modelVersion: string;
  forecast: number[];
  source: { partition: number; offset: string };
}
interface Stats {
  n: number;
  mae: number | null;
  rmse: number | null;
  bias: number | null;
}

const valueAt = (k: number, i: number) => 20 + 3 * Math.sin(i * 0.9 + k) + (i % 3) * 0.5;
const tsAt = (i: number) => BASE_TS + i * 1000 + (i % 2) * 300;

describe('backtest: a replay of history through two versions matches what the worker published', () => {
  const stack = e2eStack();
  const suffix = uniqueName('bt');
  const topics = suiteTopics(suffix);
  const modelName = `forecaster-${suffix}`;
  const token = `token-${suffix}`;
  const kafka = new TestKafka(stack.brokers, suffix);
  let registry: TestRegistry;
  let collector: Collector;
  let worker: WorkerProcess | null = null;
  let trainer: TrainerProcess | null = null;

  const api = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
    const res = await fetch(`${trainer!.base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const published = (key: string) =>
    collector
      .json<Forecast>(topics.forecasts)
      .filter((f) => f.sensorId === key)
      .sort((a, b) => Number(BigInt(a.source.offset) - BigInt(b.source.offset)));
  const series = (key: string, k: number) => Array.from({ length: N }, (_, i) => ({ key, value: JSON.stringify({ sensorId: key, ts: tsAt(i), value: valueAt(k, i) }) }));

  beforeAll(async () => {
    await kafka.connect();
    await kafka.createSuiteTopics(topics, { sensor: 2, forecasts: 2 });
    registry = new TestRegistry(stack.redisUrl, kafka.producerClient, topics.models);
    await registry.seed(modelName, DUAL_FORECASTER, { window: 10 });
    await registry.seed(modelName, { ...DUAL_FORECASTER, seed: 12 }, { window: 10, activate: false });
    collector = await kafka.collect([topics.forecasts, topics.dlq]);
    [worker, trainer] = await Promise.all([
      WorkerProcess.launch('backtest', workerEnv(stack, { KAFKA_GROUP_ID: `${suffix}-workers`, ...topicEnv(topics), FORECAST_MODEL: modelName, CLASSIFY_MODEL: `classifier-${suffix}` })),
      TrainerProcess.launch(uniqueName('backtest-trainer'), trainerEnv(stack, token, topics.models, {
        SENSOR_TOPIC: topics.sensor,
        TRAINER_INSTANCE_ID: uniqueName('backtest'),
      })),
    ]);
  });

  afterAll(async () => {
    if (worker && !worker.exit) await worker.stop('SIGKILL');
    await trainer?.stop();
    await kafka.disconnect();
    await registry?.close();
  });

  it('replays v1 and the active v2 from the initial state; statistics and series match', async () => {
    const keysA = ['a-1', 'a-2'];
    const keysB = ['b-1', 'b-2'];
    const from = await kafka.endOffsets(topics.sensor);
    await kafka.produce(topics.sensor, keysA.flatMap((k, j) => series(k, j)));
    await collector.waitFor(topics.forecasts, keysA.length * N, 60_000);
    const to = await kafka.endOffsets(topics.sensor);

    // v2 becomes active; probe until the worker serves it, then the B keys get the same readings.
    await registry.registry.activate(modelName, 2, 'reset');
    for (let i = 0; !published('probe').some((f) => f.modelVersion === '2'); i++) {
      if (i > 200) throw new Error('the worker did not serve v2');
      await kafka.produce(topics.sensor, [{ key: 'probe', value: JSON.stringify({ sensorId: 'probe', ts: BASE_TS + i * 1000, value: 20 }) }]);
      await new Promise((r) => setTimeout(r, 250));
    }
    const before = collector.count(topics.forecasts);
    await kafka.produce(topics.sensor, keysB.flatMap((k, j) => series(k, j)));
    await collector.waitFor(topics.forecasts, before + keysB.length * N, 60_000);
    expect(collector.messages(topics.dlq)).toEqual([]);

    const offsets = (m: Map<number, bigint>) => Object.fromEntries([...m].map(([p, o]) => [String(p), String(o)]));
    const start = await api('POST', `/v1/models/${modelName}/versions/1/backtest`, {
      fromOffsets: offsets(from),
      toOffsets: offsets(to),
      keys: keysA,
      maxPoints: 6,
    });
    expect(start.status).toBe(202);
    expect(start.body.versions).toEqual([1, 2]);
    let job: Record<string, unknown> = {};
    for (let i = 0; i < 240; i++) {
      job = (await api('GET', `/v1/jobs/${start.body.jobId as string}`)).body;
      if (job.status !== 'running') break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(job.error).toBeNull();
    expect(job.status).toBe('succeeded');
    expect(job.kind).toBe('backtest');
    const result = job.result as {
      versions: { version: number; events: number; applied: number; overall: Stats; perStep: (Stats & { step: number })[]; deadLetters: Record<string, number> }[];
      series: { key: string; totalPoints: number; truncated: boolean; points: { offset: string; actual: number[]; forecasts: Record<string, number[] | null> }[] }[];
    };

    // Reference forecasts: v1 = what the worker published for A, v2 = for B (same readings).
    const reference = new Map<number, number[][][]>([
      [1, keysA.map((k) => published(k).map((f) => f.forecast))],
      [2, keysB.map((k) => published(k).map((f) => f.forecast))],
    ]);
    for (const [v, perKey] of reference) {
      const steps = Array.from({ length: HORIZON }, () => ({ n: 0, err: 0, abs: 0, sq: 0 }));
      perKey.forEach((forecasts, j) => {
        expect(forecasts).toHaveLength(N);
        for (let i = 0; i < N; i++) {
          for (let k = 1; k <= HORIZON && i + k < N; k++) {
            const e = valueAt(j, i + k) - forecasts[i][k - 1];
            Object.assign(steps[k - 1], { n: steps[k - 1].n + 1, err: steps[k - 1].err + e, abs: steps[k - 1].abs + Math.abs(e), sq: steps[k - 1].sq + e * e });
          }
        }
      });
      const got = result.versions.find((r) => r.version === v)!;
      expect(got.applied).toBe(keysA.length * N);
      // Every reading but a key's first scores at least one earlier forecast.
      expect(got.events).toBe(keysA.length * (N - 1));
      expect(got.deadLetters).toEqual({});
      const all = steps.reduce((a, s) => ({ n: a.n + s.n, err: a.err + s.err, abs: a.abs + s.abs, sq: a.sq + s.sq }), { n: 0, err: 0, abs: 0, sq: 0 });
      expect(got.overall.n).toBe(all.n);
      expect(got.overall.mae).toBeCloseTo(all.abs / all.n, 9);
      expect(got.overall.rmse).toBeCloseTo(Math.sqrt(all.sq / all.n), 9);
      expect(got.overall.bias).toBeCloseTo(all.err / all.n, 9);
      expect(got.perStep.map((s) => s.step)).toEqual([1, 2, 3]);
      got.perStep.forEach((s, i) => {
        expect(s.n).toBe(steps[i].n);
        expect(s.mae).toBeCloseTo(steps[i].abs / steps[i].n, 9);
        expect(s.rmse).toBeCloseTo(Math.sqrt(steps[i].sq / steps[i].n), 9);
        expect(s.bias).toBeCloseTo(steps[i].err / steps[i].n, 9);
      });
    }
    // The two versions really differ.
    expect(result.versions[0].overall.mae).not.toBe(result.versions[1].overall.mae);

    // Series: the last 6 of 9 readings per key, each version's forecast identical to the reference.
    expect(result.series.map((s) => s.key)).toEqual(keysA);
    result.series.forEach((s, j) => {
      expect(s).toMatchObject({ totalPoints: N, truncated: true });
      expect(s.points).toHaveLength(6);
      s.points.forEach((p, i) => {
        expect(p.actual).toEqual([valueAt(j, N - 6 + i)]);
        expect(p.offset).toBe(published(keysA[j])[N - 6 + i].source.offset);
        expect(JSON.stringify(p.forecasts['1'])).toBe(JSON.stringify(reference.get(1)![j][N - 6 + i]));
        expect(JSON.stringify(p.forecasts['2'])).toBe(JSON.stringify(reference.get(2)![j][N - 6 + i]));
      });
    });
  });

  it('refuses a bad backtest request naming the field', async () => {
    for (const [body, field] of [
      [{ fromOffsets: { x: '1' } }, 'fromOffsets'],
      [{ toOffsets: { '0': 5 } }, 'toOffsets'],
      [{ keys: 'a-1' }, 'keys'],
      [{ keys: ['a', 'a'] }, 'keys'],
      [{ maxPoints: 0 }, 'maxPoints'],
      [{ fromTime: 'yesterday' }, 'fromTime'],
      [{ window: 3 }, 'window'],
    ] as const) {
      const r = await api('POST', `/v1/models/${modelName}/versions/1/backtest`, body);
      expect(r.status).toBe(400);
      expect(JSON.stringify(r.body.message)).toContain(field);
    }
    expect((await api('POST', `/v1/models/${modelName}/versions/9/backtest`, {})).status).toBe(404);
    expect((await api('POST', `/v1/models/${modelName}/versions/x/backtest`, {})).status).toBe(400);
  });
});
