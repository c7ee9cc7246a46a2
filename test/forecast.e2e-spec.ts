/**
 * Forecast end to end: a seeded tfjs-layers LSTM forecaster in the registry, the worker run from
 * dist as in production, 200 sensors × 50 readings through real Kafka and Redis. Every forecast
 * must equal tfjs-layers' output over that sensor's whole history in one predict call (max abs
 * error 1e-5), and every anomaly score must match an independent recomputation.
 */
import { seededRandom } from '@app/lstm';
import { e2eStack, uniqueName } from './support/e2e-env';
import { TestKafka, type Collector } from './support/test-kafka';
import { TestRegistry, sequenceOutputs, type ForecasterDef, type SeededModel } from './support/model-fixtures';
import { suiteTopics, topicEnv, WorkerProcess, workerEnv } from './support/worker-process';

const SENSORS = 200;
const READINGS = 50;
const PARTITIONS = 4;
const BASE_TS = 1_795_000_000_000;

interface Forecast {
  sensorId: string;
  ts: string | number;
  model: string;
  modelVersion: string;
  forecast: number[];
  anomalyScore?: number;
  source: { topic: string; partition: number; offset: string };
}

describe('forecast: 200 sensors × 50 readings against tfjs-layers', () => {
  const stack = e2eStack();
  const suffix = uniqueName('fc');
  const topics = suiteTopics(suffix);
  const modelName = `forecaster-${suffix}`;
  const def: ForecasterDef = {
    task: 'forecast',
    seed: 4242,
    units: 24,
    features: 1,
    includeTimeDelta: true,
    horizon: 3,
    mean: [20, 1.2],
    std: [4, 0.4],
    scale: 0.3,
  };
  const kafka = new TestKafka(stack.brokers, suffix);
  let registry: TestRegistry;
  let collector: Collector;
  let worker: WorkerProcess | null = null;
  let built: SeededModel;

  beforeAll(async () => {
    await kafka.connect();
    await kafka.createSuiteTopics(topics, {
      sensor: PARTITIONS,
      text: PARTITIONS,
      forecasts: PARTITIONS,
      classes: PARTITIONS,
      dlq: PARTITIONS,
    });
    registry = new TestRegistry(stack.redisUrl, kafka.producerClient, topics.models);
    built = await registry.seed(modelName, def, { window: 50 });
    collector = await kafka.collect([topics.forecasts, topics.dlq]);
  });

  const startWorker = () =>
    WorkerProcess.launch(
      'forecast',
      workerEnv(stack, {
        KAFKA_GROUP_ID: `${suffix}-workers`,
        ...topicEnv(topics),
        FORECAST_MODEL: modelName,
        CLASSIFY_MODEL: `classifier-${suffix}`,
      }),
    );

  afterAll(async () => {
    if (worker && !worker.exit) await worker.stop('SIGKILL');
    await kafka.disconnect();
    await registry?.close();
  });

  it('emits one forecast per reading equal to the whole-history reference, with anomaly scores', async () => {
    // Readings: irregular spacing (the time delta is a feature), interleaved across sensors.
    const rnd = seededRandom(99);
    const values: number[][] = [];
    const times: number[][] = [];
    for (let s = 0; s < SENSORS; s++) {
      values.push([]);
      times.push([]);
    }
    const messages: { key: string; value: string }[] = [];
    for (let i = 0; i < READINGS; i++) {
      for (let s = 0; s < SENSORS; s++) {
        const key = `sensor-${s}`;
        const prev = i === 0 ? BASE_TS + s * 7 : times[s][i - 1];
        const ts = prev + 500 + Math.floor(rnd() * 1500);
        const v = Math.round((20 + 4 * Math.sin(s + i / 5) + (rnd() - 0.5) * 3) * 1000) / 1000;
        values[s].push(v);
        times[s].push(ts);
        // half the sensors send ISO timestamps, half epoch ms
        const body = { sensorId: key, ts: s % 2 === 0 ? ts : new Date(ts).toISOString(), value: v };
        messages.push({ key, value: JSON.stringify(body) });
      }
    }
    // The first fifth live (worker running), the rest as a backlog the worker drains at full
    // speed after a restart: that drain is the throughput measured.
    worker = await startWorker();
    const live = (SENSORS * READINGS) / 5;
    await kafka.produce(topics.sensor, messages.slice(0, live));
    await collector.waitFor(topics.forecasts, live, 120_000);
    const stopped = await worker.stop('SIGTERM', 12_000);
    expect(stopped.code).toBe(0);
    await kafka.produce(topics.sensor, messages.slice(live));
    worker = await startWorker();
    const t0 = Date.now();
    const got = await collector.waitFor(topics.forecasts, SENSORS * READINGS, 180_000);
    const seconds = (Date.now() - t0) / 1000;
    const backlog = SENSORS * READINGS - live;
    expect(collector.messages(topics.dlq)).toEqual([]);

    // The reference: all 200 histories through tfjs-layers in one predict call.
    const { mean, std: scale } = def;
    const rows = values.map((vs, s) =>
      vs.map((v, i) => {
        const delta = i === 0 ? 0 : (times[s][i] - times[s][i - 1]) / 1000;
        return [(v - mean[0]) / scale[0], (delta - mean[1]) / scale[1]];
      }),
    );
    const outs = sequenceOutputs(built.model, rows).map((r) => r.outs);

    const bySensor = new Map<string, Forecast[]>();
    for (const m of got) {
      const f = JSON.parse(m.value!.toString('utf8')) as Forecast;
      expect(m.key?.toString('utf8')).toBe(f.sensorId);
      let list = bySensor.get(f.sensorId);
      if (!list) bySensor.set(f.sensorId, (list = []));
      list.push(f);
    }
    expect(bySensor.size).toBe(SENSORS);
    let maxErr = 0;
    const mismatches: string[] = [];
    let scored = 0;
    let maxScoreErr = 0;
    for (let s = 0; s < SENSORS; s++) {
      const list = bySensor.get(`sensor-${s}`)!;
      list.sort((a, b) => Number(BigInt(a.source.offset) - BigInt(b.source.offset)));
      expect(list.length).toBe(READINGS);
      const partitions = new Set(list.map((f) => f.source.partition));
      expect(partitions.size).toBe(1);
      const residuals: number[] = [];
      list.forEach((f, i) => {
        expect(f.model).toBe(modelName);
        expect(f.modelVersion).toBe('1');
        expect(f.source.topic).toBe(topics.sensor);
        // ts as received: epoch ms for even sensors, the ISO string for odd ones
        expect(f.ts).toEqual(s % 2 === 0 ? times[s][i] : new Date(times[s][i]).toISOString());
        expect(f.forecast.length).toBe(3);
        f.forecast.forEach((v, j) => {
          const ref = outs[s][i][j] * scale[0] + mean[0];
          const err = Math.abs(v - ref);
          if (err > 1e-5 && mismatches.length < 10) mismatches.push(`sensor-${s} reading ${i} [${j}]: ${v} vs ${ref}`);
          maxErr = Math.max(maxErr, err);
        });
        // Anomaly score, recomputed two-pass (not Welford) from the residuals before this reading.
        if (i === 0) {
          expect(f.anomalyScore).toBeUndefined();
          return;
        }
        const r = values[s][i] - list[i - 1].forecast[0];
        if (residuals.length < 2) {
          expect(f.anomalyScore).toBeUndefined();
        } else {
          const m = residuals.reduce((a, b) => a + b, 0) / residuals.length;
          const v = residuals.reduce((a, b) => a + (b - m) * (b - m), 0) / (residuals.length - 1);
          const z = (r - m) / Math.sqrt(v);
          expect(typeof f.anomalyScore).toBe('number');
          maxScoreErr = Math.max(maxScoreErr, Math.abs(f.anomalyScore! - z) / Math.max(1, Math.abs(z)));
          scored++;
        }
        residuals.push(r);
      });
    }
    expect(mismatches).toEqual([]);
    expect(maxErr).toBeLessThanOrEqual(1e-5);
    expect(maxScoreErr).toBeLessThanOrEqual(1e-9);
    expect(scored).toBe(SENSORS * (READINGS - 3));

    // Metrics and readiness while running.
    const ready = await worker.http('/health/ready');
    expect(ready.status).toBe(200);
    const metrics = (await worker.http('/metrics')).body;
    const count = Number(/streamcell_batch_size_count (\d+)/.exec(metrics)?.[1] ?? NaN);
    const sum = Number(/streamcell_batch_size_sum (\d+)/.exec(metrics)?.[1] ?? NaN);
    expect(sum).toBeGreaterThanOrEqual(backlog);
    expect(metrics).toMatch(new RegExp(`streamcell_events_in_total\\{topic="${topics.sensor.replace(/\./g, '\\.')}"\\} ${backlog}`));
    expect(metrics).toMatch(new RegExp(`streamcell_model_version\\{model="${modelName}"\\} 1`));
    console.log(
      JSON.stringify({
        suite: 'forecast',
        events: SENSORS * READINGS,
        backlog,
        drainSeconds: seconds,
        eventsPerSecond: Math.round(backlog / seconds),
        batches: count,
        avgBatchSize: Math.round(sum / count),
        // wall time inside the worker's batch handler (decode → state write), all batches
        batchSecondsSum: Number(/streamcell_batch_seconds_sum\{[^}]*\} ([\d.e-]+)/.exec(metrics)?.[1] ?? NaN),
        stepSecondsSum: Number(/streamcell_step_seconds_sum ([\d.e-]+)/.exec(metrics)?.[1] ?? NaN),
        maxAbsError: maxErr,
        maxAnomalyRelError: maxScoreErr,
      }),
    );

    // SIGTERM: finish, commit, exit 0 within 10 s.
    const exit = await worker.stop('SIGTERM', 12_000);
    expect(exit.code).toBe(0);
    expect(exit.afterSignalMs).toBeLessThan(10_000);
  });
});
