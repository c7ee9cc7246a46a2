/**
 * Live accuracy of a classifier from labels, end to end (docs/accuracy.md): a seeded classifier
 * served by a real worker on the run's Kafka and Redis; texts and label control records
 * (`{"streamId","ts","control":"label","label":0|1}`) of a few keys on a 2-partition text topic;
 * the worker is SIGKILLed mid-stream and a new one takes over. The test scores every label
 * itself against the key's latest classification before it on the classifications topic (the
 * outside reference) and compares with the trainer's `GET /v1/models/{name}/accuracy`: labels
 * counted once (none lost, none twice across the replay), the same log loss, accuracy at 0.5
 * and Brier score, fences at each partition's last scored label; labels publish nothing; a full
 * replay of the topic by another group changes no total.
 */
import { readAccuracy } from '@app/state';
import { e2eStack, testRedisClient, uniqueName, waitFor } from './support/e2e-env';
import { DUAL_CLASSIFIER } from './support/dual-run';
import { WORDS } from './support/event-streams';
import { TestRegistry } from './support/model-fixtures';
import { partitionFor, TestKafka, type Collector } from './support/test-kafka';
import { TrainerProcess, trainerEnv } from './support/trainer-process';
import { suiteTopics, topicEnv, WorkerProcess, workerEnv } from './support/worker-process';

const PARTITIONS = 2;
const KEYS = 6;
const PER_KEY = 40;

interface Classification {
  streamId: string;
  scores: Record<string, number>;
  source: { topic: string; partition: number; offset: string };
}

describe('live labels: a classifier scored exactly once across a SIGKILL', () => {
  const stack = e2eStack();
  const suffix = uniqueName('ll');
  const topics = suiteTopics(suffix);
  const modelName = `classifier-${suffix}`;
  const token = `token-${suffix}`;
  const group = `${suffix}-workers`;
  const kafka = new TestKafka(stack.brokers, suffix);
  let registry: TestRegistry;
  let collector: Collector;
  let worker: WorkerProcess | null = null;
  let trainer: TrainerProcess | null = null;
  const env = () => workerEnv(stack, { KAFKA_GROUP_ID: group, ...topicEnv(topics), CLASSIFY_MODEL: modelName, FORECAST_MODEL: `forecaster-${suffix}` });

  beforeAll(async () => {
    await kafka.connect();
    await kafka.createSuiteTopics(topics, { text: PARTITIONS, classes: 2 });
    registry = new TestRegistry(stack.redisUrl, kafka.producerClient, topics.models);
    await registry.seed(modelName, DUAL_CLASSIFIER);
    collector = await kafka.collect([topics.text, topics.classes, topics.dlq]);
    [worker, trainer] = await Promise.all([
      WorkerProcess.launch('live-labels', env()),
      TrainerProcess.launch(uniqueName('live-labels-trainer'), trainerEnv(stack, token, topics.models, {
        TRAINER_INSTANCE_ID: uniqueName('live-labels'),
      })),
    ]);
  });

  afterAll(async () => {
    if (worker && !worker.exit) await worker.stop('SIGKILL');
    await trainer?.stop();
    await kafka.disconnect();
    await registry?.close();
  });

  it('equals log loss, accuracy and Brier computed from the classifications topic, after a SIGKILL', async () => {
    // Seeded stream: per key a text first, then texts and labels (about one label in three).
    let seed = 17;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const messages: { key: string; value: string; partition: number }[] = [];
    for (let i = 0; i < PER_KEY; i++)
      for (let k = 0; k < KEYS; k++) {
        const key = `doc-${k}`;
        const body =
          i > 0 && rnd() < 0.35
            ? { streamId: key, ts: 1000 + i, control: 'label', label: rnd() < 0.5 ? 0 : 1 }
            : { streamId: key, ts: 1000 + i, text: `${WORDS[Math.floor(rnd() * WORDS.length)]} ${WORDS[Math.floor(rnd() * WORDS.length)]}` };
        messages.push({ key, value: JSON.stringify(body), partition: partitionFor(key, PARTITIONS) });
      }
    const texts = messages.filter((m) => !m.value.includes('"control"')).length;
    const half = Math.floor(messages.length / 2);
    await kafka.produce(topics.text, messages.slice(0, half));
    await waitFor('some classifications', () => collector.distinctSources(topics.classes) >= texts / 4, 120_000, 10);
    const killedAfter = collector.distinctSources(topics.classes);
    expect((await worker!.stop('SIGKILL')).signal).toBe('SIGKILL');
    await kafka.produce(topics.text, messages.slice(half));
    worker = await WorkerProcess.launch('live-labels-2', env());
    await waitFor('every text classified', () => collector.distinctSources(topics.classes) === texts, 120_000, 50);
    const ends = await kafka.endOffsets(topics.text);
    await waitFor(
      'the group to commit every input offset',
      async () => {
        const c = await kafka.committed(group, topics.text);
        return [...ends].every(([p, end]) => c.get(p) === end);
      },
      120_000,
      100,
    );
    expect(collector.count(topics.dlq)).toBe(0);

    // Outside reference: each label against the key's latest classification before it.
    const classes = collector.json<Classification>(topics.classes);
    const latestBefore = (key: string, partition: number, offset: bigint): number | null => {
      let best: { o: bigint; p: number } | null = null;
      for (const c of classes) {
        const o = BigInt(c.source.offset);
        if (c.streamId === key && c.source.partition === partition && o < offset && (!best || o > best.o)) best = { o, p: Object.values(c.scores)[1] };
      }
      return best?.p ?? null;
    };
    const scored: { p: number; y: number }[] = [];
    const fences: Record<string, string> = {};
    const input = [...collector.messages(topics.text)].sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
    for (const m of input) {
      const body = JSON.parse(m.value!.toString()) as { streamId: string; control?: string; label?: number };
      if (body.control !== 'label') continue;
      // Labels publish nothing.
      expect(classes.some((c) => c.source.partition === m.partition && c.source.offset === m.offset)).toBe(false);
      const p = latestBefore(body.streamId, m.partition, BigInt(m.offset));
      if (p === null) continue;
      scored.push({ p, y: body.label! });
      fences[`${topics.text}:${m.partition}`] = m.offset;
    }
    expect(scored.length).toBeGreaterThan(40);
    const mean = (f: (s: { p: number; y: number }) => number) => scored.reduce((a, s) => a + f(s), 0) / scored.length;
    const want = {
      labels: scored.length,
      labelAccuracy: mean((s) => ((s.p >= 0.5) === (s.y === 1) ? 1 : 0)),
      logLoss: mean((s) => -Math.log(Math.max(1e-15, s.y === 1 ? s.p : 1 - s.p))),
      brier: mean((s) => (s.p - s.y) ** 2),
    };

    const res = await fetch(`${trainer!.base}/v1/models/${modelName}/accuracy`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const v = ((await res.json()) as { versions: { version: number; events: number; labels: number; logLoss: number; labelAccuracy: number; brier: number }[] }).versions[0];
    expect(v).toMatchObject({ version: 1, events: 0, labels: want.labels });
    expect(v.labelAccuracy).toBe(want.labelAccuracy);
    expect(Math.abs(v.logLoss - want.logLoss)).toBeLessThan(1e-9);
    expect(Math.abs(v.brier - want.brier)).toBeLessThan(1e-9);
    const redis = testRedisClient(stack);
    try {
      const before = await readAccuracy(redis, modelName, 1);
      expect(before!.fences).toEqual(fences);
      // A full replay of the topic by a worker of another group changes nothing.
      expect((await worker.stop('SIGTERM')).code).toBe(0);
      const replayGroup = `${group}-replay`;
      worker = await WorkerProcess.launch('live-labels-replay', { ...env(), KAFKA_GROUP_ID: replayGroup });
      await waitFor(
        'the replay group to commit every input offset',
        async () => {
          const c = await kafka.committed(replayGroup, topics.text);
          return [...ends].every(([p, end]) => c.get(p) === end);
        },
        120_000,
        100,
      );
      expect(await readAccuracy(redis, modelName, 1)).toEqual(before);
    } finally {
      redis.disconnect();
    }
    // Classifications published twice: the part of the stream the new worker replayed.
    const replayed = collector.count(topics.classes) - texts;
    console.log(JSON.stringify({ suite: 'live-labels', texts, killedAfter, replayed, ...want }));
    expect((await worker.stop('SIGTERM')).code).toBe(0);
  });
});
