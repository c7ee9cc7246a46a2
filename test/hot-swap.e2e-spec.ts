/**
 * Hot swap: a new version of each of three forecasters is activated through @app/registry while
 * readings flow. Predictions of every key switch from version 1 to version 2 once and for all,
 * and after the switch each key's forecasts follow its model's swap policy, checked against
 * tfjs-layers references:
 *   reset  → version 2 from zero state over the events since the switch;
 *   rewarm → version 2 from zero state over the last REWARM_STEPS events before the switch, then on;
 *   keep   → version 1's (h, c) after the events before the switch, stepped on by version 2.
 * Version 1 of each model is activated with its model's policy: the worker keeps a key's last
 * REWARM_STEPS inputs only while it serves a version activated with rewarm, so only the rewarm
 * model's records carry the input ring (checked in Redis at the end).
 */
import type { SwapPolicy } from '@app/registry';
import { seededRandom } from '@app/lstm';
import { createRedisClient, StateStore } from '@app/state';
import { DUAL_CLASSIFIER } from './support/dual-run';
import { e2eStack, sleep, uniqueSuffix, waitFor } from './support/e2e-env';
import {
  scaleFeatures,
  stepOutputs,
  TestRegistry,
  type ForecasterDef,
  type SeededModel,
} from './support/model-fixtures';
import { partitionFor, TestKafka, type Collector } from './support/test-kafka';
import { suiteTopics, topicEnv, WorkerProcess, workerEnv } from './support/worker-process';

const PARTITIONS = 3;
const KEYS_PER_POLICY = 12;
const BEFORE = 12;
const AFTER = 24;
const REWARM_STEPS = 6;
const POLICIES: readonly SwapPolicy[] = ['reset', 'rewarm', 'keep'];

interface Forecast {
  sensorId: string;
  model: string;
  modelVersion: number | string;
  forecast: number[];
  source: { topic: string; partition: number; offset: string };
}

describe('hot swap: activation mid-stream, per-policy state transition', () => {
  const stack = e2eStack();
  const s = uniqueSuffix();
  const seed = Number.parseInt(process.env.FAULT_SEED ?? String(Date.now() % 1e9), 10);
  const rnd = seededRandom(seed);
  const t = suiteTopics(`hs-${s}`);
  const name = (p: SwapPolicy): string => `hs-${s}-${p}`;
  // Same architecture and scaler for both versions (keep needs it); different weights.
  const v1: ForecasterDef = {
    task: 'forecast',
    seed: 21,
    units: 12,
    features: 1,
    includeTimeDelta: false,
    horizon: 2,
    mean: [20],
    std: [5],
  };
  const v2: ForecasterDef = { ...v1, seed: 22 };
  const kafka = new TestKafka(stack.brokers, `hs-${s}`);
  let registry: TestRegistry;
  let collector: Collector;
  let worker: WorkerProcess;
  const models = new Map<SwapPolicy, { v1: SeededModel; v2: SeededModel }>();
  const values = new Map<string, number[]>();

  beforeAll(async () => {
    await kafka.connect();
    await kafka.createSuiteTopics(t, { sensor: PARTITIONS, forecasts: 2 });
    registry = new TestRegistry(stack.redisUrl, kafka.producerClient, t.models);
    for (const p of POLICIES) {
      const first = await registry.seed(name(p), v1, { policy: p, window: REWARM_STEPS });
      const second = await registry.seed(name(p), v2, { policy: p, activate: false, window: REWARM_STEPS });
      expect([first.version, second.version]).toEqual([1, 2]);
      models.set(p, { v1: first, v2: second });
    }
    await registry.seed(`hs-${s}-cl`, DUAL_CLASSIFIER);
    collector = await kafka.collect([t.forecasts, t.dlq], `hs-${s}-collector`);
    worker = new WorkerProcess(
      `hot-swap-${s}`,
      workerEnv(stack, {
        KAFKA_GROUP_ID: `hs-${s}`,
        ...topicEnv(t),
        // The reset keys use the topic's default model (no "model" field); the others name theirs.
        FORECAST_MODEL: name('reset'),
        CLASSIFY_MODEL: `hs-${s}-cl`,
        REWARM_STEPS: String(REWARM_STEPS),
      }),
    );
    worker.start();
    await worker.ready();
  });

  afterAll(async () => {
    await worker?.dispose();
    await kafka.disconnect();
    await registry?.close();
  });

  const keyOf = (p: SwapPolicy, k: number): string => `hs-${p}-${k}-${s}`;
  const eventsFor = (from: number, to: number) => {
    const out: { key: string; value: string; partition: number }[] = [];
    for (let i = from; i < to; i++) {
      for (const p of POLICIES) {
        for (let k = 0; k < KEYS_PER_POLICY; k++) {
          const key = keyOf(p, k);
          const v = Math.round((20 + 6 * Math.sin(k + i / 4) + (rnd() - 0.5) * 2) * 1000) / 1000;
          let list = values.get(key);
          if (!list) values.set(key, (list = []));
          list.push(v);
          const body: Record<string, unknown> = { sensorId: key, ts: 1_795_000_000_000 + i * 1000, value: v };
          if (p !== 'reset') body.model = name(p);
          out.push({ key, value: JSON.stringify(body), partition: partitionFor(key, PARTITIONS) });
        }
      }
    }
    return out;
  };

  it('switches every key to version 2 once and follows each policy numerically', async () => {
    const nKeys = POLICIES.length * KEYS_PER_POLICY;
    await kafka.produce(t.sensor, eventsFor(0, BEFORE));
    await waitFor(
      'version-1 forecasts of the first events',
      () => collector.distinctSources(t.forecasts) >= nKeys * BEFORE,
      120_000,
    );

    // Stream the rest in small slices; activate version 2 of all three models part-way through.
    const slices = AFTER / 2;
    let activatedAfterSlice = -1;
    for (let slice = 0; slice < slices; slice++) {
      await kafka.produce(t.sensor, eventsFor(BEFORE + slice * 2, BEFORE + slice * 2 + 2));
      if (slice === 3) {
        for (const p of POLICIES) {
          const pointer = await registry.registry.activate(name(p), 2, p);
          expect(pointer.version).toBe(2);
          expect(pointer.policy).toBe(p);
        }
        activatedAfterSlice = slice;
      }
      await sleep(250);
    }
    await waitFor(
      'a forecast for every reading',
      () => collector.distinctSources(t.forecasts) >= nKeys * (BEFORE + AFTER),
      120_000,
    );
    expect(collector.count(t.dlq)).toBe(0);

    // Per key, forecasts in offset order (one key stays in one partition).
    const byKey = new Map<string, Forecast[]>();
    for (const f of collector.json<Forecast>(t.forecasts)) {
      let list = byKey.get(f.sensorId);
      if (!list) byKey.set(f.sensorId, (list = []));
      list.push(f);
    }
    const problems: string[] = [];
    // Numeric mismatches by policy and phase (v1 before the switch, the first v2 event, later v2).
    const numeric: Record<string, { count: number; first: string[] }> = {};
    const miss = (bucket: string, msg: string): void => {
      const b = (numeric[bucket] ??= { count: 0, first: [] });
      b.count++;
      if (b.first.length < 2) b.first.push(msg);
    };
    const switchAt: Record<string, number[]> = {};
    for (const p of POLICIES) {
      const { v1: m1, v2: m2 } = models.get(p)!;
      switchAt[p] = [];
      for (let k = 0; k < KEYS_PER_POLICY; k++) {
        const key = keyOf(p, k);
        const seen = new Map<string, Forecast>();
        for (const f of byKey.get(key) ?? []) seen.set(f.source.offset, f);
        const list = [...seen.values()].sort((a, b) =>
          Number(BigInt(a.source.offset) - BigInt(b.source.offset)),
        );
        if (list.length !== BEFORE + AFTER) {
          problems.push(`${key}: ${list.length} forecasts`);
          continue;
        }
        const versions = list.map((f) => Number(f.modelVersion));
        const sw = versions.indexOf(2);
        switchAt[p].push(sw);
        if (sw < BEFORE) problems.push(`${key}: switched at event ${sw}, before the activation`);
        if (sw < 0 || versions.slice(sw).some((v) => v !== 2) || versions.slice(0, sw).some((v) => v !== 1)) {
          problems.push(`${key}: versions ${versions.join(',')}`);
          continue;
        }
        for (const f of list) if (f.model !== name(p)) problems.push(`${key}: model ${f.model}`);
        const rows = values.get(key)!.map((v) => scaleFeatures(v1, [v], 0));
        const before = stepOutputs(m1.model, rows.slice(0, sw));
        let after: Float32Array[];
        if (p === 'reset') after = stepOutputs(m2.model, rows.slice(sw)).outs;
        else if (p === 'rewarm')
          after = stepOutputs(m2.model, rows.slice(Math.max(0, sw - REWARM_STEPS))).outs.slice(
            Math.min(sw, REWARM_STEPS),
          );
        else after = stepOutputs(m2.model, rows.slice(sw), before.h, before.c).outs;
        const expected = [...before.outs, ...after].map((o) =>
          Array.from(o, (v) => v * v1.std[0] + v1.mean[0]),
        );
        list.forEach((f, i) => {
          const err = Math.max(...expected[i].map((v, j) => Math.abs(v - (f.forecast[j] ?? NaN))));
          if (!(err <= 1e-4)) {
            const phase = i < sw ? 'v1' : i === sw ? 'switch' : 'v2';
            miss(
              `${p}/${phase}`,
              `${key} event ${i} switch@${sw}: ${JSON.stringify(f.forecast)} vs ${JSON.stringify(expected[i])}`,
            );
          }
        });
      }
    }
    console.log(JSON.stringify({ suite: 'hot-swap', seed, activatedAfterSlice, switchAt, numeric }));
    expect(problems.slice(0, 20)).toEqual([]);
    expect(numeric).toEqual({});
    // The swap happened mid-stream: some events after the activation slice were still pending.
    const maxSwitch = Math.max(...Object.values(switchAt).flat());
    expect(maxSwitch).toBeLessThan(BEFORE + AFTER);

    // Only the model served with rewarm pays for the input ring in Redis.
    const redis = createRedisClient(stack.redisUrl, { connectionName: 'hot-swap-check' });
    try {
      const store = new StateStore(redis);
      const rings: Record<string, (number | null)[]> = {};
      for (const p of POLICIES) {
        const keys = Array.from({ length: KEYS_PER_POLICY }, (_, k) => keyOf(p, k));
        const records = await store.loadMany(name(p), keys);
        rings[p] = [...new Set(records.map((r) => (r ? (r.ring?.count ?? 0) : null)))];
      }
      expect(rings).toEqual({ reset: [0], rewarm: [REWARM_STEPS], keep: [0] });
    } finally {
      await redis.quit();
    }
  });
});
