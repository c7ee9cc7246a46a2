import { RecurrentModel, TextWindow, randomRecurrentModelSpec } from '@app/lstm';
import { BatchProcessor } from './batch-processor';
import type { InputMessage } from './ports';
import { MemorySink, MemoryState, processorConfig as cfg } from './testing/memory-ports';
import type { ServingModel, SwapPolicy } from '../model/serving-model';

/**
 * The processor in text mode 'window': every message is scored on the key's last maxlen tokens
 * (stored ones first), whatever the batch boundaries, resets and swap policies; the record keeps
 * the tokens and no recurrent state.
 */
const WORDS = ['pump', 'broken', 'fine', 'again', 'ok', 'bad', 'leak'];
const MAXLEN = 4;

function windowModel(version: number, policy: SwapPolicy, vocab = WORDS.length + 1, padding: 'pre' | 'post' = 'pre'): ServingModel & { window: TextWindow } {
  const spec = randomRecurrentModelSpec({ cell: 'lstm', inputDim: 3, units: [5], vocabulary: vocab, head: [{ units: 1, activation: 'sigmoid' }], seed: version });
  const engine = new RecurrentModel(spec, { kernel: 'ts' });
  const window = new TextWindow(engine, { maxlen: MAXLEN, padding });
  return {
    name: 'classifier',
    version,
    versionLabel: String(version),
    engine,
    window,
    task: {
      kind: 'classify',
      tokenize: (text) => text.split(' ').map((w) => WORDS.indexOf(w) + 1).filter((i) => i > 0 && i < vocab),
      labels: ['neg', 'pos'],
      binarySigmoid: true,
      window,
    },
    initialState: new Float32Array(engine.stateSize),
    policy,
  };
}

/** Keras' reading of one window, scored alone. */
function expected(m: { window: TextWindow }, tokens: number[]): number {
  const w = tokens.slice(-MAXLEN);
  const out = new Float32Array(1);
  m.window.evaluate(1, Int32Array.from(w), Int32Array.of(0, w.length), out);
  return out[0];
}

function msg(offset: number, key: string, text: string, reset = false): InputMessage {
  return { offset: String(offset), key: Buffer.from(key), value: Buffer.from(JSON.stringify({ streamId: key, ts: 1_700_000_000_000 + offset, text, ...(reset ? { reset: true } : {}) })) };
}

function scores(sink: MemorySink): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const r of sink.all) {
    const c = JSON.parse(r.value) as { streamId: string; scores: { pos: number } };
    out.set(c.streamId, [...(out.get(c.streamId) ?? []), c.scores.pos]);
  }
  return out;
}

describe("BatchProcessor, text mode 'window'", () => {
  it('scores each message on the last maxlen tokens across batches and resets; the record keeps only the tokens', async () => {
    const model = windowModel(1, 'reset');
    const store = new MemoryState();
    const sink = new MemorySink();
    const p = new BatchProcessor(cfg, { get: (n) => (n === 'classifier' ? model : undefined) }, store, sink);
    const texts: [string, string, boolean][] = [
      ['a', 'pump broken', false],
      ['b', '', false],
      ['a', 'again fine ok', false],
      ['b', 'unknown words only', false],
      ['a', 'bad', false],
      ['b', 'leak leak leak leak leak leak', false],
      ['a', 'ok', true],
      ['a', 'fine', false],
    ];
    // Batches of 3, 2 and 3 messages: later ones continue from the stored tokens.
    const msgs = texts.map(([k, t, r], i) => msg(i, k, t, r));
    for (const [from, to] of [[0, 3], [3, 5], [5, 8]]) await p.process({ topic: cfg.textTopic, partition: 0, messages: msgs.slice(from, to) });

    const ids = (t: string) => model.task.kind === 'classify' ? model.task.tokenize(t) : [];
    const so = new Map<string, number[]>();
    const want = new Map<string, number[]>();
    for (const [k, t, r] of texts) {
      const s = r ? ids(t) : [...(so.get(k) ?? []), ...ids(t)];
      so.set(k, s);
      want.set(k, [...(want.get(k) ?? []), expected(model, s)]);
    }
    expect(scores(sink)).toEqual(want);
    const a = store.data.get('classifier/a')!;
    expect(a.state).toHaveLength(0);
    expect(Array.from(a.ring!.rows)).toEqual([5, 3]); // 'ok fine' after the reset
    expect(Array.from(store.data.get('classifier/b')!.ring!.rows)).toEqual([7, 7, 7, 7]);
  });

  it.each([
    ['rewarm', true],
    ['keep', true],
    ['reset', false],
  ] as const)('a swap with policy %s keeps the stored tokens: %s (ids beyond the new Embedding dropped)', async (policy, kept) => {
    const store = new MemoryState();
    const v1 = windowModel(1, 'reset');
    const p1 = new BatchProcessor(cfg, { get: () => v1 }, store, new MemorySink());
    await p1.process({ topic: cfg.textTopic, partition: 0, messages: [msg(0, 'k', 'pump leak broken')] });
    // v2 has a smaller vocabulary: 'leak' (id 7) is not in its Embedding.
    const v2 = windowModel(2, policy, 7, 'post');
    const sink = new MemorySink();
    const p2 = new BatchProcessor(cfg, { get: () => v2 }, store, sink);
    await p2.process({ topic: cfg.textTopic, partition: 0, messages: [msg(1, 'k', 'fine')] });
    expect(scores(sink).get('k')).toEqual([expected(v2, kept ? [1, 2, 3] : [3])]);
  });

  it('a window-mode shadow scores like the version alone and hands its token windows over warm', async () => {
    const shadowCfg = { ...cfg, shadowTopic: 'predictions.shadow' };
    const texts = ['pump broken', 'again fine ok', 'bad leak', 'ok', 'fine pump again', 'leak', 'broken broken', 'ok fine'];
    const msgs = texts.map((t, i) => msg(i, i % 2 === 0 ? 'a' : 'b', t));
    const alone = new MemorySink();
    const aloneStore = new MemoryState();
    const v2 = windowModel(2, 'reset');
    const ref = new BatchProcessor(shadowCfg, { get: (n) => (n === 'classifier' ? v2 : undefined) }, aloneStore, alone);
    await ref.process({ topic: cfg.textTopic, partition: 0, messages: msgs.slice(0, 5) });
    await ref.process({ topic: cfg.textTopic, partition: 0, messages: msgs.slice(5) });

    const models = { active: windowModel(1, 'reset') as ServingModel, shadow: v2 as ServingModel | null };
    const source = { get: (n: string) => (n === 'classifier' ? models.active : undefined), shadow: (n: string) => (n === 'classifier' ? (models.shadow ?? undefined) : undefined) };
    const sink = new MemorySink();
    const store = new MemoryState();
    const p = new BatchProcessor(shadowCfg, source, store, sink);
    await p.process({ topic: cfg.textTopic, partition: 0, messages: msgs.slice(0, 5) });
    const shadowOut = sink.all.filter((r) => r.topic === shadowCfg.shadowTopic).map((r) => r.value);
    expect(shadowOut).toEqual(alone.all.slice(0, 5).map((r) => r.value));
    models.active = { ...v2, policy: 'warm' };
    models.shadow = null;
    sink.batches.length = 0;
    await p.process({ topic: cfg.textTopic, partition: 0, messages: msgs.slice(5) });
    expect(sink.all.map((r) => r.value)).toEqual(alone.all.slice(5).map((r) => r.value));
    for (const k of ['a', 'b']) expect(store.data.get(`classifier/${k}`)).toEqual(aloneStore.data.get(`classifier/${k}`));
  });
});
