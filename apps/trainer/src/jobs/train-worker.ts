/**
 * Child-process entry of a training job: training never runs on the HTTP event loop. Talks to
 * the parent over IPC: receives one `start`, sends `phase` / `epoch` / `done` / `failed` /
 * `cancelled`.
 */
import { setPriority } from 'node:os';
import type { KafkaSaslLogin } from '@app/kafka';
import { createRedisClient } from '@app/state';
import { InMemoryModelEventPublisher, ModelRegistry } from '@app/registry';
import { initTrainingBackend } from '../training/tf-backend';
import { runTrainJob, type TrainJobSpec } from '../training/train-job';
import { JobStore } from './job-store';

/** Parent → child. */
export interface WorkerStart {
  readonly type: 'start';
  readonly spec: TrainJobSpec;
  readonly redisUrl: string;
  readonly redisCluster: boolean;
  readonly redisSentinelMaster: string | null;
  readonly brokers: string[];
  readonly kafkaSasl: KafkaSaslLogin | null;
  /** TRAINER_DATA_DIR: file sources are read only inside it (null: refused). */
  readonly dataDir: string | null;
  /** TRAINER_MAX_DATA_BYTES. */
  readonly maxDataBytes: number;
  readonly forecastBackend: 'cpu' | 'wasm';
  readonly textBackend: 'cpu' | 'wasm';
}

/** Child → parent. */
export type WorkerMessage =
  | { readonly type: 'phase'; readonly phase: string; readonly detail?: string }
  | { readonly type: 'epoch'; readonly progress: import('../training/train-params').EpochProgress }
  | { readonly type: 'done'; readonly result: import('../training/train-job').TrainJobResult; readonly backend: string }
  | { readonly type: 'failed'; readonly error: string }
  /** The job's model lock was gone (or a cancel recorded) when the version was about to be stored. */
  | { readonly type: 'cancelled' };

class FenceLost extends Error {}

function send(m: WorkerMessage): Promise<void> {
  return new Promise((resolve) => process.send!(m, undefined, {}, () => resolve()));
}

async function run(msg: WorkerStart): Promise<void> {
  const redis = createRedisClient(msg.redisUrl, {
    maxRetriesPerRequest: 3,
    cluster: msg.redisCluster,
    sentinelMaster: msg.redisSentinelMaster,
  });
  // Connection errors surface as failed commands (the job fails naming them); not once per retry.
  redis.on('error', () => undefined);
  try {
    // The child only stores the version; activation (and its event) is the parent's.
    const registry = new ModelRegistry(redis, new InMemoryModelEventPublisher());
    const backend = await initTrainingBackend(msg.spec.task === 'classify' ? msg.textBackend : msg.forecastBackend);
    await send({ type: 'phase', phase: 'backend', detail: backend });
    const result = await runTrainJob(msg.spec, {
      registry,
      brokers: msg.brokers,
      kafkaSasl: msg.kafkaSasl,
      limits: { dataDir: msg.dataDir, maxDataBytes: msg.maxDataBytes },
      onPhase: (phase, detail) => void send({ type: 'phase', phase, ...(detail ? { detail } : {}) }),
      onEpoch: (progress) => void send({ type: 'epoch', progress }),
      // Fencing: store a version only while this job still holds its model's lock. A cancel
      // through another replica releases the lock; a job finishing before the owning replica's
      // next lease renewal must not store (or later activate) its version.
      beforeSave: async () => {
        const jobs = new JobStore(redis);
        const holder = await jobs.lockHolder(msg.spec.model);
        if (holder !== msg.spec.jobId || (await jobs.cancelRequested(msg.spec.jobId))) throw new FenceLost();
      },
    });
    await send({ type: 'done', result, backend });
  } catch (err) {
    if (err instanceof FenceLost) return void (await send({ type: 'cancelled' }));
    await send({ type: 'failed', error: (err as Error).message || String(err) });
  } finally {
    redis.disconnect();
  }
}

/**
 * Niceness of a training process: training takes whole cores for minutes, and the trainer's
 * HTTP process (on the same cores) must keep answering /health and the admin API meanwhile.
 */
export const TRAINING_NICENESS = 10;

if (process.env.STREAMCELL_TRAIN_WORKER === '1' && process.send) {
  try {
    // The main thread, where the training runs (on Linux, niceness is per thread).
    setPriority(TRAINING_NICENESS);
  } catch {
    // Not permitted here: train at normal priority.
  }
  process.once('message', (m: WorkerStart) => {
    if (m?.type === 'start') {
      void run(m).then(() => process.exit(0));
    }
  });
}
