/**
 * Hostile input: 170+ crafted messages on both input topics against one worker on the shared
 * Kafka and Redis: every DLQ reason an input can earn, values from 0.75 MB to just under the
 * broker's 1 MiB limit, float32 edges, Unicode edge cases, keys with odd bytes, timestamps at the
 * edges of the representable range and seeded byte-level mutations of valid messages. Each case
 * is followed by a good event on its partition, which must still be predicted; every case gets
 * exactly one outcome (a prediction or a dead letter with the expected reason), every dead letter
 * fits DLQ_MAX_BYTES, no forecast holds a null, and keys fed a reading that overflows float32 go
 * on forecasting what a tfjs-layers reference gives for their good readings alone. The worker's
 * RSS is printed before and after.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  DEFAULT_MAX_DLQ_BYTES,
  decodeSensorReading,
  decodeTextEvent,
  validateMessage,
  type DlqEnvelope,
  type DlqReason,
} from '@app/contracts';
import { seededRandom } from '@app/lstm';
import { e2eStack, uniqueSuffix, waitFor } from './support/e2e-env';
import { TestKafka, type Collector, type OutMessage } from './support/test-kafka';
import { TestRegistry, referenceForecasts, scaleFeatures, type SeededModel } from './support/model-fixtures';
import { suiteTopics, topicEnv, WorkerProcess } from './support/worker-process';
import { DUAL_CLASSIFIER, DUAL_FORECASTER } from './support/dual-run';
import { assignOffsets } from './support/event-streams';

const PARTITIONS = 2;
const MAX_TEXT_LENGTH = 300;
const MAX_PAYLOAD_BYTES = 65_536;
/** Values around the broker's default message.max.bytes (1 MiB), the largest just under it. */
const LARGE_VALUES = [750_000, 900_000, 1_000_000, 1024 * 1024 - 300];
const T0 = Date.parse('2026-12-01T00:00:00Z');

type Topic = 'sensor' | 'text';
type Outcome = 'ok' | DlqReason;

interface Case {
  readonly name: string;
  readonly topic: Topic;
  readonly partition: number;
  readonly key: Buffer | null;
  readonly value: Buffer;
  /** Outcomes the contract allows (usually one). */
  readonly expect: readonly Outcome[];
  offset?: string;
}

interface Good {
  readonly topic: Topic;
  readonly partition: number;
  readonly key: string;
  readonly value: string;
  offset?: string;
}

const buf = (s: string | Buffer) => (Buffer.isBuffer(s) ? s : Buffer.from(s, 'utf8'));

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

describe('hostile input: crafted and mutated messages never stall, poison or crash the worker', () => {
  const stack = e2eStack();
  const s = uniqueSuffix();
  const t = suiteTopics(`hi-${s}`);
  const names = { fc: `hi-${s}-fc`, cl: `hi-${s}-cl` };
  const kafka = new TestKafka(stack.brokers, `hi-${s}`);
  const rnd = seededRandom(Number.parseInt(process.env.FAULT_SEED ?? '20261204', 10));
  let registry: TestRegistry;
  let collector: Collector;
  let worker: WorkerProcess;
  let fc: SeededModel;
  const plan: (Case | Good)[] = [];
  const cases: Case[] = [];
  const goods: Good[] = [];
  /** Keys fed good readings with one overflowing reading among them, and the good readings. */
  const poisoned: { key: string; values: number[]; times: number[] }[] = [];
  const rss = { before: 0, after: 0 };
  let clock = T0;

  /** The next good event of partition `p` of `topic` (a canary key per partition, time moving on). */
  function good(topic: Topic, p: number): Good {
    clock += 1000;
    const key = `hi-${s}-canary-${topic}-${p}`;
    const value =
      topic === 'sensor'
        ? JSON.stringify({ sensorId: key, ts: clock, value: 20 + 5 * Math.sin(clock / 7e5) })
        : JSON.stringify({ streamId: key, ts: clock, text: 'the pump is broken again' });
    return { topic, partition: p, key, value };
  }

  let n = 0;
  function add(name: string, topic: Topic, key: string | Buffer | null, value: string | Buffer, expect: Outcome | readonly Outcome[]): void {
    const c: Case = {
      name,
      topic,
      partition: n++ % PARTITIONS,
      key: key === null ? null : buf(key),
      value: buf(value),
      expect: typeof expect === 'string' ? [expect] : expect,
    };
    cases.push(c);
  }
  const uk = () => `hi-${s}-k${n}`;
  const reading = (key: string, v: unknown, ts: unknown = T0 + n) => `{"sensorId":${JSON.stringify(key)},"ts":${JSON.stringify(ts)},"value":${typeof v === 'string' ? v : JSON.stringify(v)}}`;
  const text = (key: string, txt: string, ts: unknown = T0 + n) => JSON.stringify({ streamId: key, ts, text: txt });

  function buildCases(): void {
    // Every reason an input can earn, on both topics where it applies.
    for (const v of ['{"sensorId":', 'not json', '{"a" 1}', "{'a':1}", '[1,2', '{"x":1}}', '\ufeff{"sensorId":"x"}', '{"sensorId":"k","ts":1,"value":01}']) {
      add(`invalid_json ${v}`, n % 3 === 0 ? 'text' : 'sensor', uk(), v, 'invalid_json');
    }
    for (const [i, body] of [
      { ts: 1, value: 1 },
      17,
      [],
      'str',
      null,
      { value: '21.5' },
      { value: 1, values: [1] },
      { values: [] },
      { value: true },
      { value: 1, reset: 'yes' },
    ].entries()) {
      const key = uk();
      const v = body !== null && typeof body === 'object' && !Array.isArray(body) ? { sensorId: key, ts: T0, ...body } : body;
      if (i === 0) delete (v as Record<string, unknown>).ts;
      add(`schema_violation ${JSON.stringify(body)}`, 'sensor', key, JSON.stringify(v), 'schema_violation');
    }
    for (const v of ['1e999', '-1e999', '1e40', '-1e40', '1e300', '1.79e308', '-1.79e308', '3.5e38']) {
      add(`non_finite value ${v}`, 'sensor', uk(), reading(`hi-${s}-k${n}`, v), 'non_finite');
    }
    add('non_finite ts', 'sensor', uk(), `{"sensorId":"hi-${s}-k${n}","ts":1e999,"value":1}`, 'non_finite');
    add('non_finite values[0]', 'sensor', uk(), `{"sensorId":"hi-${s}-k${n}","ts":1,"values":[2e400]}`, 'non_finite');
    for (const values of [[1, 2], [1, 2, 3], Array.from({ length: 100 }, (_, i) => i)]) {
      const key = uk();
      add(`feature_count ${values.length}`, 'sensor', key, JSON.stringify({ sensorId: key, ts: T0, values }), 'feature_count');
    }
    for (const len of [MAX_TEXT_LENGTH + 1, MAX_TEXT_LENGTH * 10]) {
      const key = uk();
      add(`text_too_long ${len}`, 'text', key, text(key, 'p'.repeat(len)), 'text_too_long');
    }
    {
      const key = uk();
      // 301 code points of 2 UTF-16 units each: over the limit counted in code points.
      add('text_too_long emoji', 'text', key, text(key, '🚰'.repeat(MAX_TEXT_LENGTH + 1)), 'text_too_long');
      const k2 = uk();
      add('text at the limit in emoji', 'text', k2, text(k2, '🚰'.repeat(MAX_TEXT_LENGTH)), 'ok');
    }
    for (const topic of ['sensor', 'text'] as const) {
      add(`key_missing null ${topic}`, topic, null, topic === 'sensor' ? reading('x', 1) : text('x', 'hi'), 'key_missing');
      add(`key_missing empty ${topic}`, topic, '', topic === 'sensor' ? reading('', 1) : text('', 'hi'), 'key_missing');
    }
    for (const key of ['k'.repeat(257), 'é'.repeat(129), '🚰'.repeat(65), 'x'.repeat(1000), 'y'.repeat(200_000)]) {
      // The key alone is too long (the body stays small: its id need not match, the key is checked first).
      add(`key_too_long ${Buffer.byteLength(key)} B`, 'sensor', key, reading(key.slice(0, 300), 1), 'key_too_long');
    }
    add('key at 256 bytes', 'sensor', '🚰'.repeat(64), reading('🚰'.repeat(64), 1), 'ok');
    add('key of 255 bytes', 'text', `${'é'.repeat(127)}x`, text(`${'é'.repeat(127)}x`, 'fine'), 'ok');
    add('key_mismatch invalid UTF-8', 'sensor', Buffer.from([0xff, 0xfe, 0x41]), reading('\ufffd\ufffdA', 1), 'key_mismatch');
    add('key_mismatch overlong UTF-8', 'text', Buffer.from([0xc0, 0xaf]), text('/', 'x'), 'key_mismatch');
    add('key_mismatch lone surrogate key bytes', 'sensor', Buffer.from([0xed, 0xa0, 0x80]), reading('\ud800', 1), 'key_mismatch');
    add('key_mismatch body', 'sensor', 'a', reading('b', 1), 'key_mismatch');
    add('key_mismatch NFC vs NFD', 'text', 'caf\u00e9', text('cafe\u0301', 'x'), 'key_mismatch');
    add('key_mismatch case', 'text', 'Pump', text('pump', 'x'), 'key_mismatch');
    add('key_mismatch trailing space', 'sensor', 'p ', reading('p', 1), 'key_mismatch');
    add('key_mismatch lone surrogate body', 'text', '\ufffd', text('\ud800', 'x'), 'key_mismatch');
    for (const topic of ['sensor', 'text'] as const) {
      for (const pad of [MAX_PAYLOAD_BYTES, 100_000]) {
        const key = uk();
        const body = topic === 'sensor' ? { sensorId: key, ts: T0, value: 1, pad: 'x'.repeat(pad) } : { streamId: key, ts: T0, text: 'x', pad: 'y'.repeat(pad) };
        add(`payload_too_large ${pad} ${topic}`, topic, key, JSON.stringify(body), 'payload_too_large');
      }
      for (const size of LARGE_VALUES) {
        const key = uk();
        const head = topic === 'sensor' ? `{"sensorId":"${key}","ts":${T0},"value":1,"pad":"` : `{"streamId":"${key}","ts":${T0},"text":"x","pad":"`;
        const value = Buffer.alloc(size, 0x61);
        value.write(head, 0);
        value.write('"}', size - 2);
        add(`payload_too_large ${size} B ${topic} (broker limit)`, topic, key, value, 'payload_too_large');
      }
      const key = uk();
      add(`unknown_model ${topic}`, topic, key, topic === 'sensor' ? JSON.stringify({ sensorId: key, ts: T0, value: 1, model: `hi-${s}-none` }) : JSON.stringify({ streamId: key, ts: T0, text: 'x', model: `hi-${s}-none` }), 'unknown_model');
      const k2 = uk();
      add(`unknown_model wrong task ${topic}`, topic, k2, topic === 'sensor' ? JSON.stringify({ sensorId: k2, ts: T0, value: 1, model: names.cl }) : JSON.stringify({ streamId: k2, ts: T0, text: 'x', model: names.fc }), 'unknown_model');
      const k3 = uk();
      add(`named served model ${topic}`, topic, k3, topic === 'sensor' ? JSON.stringify({ sensorId: k3, ts: T0, value: 21, model: names.fc }) : JSON.stringify({ streamId: k3, ts: T0, text: 'pump fine', model: names.cl }), 'ok');
    }

    // float32 edges (the demo forecaster scales (x - 20) / 5): finite in float32 once scaled is
    // stepped (a step that still goes non-finite is dead-lettered), beyond it is non_finite.
    for (const v of ['3.4028234663852886e38', '-3.4028234663852886e38', '3.4028235e38', '1e38', '-1e38', '1e30', '123456789012345678901234567890']) {
      add(`float32 edge ${v}`, 'sensor', uk(), reading(`hi-${s}-k${n}`, v), ['ok', 'non_finite']);
    }
    for (const v of ['3.4028235677973366e38', '-3.4028235677973366e38', '1.7976931348623157e308', '5e39']) {
      add(`float32 overflow ${v}`, 'sensor', uk(), reading(`hi-${s}-k${n}`, v), 'non_finite');
    }
    for (const v of ['5e-324', '1e-45', '1.4e-45', '-0', '0', '1.1754943508222875e-38']) {
      add(`float32 small or exact ${v}`, 'sensor', uk(), reading(`hi-${s}-k${n}`, v), 'ok');
    }

    // Unicode edge cases in keys and texts.
    const unicode = ['🚰', '👩‍🔧', 'ﷺ', 'مضخة', '\u200f\u200e', 'a\u0000b', '\u2028\u2029', 'Ω≈ç√', '𝕡𝕦𝕞𝕡', 'ᄀᄀᄀ각ᆨᆨ', '\ufffd', 'e\u0301\u0301\u0301', '\t\n\r', '"\\/'];
    for (const u of unicode) {
      const key = `hi-${s}-u${n}-${u}`;
      add(`unicode key ${JSON.stringify(u)} sensor`, 'sensor', key, reading(key, 21), 'ok');
      const k2 = `hi-${s}-u${n}-${u}`;
      add(`unicode text ${JSON.stringify(u)}`, 'text', k2, text(k2, `pump ${u} broken ${u.repeat(3)}`), 'ok');
    }
    add('text with a lone surrogate (escaped)', 'text', uk(), `{"streamId":"hi-${s}-k${n}","ts":${T0},"text":"pump \\ud800 broken"}`, 'ok');
    add('text with invalid UTF-8 bytes', 'text', uk(), Buffer.concat([buf(`{"streamId":"hi-${s}-k${n}","ts":${T0},"text":"pump `), Buffer.from([0xff, 0xc0]), buf(' broken"}')]), 'ok');
    add('empty text', 'text', uk(), text(`hi-${s}-k${n}`, ''), 'ok');
    add('text of separators only', 'text', uk(), text(`hi-${s}-k${n}`, '!!!...\t\n'), 'ok');

    // Keys with odd bytes (valid UTF-8, matching body id).
    for (const key of ['\u0000', ' ', '\\', '"', '{"sensorId":1}', '\u007f', 'key\nwith\nnewlines', '%00', '../../etc/passwd', 'k:{x}:st']) {
      const k = `${key}-${s}-${n}`;
      add(`odd key ${JSON.stringify(key)}`, 'sensor', k, reading(k, 20.5), 'ok');
    }

    // Timestamps at the edges of what the contract and Date can represent.
    const tsCases: [unknown, Outcome][] = [
      [8.64e15, 'ok'],
      [-8.64e15, 'ok'],
      [0, 'ok'],
      [-1, 'ok'],
      ['9999-12-31T23:59:59.999Z', 'ok'],
      ['0000-01-01T00:00:00Z', 'ok'],
      ['1970-01-01T00:00:00Z', 'ok'],
      ['2026-11-27T10:00:00+14:00', 'ok'],
      ['2026-11-27T10:00:00.123456789Z', 'ok'],
      [8.64e15 + 1, 'schema_violation'],
      [-8.64e15 - 1, 'schema_violation'],
      [1.5, 'schema_violation'],
      [2 ** 53 + 2, 'schema_violation'],
      ['+275760-09-13T00:00:00.000Z', 'schema_violation'],
      ['2026-13-01T00:00:00Z', 'schema_violation'],
      ['2026-02-30T00:00:00Z', 'schema_violation'],
      ['2026-11-27T10:00:00', 'schema_violation'],
      ['2026-11-27T23:59:60Z', 'schema_violation'],
      ['', 'schema_violation'],
    ];
    for (const [ts, outcome] of tsCases) {
      const topic: Topic = n % 2 === 0 ? 'sensor' : 'text';
      const key = uk();
      add(`ts ${JSON.stringify(ts)}`, topic, key, topic === 'sensor' ? reading(key, 21, ts) : text(key, 'pump', ts), outcome);
    }

    // Late events: older than their key's last event (the canary of the partition).
    for (let i = 0; i < 4; i++) {
      const topic: Topic = i % 2 === 0 ? 'sensor' : 'text';
      const p = n % PARTITIONS;
      const key = `hi-${s}-canary-${topic}-${p}`;
      const ts = i < 2 ? T0 - 1 : new Date(T0 - 3_600_000).toISOString();
      add(`late_event ${topic}`, topic, key, topic === 'sensor' ? reading(key, 21, ts) : text(key, 'pump', ts), 'late_event');
    }

    // Seeded byte-level mutations of valid messages: the outcome is the contract decoder's verdict.
    for (let i = 0; i < 40; i++) {
      const topic: Topic = i % 2 === 0 ? 'sensor' : 'text';
      const key = uk();
      let b = buf(topic === 'sensor' ? reading(key, 20 + i) : text(key, 'the pump is broken'));
      const edits = 1 + Math.floor(rnd() * 3);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(rnd() * b.length);
        const kind = Math.floor(rnd() * 4);
        if (kind === 0) b[at] ^= 1 + Math.floor(rnd() * 255);
        else if (kind === 1) b = Buffer.concat([b.subarray(0, at), Buffer.from([Math.floor(rnd() * 256)]), b.subarray(at)]);
        else if (kind === 2) b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]);
        else b = b.subarray(0, at);
      }
      const limits = { maxPayloadBytes: MAX_PAYLOAD_BYTES, maxTextChars: MAX_TEXT_LENGTH };
      const d = topic === 'sensor' ? decodeSensorReading(buf(key), b, limits) : decodeTextEvent(buf(key), b, limits);
      // A decodable mutant may still fail what needs the model: feature count, float32 range, model name.
      add(`mutation ${i}`, topic, key, b, d.ok ? ['ok', 'feature_count', 'non_finite', 'unknown_model'] : [d.reason]);
    }
  }

  /** Keys fed good readings with one reading that overflows float32 after the second. */
  function buildPoisoned(): void {
    for (const bad of ['1e40', '1e300', '1.79e308', '-1.79e308']) {
      const key = `hi-${s}-poisoned-${bad}`;
      const values = [21, 22.5, 19.75, 20.5, 23, 18];
      const times = values.map((_, i) => T0 + 10_000 * (i + 1));
      poisoned.push({ key, values, times });
      const p = poisoned.length % PARTITIONS;
      values.forEach((v, i) => {
        plan.push({ topic: 'sensor', partition: p, key, value: reading(key, v, times[i]) });
        if (i === 1) {
          const c: Case = { name: `poisoned ${bad}`, topic: 'sensor', partition: p, key: buf(key), value: buf(reading(key, bad, times[i] + 1)), expect: ['non_finite'] };
          cases.push(c);
          plan.push(c);
        }
      });
    }
  }

  beforeAll(async () => {
    await kafka.connect();
    await kafka.createSuiteTopics(t, { sensor: PARTITIONS, text: PARTITIONS, forecasts: 2, classes: 2, dlq: 2 });
    registry = new TestRegistry(stack.redisUrl, kafka.producerClient, t.models);
    fc = await registry.seed(names.fc, DUAL_FORECASTER);
    await registry.seed(names.cl, DUAL_CLASSIFIER);
    collector = await kafka.collect([t.forecasts, t.classes, t.dlq], `hi-${s}-collector`);

    // Every partition starts with a good event; every case is followed by one.
    for (const topic of ['sensor', 'text'] as const) for (let p = 0; p < PARTITIONS; p++) plan.push(good(topic, p));
    buildCases();
    for (const c of cases) plan.push(c, good(c.topic, c.partition));
    buildPoisoned();
    goods.push(...plan.filter((x): x is Good => !('expect' in x)));

    // Offsets follow production order per (topic, partition): fresh topics, one idempotent producer.
    const next = assignOffsets(plan, (x) => `${x.topic}/${x.partition}`);

    worker = new WorkerProcess(`hostile-${s}`, {
      KAFKA_BROKERS: stack.brokers,
      REDIS_URL: stack.redisUrl,
      KAFKA_GROUP_ID: `hi-${s}`,
      ...topicEnv(t),
      FORECAST_MODEL: names.fc,
      CLASSIFY_MODEL: names.cl,
      MAX_TEXT_LENGTH: String(MAX_TEXT_LENGTH),
      MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD_BYTES),
      ALLOWED_LATENESS_MS: '0',
    });
    worker.start();
    await worker.ready();
    rss.before = rssKb(worker.pid);

    // Produce in plan order per topic; a value near the broker limit goes in a request of its own.
    for (const topic of ['sensor', 'text'] as const) {
      let run: OutMessage[] = [];
      const flush = async () => {
        if (run.length > 0) await kafka.produce(t[topic], run);
        run = [];
      };
      for (const x of plan) {
        if (x.topic !== topic) continue;
        const msg: OutMessage = { key: x.key, value: x.value, partition: x.partition };
        if (buf(x.value).length > 200_000) {
          await flush();
          await kafka.produce(t[topic], [msg], 1);
        } else run.push(msg);
      }
      await flush();
    }
    for (const topic of ['sensor', 'text'] as const) {
      for (const [p, e] of await kafka.endOffsets(t[topic])) expect(e).toBe(next.get(`${topic}/${p}`) ?? 0n);
    }

    const predicted = () => collector.distinctSources(t.forecasts) + collector.distinctSources(t.classes);
    const okCases = () => cases.filter((c) => c.expect.includes('ok')).length;
    await waitFor(
      'every good event to be predicted and every case to have an outcome',
      () => predicted() + collector.distinctSources(t.dlq) >= goods.length + cases.length && predicted() >= goods.length,
      150_000,
      250,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; predictions ${predicted()} (goods ${goods.length}, ok cases up to ${okCases()}), dlq ${collector.distinctSources(t.dlq)} of ${cases.length} cases`);
    });
    rss.after = rssKb(worker.pid);
    console.log(JSON.stringify({ suite: 'hostile-input', cases: cases.length, goods: goods.length, workerRssKb: rss }));
  }, 280_000);

  afterAll(async () => {
    if (worker?.running) {
      const exit = await worker.stop('SIGTERM');
      if (exit.code !== 0) console.error(`hostile worker exited ${JSON.stringify(exit)}`);
    }
    await worker?.dispose();
    await kafka.disconnect();
    await registry?.close();
  });

  const id = (x: Case | Good) => `${t[x.topic]}/${x.partition}/${x.offset}`;

  function outcomes() {
    const dlq = new Map<string, { env: DlqEnvelope; bytes: number }>();
    for (const m of collector.messages(t.dlq)) {
      const env = JSON.parse(m.value!.toString('utf8')) as DlqEnvelope;
      dlq.set(`${env.source.topic}/${env.source.partition}/${env.source.offset}`, { env, bytes: m.value!.length + (m.key?.length ?? 0) });
    }
    const preds = new Map<string, Record<string, unknown>>();
    for (const topic of [t.forecasts, t.classes]) {
      for (const b of collector.json<Record<string, unknown> & { source: { topic: string; partition: number; offset: string } }>(topic)) {
        preds.set(`${b.source.topic}/${b.source.partition}/${b.source.offset}`, b);
      }
    }
    return { dlq, preds };
  }

  it(`gives each of the 150+ cases exactly one outcome the contract allows, and predicts every good event after them`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(150);
    const { dlq, preds } = outcomes();
    const problems: string[] = [];
    const byOutcome: Record<string, number> = {};
    for (const c of cases) {
      const d = dlq.get(id(c));
      const p = preds.get(id(c));
      if (d && p) problems.push(`${c.name}: both predicted and dead-lettered`);
      const got: Outcome | 'none' = d ? d.env.reason : p ? 'ok' : 'none';
      byOutcome[got] = (byOutcome[got] ?? 0) + 1;
      if (!c.expect.includes(got as Outcome)) problems.push(`${c.name}: ${got}${d ? ` (${d.env.detail})` : ''}, expected ${c.expect.join('|')}`);
    }
    const missing = goods.filter((g) => !preds.has(id(g)));
    console.log(JSON.stringify({ suite: 'hostile-input', byOutcome, goodsPredicted: goods.length - missing.length, goods: goods.length, problems: problems.length }));
    expect(problems).toEqual([]);
    expect(missing.map((g) => `${g.key}@${id(g)}`)).toEqual([]);
    // every input-caused reason was exercised
    for (const r of ['invalid_json', 'schema_violation', 'non_finite', 'feature_count', 'text_too_long', 'key_missing', 'key_too_long', 'key_mismatch', 'late_event', 'payload_too_large', 'unknown_model']) {
      expect(byOutcome[r] ?? 0).toBeGreaterThan(0);
    }
  });

  it('keeps every dead letter within DLQ_MAX_BYTES, valid, with the original or its length and sha256', () => {
    const { dlq } = outcomes();
    const problems: string[] = [];
    let cut = 0;
    for (const c of cases) {
      const d = dlq.get(id(c));
      if (!d) continue;
      if (d.bytes > DEFAULT_MAX_DLQ_BYTES) problems.push(`${c.name}: dead letter of ${d.bytes} bytes`);
      const invalid = validateMessage('dlqEnvelope', d.env);
      if (invalid !== null) problems.push(`${c.name}: ${invalid}`);
      const copy = Buffer.from(d.env.value ?? '', 'base64');
      if (d.env.valueBytes === undefined) {
        if (!copy.equals(c.value)) problems.push(`${c.name}: value is not the original bytes`);
      } else {
        cut++;
        if (d.env.valueBytes !== c.value.length) problems.push(`${c.name}: valueBytes ${d.env.valueBytes} != ${c.value.length}`);
        if (d.env.valueSha256 !== createHash('sha256').update(c.value).digest('hex')) problems.push(`${c.name}: valueSha256 differs`);
        if (!c.value.subarray(0, copy.length).equals(copy)) problems.push(`${c.name}: value copy is not a prefix of the original`);
      }
    }
    expect(problems).toEqual([]);
    // the values near the broker limit (both topics) were all carried as truncated copies
    expect(cut).toBeGreaterThanOrEqual(LARGE_VALUES.length * 2);
  });

  it('never forecasts a null, and keys fed an overflowing reading forecast what their good readings alone give', () => {
    const { preds } = outcomes();
    const withNull = [...preds.values()].filter((b) => Array.isArray(b.forecast) && (b.forecast as unknown[]).some((v) => typeof v !== 'number'));
    expect(withNull.map((b) => JSON.stringify(b).slice(0, 200))).toEqual([]);
    const bySensor = new Map<string, number[][]>();
    for (const b of preds.values()) {
      if (typeof b.sensorId !== 'string' || !b.sensorId.includes('-poisoned-')) continue;
      const list = bySensor.get(b.sensorId) ?? [];
      list[Number((b.source as { offset: string }).offset)] = b.forecast as number[];
      bySensor.set(b.sensorId, list);
    }
    for (const { key, values, times } of poisoned) {
      const got = (bySensor.get(key) ?? []).filter(Boolean);
      const rows = values.map((v, i) => scaleFeatures(DUAL_FORECASTER, [v], i === 0 ? 0 : (times[i] - times[i - 1]) / 1000));
      const ref = referenceForecasts(DUAL_FORECASTER, fc.model, rows);
      expect(got).toHaveLength(values.length);
      got.forEach((f, i) => {
        const err = Math.max(...f.map((v, j) => Math.abs(v - ref[i][j])));
        expect(err).toBeLessThanOrEqual(1e-4);
      });
    }
  });

  it('reports the worker RSS before and after', () => {
    expect(rss.before).toBeGreaterThan(0);
    expect(rss.after).toBeGreaterThan(0);
    console.log(`hostile-input: worker RSS ${Math.round(rss.before / 1024)} MiB before, ${Math.round(rss.after / 1024)} MiB after ${cases.length} cases`);
  });
});
