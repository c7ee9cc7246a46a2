/**
 * Per-key state API, read side, end to end: a seeded LSTM forecaster served by a real worker on
 * the run's Kafka and Redis, a few readings for a few sensors, then the trainer's
 * `GET /v1/models/{name}/keys/{key}/state` and `GET /v1/models/{name}/keys` checked against
 * what a user observes independently: the forecasts topic (the `source` and `modelVersion` of
 * each key's last prediction, the number of readings sent per key, the last forecast value).
 */
import { e2eStack, uniqueName } from './support/e2e-env';
import { TestKafka, type Collector } from './support/test-kafka';
import { DUAL_FORECASTER } from './support/dual-run';
import { TestRegistry } from './support/model-fixtures';
import { TrainerProcess, trainerEnv } from './support/trainer-process';
import { suiteTopics, topicEnv, WorkerProcess, workerEnv } from './support/worker-process';

const BASE_TS = 1_795_000_000_000;
/** Readings per sensor: different counts so the step counts tell the keys apart. */
const READINGS: Record<string, number> = { 'sensor-a': 3, 'sensor-b': 5, 'sensor {c}:1': 7 };

interface Forecast {
  sensorId: string;
  modelVersion: string;
  forecast: number[];
  source: { topic: string; partition: number; offset: string };
}

describe('state API: a key state read back equals what the forecasts topic shows', () => {
  const stack = e2eStack();
  const suffix = uniqueName('st');
  const topics = suiteTopics(suffix);
  const modelName = `forecaster-${suffix}`;
  const token = `token-${suffix}`;
  const def = DUAL_FORECASTER;
  const kafka = new TestKafka(stack.brokers, suffix);
  let registry: TestRegistry;
  let collector: Collector;
  let worker: WorkerProcess | null = null;
  let trainer: TrainerProcess | null = null;

  const api = async (path: string, auth = true) => {
    const res = await fetch(`${trainer!.base}${path}`, { headers: auth ? { authorization: `Bearer ${token}` } : {} });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    await kafka.connect();
    await kafka.createSuiteTopics(topics, { sensor: 2, text: 1, forecasts: 2, classes: 1, dlq: 1 });
    registry = new TestRegistry(stack.redisUrl, kafka.producerClient, topics.models);
    await registry.seed(modelName, def, { window: 10 });
    collector = await kafka.collect([topics.forecasts, topics.dlq]);
    [worker, trainer] = await Promise.all([
      WorkerProcess.launch(
        'state-api',
        workerEnv(stack, {
          KAFKA_GROUP_ID: `${suffix}-workers`,
          ...topicEnv(topics),
          FORECAST_MODEL: modelName,
          CLASSIFY_MODEL: `classifier-${suffix}`,
        }),
      ),
      TrainerProcess.launch(uniqueName('state-api-trainer'), trainerEnv(stack, token, topics.models, {
        TRAINER_INSTANCE_ID: uniqueName('state'),
      })),
    ]);
  });

  afterAll(async () => {
    if (worker && !worker.exit) await worker.stop('SIGKILL');
    await trainer?.stop();
    await kafka.disconnect();
    await registry?.close();
  });

  it('answers each key state and scans exactly the keys fed', async () => {
    const messages: { key: string; value: string }[] = [];
    let ts = BASE_TS;
    const longest = Math.max(...Object.values(READINGS));
    for (let i = 0; i < longest; i++) {
      for (const [key, n] of Object.entries(READINGS)) {
        if (i >= n) continue;
        ts += 700 + i * 13;
        messages.push({ key, value: JSON.stringify({ sensorId: key, ts, value: 20 + Math.sin(i + key.length) * 3 }) });
      }
    }
    const total = messages.length;
    await kafka.produce(topics.sensor, messages);
    const got = await collector.waitFor(topics.forecasts, total, 60_000);
    expect(collector.messages(topics.dlq)).toEqual([]);

    const byKey = new Map<string, Forecast[]>();
    for (const m of got) {
      const f = JSON.parse(m.value!.toString('utf8')) as Forecast;
      byKey.set(f.sensorId, [...(byKey.get(f.sensorId) ?? []), f]);
    }
    const lastTs = new Map<string, number>();
    for (const m of messages) lastTs.set(m.key, (JSON.parse(m.value) as { ts: number }).ts);

    for (const [key, n] of Object.entries(READINGS)) {
      const list = byKey.get(key)!;
      expect(list).toHaveLength(n);
      list.sort((a, b) => Number(BigInt(a.source.offset) - BigInt(b.source.offset)));
      const last = list[n - 1];
      const { status, body } = await api(`/v1/models/${encodeURIComponent(modelName)}/keys/${encodeURIComponent(key)}/state`);
      expect(status).toBe(200);
      expect(body.model).toBe(modelName);
      expect(body.key).toBe(key);
      expect(body.modelVersion).toBe(last.modelVersion);
      expect(body.steps).toBe(n);
      expect(body.last).toEqual({
        partition: last.source.partition,
        offset: last.source.offset,
        eventTime: new Date(lastTs.get(key)!).toISOString(),
      });
      // h and c of the one LSTM layer: `units` finite numbers each, and the flat state their concatenation.
      const layers = body.layers as { kind: string; units: number; h: number[]; c: number[] }[];
      expect(layers).toHaveLength(1);
      expect(layers[0].kind).toBe('lstm');
      expect(layers[0].units).toBe(def.units);
      for (const v of [layers[0].h, layers[0].c]) {
        expect(v).toHaveLength(def.units);
        expect(v.every((x) => typeof x === 'number' && Number.isFinite(x))).toBe(true);
      }
      expect(body.state).toEqual([...layers[0].h, ...layers[0].c]);
      expect(body.stateSize).toBe(2 * def.units);
      // The stored last forecast is the last prediction's first value; the anomaly statistics are
      // those of the residuals (reading − previous forecast), recomputed two-pass from the topic.
      const extras = body.extras as { kind: string; lastForecast0: number; anomaly: { count: number; mean: number; std: number | null } };
      expect(extras.kind).toBe('forecast');
      expect(extras.lastForecast0).toBeCloseTo(last.forecast[0], 9);
      const values = messages.filter((m) => m.key === key).map((m) => (JSON.parse(m.value) as { value: number }).value);
      const residuals = values.slice(1).map((v, i) => v - list[i].forecast[0]);
      const mean = residuals.reduce((a, b) => a + b, 0) / residuals.length;
      const std = Math.sqrt(residuals.reduce((a, b) => a + (b - mean) ** 2, 0) / (residuals.length - 1));
      expect(extras.anomaly.count).toBe(n - 1);
      expect(extras.anomaly.mean).toBeCloseTo(mean, 9);
      expect(extras.anomaly.std).toBeCloseTo(std, 9);
    }

    // Scan with a small page size: the union of the pages is exactly the keys fed.
    const seen = new Set<string>();
    let cursor = '0';
    let pages = 0;
    do {
      const { status, body } = await api(`/v1/models/${encodeURIComponent(modelName)}/keys?count=1&cursor=${cursor}`);
      expect(status).toBe(200);
      for (const k of body.keys as string[]) seen.add(k);
      cursor = body.cursor as string;
      pages++;
    } while (cursor !== '0' && pages < 10_000);
    expect([...seen].sort()).toEqual(Object.keys(READINGS).sort());
    const one = await api(`/v1/models/${encodeURIComponent(modelName)}/keys?count=1000`);
    expect(one.status).toBe(200);
  });

  it('refuses what it cannot answer, naming the field or the key', async () => {
    const base = `/v1/models/${encodeURIComponent(modelName)}`;
    const missing = await api(`${base}/keys/${encodeURIComponent('sensor-never')}/state`);
    expect(missing.status).toBe(404);
    expect(missing.body.message).toContain('sensor-never');
    // another model's keys are not this model's
    const other = await api(`/v1/models/${encodeURIComponent(`${modelName}-other`)}/keys/sensor-a/state`);
    expect(other.status).toBe(404);
    const empty = await api(`/v1/models/${encodeURIComponent(`${modelName}-other`)}/keys`);
    expect(empty.status).toBe(200);
    expect(empty.body.keys).toEqual([]);

    for (const [query, field] of [
      ['count=0', 'count'],
      ['count=1001', 'count'],
      ['count=abc', 'count'],
      ['cursor=-1', 'cursor'],
      ['cursor=12x', 'cursor'],
      ['count=1&count=2', 'count'],
      ['limit=5', 'limit'],
    ] as const) {
      const res = await api(`${base}/keys?${query}`);
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.body.message)).toContain(field);
    }
    const badName = await api(`/v1/models/${encodeURIComponent('bad name!')}/keys`);
    expect(badName.status).toBe(400);
    expect(JSON.stringify(badName.body.message)).toContain('name');
    const longKey = await api(`${base}/keys/${'k'.repeat(1025)}/state`);
    expect(longKey.status).toBe(400);
    expect(JSON.stringify(longKey.body.message)).toContain('key');
    expect((await api(`${base}/keys/sensor-a/state`, false)).status).toBe(401);
    expect((await api(`${base}/keys`, false)).status).toBe(401);
  });
});
