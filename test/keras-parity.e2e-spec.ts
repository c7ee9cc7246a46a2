/**
 * Keras parity end to end: models trained and converted by real Keras (tf_keras +
 * tensorflowjs' converter; scripts/fixtures/keras_parity_fixtures.py, committed under
 * libs/lstm/fixtures/keras-streams/ with Keras' own model.predict outputs) are imported through
 * the trainer's admin HTTP API the way a user does (multipart upload of the converter output and
 * tokenizer.json, no hand-written sidecar) and served by the real worker (dist) on real Kafka and
 * Redis (the masked GRU a second time through `cli.js import`). Raw text goes in; the worker's own
 * tokenizer and engine produce the scores.
 *
 * - text, mode 'window' (the import default): after each message, Keras' model.predict on
 *   pad_sequences([last maxlen tokens of the stream so far], maxlen, padding, truncating):
 *   the classic recipe (Tokenizer(num_words) → Embedding → LSTM → Dense sigmoid, unmasked, pre
 *   padding), a masked GRU (reset_after=True, post padding, OOV token) and a 3-class softmax GRU
 *   (reset_after=False, unroll, post padding); single texts of 0 … 2 × maxlen tokens, texts of
 *   only unknown words, multi-message streams;
 * - text, mode 'stream' (the classic model imported again with textMode=stream): Keras on the
 *   same layers without a fixed input length, fed maxlen pad tokens then every token so far;
 * - a forecaster: Keras on the whole scaled history so far, de-scaled.
 *
 * Every served score must be within 1e-5 of Keras. Nothing is trained at test time.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { promisify } from 'node:util';
import { loadTrainerConfig } from '../apps/trainer/src/config/trainer-config';
import { createTrainerApp } from '../apps/trainer/src/trainer-app';
import { REPO_ROOT, e2eStack, uniqueName } from './support/e2e-env';
import { TestKafka, type Collector, type OutMessage } from './support/test-kafka';
import { suiteTopics, topicEnv, WorkerProcess, workerEnv } from './support/worker-process';

const FIXTURES = path.join(REPO_ROOT, 'libs', 'lstm', 'fixtures', 'keras-streams');
const TOL = 1e-5;
const T0 = 1_796_000_000_000;

interface TextStream {
  id: string;
  messages: string[];
  window: number[][];
  stream?: number[][];
}
interface TextExpected {
  maxlen: number;
  padding: 'pre' | 'post';
  labels: string[];
  streams: TextStream[];
}
interface ForecastExpected {
  mean: number;
  scale: number;
  window: number;
  streams: { id: string; values: number[]; forecast: number[] }[];
}
interface Prediction {
  streamId?: string;
  sensorId?: string;
  model: string;
  modelVersion: string;
  scores?: Record<string, number>;
  forecast?: number[];
  source: { offset: string };
}

function expectedOf<T>(fixture: string): T {
  return JSON.parse(readFileSync(path.join(FIXTURES, fixture, 'expected.json'), 'utf8')) as T;
}

/** The multipart body a user sends with curl -F: the converter's files, tokenizer.json, fields. */
function importForm(fixture: string, fields: Record<string, string>): FormData {
  const form = new FormData();
  const dir = path.join(FIXTURES, fixture);
  for (const f of ['model.json', 'group1-shard1of1.bin', 'tokenizer.json']) {
    let data: Buffer;
    try {
      data = readFileSync(path.join(dir, f));
    } catch {
      continue; // a forecaster has no tokenizer
    }
    form.append('files', new Blob([data]), f);
  }
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  return form;
}

describe('Keras parity: Keras-trained models imported over HTTP, served by the worker', () => {
  const stack = e2eStack();
  const suffix = uniqueName('kp');
  const topics = suiteTopics(suffix);
  const kafka = new TestKafka(stack.brokers, suffix);
  const token = randomBytes(24).toString('hex');
  const names = {
    classic: `classic-${suffix}`,
    classicStream: `classic-stream-${suffix}`,
    gru: `masked-gru-${suffix}`,
    gruCli: `masked-gru-cli-${suffix}`,
    softmax: `softmax-${suffix}`,
    forecaster: `forecaster-${suffix}`,
  };
  let app: INestApplication;
  let base = '';
  let collector: Collector;
  let worker: WorkerProcess | null = null;
  const imported: Record<string, { version: number; meta: { textMode?: string; source: string } }> = {};

  async function importModel(name: string, fixture: string, fields: Record<string, string>): Promise<void> {
    const res = await fetch(`${base}/v1/models/${name}/versions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: importForm(fixture, { activate: 'true', ...fields }),
    });
    const body = (await res.json()) as { version: number; meta: { textMode?: string; source: string } };
    if (res.status !== 201) throw new Error(`import ${fixture}: HTTP ${res.status} ${JSON.stringify(body)}`);
    imported[name] = body;
  }

  beforeAll(async () => {
    await kafka.connect();
    await kafka.createSuiteTopics(topics, { sensor: 2, text: 3, forecasts: 2, classes: 3, dlq: 1 });
    const config = loadTrainerConfig({
      REDIS_URL: stack.redisUrl,
      KAFKA_BROKERS: stack.brokers,
      ADMIN_TOKEN: token,
      MODELS_TOPIC: topics.models,
      TRAINER_PORT: '0',
      TRAINER_INSTANCE_ID: `trainer-${suffix}`,
    });
    ({ app } = await createTrainerApp(config));
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;

    const classic = expectedOf<TextExpected>('classic-lstm');
    const gru = expectedOf<TextExpected>('masked-gru');
    const softmax = expectedOf<TextExpected>('softmax-3class');
    const fc = expectedOf<ForecastExpected>('forecaster');
    // maxlen comes from the models' declared input length (Embedding input_length); padding and
    // labels are training-time settings the user states.
    await importModel(names.classic, 'classic-lstm', { labels: JSON.stringify(classic.labels) });
    await importModel(names.classicStream, 'classic-lstm', { labels: JSON.stringify(classic.labels), textMode: 'stream' });
    await importModel(names.gru, 'masked-gru', { labels: JSON.stringify(gru.labels), padding: gru.padding });
    await importModel(names.softmax, 'softmax-3class', { labels: JSON.stringify(softmax.labels), padding: softmax.padding });
    // The same masked GRU through the CLI (node dist/apps/trainer/src/cli.js import), from the
    // fixture directory as it is (expected.json in it is not taken into the version).
    const cli = await promisify(execFile)(
      process.execPath,
      [path.join(REPO_ROOT, 'dist/apps/trainer/src/cli.js'), 'import', '--model', names.gruCli, '--dir', path.join(FIXTURES, 'masked-gru'), '--labels', gru.labels.join(','), '--padding', gru.padding, '--activate'],
      { env: { PATH: process.env.PATH ?? '', REDIS_URL: stack.redisUrl, KAFKA_BROKERS: stack.brokers, MODELS_TOPIC: topics.models } },
    );
    // The result line (stdout may also carry log lines).
    const cliOut = cli.stdout
      .trim()
      .split('\n')
      .map((l) => (l.startsWith('{') ? (JSON.parse(l) as { model?: string; version?: number }) : {}))
      .find((r) => r.model === names.gruCli && typeof r.version === 'number') as { version: number };
    const details = (await (await fetch(`${base}/v1/models/${names.gruCli}`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
      versions: { version: number; textMode?: string; source: string; files: Record<string, unknown> }[];
    };
    const meta = details.versions.find((v) => v.version === cliOut.version)!;
    imported[names.gruCli] = { version: cliOut.version, meta };
    expect(Object.keys(meta.files).sort()).toEqual(['group1-shard1of1.bin', 'model.json', 'streamcell.json']); // the tokenizer lives in the sidecar
    await importModel(names.forecaster, 'forecaster', {
      task: 'forecast',
      scaler: JSON.stringify({ mean: [fc.mean], scale: [fc.scale] }),
      window: String(fc.window),
    });

    collector = await kafka.collect([topics.classes, topics.forecasts, topics.dlq]);
    worker = await WorkerProcess.launch(
      'keras-parity',
      workerEnv(stack, {
        KAFKA_GROUP_ID: `${suffix}-workers`,
        ...topicEnv(topics),
        CLASSIFY_MODEL: names.classic,
        FORECAST_MODEL: names.forecaster,
      }),
    );
  });

  afterAll(async () => {
    if (worker && !worker.exit) await worker.stop('SIGKILL');
    await kafka.disconnect();
    await app?.close();
  });

  it('records the text mode of each imported version in the registry (window by default)', () => {
    expect(imported[names.classic].meta.textMode).toBe('window');
    expect(imported[names.classicStream].meta.textMode).toBe('stream');
    expect(imported[names.gru].meta.textMode).toBe('window');
    expect(imported[names.gruCli].meta.textMode).toBe('window');
    expect(imported[names.softmax].meta.textMode).toBe('window');
    expect(imported[names.forecaster].meta.textMode).toBeUndefined();
    for (const v of Object.values(imported)) expect(v.meta.source).toBe('imported');
  });

  it("scores raw text like Keras' predict under each model's mode, and forecasts like Keras on the whole history", async () => {
    type Case = { model: string; key: string; messages: string[]; expected: number[][]; labels: string[]; resetAt?: number };
    const cases: Case[] = [];
    const add = (model: string, fixture: string, mode: 'window' | 'stream') => {
      const exp = expectedOf<TextExpected>(fixture);
      const scores = (s: TextStream) => (mode === 'window' ? s.window : s.stream!);
      for (const s of exp.streams) {
        cases.push({ model, key: `${model}/${s.id}`, messages: s.messages, expected: scores(s), labels: exp.labels });
      }
      // A multi-message stream, then a message with "reset": true: from there the key reads
      // like a new stream (Keras' expectation for that text alone).
      const multi = exp.streams.find((s) => s.id === 'multi-0')!;
      const single = exp.streams.find((s) => s.id === 'single-5')!;
      cases.push({
        model,
        key: `${model}/reset`,
        messages: [...multi.messages, single.messages[0]],
        expected: [...scores(multi), scores(single)[0]],
        labels: exp.labels,
        resetAt: multi.messages.length,
      });
    };
    add(names.classic, 'classic-lstm', 'window');
    add(names.classicStream, 'classic-lstm', 'stream');
    add(names.gru, 'masked-gru', 'window');
    add(names.gruCli, 'masked-gru', 'window');
    add(names.softmax, 'softmax-3class', 'window');
    // Two phases: each stream's first message (and the first 20 readings), then, once those are
    // scored, the rest: later messages continue from what the worker stored in Redis.
    const textMessages: OutMessage[][] = [[], []];
    // Round-robin over the streams, so messages of different keys interleave in the batches.
    const longest = Math.max(...cases.map((c) => c.messages.length));
    for (let i = 0; i < longest; i++) {
      for (const c of cases) {
        if (i >= c.messages.length) continue;
        const body = { streamId: c.key, ts: T0 + i * 1000, text: c.messages[i], model: c.model, ...(c.resetAt === i ? { reset: true } : {}) };
        textMessages[i === 0 ? 0 : 1].push({ key: c.key, value: JSON.stringify(body) });
      }
    }
    const fc = expectedOf<ForecastExpected>('forecaster');
    const sensorMessages: OutMessage[][] = [[], []];
    for (let i = 0; i < 40; i++) {
      for (const s of fc.streams) {
        const key = `${suffix}/${s.id}`;
        sensorMessages[i < 20 ? 0 : 1].push({ key, value: JSON.stringify({ sensorId: key, ts: T0 + i * 1000, value: s.values[i] }) });
      }
    }
    const t0 = Date.now();
    let texts = 0;
    let readings = 0;
    for (const phase of [0, 1]) {
      await kafka.produce(topics.text, textMessages[phase]);
      await kafka.produce(topics.sensor, sensorMessages[phase]);
      texts += textMessages[phase].length;
      readings += sensorMessages[phase].length;
      await collector.waitFor(topics.classes, texts, 180_000);
      await collector.waitFor(topics.forecasts, readings, 180_000);
    }
    const classes = collector.messages(topics.classes);
    const forecasts = collector.messages(topics.forecasts);
    expect(classes).toHaveLength(texts);
    expect(forecasts).toHaveLength(readings);
    const seconds = (Date.now() - t0) / 1000;
    expect(collector.messages(topics.dlq)).toEqual([]);

    const byKey = new Map<string, Prediction[]>();
    for (const m of [...classes, ...forecasts]) {
      const p = JSON.parse(m.value!.toString('utf8')) as Prediction;
      const key = p.streamId ?? p.sensorId!;
      let list = byKey.get(key);
      if (!list) byKey.set(key, (list = []));
      list.push(p);
    }
    for (const list of byKey.values()) list.sort((a, b) => Number(BigInt(a.source.offset) - BigInt(b.source.offset)));

    const maxErr: Record<string, number> = {};
    const problems: string[] = [];
    for (const c of cases) {
      const got = byKey.get(c.key) ?? [];
      expect(got).toHaveLength(c.messages.length);
      got.forEach((p, i) => {
        expect(p.model).toBe(c.model);
        expect(p.modelVersion).toBe(String(imported[c.model].version));
        const exp = c.expected[i];
        // One sigmoid unit: Keras gives p(positive); the worker scores [1 − p, p].
        const want = exp.length === 1 ? [1 - exp[0], exp[0]] : exp;
        c.labels.forEach((label, j) => {
          const err = Math.abs(p.scores![label] - want[j]);
          maxErr[c.model] = Math.max(maxErr[c.model] ?? 0, err);
          if (!(err <= TOL)) problems.push(`${c.key} message ${i} (${JSON.stringify(c.messages[i])}): ${label} ${p.scores![label]} vs Keras ${want[j]}`);
        });
      });
    }
    for (const s of fc.streams) {
      const got = byKey.get(`${suffix}/${s.id}`) ?? [];
      expect(got).toHaveLength(40);
      got.forEach((p, i) => {
        const err = Math.abs(p.forecast![0] - s.forecast[i]);
        maxErr[names.forecaster] = Math.max(maxErr[names.forecaster] ?? 0, err);
        if (!(err <= TOL)) problems.push(`${s.id} reading ${i}: ${p.forecast![0]} vs Keras ${s.forecast[i]}`);
      });
    }
    expect(problems.slice(0, 10)).toEqual([]);
    expect(Object.keys(maxErr)).toHaveLength(6);
    console.log(
      JSON.stringify({
        suite: 'keras-parity',
        textMessages: texts,
        readings,
        seconds,
        maxAbsError: Object.fromEntries(Object.entries(maxErr).map(([k, v]) => [k.replace(`-${suffix}`, ''), v])),
      }),
    );
  });
});
