/**
 * Poison messages: at least 30 bad messages of every DLQ reason, interleaved with good ones on
 * the sensor and text topics. Each bad one lands in the DLQ with the right reason, its source
 * coordinates and its original bytes (base64); every good one is predicted, and the good
 * predictions equal a tfjs-layers reference over the good events only (bad messages never
 * touch a key's state).
 */
import { DLQ_REASONS, type DlqReason } from '@app/contracts';
import { seededRandom } from '@app/lstm';
import { e2eStack, uniqueSuffix, waitFor } from './support/e2e-env';
import { TestKafka, partitionFor, type Collector, type OutMessage } from './support/test-kafka';
import {
  TestRegistry,
  referenceClassifierScores,
  referenceForecasts,
  scaleFeatures,
  tokenIds,
  type SeededModel,
} from './support/model-fixtures';
import { suiteTopics, topicEnv, WorkerProcess } from './support/worker-process';
import { assignOffsets, eventTimeMs, sensorEvents, textEvents, type GeneratedEvent } from './support/event-streams';
import { DUAL_CLASSIFIER, DUAL_FORECASTER } from './support/dual-run';

/** Reasons an input message alone can earn (`model_error` needs a served model that fails; unit-tested). */
type InputReason = Exclude<DlqReason, 'model_error'>;
const INPUT_REASONS = DLQ_REASONS.filter((r): r is InputReason => r !== 'model_error');
const PARTITIONS = 3;
const PER_REASON = 30;
const MAX_TEXT_LENGTH = 200;
const MAX_PAYLOAD_BYTES = 4096;
/** Bad messages (other than late ones) carry a time after every good one, so none of them is also late. */
const FUTURE_TS = '2027-06-01T00:00:00.000Z';
const FUTURE_MS = Date.parse(FUTURE_TS);

interface Planned {
  readonly topic: 'sensor' | 'text';
  readonly msg: OutMessage;
  /** null for a good message. */
  readonly reason: DlqReason | null;
  readonly good?: GeneratedEvent;
  offset?: string;
}

interface DlqBody {
  reason: string;
  detail: string;
  source: { topic: string; partition: number; offset: string };
  key: string | null;
  value: string;
  at: string;
}

describe('poison messages: every DLQ reason, partitions keep flowing', () => {
  const stack = e2eStack();
  const s = uniqueSuffix();
  const seed = Number.parseInt(process.env.FAULT_SEED ?? String(Date.now() % 1e9), 10);
  const rnd = seededRandom(seed);
  const t = suiteTopics(`pm-${s}`);
  const names = { fc: `pm-${s}-fc`, cl: `pm-${s}-cl` };
  const kafka = new TestKafka(stack.brokers, `pm-${s}`);
  let registry: TestRegistry;
  let collector: Collector;
  let worker: WorkerProcess;
  let fc: SeededModel;
  let cl: SeededModel;
  const plan: Planned[] = [];
  const goodSensors = sensorEvents(`pm-sensor-${s}`, 30, 20, PARTITIONS, seed);
  const goodTexts = textEvents(`pm-text-${s}`, 10, 20, PARTITIONS, seed + 1);

  /** The bad messages of one reason, built around the good events. */
  function badMessages(reason: InputReason, i: number): Planned {
    const useText = i % 3 === 2;
    const pool = useText ? goodTexts : goodSensors;
    const ev = pool[Math.floor(rnd() * pool.length)];
    const topic: 'sensor' | 'text' = useText ? 'text' : 'sensor';
    const idField = useText ? 'streamId' : 'sensorId';
    const body = { ...ev.body, ts: FUTURE_TS };
    const mk = (key: string | Buffer | null, value: string | Buffer, partition = ev.partition): Planned => ({
      topic,
      reason,
      msg: { key, value, partition },
    });
    // A message on `on` in the key and partition of one good event drawn from `from`.
    const asEventOf = (on: 'sensor' | 'text', from: readonly GeneratedEvent[], value: (e: GeneratedEvent) => string): Planned => {
      const e = from[Math.floor(rnd() * from.length)];
      return { topic: on, reason, msg: { key: e.key, value: value(e), partition: e.partition } };
    };
    switch (reason) {
      case 'invalid_json': {
        const variants = [
          `{"${idField}":"${ev.key}","ts":${FUTURE_MS},`,
          'not json at all',
          `{"${idField}" "${ev.key}"}`,
          "{'a':1}",
          '[1,2',
          '{"x":1}}',
        ];
        return mk(ev.key, variants[i % variants.length]);
      }
      case 'schema_violation': {
        const variants: unknown[] = useText
          ? [
              { [idField]: ev.key, ts: body.ts },
              { [idField]: ev.key, ts: body.ts, text: 42 },
              { [idField]: ev.key, text: 'no time' },
              17,
              [],
            ]
          : [
              { [idField]: ev.key, value: 1 },
              { [idField]: ev.key, ts: body.ts, value: '21.5' },
              { [idField]: ev.key, ts: body.ts, value: 1, values: [1] },
              { [idField]: ev.key, ts: body.ts },
              { [idField]: ev.key, ts: 'yesterday', value: 1 },
              { [idField]: ev.key, ts: 1.5, value: 1 },
              'a string',
            ];
        return mk(ev.key, JSON.stringify(variants[i % variants.length]));
      }
      case 'non_finite': {
        const variants = ['1e999', '-1e999', '[2e400]'];
        const v = variants[i % variants.length];
        const field = v.startsWith('[') ? 'values' : 'value';
        return asEventOf('sensor', goodSensors, (e) => `{"sensorId":"${e.key}","ts":${eventTimeMs(e.body)},"${field}":${v}}`);
      }
      case 'feature_count': {
        const values = i % 2 === 0 ? [1, 2] : [1, 2, 3];
        return asEventOf('sensor', goodSensors, (e) => JSON.stringify({ sensorId: e.key, ts: FUTURE_TS, values }));
      }
      case 'text_too_long':
        // The event is drawn before the length (the order rnd() has always been consumed in).
        return asEventOf('text', goodTexts, (e) => {
          const text = 'pump broken again '.repeat(20).slice(0, MAX_TEXT_LENGTH + 1 + Math.floor(rnd() * 150));
          return JSON.stringify({ streamId: e.key, ts: FUTURE_TS, text });
        });
      case 'key_missing':
        return mk(null, JSON.stringify(body));
      case 'key_too_long': {
        // 257+ bytes; some keys are short in characters but long in UTF-8 bytes.
        const key = i % 3 === 0 ? 'é'.repeat(129 + (i % 5)) : `long-${'k'.repeat(252 + (i % 40))}`;
        return mk(key, JSON.stringify({ ...body, [idField]: key }), partitionFor(key, PARTITIONS));
      }
      case 'key_mismatch':
        return mk(ev.key, JSON.stringify({ ...body, [idField]: `${ev.key}-other` }));
      case 'late_event':
        // Placed right after its key's good event below; older than it by 1 ms .. 10 min.
        return mk(ev.key, '');
      case 'payload_too_large':
        return mk(
          ev.key,
          JSON.stringify({ ...body, padding: 'x'.repeat(MAX_PAYLOAD_BYTES + Math.floor(rnd() * 2000)) }),
        );
      case 'unknown_model':
        return mk(ev.key, JSON.stringify({ ...body, model: `pm-${s}-no-such-model` }));
    }
  }

  beforeAll(async () => {
    await kafka.connect();
    await kafka.createSuiteTopics(t, { sensor: PARTITIONS, text: PARTITIONS, forecasts: 2, classes: 2, dlq: 2 });
    registry = new TestRegistry(stack.redisUrl, kafka.producerClient, t.models);
    fc = await registry.seed(names.fc, DUAL_FORECASTER);
    cl = await registry.seed(names.cl, DUAL_CLASSIFIER);
    collector = await kafka.collect([t.forecasts, t.classes, t.dlq], `pm-${s}-collector`);

    // Good events in their order, then bad ones spliced in at random places; a late event goes
    // right after a good event of its key with an older timestamp.
    const goods = [
      ['sensor', goodSensors],
      ['text', goodTexts],
    ] as const;
    for (const [topic, pool] of goods)
      for (const ev of pool)
        plan.push({
          topic,
          reason: null,
          good: ev,
          msg: { key: ev.key, value: JSON.stringify(ev.body), partition: ev.partition },
        });
    for (const reason of INPUT_REASONS) {
      for (let i = 0; i < PER_REASON; i++) {
        const bad = badMessages(reason, i);
        if (reason === 'late_event') {
          const goods = plan.filter((p) => p.reason === null && p.good!.index > 0);
          const target = goods[Math.floor(rnd() * goods.length)];
          const ev = target.good!;
          const olderMs = eventTimeMs(ev.body) - 1 - Math.floor(rnd() * 600_000);
          const body = { ...ev.body, ts: i % 2 === 0 ? olderMs : new Date(olderMs).toISOString() };
          const at = plan.indexOf(target) + 1;
          plan.splice(at, 0, {
            topic: target.topic,
            reason,
            msg: { key: ev.key, value: JSON.stringify(body), partition: ev.partition },
          });
        } else {
          plan.splice(Math.floor(rnd() * (plan.length + 1)), 0, bad);
        }
      }
    }
    // Offsets follow production order per (topic, partition): fresh topics, one idempotent producer.
    const next = assignOffsets(plan, (p) => `${p.topic}/${p.msg.partition}`);

    worker = new WorkerProcess(`poison-${s}`, {
      KAFKA_BROKERS: stack.brokers,
      REDIS_URL: stack.redisUrl,
      KAFKA_GROUP_ID: `pm-${s}`,
      ...topicEnv(t),
      FORECAST_MODEL: names.fc,
      CLASSIFY_MODEL: names.cl,
      MAX_TEXT_LENGTH: String(MAX_TEXT_LENGTH),
      MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD_BYTES),
      ALLOWED_LATENESS_MS: '0',
    });
    worker.start();
    await worker.ready();

    // Produce in plan order, chunked per topic so the order within each partition is the plan's.
    for (let i = 0; i < plan.length; i += 100) {
      const chunk = plan.slice(i, i + 100);
      await kafka.produce(
        t.sensor,
        chunk.filter((p) => p.topic === 'sensor').map((p) => p.msg),
      );
      await kafka.produce(
        t.text,
        chunk.filter((p) => p.topic === 'text').map((p) => p.msg),
      );
    }
    const ends = new Map<string, bigint>();
    for (const topic of ['sensor', 'text'] as const) {
      for (const [p, e] of await kafka.endOffsets(t[topic])) ends.set(`${topic}/${p}`, e);
    }
    for (const [id, n] of next) expect(ends.get(id)).toBe(n);

    const bad = plan.filter((p) => p.reason !== null).length;
    const goodSensorCount = goodSensors.length;
    const goodTextCount = goodTexts.length;
    await waitFor(
      'every message to be predicted or dead-lettered',
      () =>
        collector.distinctSources(t.dlq) >= bad &&
        collector.distinctSources(t.forecasts) >= goodSensorCount &&
        collector.distinctSources(t.classes) >= goodTextCount,
      180_000,
      250,
    ).catch((err: Error) => {
      throw new Error(
        `${err.message}; dlq ${collector.distinctSources(t.dlq)}/${bad}, forecasts ${collector.distinctSources(t.forecasts)}/${goodSensorCount}, classifications ${collector.distinctSources(t.classes)}/${goodTextCount}`,
      );
    });
  });

  afterAll(async () => {
    if (worker?.running) {
      const exit = await worker.stop('SIGTERM');
      if (exit.code !== 0) console.error(`poison worker exited ${JSON.stringify(exit)}`);
    }
    await worker?.dispose();
    await kafka.disconnect();
    await registry?.close();
  });

  it(`dead-letters ${PER_REASON}+ messages of every reason with source coordinates and original bytes`, () => {
    const dlq = new Map<string, DlqBody>();
    for (const m of collector.messages(t.dlq)) {
      const b = JSON.parse(m.value!.toString('utf8')) as DlqBody;
      dlq.set(`${b.source.topic}/${b.source.partition}/${b.source.offset}`, b);
    }
    const problems: string[] = [];
    const perReason = new Map<string, number>();
    for (const p of plan) {
      if (p.reason === null) continue;
      const id = `${t[p.topic]}/${p.msg.partition}/${p.offset}`;
      const d = dlq.get(id);
      if (!d) {
        problems.push(`${id} (${p.reason}): no dead letter`);
        continue;
      }
      perReason.set(d.reason, (perReason.get(d.reason) ?? 0) + 1);
      const original = Buffer.isBuffer(p.msg.value) ? p.msg.value : Buffer.from(p.msg.value ?? '', 'utf8');
      if (d.reason !== p.reason)
        problems.push(
          `${id}: reason ${d.reason}, expected ${p.reason} (${d.detail}) ${original.toString().slice(0, 120)}`,
        );
      if (d.value !== original.toString('base64'))
        problems.push(`${id} (${p.reason}): value is not the original bytes in base64`);
      const k =
        p.msg.key === null ? null : Buffer.isBuffer(p.msg.key) ? p.msg.key : Buffer.from(p.msg.key, 'utf8');
      if (
        k === null
          ? d.key !== null && d.key !== undefined
          : d.key !== k.toString('base64') && d.key !== k.toString('utf8')
      ) {
        problems.push(`${id} (${p.reason}): key ${JSON.stringify(d.key)} is not the original key`);
      }
      if (typeof d.detail !== 'string' || d.detail.length === 0)
        problems.push(`${id} (${p.reason}): no detail`);
      if (Number.isNaN(Date.parse(d.at)))
        problems.push(`${id} (${p.reason}): at ${JSON.stringify(d.at)} is not a time`);
    }
    console.log(
      JSON.stringify({
        suite: 'poison',
        seed,
        dlqByReason: Object.fromEntries(perReason),
        problems: problems.length,
      }),
    );
    expect(problems.slice(0, 40)).toEqual([]);
    for (const reason of INPUT_REASONS) expect(perReason.get(reason) ?? 0).toBeGreaterThanOrEqual(PER_REASON);
    // Nothing good was dead-lettered.
    const goodIds = new Set(
      plan.filter((p) => p.reason === null).map((p) => `${t[p.topic]}/${p.msg.partition}/${p.offset}`),
    );
    expect([...dlq.keys()].filter((id) => goodIds.has(id))).toEqual([]);
  });

  it('predicts every good message exactly as if the bad ones were never sent', () => {
    const preds = new Map<string, Record<string, unknown>>();
    for (const topic of [t.forecasts, t.classes]) {
      for (const b of collector.json<
        Record<string, unknown> & { source: { topic: string; partition: number; offset: string } }
      >(topic)) {
        preds.set(`${b.source.topic}/${b.source.partition}/${b.source.offset}`, b);
      }
    }
    const badIds = plan
      .filter((p) => p.reason !== null)
      .map((p) => `${t[p.topic]}/${p.msg.partition}/${p.offset}`);
    expect(badIds.filter((id) => preds.has(id))).toEqual([]);

    // Reference: each key's good events only, whole history through tfjs-layers.
    const problems = { forecast: [] as string[], envelope: [] as string[], classify: [] as string[] };
    const byKey = new Map<string, Planned[]>();
    for (const p of plan) {
      if (p.reason !== null) continue;
      const k = `${p.topic}/${p.good!.key}`;
      let list = byKey.get(k);
      if (!list) byKey.set(k, (list = []));
      list.push(p);
    }
    let checked = 0;
    for (const [, list] of byKey) {
      if (list[0].topic === 'sensor') {
        const rows: number[][] = [];
        let prev: number | null = null;
        for (const p of list) {
          const ts = eventTimeMs(p.good!.body);
          rows.push(
            scaleFeatures(
              DUAL_FORECASTER,
              [p.good!.body.value as number],
              prev === null ? 0 : (ts - prev) / 1000,
            ),
          );
          prev = ts;
        }
        const ref = referenceForecasts(DUAL_FORECASTER, fc.model, rows);
        list.forEach((p, i) => {
          const id = `${t.sensor}/${p.msg.partition}/${p.offset}`;
          const b = preds.get(id) as
            | { forecast?: number[]; model?: string; modelVersion?: unknown; sensorId?: string; ts?: unknown }
            | undefined;
          if (!b) return problems.forecast.push(`${id}: no forecast`);
          if (b.sensorId !== p.good!.key || b.model !== names.fc || b.ts !== p.good!.body.ts)
            problems.envelope.push(`${id}: envelope ${JSON.stringify(b)}`);
          const err = Math.max(...ref[i].map((v, j) => Math.abs(v - (b.forecast?.[j] ?? NaN))));
          if (!(err <= 1e-4))
            problems.forecast.push(
              `${id}: forecast ${JSON.stringify(b.forecast)} vs reference ${JSON.stringify(ref[i])}`,
            );
          checked++;
        });
      } else {
        const tokens = list.map((p) => tokenIds(DUAL_CLASSIFIER, String(p.good!.body.text)));
        const ref = referenceClassifierScores(cl.model, tokens);
        list.forEach((p, i) => {
          const id = `${t.text}/${p.msg.partition}/${p.offset}`;
          const b = preds.get(id) as
            { scores?: Record<string, number>; label?: string; streamId?: string } | undefined;
          if (!b) return problems.classify.push(`${id}: no classification`);
          const pos = b.scores?.pos ?? NaN;
          if (!(Math.abs(pos - ref[i]) <= 1e-5))
            problems.classify.push(`${id}: pos ${pos} vs reference ${ref[i]}`);
          if (b.label !== (ref[i] >= 0.5 ? 'pos' : 'neg') && Math.abs(ref[i] - 0.5) > 1e-5)
            problems.classify.push(`${id}: label ${b.label} vs p=${ref[i]}`);
          checked++;
        });
      }
    }
    console.log(
      JSON.stringify({
        suite: 'poison',
        checked,
        forecastMismatches: problems.forecast.length,
        envelopeMismatches: problems.envelope.length,
        classificationMismatches: problems.classify.length,
      }),
    );
    expect(problems.forecast.slice(0, 5)).toEqual([]);
    expect(problems.envelope.slice(0, 5)).toEqual([]);
    expect(problems.classify.slice(0, 5)).toEqual([]);
    expect(checked).toBe(goodSensors.length + goodTexts.length);
  });
});
