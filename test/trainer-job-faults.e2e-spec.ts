/**
 * Training jobs under faults:
 * - Redis stopped or paused while a job runs, against the real trainer process on a Redis of
 *   this suite's own (append-only, so a restart keeps its data) and the run's Kafka: the trainer
 *   survives (no unhandled rejection ends it), /health says 503 while Redis is away instead of
 *   hanging, and the job ends in a terminal state with a reason that is saved once Redis is back.
 * - Cancel and activation exclude each other (JobRunner with a real training process and the
 *   run's Redis, the store held at the moment that matters): a cancel that arrives once the
 *   activation began is refused and the version is active; a cancel through another replica
 *   recorded before the activation began leaves the version inactive and the job cancelled.
 */
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import type { StartedTestContainer } from 'testcontainers';
import { InMemoryModelEventPublisher, ModelRegistry } from '@app/registry';
import { loadTrainerConfig } from '../apps/trainer/src/config/trainer-config';
import type { JobRecord } from '../apps/trainer/src/jobs/job-record';
import { JobActivatingError, JobRunner } from '../apps/trainer/src/jobs/job-runner';
import { JobStore } from '../apps/trainer/src/jobs/job-store';
import { e2eStack, sleep, uniqueName, waitFor } from './support/e2e-env';
import { docker, freePorts, stackContainers, track, untrack, removeContainers } from './support/e2e-stack';
import { TrainerProcess, trainerEnv } from './support/trainer-process';

function csv(rows: number): string {
  const out = ['sensorId,ts,value'];
  for (let i = 0; i < rows; i++) out.push(`s1,${i * 1000},${Math.sin(i / 5)}`);
  return out.join('\n');
}

/** A promise and the function that settles it. */
function latch(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

describe('training jobs under faults', () => {
  const stack = e2eStack();

  describe('Redis goes away while a job runs (real trainer process)', () => {
    const token = randomBytes(24).toString('hex');
    let redisContainer: StartedTestContainer;
    let redisUrl: string;
    let trainer: TrainerProcess;

    beforeAll(async () => {
      process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
      const tc = await import('testcontainers');
      const [kafka, controller, redis] = await freePorts(3);
      redisContainer = await stackContainers(tc, { kafka, controller, redis }, { redisAppendOnly: true }).redis.start();
      track(redisContainer.getId());
      redisUrl = `redis://127.0.0.1:${redis}`;
      trainer = await TrainerProcess.launch(uniqueName('job-faults'), trainerEnv(stack, token, uniqueName('job-faults.models'), {
        REDIS_URL: redisUrl,
        TRAINER_INSTANCE_ID: uniqueName('job-faults'),
      }));
    });

    afterAll(async () => {
      await trainer?.stop();
      if (redisContainer) {
        removeContainers([redisContainer.getId()]);
        untrack([redisContainer.getId()]);
      }
    });

    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${trainer.base}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(15_000),
      });
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    };
    const job = async (id: string) => (await call('GET', `/v1/jobs/${id}`)).json as unknown as JobRecord;
    const healthStatus = async () => (await fetch(`${trainer.base}/health`, { signal: AbortSignal.timeout(10_000) })).status;

    async function startTraining(epochs: number): Promise<string> {
      const r = await call('POST', `/v1/models/${uniqueName('outage')}/retrain`, {
        task: 'forecast',
        source: { kind: 'upload', content: csv(3000) },
        epochs,
        window: 20,
        activate: 'always',
      });
      expect(r.status).toBe(202);
      const id = r.json.jobId as string;
      await waitFor('the job to train its first epoch', async () => (await job(id)).epochs.length > 0, 120_000, 200);
      return id;
    }

    it('Redis stopped until the job ends: the trainer survives, the job fails naming the cause, and the record is saved when Redis is back', async () => {
      const id = await startTraining(30);
      await docker(['stop', '-t', '0', redisContainer.getId()], 60_000);
      // While Redis is down: the job's record is served from memory and /health says 503 at once.
      expect(await healthStatus()).toBe(503);
      await waitFor('the job to end while Redis is down', async () => ['succeeded', 'failed', 'cancelled'].includes((await job(id)).status), 180_000, 500);
      const ended = await job(id);
      console.log(`job-faults: Redis stopped -> job ${ended.status}: ${ended.error}`);
      expect(ended.status).toBe('failed');
      expect(ended.error).toMatch(/max retries|Connection is closed|ECONNREFUSED|interrupted/i);
      expect(trainer.running).toBe(true);

      await docker(['start', redisContainer.getId()], 60_000);
      const direct = new Redis(redisUrl, { maxRetriesPerRequest: 20 });
      try {
        // The final record lands once Redis answers again (retried every 2 s).
        await waitFor(
          'the final record in Redis',
          async () => {
            const raw = await direct.get(`trainer:{jobs}:job:${id}`).catch(() => null);
            return raw !== null && (JSON.parse(raw) as JobRecord).status === 'failed';
          },
          60_000,
          500,
        );
        expect(await direct.sismember('trainer:{jobs}:active', id)).toBe(0);
      } finally {
        direct.disconnect();
      }
      await waitFor('/health 200 again', async () => (await healthStatus()) === 200, 30_000, 500);
      expect(trainer.running).toBe(true);
      expect(trainer.logs).not.toMatch(/UnhandledPromiseRejection|unhandledRejection|triggerUncaughtException/);
    });

    it('Redis paused for a while during a job: /health answers 503 instead of hanging, and the job ends in a terminal state', async () => {
      const id = await startTraining(20);
      await docker(['pause', redisContainer.getId()], 30_000);
      try {
        const t0 = Date.now();
        expect(await healthStatus()).toBe(503);
        expect(Date.now() - t0).toBeLessThan(8_000);
        await sleep(6_000);
        expect(trainer.running).toBe(true);
      } finally {
        await docker(['unpause', redisContainer.getId()], 30_000);
      }
      await waitFor('the job to end', async () => ['succeeded', 'failed', 'cancelled'].includes((await job(id)).status), 180_000, 500);
      const ended = await job(id);
      console.log(`job-faults: Redis paused 6 s -> job ${ended.status}${ended.error ? `: ${ended.error}` : ''}`);
      if (ended.status !== 'succeeded') expect(ended.error).toEqual(expect.any(String));
      expect(trainer.running).toBe(true);
      expect(await healthStatus()).toBe(200);
    });
  });

  describe('cancel and activation exclude each other (JobRunner, real training process)', () => {
    let redis: Redis;
    let registry: ModelRegistry;

    /** A JobStore whose save of the `activating` record and whose cancel check can be held. */
    class HeldStore extends JobStore {
      holdActivatingSave: Promise<void> | null = null;
      holdCancelCheck: Promise<void> | null = null;
      readonly reachedActivation = latch();
      override async save(job: JobRecord): Promise<void> {
        if (job.phase === 'activating' && this.holdActivatingSave) {
          this.reachedActivation.open();
          const copy = structuredClone(job);
          await this.holdActivatingSave;
          return super.save(copy);
        }
        return super.save(job);
      }
      override async cancelRequested(id: string): Promise<boolean> {
        if (this.holdCancelCheck) {
          this.reachedActivation.open();
          await this.holdCancelCheck;
        }
        return super.cancelRequested(id);
      }
    }

    const config = () =>
      loadTrainerConfig({ REDIS_URL: stack.redisUrl, KAFKA_BROKERS: stack.brokers, ADMIN_TOKEN: 'x'.repeat(32), TRAINER_INSTANCE_ID: uniqueName('cancel-race') });
    const spec = (model: string) => ({
      model,
      task: 'forecast' as const,
      source: { kind: 'upload' as const, content: csv(300), format: 'csv' as const },
      params: { epochs: 1, window: 5 },
      activate: 'always' as const,
    });
    async function settled(runner: JobRunner, id: string): Promise<JobRecord> {
      let rec: JobRecord | null = null;
      await waitFor('the job to end', async () => ['succeeded', 'failed', 'cancelled'].includes((rec = await runner.get(id))?.status ?? ''), 120_000, 100);
      return rec!;
    }

    beforeAll(() => {
      redis = new Redis(stack.redisUrl);
      registry = new ModelRegistry(redis, new InMemoryModelEventPublisher());
    });
    afterAll(() => redis?.disconnect());

    it('a cancel that arrives once the activation began is refused (409 at the API) and the version is active', async () => {
      const store = new HeldStore(redis);
      const hold = latch();
      store.holdCancelCheck = hold.promise;
      const runner = new JobRunner(store, registry, config());
      const model = uniqueName('race-late');
      const { id } = await runner.start(spec(model));
      await store.reachedActivation.promise;
      await expect(runner.cancel(id)).rejects.toBeInstanceOf(JobActivatingError);
      hold.open();
      const rec = await settled(runner, id);
      expect(rec.status).toBe('succeeded');
      expect(rec.result?.activated).toBe(true);
      expect((await registry.getActive(model))?.version).toBe(rec.result?.version);
      await runner.shutdown();
    });

    it('a cancel recorded through another replica just before the activation leaves the version inactive', async () => {
      const store = new HeldStore(redis);
      const hold = latch();
      // Held where the owner has claimed the activation but neither written the `activating`
      // record nor checked for a cancel recorded elsewhere.
      store.holdActivatingSave = hold.promise;
      store.holdCancelCheck = hold.promise;
      const runner = new JobRunner(store, registry, config());
      const other = new JobRunner(new JobStore(redis), registry, config());
      const model = uniqueName('race-early');
      const { id } = await runner.start(spec(model));
      await store.reachedActivation.promise;
      // The other replica sees no activation under way: its cancel is recorded and wins.
      expect((await other.cancel(id))?.status).toBe('cancelled');
      hold.open();
      const rec = await settled(runner, id);
      expect(rec.status).toBe('cancelled');
      expect(rec.error).toMatch(/^cancelled by request \(version \d+ stored, not activated\)$/);
      expect(rec.result?.activated).toBe(false);
      expect(await registry.getActive(model)).toBeNull();
      await waitFor('the saved record to say cancelled', async () => (await new JobStore(redis).get(id))?.status === 'cancelled', 10_000, 100);
      await runner.shutdown();
    });
  });
});
