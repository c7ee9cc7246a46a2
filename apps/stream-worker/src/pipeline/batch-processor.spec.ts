import { BatchProcessor } from './batch-processor';
import { ModelNotReadyError, UnitSupersededError, type InputMessage } from './ports';
import { MemorySink, MemoryState, processorConfig as cfg } from './testing/memory-ports';
import { decodeExtras } from './task-extras';
import { mulberry32, toyClassifier, toyForecaster } from './testing/toy-engine';
import type { ServingModel } from '../model/serving-model';

function models(...ms: ServingModel[]) {
  const map = new Map(ms.map((m) => [m.name, m]));
  return { get: (n: string) => map.get(n), map };
}

function msg(offset: number, key: string | null, body: unknown): InputMessage {
  return {
    offset: String(offset),
    key: key === null ? null : Buffer.from(key),
    value: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
  };
}

interface Reading {
  key: string;
  ts: number;
  value: number;
  reset?: boolean;
}

function readings(nKeys: number, perKey: number, seed = 7): Reading[] {
  const r = mulberry32(seed);
  const out: Reading[] = [];
  const t = new Map<string, number>();
  for (let i = 0; i < nKeys * perKey; i++) {
    const key = `s-${Math.floor(r() * nKeys)}`;
    const ts = (t.get(key) ?? 1_700_000_000_000) + 500 + Math.floor(r() * 2000);
    t.set(key, ts);
    out.push({ key, ts, value: 20 + 5 * Math.sin(i / 7) + r() });
  }
  return out;
}

/** Each key alone, one step at a time, batch 1: what the processor must reproduce. */
function referenceForecasts(model: ServingModel, rs: Reading[]) {
  const e = model.engine;
  const states = new Map<
    string,
    { h: Float32Array; last: number | null; prev: number | null; n: number; mean: number; m2: number }
  >();
  const res: { key: string; forecast: number[]; anomalyScore?: number }[] = [];
  for (const r of rs) {
    let s = states.get(r.key);
    if (!s || r.reset) {
      s = { h: new Float32Array(e.stateSize), last: null, prev: null, n: 0, mean: 0, m2: 0 };
      states.set(r.key, s);
    }
    const delta = s.last === null ? 0 : (r.ts - s.last) / 1000;
    e.step(1, Float32Array.of((r.value - 20) / 5, (delta - 1) / 2), s.h);
    const out = new Float32Array(3);
    e.head(1, s.h, out);
    const forecast = Array.from(out, (v) => v * 5 + 20);
    let anomalyScore: number | undefined;
    if (s.prev !== null) {
      const resid = r.value - s.prev;
      if (s.n >= 2) anomalyScore = (resid - s.mean) / Math.sqrt(s.m2 / (s.n - 1));
      s.n++;
      const d = resid - s.mean;
      s.mean += d / s.n;
      s.m2 += d * (resid - s.mean);
    }
    s.prev = forecast[0];
    s.last = r.ts;
    res.push({ key: r.key, forecast, anomalyScore });
  }
  return res;
}

function toMessages(rs: Reading[], from = 0): InputMessage[] {
  return rs.map((r, i) =>
    msg(from + i, r.key, { sensorId: r.key, ts: r.ts, value: r.value, ...(r.reset ? { reset: true } : {}) }),
  );
}

async function runInBatches(p: BatchProcessor, msgs: InputMessage[], size: number, topic = cfg.sensorTopic) {
  for (let i = 0; i < msgs.length; i += size) {
    await p.process({ topic, partition: 0, messages: msgs.slice(i, i + size) });
  }
}

describe('BatchProcessor (forecast)', () => {
  it('matches per-key sequential stepping, with one engine call per step and one produce per batch', async () => {
    const model = toyForecaster();
    const rs = readings(12, 8);
    rs[40].reset = true;
    const store = new MemoryState();
    const sink = new MemorySink();
    const p = new BatchProcessor(cfg, models(model), store, sink);
    await runInBatches(p, toMessages(rs), 25);
    expect(sink.batches.length).toBe(Math.ceil(rs.length / 25));
    expect(store.loads).toBe(sink.batches.length);
    const got = sink.all.map((o) => JSON.parse(o.value));
    const ref = referenceForecasts(model, rs);
    expect(got.length).toBe(rs.length);
    got.forEach((g, i) => {
      expect(g.sensorId).toBe(ref[i].key);
      expect(g.source).toEqual({ topic: cfg.sensorTopic, partition: 0, offset: String(i) });
      expect(g.forecast.length).toBe(3);
      g.forecast.forEach((v: number, j: number) => expect(v).toBeCloseTo(ref[i].forecast[j], 9));
      if (ref[i].anomalyScore === undefined) expect(g.anomalyScore).toBeUndefined();
      else expect(g.anomalyScore).toBeCloseTo(ref[i].anomalyScore, 6);
    });
    // at least one key had a multi-event batch, so time-major stepping was exercised
    expect(got.filter((g) => g.anomalyScore !== undefined).length).toBeGreaterThan(0);
  });

  it('is bit-identical whatever the batch split (a key never depends on its batch mates)', async () => {
    const rs = readings(10, 10, 11);
    const msgs = toMessages(rs);
    const outputs: string[][] = [];
    const states: string[] = [];
    for (const size of [1, 7, 100]) {
      const store = new MemoryState();
      const sink = new MemorySink();
      await runInBatches(new BatchProcessor(cfg, models(toyForecaster()), store, sink), msgs, size);
      outputs.push(sink.all.map((o) => o.value));
      states.push(
        JSON.stringify(
          [...store.data.entries()]
            .sort()
            .map(([k, v]) => [k, Array.from(v.state), Array.from(v.extras), String(v.offset)]),
        ),
      );
    }
    expect(outputs[1]).toEqual(outputs[0]);
    expect(outputs[2]).toEqual(outputs[0]);
    expect(states[1]).toBe(states[0]);
    expect(states[2]).toBe(states[0]);
  });

  it('scores each reading against the forecasts that targeted it (live accuracy), the same whatever the batch split', async () => {
    const rs = readings(6, 12, 13);
    rs[30].reset = true;
    const msgs = toMessages(rs);
    const runs: string[] = [];
    for (const size of [1, 5, 100]) {
      const store = new MemoryState();
      const sink = new MemorySink();
      await runInBatches(new BatchProcessor(cfg, models(toyForecaster()), store, sink), msgs, size);
      const forecasts = sink.all.map((o) => JSON.parse(o.value).forecast as number[]);
      // Independent: step k of the forecast after a key's reading i targets its reading i + k; a reset drops them.
      const want: { offset: bigint; n: number; sumErr: bigint; sumAbs: bigint; sumSq: bigint }[] = [];
      const byKey = new Map<string, number[]>();
      rs.forEach((r, i) => {
        const prior = r.reset ? [] : (byKey.get(r.key) ?? []);
        let n = 0;
        let sumErr = 0n;
        let sumAbs = 0n;
        let sumSq = 0n;
        for (let k = 1; k <= 3 && k <= prior.length; k++) {
          const err = r.value - forecasts[prior[prior.length - k]][k - 1];
          const q = BigInt(Math.round(err * 1e9));
          sumErr += q;
          sumAbs += q < 0n ? -q : q;
          sumSq += BigInt(Math.round(err * err * 1e9));
          n++;
        }
        if (n > 0) want.push({ offset: BigInt(i), n, sumErr, sumAbs, sumSq });
        byKey.set(r.key, [...prior, i]);
      });
      const got = store.accuracy.flatMap((a) => {
        expect(a.model).toBe('forecaster');
        expect(a.update.version).toBe('1');
        return a.update.partitions.flatMap((p) => {
          expect([p.topic, p.partition]).toEqual([cfg.sensorTopic, 0]);
          return p.readings;
        });
      });
      got.sort((a, b) => (a.offset < b.offset ? -1 : 1));
      expect(got).toEqual(want);
      runs.push(JSON.stringify(got, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
    }
    expect(runs[1]).toBe(runs[0]);
    expect(runs[2]).toBe(runs[0]);
  });

  it('skips already applied offsets on replay and emits nothing for them', async () => {
    const rs = readings(5, 6, 3);
    const msgs = toMessages(rs);
    const store = new MemoryState();
    const sink = new MemorySink();
    const p = new BatchProcessor(cfg, models(toyForecaster()), store, sink);
    await runInBatches(p, msgs.slice(0, 20), 20);
    const before = new Map(store.data);
    // replay overlapping the applied range: only offsets >= 20 produce
    await p.process({ topic: cfg.sensorTopic, partition: 0, messages: msgs.slice(10, 30) });
    const second = sink.batches[1].map((o) => JSON.parse(o.value).source.offset);
    expect(second).toEqual(msgs.slice(20, 30).map((m) => m.offset));
    // a full replay of the first range changes nothing
    const sink2 = new MemorySink();
    const p2 = new BatchProcessor(cfg, models(toyForecaster()), store, sink2);
    const snapshot = new Map(store.data);
    await p2.process({ topic: cfg.sensorTopic, partition: 0, messages: msgs.slice(0, 20) });
    expect(sink2.all).toEqual([]);
    expect(store.data).toEqual(snapshot);
    expect(before.size).toBeGreaterThan(0);
  });

  it('asks for the durability of earlier writes before a batch with already applied events commits', async () => {
    const msgs = toMessages(readings(5, 6, 3));
    const store = new MemoryState();
    const p = new BatchProcessor(cfg, models(toyForecaster()), store, new MemorySink());
    await p.process({ topic: cfg.sensorTopic, partition: 0, messages: msgs.slice(0, 20) });
    // Nothing skipped: the writes' own acknowledgement is the store's writeMany.
    expect(store.confirms).toBe(0);
    // The retry of a batch whose writes were done but not acknowledged: every event is skipped,
    // nothing is written, and the earlier writes must still be confirmed.
    const writes = store.writes;
    await p.process({ topic: cfg.sensorTopic, partition: 0, messages: msgs.slice(0, 20) });
    expect(store.writes).toBe(writes);
    expect(store.confirms).toBe(1);
  });

  it('replays a batch whose state write failed with bit-identical predictions', async () => {
    const msgs = toMessages(readings(4, 5, 5));
    const store = new MemoryState();
    const sink = new MemorySink();
    const p = new BatchProcessor(cfg, models(toyForecaster()), store, sink);
    store.failNextWrite = true;
    await expect(p.process({ topic: cfg.sensorTopic, partition: 0, messages: msgs })).rejects.toThrow(
      'redis down',
    );
    await p.process({ topic: cfg.sensorTopic, partition: 0, messages: msgs });
    expect(sink.batches.length).toBe(2);
    expect(sink.batches[1].map((o) => o.value)).toEqual(sink.batches[0].map((o) => o.value));
  });

  it('dead-letters bad messages with reasons and source coordinates; the rest flows', async () => {
    const store = new MemoryState();
    const sink = new MemorySink();
    const p = new BatchProcessor(cfg, models(toyForecaster(), toyClassifier()), store, sink);
    const messages = [
      msg(0, 'a', { sensorId: 'a', ts: 1000, value: 1 }),
      msg(1, 'a', '{not json'),
      msg(2, 'a', { sensorId: 'a', ts: 2000, values: [1, 2] }),
      msg(3, 'b', { sensorId: 'a', ts: 2000, value: 1 }),
      msg(4, null, { sensorId: 'a', ts: 2000, value: 1 }),
      msg(5, 'a', { sensorId: 'a', ts: 500, value: 1 }),
      msg(6, 'a', { sensorId: 'a', ts: 3000, value: 2, model: 'nope' }),
      msg(7, 'a', { sensorId: 'a', ts: 3000, value: 2, model: 'classifier' }),
      msg(8, 'a', '{"sensorId":"a","ts":3000,"value":1e999}'),
      msg(9, 'a', { sensorId: 'a', ts: 3000, value: 3 }),
    ];
    const res = await p.process({ topic: cfg.sensorTopic, partition: 2, messages });
    expect(sink.batches.length).toBe(1);
    const dlq = sink.all.filter((o) => o.topic === cfg.dlqTopic).map((o) => JSON.parse(o.value));
    expect(dlq.map((d) => [d.source.offset, d.reason])).toEqual([
      ['1', 'invalid_json'],
      ['2', 'feature_count'],
      ['3', 'key_mismatch'],
      ['4', 'key_missing'],
      ['5', 'late_event'],
      ['6', 'unknown_model'],
      ['7', 'unknown_model'],
      ['8', 'non_finite'],
    ]);
    expect(dlq[0].source).toEqual({ topic: cfg.sensorTopic, partition: 2, offset: '1' });
    expect(Buffer.from(dlq[0].value, 'base64').toString()).toBe('{not json');
    const preds = sink.all
      .filter((o) => o.topic === cfg.forecastTopic)
      .map((o) => JSON.parse(o.value).source.offset);
    expect(preds).toEqual(['0', '9']);
    expect(res).toMatchObject({ events: 10, predictions: 2, deadLetters: 8, skipped: 0, lastOffset: '9' });
    expect(store.data.get('forecaster/a')!.offset).toBe(9n);
  });

  it('waits (throws, produces nothing) while the topic model has no active version', async () => {
    const sink = new MemorySink();
    const p = new BatchProcessor(cfg, models(), new MemoryState(), sink);
    await expect(
      p.process({
        topic: cfg.sensorTopic,
        partition: 0,
        messages: [msg(0, 'a', { sensorId: 'a', ts: 1, value: 1 })],
      }),
    ).rejects.toBeInstanceOf(ModelNotReadyError);
    expect(sink.all).toEqual([]);
  });

  it('keeps a newer concurrent state (stale write dropped, counted)', async () => {
    const store = new MemoryState();
    const conflicts: number[] = [];
    const p = new BatchProcessor(cfg, models(toyForecaster()), store, new MemorySink(), {
      stateOps: (op, n) => {
        if (op === 'conflict') conflicts.push(n);
      },
    });
    const msgs = toMessages(readings(2, 3, 9));
    const original = store.writeMany.bind(store);
    let raced = '';
    store.writeMany = async (model, writes) => {
      raced = writes[0].key;
      store.data.set(`${model}/${raced}`, { ...writes[0].record, offset: 999n });
      return original(model, writes);
    };
    await p.process({ topic: cfg.sensorTopic, partition: 0, messages: msgs });
    expect(conflicts).toEqual([1]);
    expect(store.data.get(`forecaster/${raced}`)?.offset).toBe(999n);
    expect(store.data.size).toBe(2);
  });

  it('applies gap resets and allowed lateness from the configuration', async () => {
    const sink = new MemorySink();
    const store = new MemoryState();
    const p = new BatchProcessor(
      { ...cfg, maxGapMs: 10_000, allowedLatenessMs: -1 },
      models(toyForecaster()),
      store,
      sink,
    );
    const rs: Reading[] = [
      { key: 'a', ts: 1000, value: 20 },
      { key: 'a', ts: 2000, value: 21 },
      { key: 'a', ts: 1500, value: 22 },
      { key: 'a', ts: 60_000, value: 23 },
    ];
    await p.process({ topic: cfg.sensorTopic, partition: 0, messages: toMessages(rs) });
    const ref = referenceForecasts(toyForecaster(), [rs[0], rs[1], rs[2], { ...rs[3], reset: true }]);
    const got = sink.all.map((o) => JSON.parse(o.value));
    expect(got.length).toBe(4);
    got.forEach((g, i) =>
      g.forecast.forEach((v: number, j: number) => expect(v).toBeCloseTo(ref[i].forecast[j], 9)),
    );
  });
});

describe('BatchProcessor (reset control records)', () => {
  it('a control record resets its key at its offset, publishes nothing, whatever the batch split', async () => {
    const rs = readings(3, 8, 21);
    // Control records after the 3rd and 6th message of key s-0, and one for a key with no state.
    const ctl = (key: string) => ({ sensorId: key, ts: 1, model: 'forecaster', control: 'reset' });
    const bodies: unknown[] = [];
    const expected: Reading[] = [];
    let seen = 0;
    let resetNext = false;
    for (const r of rs) {
      bodies.push({ sensorId: r.key, ts: r.ts, value: r.value });
      expected.push(r.key === 's-0' && resetNext ? { ...r, reset: true } : r);
      if (r.key === 's-0') {
        resetNext = false;
        if (++seen === 3 || seen === 6) {
          bodies.push(ctl('s-0'));
          resetNext = true;
        }
      }
    }
    bodies.push(ctl('never-seen'));
    const msgs = bodies.map((b, i) => msg(i, (b as { sensorId: string }).sensorId, b));
    const ref = referenceForecasts(toyForecaster(), expected);
    for (const size of [1, 2, 5, msgs.length]) {
      const sink = new MemorySink();
      const store = new MemoryState();
      const p = new BatchProcessor(cfg, models(toyForecaster()), store, sink);
      await runInBatches(p, msgs, size);
      const got = sink.all.map((o) => JSON.parse(o.value) as { sensorId: string; forecast: number[]; anomalyScore?: number });
      expect(got.map((g) => g.sensorId)).toEqual(ref.map((r) => r.key));
      got.forEach((g, i) => {
        g.forecast.forEach((v, j) => expect(v).toBeCloseTo(ref[i].forecast[j], 9));
        expect(g.anomalyScore === undefined).toBe(ref[i].anomalyScore === undefined);
      });
      // Steps count from the last reset; the control-only key holds an initial state at its offset.
      const s0 = store.data.get('forecaster/s-0')!;
      expect(s0.steps).toBe(rs.filter((r) => r.key === 's-0').length - 6);
      const never = store.data.get('forecaster/never-seen')!;
      expect(never.steps).toBe(0);
      expect(never.offset).toBe(BigInt(msgs.length - 1));
      expect(Array.from(never.state).every((x) => x === 0)).toBe(true);
      expect(Number.isNaN(never.lastEventTs)).toBe(true);
    }
  });

  it('a text control record: the stream goes on exactly as a new stream fed the texts after it', async () => {
    const texts = ['alpha beta', 'gamma', 'beta beta alpha', 'delta gamma'];
    const bodies = [
      { streamId: 't', ts: 1, text: texts[0] },
      { streamId: 't', ts: 2, text: texts[1] },
      { streamId: 't', ts: 3, control: 'reset' },
      { streamId: 't', ts: 4, text: texts[2] },
      { streamId: 't', ts: 5, text: texts[3] },
      { streamId: 'u', ts: 4, text: texts[2] },
      { streamId: 'u', ts: 5, text: texts[3] },
    ];
    for (const size of [1, 3, bodies.length]) {
      const sink = new MemorySink();
      const store = new MemoryState();
      const p = new BatchProcessor(cfg, models(toyClassifier()), store, sink);
      await runInBatches(p, bodies.map((b, i) => msg(i, b.streamId, b)), size, cfg.textTopic);
      const out = sink.all.map((o) => JSON.parse(o.value) as { streamId: string; scores: Record<string, number> });
      expect(out.map((o) => o.streamId)).toEqual(['t', 't', 't', 't', 'u', 'u']);
      expect(out.slice(2, 4).map((o) => o.scores)).toEqual(out.slice(4).map((o) => o.scores));
      const [t, u] = [store.data.get('classifier/t')!, store.data.get('classifier/u')!];
      expect(Array.from(t.state)).toEqual(Array.from(u.state));
      expect(t.steps).toBe(u.steps);
    }
  });

  it('a control record is never late and leaves the event time alone', async () => {
    const sink = new MemorySink();
    const p = new BatchProcessor(cfg, models(toyForecaster()), new MemoryState(), sink);
    await p.process({
      topic: cfg.sensorTopic,
      partition: 0,
      messages: [
        msg(0, 'a', { sensorId: 'a', ts: 5000, value: 20 }),
        msg(1, 'a', { sensorId: 'a', ts: 1, control: 'reset' }),
        msg(2, 'a', { sensorId: 'a', ts: 6000, value: 21 }),
        msg(3, 'a', { sensorId: 'a', ts: 4000, value: 22 }),
      ],
    });
    const out = sink.all;
    // The reading at 4000 is late against 6000 (not against the control's time 1).
    expect(out.filter((o) => o.topic === cfg.forecastTopic)).toHaveLength(2);
    expect(out.filter((o) => o.topic === cfg.dlqTopic).map((o) => JSON.parse(o.value).reason)).toEqual(['late_event']);
  });
});

describe('BatchProcessor (label control records: live accuracy of classifiers)', () => {
  it('scores each label against the key’s latest classification, changes nothing else, the same whatever the batch split', async () => {
    const r = mulberry32(29);
    const words = ['pump', 'broken', 'fine', 'ok', 'bad', 'again'];
    const bodies: Record<string, unknown>[] = [{ streamId: 'k2', ts: 1, control: 'label', label: 1 }]; // before k2's first text: not scored
    for (let i = 0; i < 60; i++) {
      const key = `k${Math.floor(r() * 3)}`;
      const u = r();
      if (u < 0.3) bodies.push({ streamId: key, ts: 100 + i, control: 'label', label: r() < 0.5 ? 0 : 1 });
      else if (u < 0.33) bodies.push({ streamId: key, ts: 100 + i, control: 'reset' });
      else bodies.push({ streamId: key, ts: 100 + i, text: `${words[Math.floor(r() * 6)]} ${words[Math.floor(r() * 6)]}` });
    }
    // Independent: the same texts without labels give the classifications; a label scores the
    // key's last one before it (none after a reset), with the textbook formulas.
    const plain = new MemorySink();
    const noLabels = bodies.map((b, i) => ({ b, i })).filter(({ b }) => b.control !== 'label');
    await runInBatches(new BatchProcessor(cfg, models(toyClassifier()), new MemoryState(), plain), noLabels.map(({ b, i }) => msg(i, b.streamId as string, b)), 1000, cfg.textTopic);
    const plainOut = plain.all.map((o) => JSON.parse(o.value) as { streamId: string; scores: { pos: number }; source: { offset: string } });
    const last = new Map<string, number | null>();
    let next = 0;
    const want: { offset: bigint; n: number; sumErr: bigint; sumAbs: bigint; sumSq: bigint }[] = [];
    bodies.forEach((b, i) => {
      const key = b.streamId as string;
      if (b.control === 'reset') last.set(key, null);
      else if (b.control === 'label') {
        const p = last.get(key) ?? null;
        if (p === null) return;
        const y = b.label as number;
        const q = (x: number) => BigInt(Math.round(x * 1e9));
        want.push({ offset: BigInt(i), n: 1, sumErr: q(-Math.log(Math.max(1e-15, y === 1 ? p : 1 - p))), sumAbs: (p >= 0.5 ? 1 : 0) === y ? 1_000_000_000n : 0n, sumSq: q((p - y) ** 2) });
      } else last.set(key, plainOut[next++].scores.pos);
    });
    expect(want.length).toBeGreaterThan(10);
    for (const size of [1, 4, bodies.length]) {
      const sink = new MemorySink();
      const store = new MemoryState();
      await runInBatches(new BatchProcessor(cfg, models(toyClassifier()), store, sink), bodies.map((b, i) => msg(i, b.streamId as string, b)), size, cfg.textTopic);
      // Labels publish nothing and change no classification.
      expect(sink.all.map((o) => ({ ...JSON.parse(o.value), source: null }))).toEqual(plainOut.map((o) => ({ ...o, source: null })));
      const got = store.accuracy.flatMap((a) => {
        expect([a.model, a.update.version, a.update.kind]).toEqual(['classifier', '1', 'label']);
        return a.update.partitions.flatMap((p) => p.readings);
      });
      got.sort((a, b) => (a.offset < b.offset ? -1 : 1));
      expect(got).toEqual(want);
    }
  });

  it('refuses a label control record without a 0/1 label, with a reason naming the field', async () => {
    const sink = new MemorySink();
    await new BatchProcessor(cfg, models(toyClassifier()), new MemoryState(), sink).process({
      topic: cfg.textTopic,
      partition: 0,
      messages: [msg(0, 't', { streamId: 't', ts: 1, control: 'label' }), msg(1, 't', { streamId: 't', ts: 1, control: 'label', label: 2 })],
    });
    expect(sink.all.map((o) => JSON.parse(o.value) as { reason: string; detail: string })).toMatchObject([
      { reason: 'schema_violation', detail: '/label (0 or 1) is required with control "label"' },
      { reason: 'schema_violation' },
    ]);
  });
});

describe('BatchProcessor (classify)', () => {
  it('steps text tokens and matches per-key sequential stepping of the concatenated tokens', async () => {
    const model = toyClassifier();
    const texts: [string, string][] = [
      ['t1', 'pump broken'],
      ['t2', 'fine'],
      ['t1', 'again'],
      ['t1', ''],
      ['t2', 'ok ok bad pump'],
      ['t1', 'broken broken fine'],
    ];
    const sink = new MemorySink();
    const p = new BatchProcessor(cfg, models(model), new MemoryState(), sink);
    const msgs = texts.map(([k, t], i) => msg(i, k, { streamId: k, ts: 1000 + i, text: t }));
    await p.process({ topic: cfg.textTopic, partition: 0, messages: msgs.slice(0, 3) });
    await p.process({ topic: cfg.textTopic, partition: 0, messages: msgs.slice(3) });
    const got = sink.all.map((o) => JSON.parse(o.value));
    const e = model.engine;
    const st = new Map<string, Float32Array>();
    texts.forEach(([k, t], i) => {
      const h = st.get(k) ?? new Float32Array(e.stateSize);
      st.set(k, h);
      if (model.task.kind !== 'classify') throw new Error('task');
      for (const id of model.task.tokenize(t)) e.stepTokens(1, Int32Array.of(id), h);
      const out = new Float32Array(1);
      e.head(1, h, out);
      expect(got[i].streamId).toBe(k);
      expect(got[i].scores.pos).toBe(out[0]);
      expect(got[i].scores.neg).toBe(1 - out[0]);
      expect(got[i].label).toBe(out[0] > 0.5 ? 'pos' : 'neg');
    });
  });
});

describe('BatchProcessor (model swap policies)', () => {
  async function primed(
    policy: 'reset' | 'rewarm' | 'keep',
    units = 4,
    v1Policy: 'reset' | 'rewarm' = 'rewarm',
  ) {
    const store = new MemoryState();
    const rs = readings(3, 6, 21);
    const v1 = toyForecaster(1, v1Policy, 1);
    await runInBatches(new BatchProcessor(cfg, models(v1), store, new MemorySink()), toMessages(rs), 50);
    const v2 = toyForecaster(2, policy, 99, units);
    const sink = new MemorySink();
    const policies: Record<string, number> = {};
    const observer = { policyApplied: (p: string, n: number) => void (policies[p] = (policies[p] ?? 0) + n) };
    const p = new BatchProcessor(cfg, models(v2), store, sink, observer);
    const next = [{ key: 's-0', ts: rs[rs.length - 1].ts + 10_000, value: 25 }];
    await p.process({ topic: cfg.sensorTopic, partition: 0, messages: toMessages(next, rs.length) });
    const before = rs.filter((r) => r.key === 's-0');
    return { store, sink, v2, before, next, v1, policies };
  }

  it('reset: the key starts from zeros under the new version', async () => {
    const { sink, v2, next } = await primed('reset');
    const ref = referenceForecasts(v2, next);
    const got = JSON.parse(sink.all[0].value);
    expect(got.modelVersion).toBe('2');
    got.forecast.forEach((v: number, j: number) => expect(v).toBeCloseTo(ref[0].forecast[j], 9));
  });

  it('rewarm: the last REWARM_STEPS stored inputs are replayed through the new version', async () => {
    const { sink, v2, next, before, store, policies } = await primed('rewarm');
    expect(policies).toEqual({ rewarm: 1 });
    // reference: the last 4 readings of s-0 (with their original deltas) then the new one
    const e = v2.engine;
    const h = new Float32Array(e.stateSize);
    const all = [...before, ...next];
    const deltas = all.map((r, i) => (i === 0 ? 0 : (r.ts - all[i - 1].ts) / 1000));
    for (let i = all.length - 5; i < all.length; i++) {
      e.step(1, Float32Array.of((all[i].value - 20) / 5, (deltas[i] - 1) / 2), h);
    }
    const out = new Float32Array(3);
    e.head(1, h, out);
    const got = JSON.parse(sink.all[0].value);
    got.forecast.forEach((v: number, j: number) => expect(v).toBeCloseTo(out[j] * 5 + 20, 5));
    expect(got.anomalyScore).toBeUndefined();
    const rec = store.data.get('forecaster/s-0')!;
    expect(rec.modelVersion).toBe('2');
    const extras = decodeExtras(rec.extras, rec.ring, 'forecast', 2);
    expect(extras?.kind === 'forecast' && extras.history.length).toBe(4);
  });

  it('keeps no input ring for a model not served with rewarm; a rewarm swap from it resets', async () => {
    const { sink, v2, next, store, policies } = await primed('rewarm', 4, 'reset');
    // v1 (reset) stored no inputs for any key
    for (const [k, rec] of store.data) if (k !== 'forecaster/s-0') expect(rec.ring).toBeNull();
    expect(policies).toEqual({ rewarm_fallback: 1 });
    const ref = referenceForecasts(v2, next);
    const got = JSON.parse(sink.all[0].value);
    got.forecast.forEach((v: number, j: number) => expect(v).toBeCloseTo(ref[0].forecast[j], 9));
    // v2 is served with rewarm: from now on it keeps the key's inputs for the next swap
    const rec = store.data.get('forecaster/s-0')!;
    expect(rec.ring).toMatchObject({ count: 1, dim: 2 });
  });

  it('keep: the stored state continues under the new weights; a size change falls back to reset', async () => {
    const kept = await primed('keep', 4, 'reset');
    const e = kept.v2.engine;
    // continue v1's state for s-0 under v2
    const v1 = kept.v1.engine;
    const h = new Float32Array(v1.stateSize);
    kept.before.forEach((r, i) => {
      const d = i === 0 ? 0 : (r.ts - kept.before[i - 1].ts) / 1000;
      v1.step(1, Float32Array.of((r.value - 20) / 5, (d - 1) / 2), h);
    });
    const last = kept.before[kept.before.length - 1];
    e.step(1, Float32Array.of((25 - 20) / 5, ((kept.next[0].ts - last.ts) / 1000 - 1) / 2), h);
    const out = new Float32Array(3);
    e.head(1, h, out);
    const got = JSON.parse(kept.sink.all[0].value);
    got.forecast.forEach((v: number, j: number) => expect(v).toBeCloseTo(out[j] * 5 + 20, 9));

    // Forecasts v1 made are not scored for v2, even when its state is kept.
    expect(kept.store.accuracy.some((a) => a.update.version === '1')).toBe(true);
    expect(kept.store.accuracy.filter((a) => a.update.version === '2')).toEqual([]);

    const fallback = await primed('keep', 6, 'reset');
    const ref = referenceForecasts(fallback.v2, fallback.next);
    JSON.parse(fallback.sink.all[0].value).forecast.forEach((v: number, j: number) =>
      expect(v).toBeCloseTo(ref[0].forecast[j], 9),
    );
  });
});

describe('BatchProcessor units of work (the partition batches of one fetch)', () => {
  /** Readings split over partitions by key, as a producer keyed by sensor id does. */
  function byPartition(rs: Reading[], partitions: number): InputMessage[][] {
    const out: InputMessage[][] = Array.from({ length: partitions }, () => []);
    for (const r of rs) {
      const p = Number(r.key.slice(2)) % partitions;
      out[p].push(msg(out[p].length, r.key, { sensorId: r.key, ts: r.ts, value: r.value }));
    }
    return out;
  }
  const stateOf = (store: MemoryState) =>
    JSON.stringify([...store.data.entries()].sort().map(([k, v]) => [k, Array.from(v.state), Array.from(v.extras), v.partition, String(v.offset)]));
  /** One partition's messages cut into units at `cuts`, and what a processor gives them one unit at a time. */
  const cutUnits = async (msgs: InputMessage[], cuts: number[]) => {
    const bounds = [0, ...cuts, msgs.length];
    const units = bounds.slice(1).map((end, i) => [{ topic: cfg.sensorTopic, partition: 0, messages: msgs.slice(bounds[i], end) }]);
    const seqStore = new MemoryState();
    const seqSink = new MemorySink();
    const seq = new BatchProcessor(cfg, models(toyForecaster()), seqStore, seqSink);
    for (const u of units) await seq.processUnit(u);
    return { units, seqStore, seqSink };
  };

  it('runs every partition of a unit in one load, one produce and one write per model, bit-identical to one batch at a time', async () => {
    const parts = byPartition(readings(12, 6, 21), 3);
    const texts = [msg(0, 't1', { streamId: 't1', ts: 1, text: 'pump broken' }), msg(1, 't2', { streamId: 't2', ts: 1, text: 'fine' })];
    const unitStore = new MemoryState();
    const unitSink = new MemorySink();
    const stages: string[] = [];
    const emitted: number[] = [];
    const p = new BatchProcessor(cfg, models(toyForecaster(), toyClassifier()), unitStore, unitSink, {
      stageSeconds: (stage) => stages.push(stage),
      emitted: (times) => emitted.push(times.length),
    });
    const half = (xs: InputMessage[]) => [xs.slice(0, 3), xs.slice(3)];
    const first = parts.map((ms, i) => ({ topic: cfg.sensorTopic, partition: i, messages: half(ms)[0] }));
    const second = parts.map((ms, i) => ({ topic: cfg.sensorTopic, partition: i, messages: half(ms)[1] }));
    await p.processUnit([...first, { topic: cfg.textTopic, partition: 0, messages: texts }]);
    const res = await p.processUnit(second);
    expect(unitSink.batches.length).toBe(2);
    // one load per model and unit: 2 models in the first unit, 1 in the second
    expect(unitStore.loads).toBe(3);
    expect(unitStore.writes).toBe(3);
    expect(stages.slice(0, 5)).toEqual(['decode', 'state_load', 'step', 'produce', 'state_write']);
    expect(emitted.reduce((a, b) => a + b, 0)).toBe(72 + 2);
    expect(res).toMatchObject({ events: second.reduce((n, b) => n + b.messages.length, 0), skipped: 0, deadLetters: 0 });

    const aloneStore = new MemoryState();
    const aloneSink = new MemorySink();
    const alone = new BatchProcessor(cfg, models(toyForecaster(), toyClassifier()), aloneStore, aloneSink);
    for (const b of [...first, { topic: cfg.textTopic, partition: 0, messages: texts }, ...second]) await alone.process(b);
    const values = (sink: MemorySink) => sink.all.map((o) => o.value).sort();
    expect(values(unitSink)).toEqual(values(aloneSink));
    expect(stateOf(unitStore)).toBe(stateOf(aloneStore));
  });

  it('puts the predictions of a unit in source order: partition by partition, offsets ascending', async () => {
    const parts = byPartition(readings(6, 4, 5), 2);
    const sink = new MemorySink();
    const p = new BatchProcessor(cfg, models(toyForecaster()), new MemoryState(), sink);
    await p.processUnit(parts.map((messages, partition) => ({ topic: cfg.sensorTopic, partition, messages })));
    const sources = sink.all.map((o) => JSON.parse(o.value).source as { partition: number; offset: string });
    const expected = parts.flatMap((ms, partition) => ms.map((m) => ({ topic: cfg.sensorTopic, partition, offset: m.offset })));
    expect(sources).toEqual(expected);
  });

  it('leaves a batch whose topic model is not served waiting while the others of the unit flow', async () => {
    const store = new MemoryState();
    const sink = new MemorySink();
    const p = new BatchProcessor(cfg, models(toyForecaster()), store, sink);
    const res = await p.processUnit([
      { topic: cfg.textTopic, partition: 1, messages: [msg(0, 't1', { streamId: 't1', ts: 1, text: 'pump' })] },
      { topic: cfg.sensorTopic, partition: 0, messages: [msg(0, 'a', { sensorId: 'a', ts: 1, value: 1 })] },
    ]);
    expect([...res.waiting.keys()]).toEqual([0]);
    expect(res.waiting.get(0)).toBeInstanceOf(ModelNotReadyError);
    expect(res).toMatchObject({ events: 1, predictions: 1 });
    expect(sink.all.map((o) => o.topic)).toEqual([cfg.forecastTopic]);
    expect([...store.data.keys()]).toEqual(['forecaster/a']);
  });

  it('runs a key a producer spread over two partitions of one unit in two rounds, as two units would', async () => {
    const a = [msg(0, 'k', { sensorId: 'k', ts: 1000, value: 1 }), msg(1, 'k', { sensorId: 'k', ts: 2000, value: 2 })];
    const b = [msg(0, 'k', { sensorId: 'k', ts: 3000, value: 3 }), msg(1, 'j', { sensorId: 'j', ts: 3000, value: 4 })];
    const unitStore = new MemoryState();
    const unitSink = new MemorySink();
    await new BatchProcessor(cfg, models(toyForecaster()), unitStore, unitSink).processUnit([
      { topic: cfg.sensorTopic, partition: 0, messages: a },
      { topic: cfg.sensorTopic, partition: 1, messages: b },
    ]);
    // the second round reads the first's pending state; both go out in one producer call
    expect(unitSink.batches.length).toBe(1);
    expect(unitStore.writes).toBe(1);
    const seqStore = new MemoryState();
    const seqSink = new MemorySink();
    const seq = new BatchProcessor(cfg, models(toyForecaster()), seqStore, seqSink);
    await seq.process({ topic: cfg.sensorTopic, partition: 0, messages: a });
    await seq.process({ topic: cfg.sensorTopic, partition: 1, messages: b });
    expect(unitSink.all.map((o) => o.value)).toEqual(seqSink.all.map((o) => o.value));
    expect(stateOf(unitStore)).toBe(stateOf(seqStore));
  });

  it('prepares the next unit while the current one writes, from its pending states, bit-identical to one unit at a time', async () => {
    const { units, seqStore, seqSink } = await cutUnits(toMessages(readings(6, 8, 31)), [16, 32]);

    const store = new MemoryState();
    const sink = new MemorySink();
    const p = new BatchProcessor(cfg, models(toyForecaster()), store, sink);
    const prepared = [];
    for (const u of units) prepared.push(await p.prepareUnit(u));
    // three units prepared, nothing written yet; the second and third read the pending states
    expect(sink.batches.length).toBe(0);
    expect(store.loads).toBe(1);
    await Promise.all(prepared.map((u) => u.write()));
    expect(sink.all.map((o) => o.value)).toEqual(seqSink.all.map((o) => o.value));
    expect(stateOf(store)).toBe(stateOf(seqStore));
  });

  it('supersedes the units prepared on a unit whose write failed; prepared again they give the same result', async () => {
    const { units, seqStore, seqSink } = await cutUnits(toMessages(readings(5, 6, 41)), [15]);

    const store = new MemoryState();
    const sink = new MemorySink();
    const p = new BatchProcessor(cfg, models(toyForecaster()), store, sink);
    const first = await p.prepareUnit(units[0]);
    const second = await p.prepareUnit(units[1]);
    store.failNextWrite = true;
    await expect(first.write()).rejects.toThrow('redis down');
    await expect(second.write()).rejects.toBeInstanceOf(UnitSupersededError);
    // the first unit's predictions went out before its state write failed; the second's did not
    expect(sink.batches.length).toBe(1);
    expect(store.data.size).toBe(0);
    // the consumer rewinds both; prepared again they read the store, not the discarded states
    for (const u of units) await p.processUnit(u);
    expect(sink.batches.slice(1).flat().map((o) => o.value)).toEqual(seqSink.all.map((o) => o.value));
    expect(stateOf(store)).toBe(stateOf(seqStore));
  });
  describe('write lanes: a unit produces while the unit before it writes its states (docs/hot-path.md)', () => {
    const setup = async () => {
      const { units, seqStore, seqSink } = await cutUnits(toMessages(readings(5, 9, 43)), [15, 30]);
      const store = new MemoryState();
      const sink = new MemorySink();
      let open!: () => void;
      store.gate = new Promise<void>((resolve) => (open = resolve));
      const release = (): void => {
        store.gate = null;
        open();
      };
      return { units, seqStore, seqSink, store, sink, release, p: new BatchProcessor(cfg, models(toyForecaster()), store, sink) };
    };
    const settle = () => new Promise((resolve) => setImmediate(resolve));
    /** The first unit writes (its state write hangs on the gate); the second unit's produce fails. */
    const failSecondProduce = async (p: BatchProcessor, sink: MemorySink, units: Awaited<ReturnType<typeof setup>>['units']) => {
      const first = await p.prepareUnit(units[0]);
      const second = await p.prepareUnit(units[1]);
      const w0 = first.write();
      await settle();
      sink.failNextSend = true;
      const w1 = second.write();
      w1.catch(() => undefined);
      return { w0, w1 };
    };

    it('produces every prepared unit without waiting for the state writes before it; bit-identical to one unit at a time', async () => {
      const { units, seqStore, seqSink, store, sink, release, p } = await setup();
      const prepared = [];
      for (const u of units) prepared.push(await p.prepareUnit(u));
      const writes = prepared.map((u) => u.write());
      await settle();
      // the first state write hangs; all three produces went out anyway, in order
      expect(sink.batches.length).toBe(3);
      expect(store.data.size).toBe(0);
      release();
      await Promise.all(writes);
      expect(sink.all.map((o) => o.value)).toEqual(seqSink.all.map((o) => o.value));
      expect(stateOf(store)).toBe(stateOf(seqStore));
    });

    it('a failed state write supersedes the units after it, produced or not; replayed, the first copy of every prediction is in order and the states are identical', async () => {
      const { units, seqStore, seqSink, store, sink, release, p } = await setup();
      const prepared = [];
      for (const u of units) prepared.push(await p.prepareUnit(u));
      const writes = prepared.map((u) => u.write());
      await settle();
      store.failNextWrite = true;
      release();
      await expect(writes[0]).rejects.toThrow('redis down');
      await expect(writes[1]).rejects.toBeInstanceOf(UnitSupersededError);
      await expect(writes[2]).rejects.toBeInstanceOf(UnitSupersededError);
      expect(store.data.size).toBe(0);
      // the consumer rewinds all three; replayed, they read the store, not the discarded states
      for (const u of units) await p.processUnit(u);
      const firstCopies = [...new Set(sink.all.map((o) => o.value))];
      expect(firstCopies).toEqual(seqSink.all.map((o) => o.value));
      expect(stateOf(store)).toBe(stateOf(seqStore));
    });

    it('after a failed produce, the partition\'s later batch fetched before the rewind is superseded; the replay waits for the earlier state write under way', async () => {
      const { units, seqStore, seqSink, store, sink, release, p } = await setup();
      const { w0, w1 } = await failSecondProduce(p, sink, units);
      await settle();
      // the third unit (same partition, later offsets) arrives before the consumer sought back
      let third: string | null = null;
      const preparing = p.prepareUnit(units[2]).then(
        () => (third = 'prepared'),
        (e: unknown) => (third = e instanceof UnitSupersededError ? 'superseded' : String(e)),
      );
      await settle();
      // it waits while the first unit's states are still on their way to the store
      expect(third).toBeNull();
      release();
      await w0;
      await expect(w1).rejects.toThrow('broker down');
      await preparing;
      expect(third).toBe('superseded');
      // the consumer sought back to the second unit: its replay lifts the fence
      for (const u of units.slice(1)) await p.processUnit(u);
      expect(sink.all.map((o) => o.value)).toEqual(seqSink.all.map((o) => o.value));
      expect(stateOf(store)).toBe(stateOf(seqStore));
    });

    it('a rejoin lifts the fences: a partition another member moved past is not held back', async () => {
      const { units, sink, release, p } = await setup();
      const { w0, w1 } = await failSecondProduce(p, sink, units);
      release();
      await w0;
      await expect(w1).rejects.toThrow('broker down');
      await expect(p.prepareUnit(units[2])).rejects.toBeInstanceOf(UnitSupersededError);
      // after a rebalance the partition is fetched from its committed offset, here past the second unit
      p.assignmentChanged();
      const third = await p.prepareUnit(units[2]);
      await third.write();
      expect(third.result.predictions).toBe(units[2][0].messages.length);
    });
  });
});
