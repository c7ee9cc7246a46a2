import { randomBytes, randomUUID } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import Redis from 'ioredis';
import { Kafka, logLevel, type Consumer, type Producer } from 'kafkajs';
import { decodeModelActivated, type ModelActivatedEvent } from '@app/contracts';
import { ModelRegistry, InMemoryModelEventPublisher } from '@app/registry';
import { loadTrainerConfig, type TrainerConfig } from '../apps/trainer/src/config/trainer-config';
import { JobStore } from '../apps/trainer/src/jobs/job-store';
import { JobRunner } from '../apps/trainer/src/jobs/job-runner';
import type { JobRecord } from '../apps/trainer/src/jobs/job-record';
import { createTrainerApp } from '../apps/trainer/src/trainer-app';
import { evaluateClassifier } from '../apps/trainer/src/training/classifier-trainer';
import { seededRandom } from '../apps/trainer/src/training/seeded-random';
import { filesToModel, readSidecar } from '../apps/trainer/src/training/tf-artifact';
import { initTrainingBackend } from '../apps/trainer/src/training/tf-backend';

const brokers = (process.env.STREAMCELL_TEST_KAFKA_BROKERS ?? '').split(',').filter(Boolean);
const redisUrl = process.env.STREAMCELL_TEST_REDIS_URL ?? '';

/** Synthetic sentiment: neutral filler words plus two words from the label's lexicon. */
const POS = ['great', 'love', 'excellent', 'happy', 'good', 'fantastic', 'wonderful', 'nice', 'perfect', 'awesome'];
const NEG = ['bad', 'hate', 'terrible', 'sad', 'awful', 'broken', 'poor', 'worst', 'horrible', 'angry'];
const FILLER = Array.from({ length: 150 }, (_, i) => `w${i}`);
function sentiment(n: number, seed: number): { text: string; label: string }[] {
  const r = seededRandom(seed);
  const out: { text: string; label: string }[] = [];
  for (let i = 0; i < n; i++) {
    const label = r() < 0.5 ? 'negative' : 'positive';
    const words: string[] = [];
    const len = 4 + Math.floor(r() * 6);
    for (let j = 0; j < len; j++) words.push(FILLER[Math.floor(r() * FILLER.length)]);
    const lex = label === 'positive' ? POS : NEG;
    for (let k = 0; k < 2; k++) words.splice(Math.floor(r() * (words.length + 1)), 0, lex[Math.floor(r() * lex.length)]);
    out.push({ text: words.join(' '), label });
  }
  return out;
}

describe('trainer admin API', () => {
  const run = randomUUID().slice(0, 8);
  const token = randomBytes(24).toString('hex');
  const modelsTopic = `streamcell.models.trainer-e2e-${run}`;
  const sensorTopic = `sensor.readings.trainer-e2e-${run}`;
  const textTopic = `text.events.trainer-e2e-${run}`;
  const labelsTopic = `text.labels.trainer-e2e-${run}`;
  let config: TrainerConfig;
  let app: INestApplication;
  let base: string;
  let kafka: Kafka;
  let producer: Producer;
  let consumer: Consumer;
  let redis: Redis;
  const events: ModelActivatedEvent[] = [];

  const call = (method: string, path: string, body?: unknown, auth: string | null = token) =>
    fetch(`${base}${path}`, {
      method,
      headers: {
        ...(auth !== null ? { authorization: `Bearer ${auth}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });

  async function waitJob(id: string, timeoutMs = 240_000): Promise<JobRecord> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const job = (await (await call('GET', `/v1/jobs/${id}`)).json()) as JobRecord;
      if (['succeeded', 'failed', 'cancelled'].includes(job.status)) return job;
      if (Date.now() > deadline) throw new Error(`job ${id} still ${job.status} (${job.phase})`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async function waitEvent(model: string, version: number): Promise<ModelActivatedEvent> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const e = events.find((x) => x.model === model && x.version === version);
      if (e) return e;
      if (Date.now() > deadline) throw new Error(`no activation event for ${model} v${version}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  beforeAll(async () => {
    expect(brokers.length).toBeGreaterThan(0);
    expect(redisUrl).not.toBe('');
    redis = new Redis(redisUrl);
    kafka = new Kafka({ clientId: `trainer-e2e-${run}`, brokers, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [sensorTopic, textTopic, labelsTopic].map((topic) => ({ topic, numPartitions: 2 })),
    });
    await admin.disconnect();
    producer = kafka.producer();
    await producer.connect();

    config = loadTrainerConfig({
      REDIS_URL: redisUrl,
      KAFKA_BROKERS: brokers.join(','),
      ADMIN_TOKEN: token,
      MODELS_TOPIC: modelsTopic,
      TRAINER_PORT: '0',
      TRAINER_INSTANCE_ID: `trainer-e2e-${run}`,
      TRAINER_SOURCE_TOPICS: [sensorTopic, textTopic, labelsTopic].join(','),
      TRAINER_MAX_JOBS: '4',
    });
    ({ app } = await createTrainerApp(config));
    await app.listen(0, '127.0.0.1');
    const addr = app.getHttpServer().address() as { port: number };
    base = `http://127.0.0.1:${addr.port}`;

    // The app created the compacted models topic; watch it.
    consumer = kafka.consumer({ groupId: `trainer-e2e-${run}` });
    await consumer.connect();
    await consumer.subscribe({ topic: modelsTopic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const d = decodeModelActivated(message.value);
        if (d.ok) events.push(d.event);
      },
    });
  });

  afterAll(async () => {
    await consumer?.disconnect();
    await producer?.disconnect();
    await app?.close();
    redis?.disconnect();
  });

  it('refuses to boot without ADMIN_TOKEN unless auth is explicitly disabled, naming the variable', () => {
    const env = { REDIS_URL: redisUrl, KAFKA_BROKERS: brokers.join(',') };
    expect(() => loadTrainerConfig(env)).toThrow(/ADMIN_TOKEN/);
    expect(loadTrainerConfig({ ...env, ADMIN_AUTH_DISABLED: 'true' }).adminToken).toBeNull();
    expect(() => loadTrainerConfig({ ...env, ADMIN_TOKEN: token, KAFKA_BROKERS: 'nope' })).toThrow(/KAFKA_BROKERS/);
    expect(() => loadTrainerConfig({ ...env, ADMIN_TOKEN: token, REDIS_URL: 'http://x' })).toThrow(/REDIS_URL/);
  });

  it('rejects requests without a token (401) and with a wrong token (403); health, metrics and OpenAPI are open', async () => {
    expect((await call('GET', '/v1/models', undefined, null)).status).toBe(401);
    expect((await call('GET', '/v1/models', undefined, 'x'.repeat(48))).status).toBe(403);
    expect((await call('POST', '/v1/models/m/retrain', {}, null)).status).toBe(401);
    expect((await call('GET', '/v1/jobs/123', undefined, 'wrong')).status).toBe(403);
    expect((await call('GET', '/v1/models')).status).toBe(200);
    const health = await call('GET', '/health', undefined, null);
    expect(health.status).toBe(200);
    const metrics = await call('GET', '/metrics', undefined, null);
    expect(await metrics.text()).toContain('streamcell_trainer_jobs_running');
    const doc = (await (await call('GET', '/docs-json', undefined, null)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/v1/models/{name}/retrain', '/v1/jobs/{id}', '/v1/jobs/{id}/events', '/v1/models/{name}/versions/{version}/activate']),
    );
  });

  it('answers malformed requests with 400 naming the field', async () => {
    const cases: [unknown, string][] = [
      [{ task: 'forecast', source: { kind: 'kafka' } }, 'source.topic'],
      [{ task: 'forecast', source: { kind: 'ftp' } }, 'source.kind'],
      [{ task: 'forecast', source: { kind: 'file', path: '/x.csv' }, epochs: 0 }, 'epochs'],
      [{ task: 'forecast', source: { kind: 'file', path: '/x.csv' }, learningRate: 'fast' }, 'learningRate'],
      [{ task: 'forecast', source: { kind: 'file', path: '/x.csv' }, activate: 'sometimes' }, 'activate'],
      [{ task: 'weather', source: { kind: 'file', path: '/x.csv' } }, 'task'],
      [{ task: 'forecast' }, 'source'],
      [{ task: 'forecast', source: { kind: 'file', path: '/x.csv' }, bogus: 1 }, 'bogus'],
    ];
    for (const [body, field] of cases) {
      const res = await call('POST', `/v1/models/m-${run}/retrain`, body);
      expect(res.status).toBe(400);
      const json = (await res.json()) as { message: string[] };
      expect(json.message.join(' ')).toContain(field);
    }
    const badName = await call('POST', '/v1/models/bad:name/retrain', { task: 'forecast', source: { kind: 'file', path: '/x' } });
    expect(badName.status).toBe(400);
    expect(((await badName.json()) as { message: string[] }).message.join(' ')).toContain('name');
    const badImport = await call('POST', `/v1/models/imp-${run}/versions`, { task: 'classify', files: { 'model.json': Buffer.from('{}').toString('base64') } });
    expect(badImport.status).toBe(400);
    expect((await call('GET', `/v1/models/none-${run}`)).status).toBe(404);
    expect((await call('GET', `/v1/jobs/${randomUUID()}`)).status).toBe(404);
  });

  it('retrains a forecaster from a Kafka time range, refuses a concurrent retrain (409), streams progress, activates and publishes', async () => {
    const model = `pump-${run}`;
    const t0 = Math.floor(Date.now() / 60_000) * 60_000 - 3 * 24 * 3600_000;
    const messages: { partition: number; key: string; value: string; timestamp: string }[] = [];
    for (const [s, sensor] of ['pump-1', 'pump-2', 'pump-3'].entries()) {
      for (let i = 0; i < 120; i++) {
        const ts = t0 + i * 60_000;
        messages.push({
          partition: s % 2,
          key: sensor,
          value: JSON.stringify({ sensorId: sensor, ts, value: 20 + 5 * Math.sin(i / 6 + s) }),
          timestamp: String(ts),
        });
      }
    }
    // In the range, but what the worker would dead-letter (a ts without a time zone, a body id
    // other than the key) or route to another model: not trained on, counted by reason.
    const inRange = String(t0 + 119 * 60_000);
    messages.push(
      { partition: 0, key: 'pump-1', value: JSON.stringify({ sensorId: 'pump-1', ts: '2026-11-27T10:00:00', value: 1e6 }), timestamp: inRange },
      { partition: 1, key: 'pump-2', value: JSON.stringify({ sensorId: 'pump-9', ts: t0, value: 1e6 }), timestamp: inRange },
      { partition: 0, key: 'pump-3', value: JSON.stringify({ sensorId: 'pump-3', ts: t0, value: 1e6, model: `other-${run}` }), timestamp: inRange },
    );
    // Readings outside the time range must not be used. Last in its partition: a range by time
    // ends at the first offset at or after toTime, so records after this one are out of range too.
    messages.push({ partition: 0, key: 'late', value: JSON.stringify({ sensorId: 'late', ts: Date.now(), value: 1e6 }), timestamp: String(Date.now()) });
    await producer.send({ topic: sensorTopic, messages });

    const body = {
      task: 'forecast',
      source: { kind: 'kafka', topic: sensorTopic, fromTime: new Date(t0).toISOString(), toTime: String(t0 + 120 * 60_000) },
      hiddenUnits: 8,
      epochs: 3,
      window: 12,
      batchSize: 32,
      learningRate: 0.01,
      seed: 3,
    };
    const res = await call('POST', `/v1/models/${model}/retrain`, body);
    expect(res.status).toBe(202);
    const { jobId } = (await res.json()) as { jobId: string };
    const second = await call('POST', `/v1/models/${model}/retrain`, body);
    expect(second.status).toBe(409);

    // SSE: every update as a `job` event, the last one terminal.
    const sse = await call('GET', `/v1/jobs/${jobId}/events`);
    expect(sse.headers.get('content-type')).toContain('text/event-stream');
    const text = await sse.text();
    const updates = text
      .split('\n')
      .filter((l) => l.startsWith('data: '))
      .map((l) => JSON.parse(l.slice(6)) as JobRecord);
    expect(updates[updates.length - 1].status).toBe('succeeded');
    expect(updates.some((u) => u.status === 'running' && u.epochs.length >= 1)).toBe(true);

    const job = await waitJob(jobId);
    expect(job.error).toBeNull();
    expect(job.status).toBe('succeeded');
    expect(job.result!.rejected).toEqual({ schema_violation: 1, key_mismatch: 1, unknown_model: 1 });
    expect(job.epochs.map((e) => e.epoch)).toEqual([1, 2, 3]);
    for (const e of job.epochs) {
      expect(Number.isFinite(e.loss)).toBe(true);
      expect(Number.isFinite(e.valLoss)).toBe(true);
    }
    expect(job.progress.fraction).toBe(1);
    expect(job.result!.version).toBe(1);
    expect(job.result!.activated).toBe(true);
    expect(job.result!.metrics.mae).toBeGreaterThan(0);
    expect(job.result!.metrics.rmse).toBeGreaterThanOrEqual(job.result!.metrics.mae);
    expect(job.result!.dataRange.examples).toBe(360);

    const details = (await (await call('GET', `/v1/models/${model}`)).json()) as { active: { version: number }; versions: { task: string; dataRange: { topic: string }; metrics: object }[] };
    expect(details.active.version).toBe(1);
    expect(details.versions[0].task).toBe('forecast');
    expect(details.versions[0].dataRange.topic).toBe(sensorTopic);
    const event = await waitEvent(model, 1);
    expect(event).toMatchObject({ model, version: 1, task: 'forecast' });

    // Same data, same seed, activate=never: an identical model, not activated.
    const again = await call('POST', `/v1/models/${model}/retrain`, { ...body, activate: 'never' });
    expect(again.status).toBe(202);
    const job2 = await waitJob(((await again.json()) as { jobId: string }).jobId);
    expect(job2.status).toBe('succeeded');
    expect(job2.result!.version).toBe(2);
    expect(job2.result!.activated).toBe(false);
    expect(job2.result!.baseline!.version).toBe(1);
    expect(job2.result!.metrics).toEqual(job.result!.metrics);
    expect(job2.result!.baseline!.metrics.rmse).toBeCloseTo(job.result!.metrics.rmse, 5);
    const registry = new ModelRegistry(redis, new InMemoryModelEventPublisher());
    const w1 = (await registry.loadVersionFiles(model, 1)).get('group1-shard1of1.bin')!;
    const w2 = (await registry.loadVersionFiles(model, 2)).get('group1-shard1of1.bin')!;
    expect(w2.equals(w1)).toBe(true);
    expect((await registry.getActive(model))!.version).toBe(1);
  });

  it('retrains a text classifier from a labels topic to >= 90% accuracy on a held-out synthetic set, then imports and activates it as another model', async () => {
    const model = `sentiment-${run}`;
    const data = sentiment(500, 11);
    await producer.send({
      topic: textTopic,
      messages: data.map((d, i) => ({ key: `s-${i}`, value: JSON.stringify({ streamId: `s-${i}`, ts: Date.now(), text: d.text }) })),
    });
    await producer.send({
      topic: labelsTopic,
      messages: data.map((d, i) => ({ key: `s-${i}`, value: JSON.stringify({ streamId: `s-${i}`, label: d.label }) })),
    });
    const res = await call('POST', `/v1/models/${model}/retrain`, {
      task: 'classify',
      source: { kind: 'kafka', topic: textTopic, labelsTopic },
      vocabSize: 200,
      maxlen: 12,
      embeddingDim: 16,
      hiddenUnits: 16,
      epochs: 4,
      batchSize: 32,
      learningRate: 0.01,
      validationSplit: 0.2,
      seed: 5,
    });
    expect(res.status).toBe(202);
    const job = await waitJob(((await res.json()) as { jobId: string }).jobId);
    expect(job.error).toBeNull();
    expect(job.result!.trainExamples).toBe(400);
    expect(job.backend).toBe('wasm');
    // Embedding → LSTM → Dense(sigmoid) trains on the project's SIMD kernel, every epoch.
    expect(job.route).toBe('simd');
    expect(job.epochs.map((e) => e.route)).toEqual([1, 2, 3, 4].map(() => 'simd'));
    expect(job.result!.metrics.accuracy).toBeGreaterThanOrEqual(0.9);
    expect(job.result!.activated).toBe(true);

    // A fresh held-out set the trainer never saw.
    const registry = new ModelRegistry(redis, new InMemoryModelEventPublisher());
    const files = await registry.loadVersionFiles(model, job.result!.version);
    await initTrainingBackend('cpu');
    const tfModel = await filesToModel(files);
    const heldOut = evaluateClassifier(tfModel, readSidecar(files), sentiment(300, 999));
    tfModel.dispose();
    expect(heldOut.accuracy).toBeGreaterThanOrEqual(0.9);
    expect(heldOut.f1).toBeGreaterThanOrEqual(0.85);

    // Import: the tfjs layers files plus the Keras tokenizer JSON (no sidecar), as a converted Keras model arrives.
    const sidecar = readSidecar(files);
    const imported = await call('POST', `/v1/models/imported-${run}/versions`, {
      task: 'classify',
      labels: sidecar.labels,
      maxlen: 12,
      files: {
        'model.json': files.get('model.json')!.toString('base64'),
        'group1-shard1of1.bin': files.get('group1-shard1of1.bin')!.toString('base64'),
        'tokenizer.json': Buffer.from(JSON.stringify(sidecar.tokenizer)).toString('base64'),
      },
    });
    expect(imported.status).toBe(201);
    const imp = (await imported.json()) as { version: number; active: unknown; meta: { source: string } };
    expect(imp.version).toBe(1);
    expect(imp.active).toBeNull();
    expect(imp.meta.source).toBe('imported');
    const act = await call('POST', `/v1/models/imported-${run}/versions/1/activate`, { policy: 'rewarm' });
    expect(act.status).toBe(200);
    expect(((await act.json()) as { active: { version: number; policy: string } }).active).toMatchObject({ version: 1, policy: 'rewarm' });
    expect(await waitEvent(`imported-${run}`, 1)).toMatchObject({ task: 'classify', policy: 'rewarm' });
    expect((await call('POST', `/v1/models/imported-${run}/versions/7/activate`, {})).status).toBe(404);
    const list = (await (await call('GET', '/v1/models')).json()) as { models: { name: string; activeVersion: number }[] };
    expect(list.models.find((m) => m.name === `imported-${run}`)!.activeVersion).toBe(1);
  });

  /** Retrains `model` as a forecaster from an uploaded 400-reading series of `wave`. */
  const retrainUpload = (model: string, wave: (x: number) => number, epochs: number) => {
    const rows = ['sensorId,ts,value'];
    for (let i = 0; i < 400; i++) rows.push(`s1,${i * 1000},${wave(i / 5)}`);
    return call('POST', `/v1/models/${model}/retrain`, {
      task: 'forecast',
      source: { kind: 'upload', content: rows.join('\n'), format: 'csv' },
      epochs,
      window: 20,
    });
  };

  it('a retrain starts from the recipe of the version it replaces; request fields override it', async () => {
    const model = `recipe-${run}`;
    const rows = ['sensorId,ts,value'];
    for (let i = 0; i < 300; i++) rows.push(`s1,${i * 1000},${Math.sin(i / 4)}`);
    const source = { kind: 'upload', content: rows.join('\n'), format: 'csv' };
    const first = await call('POST', `/v1/models/${model}/retrain`, {
      task: 'forecast',
      source,
      hiddenUnits: 12,
      epochs: 1,
      window: 16,
      learningRate: 0.01,
    });
    const firstJob = await waitJob(((await first.json()) as { jobId: string }).jobId);
    expect(firstJob).toMatchObject({ status: 'succeeded', paramsFrom: null, params: { hiddenUnits: 12, window: 16, epochs: 1, layers: 1 } });
    // Only the data and one change: the rest is version 1's recipe, not the defaults.
    const second = await call('POST', `/v1/models/${model}/retrain`, { task: 'forecast', source, hiddenUnits: 8 });
    const job = await waitJob(((await second.json()) as { jobId: string }).jobId);
    expect(job).toMatchObject({
      status: 'succeeded',
      paramsFrom: 1,
      params: { hiddenUnits: 8, window: 16, epochs: 1, learningRate: 0.01, layers: 1 },
    });
    const details = (await (await call('GET', `/v1/models/${model}`)).json()) as { versions: { version: number; params: Record<string, unknown> }[] };
    expect(details.versions.find((v) => v.version === 2)!.params).toMatchObject({ hiddenUnits: 8, window: 16, epochs: 1 });
  });

  it('cancels a running job', async () => {
    const model = `cancel-${run}`;
    const res = await retrainUpload(model, Math.sin, 500);
    expect(res.status).toBe(202);
    const { jobId } = (await res.json()) as { jobId: string };
    const cancel = await call('POST', `/v1/jobs/${jobId}/cancel`);
    expect(cancel.status).toBe(200);
    const job = await waitJob(jobId);
    expect(job.status).toBe('cancelled');
    expect(await registryHasModel(model)).toBe(false);
    // The lock is free again.
    const next = await retrainUpload(model, Math.sin, 1);
    expect(next.status).toBe(202);
    expect((await waitJob(((await next.json()) as { jobId: string }).jobId)).status).toBe('succeeded');
  });

  it('stops a job cancelled through another replica (its model lock is gone)', async () => {
    const model = `remote-cancel-${run}`;
    const res = await retrainUpload(model, Math.cos, 500);
    const { jobId } = (await res.json()) as { jobId: string };
    const other = new JobRunner(new JobStore(redis), new ModelRegistry(redis, new InMemoryModelEventPublisher()), { ...config, instanceId: 'other-replica' });
    expect((await other.cancel(jobId))!.status).toBe('cancelled');
    // The owning replica notices at its next lease renewal and kills the training process.
    const job = await waitJob(jobId, 30_000);
    expect(job.status).toBe('cancelled');
    await new Promise((r) => setTimeout(r, 2_000));
    expect(((await (await call('GET', `/v1/jobs/${jobId}`)).json()) as JobRecord).status).toBe('cancelled');
    expect(await registryHasModel(model)).toBe(false);
    const next = await retrainUpload(model, Math.cos, 1);
    expect(next.status).toBe(202);
    expect((await waitJob(((await next.json()) as { jobId: string }).jobId)).status).toBe('succeeded');
  });

  async function registryHasModel(model: string): Promise<boolean> {
    return (await new ModelRegistry(redis, new InMemoryModelEventPublisher()).getModel(model)) !== null;
  }

  it('marks jobs interrupted by a trainer restart as failed', async () => {
    const store = new JobStore(redis);
    const orphan: JobRecord = {
      id: randomUUID(),
      model: `orphan-${run}`,
      task: 'forecast',
      status: 'running',
      phase: 'training',
      owner: 'trainer-restarted',
      paramsFrom: null,
      backend: null,
      route: null,
      createdAt: new Date().toISOString(),
      startedAt: new Date().toISOString(),
      finishedAt: null,
      params: {},
      activate: 'if-better',
      source: { kind: 'file' },
      epochs: [],
      progress: { epoch: 0, epochs: 1, fraction: 0 },
      result: null,
      error: null,
    };
    await store.save(orphan);
    await store.tryLock(orphan.model, orphan.id, 60_000);
    // Same instance id after a restart: failed at boot even though the lease is still held.
    const restarted = new JobRunner(store, new ModelRegistry(redis, new InMemoryModelEventPublisher()), { ...config, instanceId: 'trainer-restarted' });
    expect(await restarted.sweep(true)).toBeGreaterThanOrEqual(1);
    const after = (await (await call('GET', `/v1/jobs/${orphan.id}`)).json()) as JobRecord;
    expect(after.status).toBe('failed');
    expect(after.error).toMatch(/interrupted/);
    expect(await store.lockHolder(orphan.model)).toBeNull();
  });
});
