/**
 * Trainer → registry → running stream-worker: sensor history in Kafka, POST retrain, the job
 * completes, the new version is active, and a running worker's forecasts carry it; a second
 * retrain (activate=always) switches the same running worker to version 2. Runs twice: on the
 * shared single Redis, and with trainer, training processes and worker on a three-master Redis
 * Cluster (REDIS_CLUSTER=true).
 */
import { randomBytes } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { loadTrainerConfig } from '../apps/trainer/src/config/trainer-config';
import type { JobRecord } from '../apps/trainer/src/jobs/job-record';
import { createTrainerApp } from '../apps/trainer/src/trainer-app';
import { createRedisClient, StateStore } from '@app/state';
import { e2eStack, uniqueSuffix, waitFor } from './support/e2e-env';
import { TestKafka, type Collector } from './support/test-kafka';
import { startRedisCluster } from './support/redis-cluster';
import { tinyClassifierRetrain } from './support/trainer-requests';
import { suiteTopics, topicEnv, WorkerProcess, workerEnv } from './support/worker-process';

/** Where the registry, job records and key state live for one run of the suite. */
interface RedisTarget {
  readonly url: string;
  readonly cluster: boolean;
  stop?(): Promise<void>;
}

describe.each([
  { variant: 'on one Redis', redis: async (): Promise<RedisTarget> => ({ url: e2eStack().redisUrl, cluster: false }) },
  {
    variant: 'on a Redis Cluster',
    redis: async (): Promise<RedisTarget> => ({ ...(await startRedisCluster(3)), cluster: true }),
  },
])('trainer and a running stream-worker $variant', ({ redis: startRedis }) => {
  const stack = e2eStack();
  const s = uniqueSuffix();
  let redis: RedisTarget;
  const token = randomBytes(24).toString('hex');
  const t = suiteTopics(`tw-${s}`);
  const forecaster = `tw-pump-${s}`;
  const classifier = `tw-text-${s}`;
  const kafka = new TestKafka(stack.brokers, `tw-${s}`);
  let app: INestApplication;
  let base: string;
  let worker: WorkerProcess;
  let collector: Collector;
  const t0 = Math.floor(Date.now() / 1000) * 1000 - 2 * 3600_000;
  let step = 0;

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  async function retrain(model: string, body: Record<string, unknown>): Promise<JobRecord> {
    const r = await call('POST', `/v1/models/${model}/retrain`, body);
    expect(r.status).toBe(202);
    const id = r.json.jobId as string;
    let job!: JobRecord;
    await waitFor(`job ${id}`, async () => {
      job = (await call('GET', `/v1/jobs/${id}`)).json as unknown as JobRecord;
      return ['succeeded', 'failed', 'cancelled'].includes(job.status);
    }, 240_000);
    expect(job.error).toBeNull();
    expect(job.status).toBe('succeeded');
    return job;
  }

  /** `n` readings per sensor, continuing the series. */
  function readings(n: number) {
    const out: { key: string; value: string; partition: number }[] = [];
    for (let i = 0; i < n; i++, step++) {
      for (let k = 0; k < 3; k++) {
        const key = `tw-${k}-${s}`;
        const v = Math.round((20 + 5 * Math.sin(step / 6 + k)) * 1000) / 1000;
        out.push({ key, value: JSON.stringify({ sensorId: key, ts: t0 + step * 60_000, value: v }), partition: k % 2 });
      }
    }
    return out;
  }

  beforeAll(async () => {
    redis = await startRedis();
    await kafka.connect();
    await kafka.createSuiteTopics(t, { sensor: 2 });
    const config = loadTrainerConfig({
      REDIS_URL: redis.url,
      REDIS_CLUSTER: String(redis.cluster),
      KAFKA_BROKERS: stack.brokers,
      ADMIN_TOKEN: token,
      MODELS_TOPIC: t.models,
      TRAINER_INSTANCE_ID: `tw-${s}`,
      TRAINER_SOURCE_TOPICS: `${t.sensor},${t.text}`,
    });
    ({ app } = await createTrainerApp(config));
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  });

  afterAll(async () => {
    await worker?.dispose();
    await kafka.disconnect();
    await app?.close();
    await redis?.stop?.();
  }, 120_000);

  it('a retrained version reaches a running worker, and so does the next one', async () => {
    await kafka.produce(t.sensor, readings(80));
    // The forecaster's training request; the second retrain below differs only by its seed.
    const forecastJob = {
      task: 'forecast',
      source: { kind: 'kafka', topic: t.sensor },
      hiddenUnits: 8,
      epochs: 2,
      window: 12,
      activate: 'always',
    };
    const job1 = await retrain(forecaster, forecastJob);
    expect(job1.result).toMatchObject({ version: 1, activated: true });
    // The worker serves a classifier too; a tiny one trained from an upload.
    const job2 = await retrain(classifier, tinyClassifierRetrain());
    expect(job2.result).toMatchObject({ version: 1, activated: true });

    collector = await kafka.collect([t.forecasts], `tw-collector-${s}`);
    worker = new WorkerProcess(
      `trainer-worker-${s}`,
      workerEnv({ brokers: stack.brokers, redisUrl: redis.url }, {
        REDIS_CLUSTER: String(redis.cluster),
        KAFKA_GROUP_ID: `tw-${s}`,
        ...topicEnv(t),
        FORECAST_MODEL: forecaster,
        CLASSIFY_MODEL: classifier,
      }),
    );
    worker.start();
    await worker.ready();
    const versions = () => collector.json<{ model: string; modelVersion: number | string }>(t.forecasts).map((f) => Number(f.modelVersion));
    await waitFor('forecasts of version 1', () => versions().filter((v) => v === 1).length >= 3 * 80, 120_000);
    expect(new Set(versions())).toEqual(new Set([1]));

    const job3 = await retrain(forecaster, { ...forecastJob, seed: 7 });
    expect(job3.result).toMatchObject({ version: 2, activated: true });
    await kafka.produce(t.sensor, readings(20));
    await waitFor('forecasts of version 2', () => versions().filter((v) => v === 2).length >= 3 * 10, 120_000);
    const all = collector.json<{ modelVersion: number | string; model: string }>(t.forecasts);
    expect(all.every((f) => f.model === forecaster)).toBe(true);

    // The worker's key state is in this Redis (or Cluster), written by version 2 last. A batch's
    // predictions are produced before its state write, so the forecasts can be seen first.
    const client = createRedisClient(redis.url, { cluster: redis.cluster });
    try {
      const store = new StateStore(client);
      const stateVersions = async () => (await store.loadMany(forecaster, [0, 1, 2].map((k) => `tw-${k}-${s}`))).map((r) => r?.modelVersion);
      await waitFor('states written by version 2', async () => (await stateVersions()).every((v) => v === '2'), 30_000);
      expect(await stateVersions()).toEqual(['2', '2', '2']);
    } finally {
      await client.quit();
    }
  });
});
