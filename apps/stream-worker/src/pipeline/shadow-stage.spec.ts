import { DEFAULT_TOPICS } from '@app/contracts';
import { shadowStateModel } from '@app/state';
import type { ServingModel } from '../model/serving-model';
import { BatchProcessor } from './batch-processor';
import type { InputMessage, PolicyApplied } from './ports';
import { MemorySink, MemoryState, processorConfig } from './testing/memory-ports';
import { mulberry32, toyClassifier, toyForecaster } from './testing/toy-engine';

const SHADOW_TOPIC = 'predictions.shadow';
const cfg = { ...processorConfig, shadowTopic: SHADOW_TOPIC };
const V1 = toyForecaster(1, 'reset', 1);
const V2 = toyForecaster(2, 'reset', 2);

/** A model source with an active version and an optional shadow, swappable between units. */
function source(active: ServingModel, shadow: ServingModel | null) {
  const s = { active, shadow };
  return {
    state: s,
    models: { get: (n: string) => (n === 'forecaster' ? s.active : undefined), shadow: (n: string) => (n === 'forecaster' ? (s.shadow ?? undefined) : undefined) },
  };
}

/** `n` readings over `keys` keys, offsets from `from` on partition 0. */
function readings(n: number, keys: number, from = 0, seed = 3): InputMessage[] {
  const r = mulberry32(seed);
  const out: InputMessage[] = [];
  for (let i = 0; i < n; i++) {
    const key = `s-${i % keys}`;
    const body = { sensorId: key, ts: 1_700_000_000_000 + (from + i) * 1000, value: 20 + 5 * Math.sin((from + i) / 5) + r() };
    out.push({ offset: String(from + i), key: Buffer.from(key), value: Buffer.from(JSON.stringify(body)) });
  }
  return out;
}

const batch = (messages: InputMessage[]) => ({ topic: DEFAULT_TOPICS.sensorReadings, partition: 0, messages });
const values = (records: { value: string }[]) => records.map((r) => r.value);

describe('shadow versions in the batch processor', () => {
  const all = readings(60, 4);
  const [first, second] = [all.slice(0, 40), all.slice(40)];

  /** v2 alone over every reading: the independent reference of what the shadow must compute. */
  async function v2Alone() {
    const sink = new MemorySink();
    const state = new MemoryState();
    const p = new BatchProcessor(cfg, source(V2, null).models, state, sink);
    await p.process(batch(first));
    await p.process(batch(second));
    return { sink, state };
  }

  it('steps the shadow with its own state namespace, keeps it off the prediction topic, and hands over warm', async () => {
    const ref = await v2Alone();
    const sink = new MemorySink();
    const state = new MemoryState();
    const src = source(V1, V2);
    const policies: string[] = [];
    const shadowed: number[] = [];
    const observer = {
      policyApplied: (p: PolicyApplied, n: number) => policies.push(`${p}:${n}`),
      shadowStepped: (_m: string, events: number) => shadowed.push(events),
    };
    const p = new BatchProcessor(cfg, src.models, state, sink, observer);
    const res = await p.process(batch(first));
    expect(res.predictions).toBe(40);
    expect(shadowed).toEqual([40]);
    const forecasts = sink.all.filter((r) => r.topic === cfg.forecastTopic);
    expect(forecasts.every((r) => JSON.parse(r.value).modelVersion === '1')).toBe(true);
    const shadowOut = sink.all.filter((r) => r.topic === SHADOW_TOPIC);
    // Byte-identical to v2's own predictions of the same events, only on another topic.
    expect(values(shadowOut)).toEqual(values(ref.sink.all.slice(0, 40)));
    for (const k of ['s-0', 's-1', 's-2', 's-3']) {
      const shadowRec = state.data.get(`${shadowStateModel('forecaster', 2)}/${k}`)!;
      const active = state.data.get(`forecaster/${k}`)!;
      expect(shadowRec.modelVersion).toBe('2');
      expect(active.modelVersion).toBe('1');
      expect([shadowRec.partition, shadowRec.offset]).toEqual([active.partition, active.offset]);
    }

    // Promotion: v2 active with the warm policy, no shadow any more.
    src.state.active = toyForecaster(2, 'warm', 2);
    src.state.shadow = null;
    sink.batches.length = 0;
    await p.process(batch(second));
    expect(policies).toContain('warm:4');
    expect(policies.some((x) => x.startsWith('warm_fallback'))).toBe(false);
    // The first predictions served by v2 are those of v2 having seen every event.
    expect(values(sink.all)).toEqual(values(ref.sink.all.slice(40)));
    for (const k of ['s-0', 's-1', 's-2', 's-3']) expect(state.data.get(`forecaster/${k}`)).toEqual(ref.state.data.get(`forecaster/${k}`));
  });

  it('without a shadow topic the shadow publishes nothing', async () => {
    const sink = new MemorySink();
    const state = new MemoryState();
    const p = new BatchProcessor(processorConfig, source(V1, V2).models, state, sink);
    await p.process(batch(first));
    expect(sink.all.every((r) => r.topic === processorConfig.forecastTopic && JSON.parse(r.value).modelVersion === '1')).toBe(true);
    expect(state.data.has(`${shadowStateModel('forecaster', 2)}/s-0`)).toBe(true);
  });

  it('warm falls back to reset for a key the shadow has no record of, or one at another position', async () => {
    const sink = new MemorySink();
    const state = new MemoryState();
    const src = source(V1, null);
    const policies: string[] = [];
    const p = new BatchProcessor(cfg, src.models, state, sink, { policyApplied: (x, n) => policies.push(`${x}:${n}`) });
    await p.process(batch(first));
    src.state.active = toyForecaster(2, 'warm', 2);
    await p.process(batch(second));
    expect(policies).toEqual(['warm_fallback:4']);
    expect(state.data.get('forecaster/s-0')!.steps).toBe(5); // restarted: 20 readings of 4 keys since
  });

  it('a shadow that missed events restarts those keys; a shadow behind in a replay applies them', async () => {
    const state = new MemoryState();
    const src = source(V1, V2);
    const restarts: number[] = [];
    const p = new BatchProcessor(cfg, src.models, state, new MemorySink(), { shadowStepped: (_m, _e, r) => restarts.push(r) });
    await p.process(batch(all.slice(0, 20)));
    src.state.shadow = null; // the shadow failed to load for a while
    await p.process(batch(all.slice(20, 40)));
    src.state.shadow = V2;
    await p.process(batch(all.slice(40)));
    expect(restarts).toEqual([0, 4]);
    expect(state.data.get(`${shadowStateModel('forecaster', 2)}/s-0`)!.steps).toBe(5);

    // A crash between the two writes: the active record moved on, the shadow's did not; the
    // redelivered unit brings the events in between, and the shadow applies them.
    const ref = await v2Alone();
    const replay = new MemoryState();
    const q = new BatchProcessor(cfg, source(V1, V2).models, replay, new MemorySink(), { shadowStepped: (_m, _e, r) => restarts.push(r) });
    await q.process(batch(first));
    const shadowNs = shadowStateModel('forecaster', 2);
    const before = new Map([...replay.data].filter(([k]) => k.startsWith(shadowNs)));
    await new BatchProcessor(cfg, source(V1, null).models, replay, new MemorySink()).process(batch(second));
    for (const [k, v] of before) replay.data.set(k, v);
    await q.process(batch(second));
    expect(restarts.slice(2)).toEqual([0, 0]);
    for (const k of ['s-0', 's-1', 's-2', 's-3']) {
      expect(replay.data.get(`${shadowNs}/${k}`)).toEqual(ref.state.data.get(`forecaster/${k}`));
    }

    // The other way round: the shadow's write landed, the active one's did not. The active
    // version applies the redelivered events; the shadow skips them, and the unit confirms the
    // durability of the earlier writes before its offsets may be committed.
    const other = new MemoryState();
    const r = new BatchProcessor(cfg, source(V1, V2).models, other, new MemorySink());
    await r.process(batch(first));
    const activeBefore = new Map([...other.data].filter(([k]) => k.startsWith('forecaster/')));
    await r.process(batch(second));
    for (const [k, v] of activeBefore) other.data.set(k, v);
    const confirms = other.confirms;
    const res = await new BatchProcessor(cfg, source(V1, V2).models, other, new MemorySink()).process(batch(second));
    expect(res.skipped).toBe(0);
    expect(res.predictions).toBe(20);
    expect(other.confirms).toBe(confirms + 1);
  });

  it('steps a classifier shadow on the text topic like the version alone, then hands it over warm', async () => {
    const words = ['pump', 'broken', 'fine', 'again', 'ok', 'bad'];
    const r = mulberry32(9);
    const texts: InputMessage[] = Array.from({ length: 30 }, (_, i) => {
      const key = `t-${i % 3}`;
      const text = Array.from({ length: 1 + (i % 4) }, () => words[Math.floor(r() * words.length)]).join(' ');
      return { offset: String(i), key: Buffer.from(key), value: Buffer.from(JSON.stringify({ streamId: key, ts: 1_700_000_000_000 + i * 1000, text })) };
    });
    const textBatch = (messages: InputMessage[]) => ({ topic: DEFAULT_TOPICS.textEvents, partition: 0, messages });
    const c1 = toyClassifier(1, 2);
    const c2 = toyClassifier(2, 5);
    const classifierSource = (active: ServingModel, shadow: ServingModel | null) => {
      const st = { active, shadow };
      return { st, models: { get: (n: string) => (n === 'classifier' ? st.active : undefined), shadow: (n: string) => (n === 'classifier' ? (st.shadow ?? undefined) : undefined) } };
    };
    const refSink = new MemorySink();
    const refState = new MemoryState();
    const ref = new BatchProcessor(cfg, classifierSource(c2, null).models, refState, refSink);
    await ref.process(textBatch(texts.slice(0, 20)));
    await ref.process(textBatch(texts.slice(20)));

    const sink = new MemorySink();
    const state = new MemoryState();
    const src = classifierSource(c1, c2);
    const p = new BatchProcessor(cfg, src.models, state, sink);
    await p.process(textBatch(texts.slice(0, 20)));
    expect(sink.all.filter((x) => x.topic === cfg.classificationTopic).every((x) => JSON.parse(x.value).modelVersion === '1')).toBe(true);
    expect(values(sink.all.filter((x) => x.topic === SHADOW_TOPIC))).toEqual(values(refSink.all.slice(0, 20)));
    src.st.active = { ...c2, policy: 'warm' };
    src.st.shadow = null;
    sink.batches.length = 0;
    await p.process(textBatch(texts.slice(20)));
    expect(values(sink.all)).toEqual(values(refSink.all.slice(20)));
    for (const k of ['t-0', 't-1', 't-2']) expect(state.data.get(`classifier/${k}`)).toEqual(refState.data.get(`classifier/${k}`));
  });
});
