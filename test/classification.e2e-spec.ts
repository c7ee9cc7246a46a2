/**
 * Classification end to end: a seeded Embedding → LSTM → Dense(sigmoid) classifier with a Keras
 * tokenizer and a padding prefix, multi-message text streams per key through the worker (run
 * from dist). After every text event the scores must equal tfjs-layers' output over the stream's
 * whole token history (padding prefix included) in one predict call, max abs error 1e-5.
 */
import { seededRandom, type Tokenizer } from '@app/lstm';
import { e2eStack, uniqueName } from './support/e2e-env';
import { TestKafka, type Collector } from './support/test-kafka';
import {
  TestRegistry,
  classifierTokenizer,
  corpusWords,
  sequenceOutputs,
  type ClassifierDef,
  type SeededModel,
} from './support/model-fixtures';
import { suiteTopics, topicEnv, WorkerProcess, workerEnv } from './support/worker-process';

const STREAMS = 60;
const EVENTS = 8;
const PREFIX = 3;
const WORDS = [
  'pump', 'broken', 'again', 'fine', 'works', 'leak', 'pressure', 'low', 'high', 'valve', 'stuck',
  'replaced', 'thanks', 'urgent', 'noise', 'ok', 'motor', 'hot', 'cold', 'error', 'resolved', 'please',
];

interface Classification {
  streamId: string;
  ts: string | number;
  model: string;
  modelVersion: string;
  label: string;
  scores: Record<string, number>;
  source: { topic: string; partition: number; offset: string };
}

describe('classification: multi-message text streams against tfjs-layers', () => {
  const stack = e2eStack();
  const suffix = uniqueName('cl');
  const topics = suiteTopics(suffix);
  const modelName = `classifier-${suffix}`;
  const kafka = new TestKafka(stack.brokers, suffix);
  let registry: TestRegistry;
  let collector: Collector;
  let worker: WorkerProcess | null = null;
  let built: SeededModel;
  let tokenizer: Tokenizer;

  beforeAll(async () => {
    await kafka.connect();
    await kafka.createSuiteTopics(topics, { sensor: 3, text: 3, forecasts: 3, classes: 3, dlq: 3 });
    const rnd = seededRandom(5);
    // The tokenizer a Keras user would fit on a corpus (index by word frequency).
    const corpus = Array.from({ length: 40 }, () =>
      Array.from({ length: 6 }, () => WORDS[Math.floor(rnd() * WORDS.length)]).join(' '),
    );
    const def: ClassifierDef = {
      task: 'classify',
      seed: 77,
      units: 16,
      embedDim: 8,
      words: corpusWords(corpus),
      paddingPrefix: PREFIX,
      scale: 0.5,
    };
    tokenizer = classifierTokenizer(def);
    registry = new TestRegistry(stack.redisUrl, kafka.producerClient, topics.models);
    built = await registry.seed(modelName, def, { maxTokens: 100 });
    collector = await kafka.collect([topics.classes, topics.dlq]);
    worker = await WorkerProcess.launch(
      'classification',
      workerEnv(stack, {
        KAFKA_GROUP_ID: `${suffix}-workers`,
        ...topicEnv(topics),
        FORECAST_MODEL: `forecaster-${suffix}`,
        CLASSIFY_MODEL: modelName,
      }),
    );
  });

  afterAll(async () => {
    if (worker && !worker.exit) await worker.stop('SIGKILL');
    await kafka.disconnect();
    await registry?.close();
  });

  it('scores every event like the whole stream history through tfjs-layers', async () => {
    const rnd = seededRandom(11);
    // Per stream: texts (with case, punctuation, unknown words, an empty one) and resets.
    const texts: string[][] = [];
    const resets: boolean[][] = [];
    const messages: { key: string; value: string }[] = [];
    for (let k = 0; k < STREAMS; k++) {
      texts.push([]);
      resets.push([]);
    }
    for (let e = 0; e < EVENTS; e++) {
      for (let k = 0; k < STREAMS; k++) {
        const key = `stream-${k}`;
        const n = e === 3 && k % 7 === 0 ? 0 : 1 + Math.floor(rnd() * 6);
        const words: string[] = [];
        for (let i = 0; i < n; i++) {
          const r = rnd();
          let w = r < 0.1 ? `unknown${Math.floor(rnd() * 5)}` : WORDS[Math.floor(rnd() * WORDS.length)];
          if (r > 0.9) w = w.toUpperCase();
          words.push(w);
        }
        const text = words.join(rnd() < 0.3 ? ', ' : ' ') + (rnd() < 0.3 ? '!' : '');
        const reset = e === 5 && k % 10 === 0;
        texts[k].push(text);
        resets[k].push(reset);
        const body: Record<string, unknown> = { streamId: key, ts: 1_795_000_000_000 + e * 60_000 + k, text };
        if (reset) body.reset = true;
        messages.push({ key, value: JSON.stringify(body) });
      }
    }
    const t0 = Date.now();
    await kafka.produce(topics.text, messages);
    const got = await collector.waitFor(topics.classes, STREAMS * EVENTS, 180_000);
    const seconds = (Date.now() - t0) / 1000;
    expect(collector.messages(topics.dlq)).toEqual([]);

    const byStream = new Map<string, Classification[]>();
    for (const m of got) {
      const c = JSON.parse(m.value!.toString('utf8')) as Classification;
      let list = byStream.get(c.streamId);
      if (!list) byStream.set(c.streamId, (list = []));
      list.push(c);
    }
    let maxErr = 0;
    const problems: string[] = [];
    for (let k = 0; k < STREAMS; k++) {
      const list = byStream.get(`stream-${k}`)!;
      expect(list.length).toBe(EVENTS);
      list.sort((a, b) => Number(BigInt(a.source.offset) - BigInt(b.source.offset)));
      // Reference: each segment (from the start or a reset) = padding prefix + all its tokens,
      // one predict call; an event's score is the output at its last token.
      let segment: number[][] = [];
      const segments: number[][][] = [];
      texts[k].forEach((t, e) => {
        if (resets[k][e] && segment.length > 0) {
          segments.push(segment);
          segment = [];
        }
        segment.push(tokenizer.textToSequence(t));
      });
      segments.push(segment);
      let e = 0;
      for (const seg of segments) {
        const ids = [...new Array<number>(PREFIX).fill(0), ...seg.flat()];
        const { outs } = sequenceOutputs(built.model, [ids])[0];
        let at = PREFIX;
        for (const tokens of seg) {
          at += tokens.length;
          const p = outs[at - 1][0];
          const c = list[e];
          const err = Math.abs(c.scores.pos - p);
          maxErr = Math.max(maxErr, err);
          if (err > 1e-5) problems.push(`stream-${k} event ${e}: pos ${c.scores.pos} vs ${p}`);
          if (Math.abs(c.scores.neg - (1 - c.scores.pos)) > 1e-12) problems.push(`stream-${k} event ${e}: neg ${c.scores.neg}`);
          if (c.label !== (c.scores.pos > c.scores.neg ? 'pos' : 'neg')) problems.push(`stream-${k} event ${e}: label ${c.label}`);
          expect(c.model).toBe(modelName);
          expect(c.modelVersion).toBe('1');
          expect(c.ts).toBe(1_795_000_000_000 + e * 60_000 + k); // as received (epoch ms)
          e++;
        }
      }
    }
    expect(problems.slice(0, 10)).toEqual([]);
    expect(maxErr).toBeLessThanOrEqual(1e-5);
    console.log(
      JSON.stringify({
        suite: 'classification',
        events: STREAMS * EVENTS,
        seconds,
        eventsPerSecond: Math.round((STREAMS * EVENTS) / seconds),
        maxAbsError: maxErr,
      }),
    );
    const exit = await worker!.stop('SIGTERM', 12_000);
    expect(exit.code).toBe(0);
  });
});
