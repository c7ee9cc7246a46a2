import { parseDlqRecord } from '@app/contracts';
import { BatchProcessor } from './batch-processor';
import { ModelNotReadyError, type InputMessage } from './ports';
import { MemorySink, MemoryState, processorConfig as cfg } from './testing/memory-ports';
import { ToyEngine, toyClassifier, toyForecaster } from './testing/toy-engine';
import type { ServingModel, StepEngine } from '../model/serving-model';

function models(...ms: ServingModel[]) {
  const map = new Map(ms.map((m) => [m.name, m]));
  return { get: (n: string) => map.get(n) };
}

function reading(offset: number, key: string, ts: number, value: number | string): InputMessage {
  return {
    offset: String(offset),
    key: Buffer.from(key),
    value: Buffer.from(`{"sensorId":"${key}","ts":${ts},"value":${value}}`),
  };
}

/** Wraps an engine so that a row whose first input exceeds 1e5 leaves a NaN state (a step gone wrong). */
class PoisonableEngine implements StepEngine {
  constructor(private readonly inner: StepEngine) {}
  get stateSize() {
    return this.inner.stateSize;
  }
  get inputDim() {
    return this.inner.inputDim;
  }
  get outputDim() {
    return this.inner.outputDim;
  }
  get vocabularySize() {
    return this.inner.vocabularySize;
  }
  step(batch: number, x: Float32Array, state: Float32Array, mask?: Uint8Array): void {
    this.inner.step(batch, x, state, mask);
    for (let i = 0; i < batch; i++) {
      if (x[i * this.inputDim] > 1e5) state.fill(Number.NaN, i * this.stateSize, (i + 1) * this.stateSize);
    }
  }
  stepTokens(batch: number, ids: Int32Array, state: Float32Array, mask?: Uint8Array): void {
    this.inner.stepTokens(batch, ids, state, mask);
  }
  head(batch: number, state: Float32Array, out: Float32Array): void {
    this.inner.head(batch, state, out);
  }
}

function dlqOf(sink: MemorySink) {
  return sink.all.filter((o) => o.topic === cfg.dlqTopic).map((o) => parseDlqRecord(o.value));
}

function forecastsOf(sink: MemorySink, key: string) {
  return sink.all
    .filter((o) => o.topic === cfg.forecastTopic)
    .map((o) => JSON.parse(o.value) as { sensorId: string; forecast: (number | null)[]; anomalyScore?: number })
    .filter((p) => p.sensorId === key);
}

describe('BatchProcessor: readings that overflow float32', () => {
  it.each([['1e40'], ['1e300'], ['1.79e308'], ['-1.79e308'], ['3.5e38']])(
    'dead-letters %s as non_finite and keeps the key on its finite state',
    async (bad) => {
      const store = new MemoryState();
      const sink = new MemorySink();
      const p = new BatchProcessor(cfg, models(toyForecaster()), store, sink);
      const t0 = 1_700_000_000_000;
      await p.process({
        topic: cfg.sensorTopic,
        partition: 0,
        messages: [reading(0, 'a', t0, 21), reading(1, 'a', t0 + 1000, bad), reading(2, 'a', t0 + 2000, 22)],
      });
      const dlq = dlqOf(sink);
      expect(dlq.map((d) => [d.reason, d.source.offset])).toEqual([['non_finite', '1']]);
      expect(dlq[0].detail).toMatch(/^\/value .* overflows float32 once scaled/);
      const fc = forecastsOf(sink, 'a');
      expect(fc).toHaveLength(2);
      for (const f of fc) expect(f.forecast.every((v) => typeof v === 'number' && Number.isFinite(v))).toBe(true);
      expect(Array.from(store.data.get('forecaster/a')!.state).every(Number.isFinite)).toBe(true);
    },
  );
});

describe('BatchProcessor: a step that yields a non-finite state', () => {
  function poisonable(): ServingModel {
    const m = toyForecaster();
    return { ...m, engine: new PoisonableEngine(m.engine) };
  }

  it('dead-letters that event, keeps the previous state, and later readings equal a key fed only the good ones', async () => {
    const store = new MemoryState();
    const sink = new MemorySink();
    const warnings: string[] = [];
    const dead: string[] = [];
    const p = new BatchProcessor(
      cfg,
      models(poisonable()),
      store,
      sink,
      { deadLettered: (r, n) => dead.push(`${r}:${n}`) },
      { log: () => undefined, warn: (m) => warnings.push(m) },
    );
    const t0 = 1_700_000_000_000;
    const good = [21, 22.5, 19, 20.25, 23];
    // Key "poisoned" gets a reading whose step turns NaN between its good ones, in the same batch
    // and in a batch of its own; key "ref" gets the good readings only.
    const msgs: InputMessage[] = [];
    let o = 0;
    good.forEach((v, i) => {
      msgs.push(reading(o++, 'poisoned', t0 + i * 1000, v));
      if (i === 1) msgs.push(reading(o++, 'poisoned', t0 + i * 1000 + 500, 1e6));
      msgs.push(reading(o++, 'ref', t0 + i * 1000, v));
    });
    await p.process({ topic: cfg.sensorTopic, partition: 0, messages: msgs.slice(0, 5) });
    await p.process({ topic: cfg.sensorTopic, partition: 0, messages: [reading(o++, 'poisoned', t0 + 2400, 6e5)] });
    await p.process({ topic: cfg.sensorTopic, partition: 0, messages: msgs.slice(5) });

    const dlq = dlqOf(sink);
    expect(dlq.map((d) => d.reason)).toEqual(['non_finite', 'non_finite']);
    expect(dlq[0].detail).toMatch(/non-finite state for this event; the key keeps its previous state/);
    expect(dead).toEqual(['non_finite:1', 'non_finite:1']);
    expect(warnings.filter((w) => w.startsWith('non-finite state'))).toHaveLength(2);
    const poisoned = forecastsOf(sink, 'poisoned');
    const ref = forecastsOf(sink, 'ref');
    expect(poisoned).toHaveLength(good.length);
    expect(poisoned.map(({ forecast, anomalyScore }) => ({ forecast, anomalyScore }))).toEqual(
      ref.map(({ forecast, anomalyScore }) => ({ forecast, anomalyScore })),
    );
    expect(store.data.get('forecaster/poisoned')!.state).toEqual(store.data.get('forecaster/ref')!.state);
    expect(store.data.get('forecaster/poisoned')!.steps).toBe(good.length);
  });
});

describe('BatchProcessor: multi-target forecasters', () => {
  it("de-scales each output with its own target's mean and scale (outputs are horizon × targets, row-major)", async () => {
    const engine = new ToyEngine({ units: 3, inputDim: 2, outputDim: 4 }, 5);
    const mean = Float64Array.of(10, 1000);
    const scale = Float64Array.of(2, 50);
    const model: ServingModel = {
      name: 'forecaster',
      version: 1,
      versionLabel: '1',
      engine,
      task: { kind: 'forecast', valueCount: 2, includeTimeDelta: false, mean, scale, horizon: 4, targetIndex: Int32Array.of(0, 1) },
      initialState: new Float32Array(3),
      policy: 'reset',
    };
    const sink = new MemorySink();
    const p = new BatchProcessor(cfg, models(model), new MemoryState(), sink);
    const values = [12, 900];
    await p.process({
      topic: cfg.sensorTopic,
      partition: 0,
      messages: [{ offset: '0', key: Buffer.from('m'), value: Buffer.from(JSON.stringify({ sensorId: 'm', ts: 1, values })) }],
    });
    const h = new Float32Array(3);
    engine.step(1, Float32Array.of((12 - 10) / 2, (900 - 1000) / 50), h);
    const raw = new Float32Array(4);
    engine.head(1, h, raw);
    const expected = Array.from(raw, (v, j) => v * scale[j % 2] + mean[j % 2]);
    expect(forecastsOf(sink, 'm')[0].forecast).toEqual(expected);
  });
});

describe('BatchProcessor: tokenizer failures and odd token ids', () => {
  it('dead-letters an event whose tokenizer throws (model_error) and keeps the partition flowing', async () => {
    const base = toyClassifier();
    const task = base.task as Extract<ServingModel['task'], { kind: 'classify' }>;
    const model: ServingModel = {
      ...base,
      task: {
        ...task,
        tokenize: (text: string) => {
          if (text.includes('boom')) throw new Error('split must not be empty');
          // negative and out-of-range ids must never reach the engine
          return [...task.tokenize(text), -3, 99];
        },
      },
    };
    const sink = new MemorySink();
    const p = new BatchProcessor(cfg, models(model), new MemoryState(), sink);
    const text = (o: number, t: string): InputMessage => ({
      offset: String(o),
      key: Buffer.from('s'),
      value: Buffer.from(JSON.stringify({ streamId: 's', ts: o, text: t })),
    });
    await p.process({ topic: cfg.textTopic, partition: 0, messages: [text(0, 'pump broken'), text(1, 'boom'), text(2, 'fine again')] });
    const dlq = dlqOf(sink);
    expect(dlq.map((d) => [d.reason, d.source.offset])).toEqual([['model_error', '1']]);
    expect(dlq[0].detail).toMatch(/tokenizer failed: split must not be empty/);
    expect(sink.all.filter((o) => o.topic === cfg.classificationTopic)).toHaveLength(2);
  });
});

describe('BatchProcessor: dead letters fit the topic', () => {
  it('carries a value near the broker limit as a truncated copy within dlqMaxBytes', async () => {
    const sink = new MemorySink();
    const p = new BatchProcessor({ ...cfg, dlqMaxBytes: 100_000 }, models(toyForecaster()), new MemoryState(), sink);
    const big = `{"sensorId":"k","ts":1,"value":1,"pad":"${'x'.repeat(1024 * 1024 - 100)}"}`;
    await p.process({
      topic: cfg.sensorTopic,
      partition: 0,
      messages: [
        { offset: '0', key: Buffer.from('k'), value: Buffer.from(big) },
        reading(1, 'k', 2, 21),
      ],
    });
    const rec = sink.all.find((o) => o.topic === cfg.dlqTopic)!;
    expect(Buffer.byteLength(rec.value) + (rec.key?.length ?? 0)).toBeLessThanOrEqual(100_000);
    const env = parseDlqRecord(rec.value);
    expect(env.reason).toBe('payload_too_large');
    expect(env.valueBytes).toBe(Buffer.byteLength(big));
    expect(forecastsOf(sink, 'k')).toHaveLength(1);
  });
});

describe('BatchProcessor: an activation verified but not loaded here yet', () => {
  it('waits (retries the batch) for keys another worker already moved to it, instead of swapping them back', async () => {
    const store = new MemoryState();
    const v2 = toyForecaster(2);
    const sink = new MemorySink();
    const t0 = 1_700_000_000_000;
    // Another worker served v2 and stored key "moved" with it.
    await new BatchProcessor(cfg, models(v2), store, sink).process({ topic: cfg.sensorTopic, partition: 0, messages: [reading(0, 'moved', t0, 21)] });
    const stored = store.data.get('forecaster/moved');
    let pending: string | null = '2';
    const v1Source = { ...models(toyForecaster(1)), pendingVersion: () => pending };
    const p = new BatchProcessor(cfg, v1Source, store, sink);
    const batch = { topic: cfg.sensorTopic, partition: 0, messages: [reading(1, 'moved', t0 + 1000, 22), reading(2, 'other', t0, 20)] };
    await expect(p.process(batch)).rejects.toBeInstanceOf(ModelNotReadyError);
    expect(store.data.get('forecaster/moved')).toBe(stored);
    pending = null; // e.g. a newer activation replaced it: the served version's policy applies
    await p.process(batch);
    expect(store.data.get('forecaster/moved')!.modelVersion).toBe('1');
  });
});

describe('BatchProcessor: a key spread over partitions', () => {
  it('reports keys whose stored state came from another partition (metric hook and a warning)', async () => {
    const store = new MemoryState();
    const sink = new MemorySink();
    const moved: number[] = [];
    const warnings: string[] = [];
    const p = new BatchProcessor(cfg, models(toyForecaster()), store, sink, { keyPartitionMoved: (n) => moved.push(n) }, { log: () => undefined, warn: (m) => warnings.push(m) });
    await p.process({ topic: cfg.sensorTopic, partition: 0, messages: [reading(0, 'spread', 1, 21), reading(1, 'stays', 1, 21)] });
    expect(moved).toEqual([]);
    await p.process({ topic: cfg.sensorTopic, partition: 3, messages: [reading(0, 'spread', 2, 22)] });
    await p.process({ topic: cfg.sensorTopic, partition: 0, messages: [reading(2, 'stays', 2, 22)] });
    expect(moved).toEqual([1]);
    expect(warnings.filter((w) => w.includes('spread (state from partition 0)'))).toHaveLength(1);
  });
});
