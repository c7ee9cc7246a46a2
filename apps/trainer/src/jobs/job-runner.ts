import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Subject, type Observable } from 'rxjs';
import type { ModelRegistry } from '@app/registry';
import type { TrainerConfig } from '../config/trainer-config';
import type { TrainJobResult, TrainJobSpec } from '../training/train-job';
import { recordedParams, withDefaults, type TrainParams } from '../training/train-params';
import { isTerminal, type JobRecord } from './job-record';
import type { JobStore } from './job-store';
import type { WorkerMessage, WorkerStart } from './train-worker';

/** A second job for a model whose job still runs. */
export class JobConflictError extends Error {
  constructor(
    readonly model: string,
    readonly runningJobId: string | null,
  ) {
    super(`a training job for model ${model} is already running${runningJobId ? ` (${runningJobId})` : ''}`);
  }
}

/** Hooks for metrics. */
export interface JobRunnerHooks {
  onFinished?(job: JobRecord): void;
  onEpoch?(job: JobRecord): void;
}

const LEASE_MS = 30_000;
const RENEW_MS = 10_000;

interface LocalJob {
  record: JobRecord;
  child: ChildProcess | null;
  subject: Subject<JobRecord>;
  renew: NodeJS.Timeout;
  cancelled: boolean;
}

/**
 * Starts training jobs in child processes, tracks their progress in Redis, activates the new
 * version per policy, and marks jobs whose trainer died as failed.
 */
export class JobRunner {
  private readonly local = new Map<string, LocalJob>();
  private sweeper: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: JobStore,
    private readonly registry: ModelRegistry,
    private readonly config: TrainerConfig,
    private readonly hooks: JobRunnerHooks = {},
  ) {}

  /** Marks jobs interrupted by a restart failed now, and keeps sweeping for dead replicas' jobs. */
  async startSweeping(intervalMs = 15_000): Promise<number> {
    const n = await this.sweep(true);
    this.sweeper = setInterval(() => void this.sweep(false).catch(() => undefined), intervalMs);
    this.sweeper.unref();
    return n;
  }

  /**
   * A queued/running job not running here is dead when it was ours (we restarted) or when its
   * model lock lease has expired (its trainer is gone).
   */
  async sweep(atBoot: boolean): Promise<number> {
    let n = 0;
    for (const job of await this.store.listActive()) {
      if (this.local.has(job.id)) continue;
      const holder = await this.store.lockHolder(job.model);
      const mine = job.owner === this.config.instanceId;
      if ((atBoot && mine) || holder !== job.id) {
        job.status = 'failed';
        job.error = atBoot && mine ? 'interrupted: the trainer restarted while the job ran' : 'interrupted: the trainer running the job stopped';
        job.finishedAt = new Date().toISOString();
        await this.store.save(job);
        if (holder === job.id) await this.store.unlock(job.model, job.id);
        n++;
      }
    }
    return n;
  }

  /** The active (else latest) version's recorded parameters, when the trainer made it for `task`. */
  private async parentParams(model: string, task: TrainJobSpec['task']): Promise<{ version: number | null; params: Partial<TrainParams> }> {
    const details = await this.registry.getModel(model);
    const versions = details?.versions ?? [];
    const meta = versions.find((v) => v.version === details?.active?.version) ?? versions[versions.length - 1];
    if (!meta || meta.task !== task || meta.source !== 'trained') return { version: null, params: {} };
    return { version: meta.version, params: recordedParams(meta.params) };
  }

  /** Starts a job; throws JobConflictError when the model already has one running. */
  async start(spec: Omit<TrainJobSpec, 'jobId'>): Promise<JobRecord> {
    const id = randomUUID();
    // A retrain repeats the recipe of the version it replaces, on new data: what the request
    // leaves out comes from that version's recorded parameters, then from the defaults.
    const from = await this.parentParams(spec.model, spec.task);
    if (!(await this.store.tryLock(spec.model, id, LEASE_MS))) {
      throw new JobConflictError(spec.model, await this.store.lockHolder(spec.model));
    }
    const params = withDefaults({ ...from.params, ...spec.params });
    const full: TrainJobSpec = { ...spec, jobId: id, params };
    const { content: _content, ...sourceSummary } = spec.source as Record<string, unknown>;
    const record: JobRecord = {
      id,
      model: spec.model,
      task: spec.task,
      status: 'queued',
      phase: 'queued',
      owner: this.config.instanceId,
      backend: null,
      route: null,
      createdAt: new Date().toISOString(),
      startedAt: null,
      finishedAt: null,
      params: { ...params },
      paramsFrom: from.version,
      activate: spec.activate,
      source: sourceSummary,
      epochs: [],
      progress: { epoch: 0, epochs: params.epochs, fraction: 0 },
      result: null,
      error: null,
    };
    try {
      await this.store.save(record);
    } catch (err) {
      await this.store.unlock(spec.model, id);
      throw err;
    }
    const local: LocalJob = {
      record,
      child: null,
      subject: new Subject<JobRecord>(),
      renew: setInterval(() => void this.renew(local), RENEW_MS),
      cancelled: false,
    };
    this.local.set(id, local);
    this.launch(local, full);
    return record;
  }

  /**
   * Renews the model lock. Losing it means the job was cancelled through another replica (or
   * this one was cut off for longer than the lease): stop, so two jobs never store versions for
   * one model at once.
   */
  private async renew(local: LocalJob): Promise<void> {
    try {
      if (await this.store.renewLock(local.record.model, local.record.id, LEASE_MS)) return;
    } catch {
      return; // Redis hiccup: the lease is 3 renew periods long
    }
    local.cancelled = true;
    if (await this.store.cancelRequested(local.record.id).catch(() => false)) await this.finish(local, 'cancelled', 'cancelled by request');
    else await this.finish(local, 'failed', 'interrupted: the job lost its model lock');
  }

  private launch(local: LocalJob, spec: TrainJobSpec): void {
    const isTs = __filename.endsWith('.ts');
    const child = fork(join(__dirname, `train-worker.${isTs ? 'ts' : 'js'}`), [], {
      execArgv: isTs ? ['-r', '@swc-node/register'] : [],
      env: { ...process.env, STREAMCELL_TRAIN_WORKER: '1' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
    local.child = child;
    const rec = local.record;
    rec.status = 'running';
    rec.phase = 'reading';
    rec.startedAt = new Date().toISOString();
    void this.persist(local);
    let finished = false;
    child.on('message', (m: WorkerMessage) => {
      switch (m.type) {
        case 'phase':
          if (m.phase === 'backend') rec.backend = m.detail ?? null;
          else rec.phase = m.phase as JobRecord['phase'];
          void this.persist(local);
          break;
        case 'epoch':
          rec.epochs.push(m.progress);
          rec.route = m.progress.route;
          rec.progress = { epoch: m.progress.epoch, epochs: m.progress.epochs, fraction: m.progress.epoch / m.progress.epochs };
          this.hooks.onEpoch?.(rec);
          void this.persist(local);
          break;
        case 'done':
          finished = true;
          void this.complete(local, m.result);
          break;
        case 'failed':
          finished = true;
          void this.finish(local, 'failed', m.error);
          break;
        case 'cancelled':
          finished = true;
          local.cancelled = true;
          void this.finish(local, 'cancelled', 'cancelled by request');
          break;
      }
    });
    child.on('exit', (code, signal) => {
      if (finished) return;
      if (local.cancelled) void this.finish(local, 'cancelled', 'cancelled by request');
      else void this.finish(local, 'failed', `training process exited (${signal ?? `code ${code}`})`);
    });
    const start: WorkerStart = {
      type: 'start',
      spec,
      redisUrl: this.config.redisUrl,
      redisCluster: this.config.redisCluster,
      redisSentinelMaster: this.config.redisSentinelMaster,
      brokers: this.config.kafkaBrokers,
      kafkaSasl: this.config.kafkaSasl,
      forecastBackend: this.config.forecastBackend,
      textBackend: this.config.textBackend,
    };
    child.send(start);
  }

  private async complete(local: LocalJob, result: TrainJobResult): Promise<void> {
    const rec = local.record;
    let activated = false;
    try {
      if (result.shouldActivate && !local.cancelled) {
        rec.phase = 'activating';
        await this.persist(local);
        await this.registry.activate(rec.model, result.version);
        activated = true;
      }
      rec.result = { ...result, activated };
      await this.finish(local, 'succeeded', null);
    } catch (err) {
      rec.result = { ...result, activated };
      await this.finish(local, 'failed', `version ${result.version} saved but activation failed: ${(err as Error).message}`);
    }
  }

  private async finish(local: LocalJob, status: 'succeeded' | 'failed' | 'cancelled', error: string | null): Promise<void> {
    const rec = local.record;
    if (isTerminal(rec.status)) return;
    rec.status = status;
    rec.phase = 'done';
    rec.error = error;
    rec.finishedAt = new Date().toISOString();
    clearInterval(local.renew);
    if (local.child && local.child.exitCode === null) local.child.kill('SIGKILL');
    try {
      await this.persist(local);
    } finally {
      await this.store.unlock(rec.model, rec.id).catch(() => undefined);
      this.local.delete(rec.id);
      this.hooks.onFinished?.(rec);
      local.subject.complete();
    }
  }

  private async persist(local: LocalJob): Promise<void> {
    local.subject.next(structuredClone(local.record));
    await this.store.save(local.record);
  }

  /** The job record (from this process when it runs here, else from Redis). */
  async get(id: string): Promise<JobRecord | null> {
    return this.local.get(id)?.record ?? (await this.store.get(id));
  }

  /** Cancels a running job: its process is killed, no version is stored or activated after that. */
  async cancel(id: string): Promise<JobRecord | null> {
    const local = this.local.get(id);
    if (local) {
      local.cancelled = true;
      local.child?.kill('SIGTERM');
      await this.finish(local, 'cancelled', 'cancelled by request');
      return local.record;
    }
    const rec = await this.store.get(id);
    if (!rec || isTerminal(rec.status)) return rec;
    // Runs on another replica: it notices at its next lease renewal that the lock is gone and a
    // cancel was requested. The record is marked here too, in case that replica is dead.
    await this.store.requestCancel(id);
    rec.status = 'cancelled';
    rec.phase = 'done';
    rec.error = 'cancelled by request';
    rec.finishedAt = new Date().toISOString();
    await this.store.save(rec);
    await this.store.unlock(rec.model, rec.id);
    return rec;
  }

  /** Live updates of a local job (completes when it ends); null when it does not run here. */
  updates(id: string): Observable<JobRecord> | null {
    return this.local.get(id)?.subject.asObservable() ?? null;
  }

  /** Kills running children (their jobs are marked failed). */
  async shutdown(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    await Promise.all(
      [...this.local.values()].map((l) => this.finish(l, 'failed', 'interrupted: the trainer shut down while the job ran')),
    );
  }
}
