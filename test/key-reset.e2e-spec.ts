/**
 * Ordered per-key reset, end to end: a seeded forecaster served by a real worker on the run's
 * Kafka and Redis; a key streams, `POST /v1/models/{name}/keys/{key}/reset` puts a control record
 * in the key's partition, the key streams on. Checked against an outside reference: a fresh key
 * fed the same readings (same values, same event times) after the reset. Its forecasts and its
 * stored state must be bit-identical to the reset key's, the state API must count the reset key's
 * steps from the reset, and the control record must produce no prediction and no dead letter.
 * Two more rounds kill the worker with SIGKILL: before it consumed a multi-key reset, and after
 * it applied a reset and part of the stream behind it; a new worker takes over each time, and the
 * replay neither loses nor repeats the reset.
 */
import { e2eStack, uniqueName } from './support/e2e-env';
import { DUAL_FORECASTER } from './support/dual-run';
import { TestRegistry } from './support/model-fixtures';
import { TestKafka, type Collector } from './support/test-kafka';
import { TrainerProcess, trainerEnv } from './support/trainer-process';
import { suiteTopics, topicEnv, WorkerProcess, workerEnv } from './support/worker-process';

const BASE_TS = 1_795_100_000_000;

interface Forecast {
  sensorId: string;
  ts: number;
  forecast: (number | null)[];
  anomalyScore?: number | null;
  source: { topic: string; partition: number; offset: string };
}

const reading = (key: string, i: number, ts: number) => ({ key, value: JSON.stringify({ sensorId: key, ts, value: 20 + 4 * Math.sin(i * 0.7) }) });

describe('key reset: a control record through the key partition resets it in order, exactly once', () => {
  const stack = e2eStack();
  const suffix = uniqueName('kr');
  const topics = suiteTopics(suffix);
  const modelName = `forecaster-${suffix}`;
  const token = `token-${suffix}`;
  const kafka = new TestKafka(stack.brokers, suffix);
  let registry: TestRegistry;
  let collector: Collector;
  let worker: WorkerProcess | null = null;
  let trainer: TrainerProcess | null = null;
  const env = () =>
    workerEnv(stack, { KAFKA_GROUP_ID: `${suffix}-workers`, ...topicEnv(topics), FORECAST_MODEL: modelName, CLASSIFY_MODEL: `classifier-${suffix}` });

  const api = async (method: 'GET' | 'POST', path: string, body?: unknown, auth = true) => {
    const res = await fetch(`${trainer!.base}${path}`, {
      method,
      headers: { ...(auth ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const forecastsOf = (key: string): Forecast[] =>
    collector
      .json<Forecast>(topics.forecasts)
      .filter((f) => f.sensorId === key)
      .sort((a, b) => Number(BigInt(a.source.offset) - BigInt(b.source.offset)));
  const stateOf = async (key: string) => {
    const r = await api('GET', `/v1/models/${modelName}/keys/${encodeURIComponent(key)}/state`);
    expect(r.status).toBe(200);
    return r.body as { steps: number; state: number[]; last: { partition: number; offset: string }; extras: unknown };
  };

  beforeAll(async () => {
    await kafka.connect();
    await kafka.createSuiteTopics(topics, { sensor: 3, forecasts: 2 });
    registry = new TestRegistry(stack.redisUrl, kafka.producerClient, topics.models);
    await registry.seed(modelName, DUAL_FORECASTER, { window: 10 });
    collector = await kafka.collect([topics.forecasts, topics.dlq]);
    [worker, trainer] = await Promise.all([
      WorkerProcess.launch('key-reset', env()),
      TrainerProcess.launch(uniqueName('key-reset-trainer'), trainerEnv(stack, token, topics.models, {
        SENSOR_TOPIC: topics.sensor,
        TRAINER_INSTANCE_ID: uniqueName('key-reset'),
      })),
    ]);
  });

  afterAll(async () => {
    if (worker && !worker.exit) await worker.stop('SIGKILL');
    await trainer?.stop();
    await kafka.disconnect();
    await registry?.close();
  });

  it('after a reset the key forecasts exactly as a fresh key fed the same readings', async () => {
    const key = 'pump {1}';
    const fresh = 'pump-fresh';
    await kafka.produce(topics.sensor, [0, 1, 2, 3, 4, 5].map((i) => reading(key, i, BASE_TS + i * 1000)));
    await collector.waitFor(topics.forecasts, 6, 60_000);
    const before = forecastsOf(key);

    const res = await api('POST', `/v1/models/${modelName}/keys/${encodeURIComponent(key)}/reset`);
    expect(res.status).toBe(202);
    const placed = (res.body.resets as { key: string; partition: number; offset: string }[])[0];
    expect(res.body).toMatchObject({ model: modelName, task: 'forecast', topic: topics.sensor });
    // The control record sits in the key's partition, right behind its last reading.
    expect(placed).toEqual({ key, partition: before[5].source.partition, offset: String(BigInt(before[5].source.offset) + 1n) });

    // The reset key and a fresh key get the same readings at the same event times (the time
    // delta is a feature of this model), with a gap in time the reset must not see as one.
    const after = [6, 7, 8, 9].map((i) => BASE_TS + 60_000 + i * 1000);
    await kafka.produce(topics.sensor, [
      ...after.map((ts, j) => reading(key, 6 + j, ts)),
      ...after.map((ts, j) => reading(fresh, 6 + j, ts)),
    ]);
    await collector.waitFor(topics.forecasts, 14, 60_000);
    const resetF = forecastsOf(key).slice(6);
    const freshF = forecastsOf(fresh);
    expect(resetF).toHaveLength(4);
    expect(freshF).toHaveLength(4);
    // Bit-identical: the same JSON numbers (shortest round-trip form of the same float64).
    expect(resetF.map((f) => JSON.stringify([f.forecast, f.anomalyScore ?? 'none']))).toEqual(
      freshF.map((f) => JSON.stringify([f.forecast, f.anomalyScore ?? 'none'])),
    );
    expect(resetF[0].anomalyScore).toBeUndefined();
    // Not trivially equal: the key's forecast right before the reset differs from the fresh start.
    expect(JSON.stringify(before[5].forecast)).not.toBe(JSON.stringify(resetF[0].forecast));
    // The control record is no event: no prediction carries its offset, nothing was dead-lettered.
    expect(collector.json<Forecast>(topics.forecasts).some((f) => f.source.offset === placed.offset && f.source.partition === placed.partition)).toBe(false);
    expect(collector.messages(topics.dlq)).toEqual([]);

    const [sr, sf] = [await stateOf(key), await stateOf(fresh)];
    expect(sr.steps).toBe(4);
    expect(sf.steps).toBe(4);
    expect(sr.state).toEqual(sf.state);
    expect(sr.extras).toEqual(sf.extras);
  });

  it('a reset of several keys survives a worker SIGKILL: the replay neither loses nor repeats it', async () => {
    const keys = ['valve-a', 'valve-b'];
    const fresh = 'valve-fresh';
    const startCount = collector.count(topics.forecasts);
    await kafka.produce(topics.sensor, keys.flatMap((k) => [0, 1, 2].map((i) => reading(k, i, BASE_TS + 200_000 + i * 1000))));
    await collector.waitFor(topics.forecasts, startCount + 6, 60_000);

    // The worker dies; the reset and the readings behind it wait in Kafka for the next one.
    await worker!.stop('SIGKILL');
    const res = await api('POST', `/v1/models/${modelName}/keys/reset`, { keys });
    expect(res.status).toBe(202);
    const resets = res.body.resets as { key: string; partition: number; offset: string }[];
    expect(resets.map((r) => r.key)).toEqual(keys);
    const after = [3, 4, 5].map((i) => BASE_TS + 300_000 + i * 1000);
    await kafka.produce(topics.sensor, [...keys, fresh].flatMap((k) => after.map((ts, j) => reading(k, 3 + j, ts))));
    worker = await WorkerProcess.launch('key-reset-2', env());
    await collector.waitFor(topics.forecasts, startCount + 6 + 9, 90_000);

    const freshF = forecastsOf(fresh).map((f) => JSON.stringify([f.forecast, f.anomalyScore ?? 'none']));
    for (const k of keys) {
      const all = forecastsOf(k);
      // Each reading forecast once per source (a replay re-publishes byte-identical records).
      const distinct = [...new Map(all.map((f) => [f.source.offset, f])).values()];
      expect(distinct).toHaveLength(6);
      expect(distinct.slice(3).map((f) => JSON.stringify([f.forecast, f.anomalyScore ?? 'none']))).toEqual(freshF.slice(0, 3));
      const s = await stateOf(k);
      expect(s.steps).toBe(3);
      expect(s.state).toEqual((await stateOf(fresh)).state);
    }
    expect(collector.messages(topics.dlq)).toEqual([]);
  });

  it('a worker SIGKILLed after the reset and part of the stream behind it goes on from the reset state', async () => {
    const keys = Array.from({ length: 20 }, (_, i) => `m-${i}`);
    const twins = keys.map((k) => `${k}-twin`);
    const startCount = collector.count(topics.forecasts);
    const t0 = BASE_TS + 500_000;
    await kafka.produce(topics.sensor, keys.flatMap((k, j) => [0, 1, 2, 3].map((i) => reading(k, i + j, t0 + i * 1000))));
    const res = await api('POST', `/v1/models/${modelName}/keys/reset`, { keys });
    expect(res.status).toBe(202);
    // Behind the reset, 6 readings per key in three segments; the twins (fresh keys) get the same ones.
    const seg = (s: number) =>
      [...keys, ...twins].flatMap((k, j) => [0, 1].map((i) => reading(k, 2 * s + i + (j % keys.length), t0 + 10_000 + (2 * s + i) * 1000)));
    await kafka.produce(topics.sensor, seg(0));
    await collector.waitFor(topics.forecasts, startCount + keys.length * 4 + 2 * keys.length * 2, 60_000);
    // Killed with the reset and the first segment applied; the rest arrives while it is down.
    await worker!.stop('SIGKILL');
    await kafka.produce(topics.sensor, [...seg(1), ...seg(2)]);
    worker = await WorkerProcess.launch('key-reset-3', env());
    const expected = keys.length * 4 + 2 * keys.length * 6;
    for (let i = 0; ; i++) {
      const sources = new Set(collector.json<Forecast>(topics.forecasts).slice(startCount).map((f) => `${f.source.partition}/${f.source.offset}`));
      if (sources.size >= expected) break;
      if (i > 600) throw new Error(`${sources.size} of ${expected} forecasts`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const fp = (f: Forecast) => JSON.stringify([f.forecast, f.anomalyScore ?? 'none']);
    const distinct = (k: string) => [...new Map(forecastsOf(k).map((f) => [f.source.offset, f])).values()];
    for (let j = 0; j < keys.length; j++) {
      const mine = distinct(keys[j]);
      const twin = distinct(twins[j]);
      expect(mine).toHaveLength(10);
      expect(twin).toHaveLength(6);
      expect(mine.slice(4).map(fp)).toEqual(twin.map(fp));
      const [s, t] = [await stateOf(keys[j]), await stateOf(twins[j])];
      expect(s.steps).toBe(6);
      expect(s.state).toEqual(t.state);
      expect(s.extras).toEqual(t.extras);
    }
    expect(collector.messages(topics.dlq)).toEqual([]);
  });

  it('refuses a bad reset naming the field; needs the token', async () => {
    const base = `/v1/models/${modelName}/keys`;
    for (const [body, field] of [
      [{ keys: [] }, 'keys'],
      [{ keys: 'a' }, 'keys'],
      [{ keys: ['a', 'a'] }, 'keys/1'],
      [{ keys: ['x'.repeat(257)] }, 'keys/0'],
      [{ keys: ['a'], extra: 1 }, 'extra'],
    ] as const) {
      const r = await api('POST', `${base}/reset`, body);
      expect(r.status).toBe(400);
      expect(JSON.stringify(r.body.message)).toContain(field);
    }
    expect((await api('POST', `/v1/models/${modelName}-none/keys/a/reset`)).status).toBe(404);
    expect((await api('POST', `${base}/a/reset`, undefined, false)).status).toBe(401);
  });
});
