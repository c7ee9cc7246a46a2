import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
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

/** This trainer already runs TRAINER_MAX_JOBS jobs. */
export class JobCapacityError extends Error {
  constructor(readonly max: number) {
    super(`this trainer already runs ${max} training jobs (TRAINER_MAX_JOBS=${max}); retry when one has finished`);
  }
}

/** A cancel that came after the job began activating its version (cancel and activation exclude each other). */
export class JobActivatingError extends Error {
  constructor(
    readonly jobId: string,
    readonly version: number | null,
  ) {
    super(
      `job ${jobId} is already activating${version !== null ? ` version ${version}` : ' its version'}: too late to cancel (roll back with POST /v1/models/{name}/versions/{v}/activate)`,
    );
  }
}

/**
 * What a retrain of `model` inherits: the active (else latest) version's recorded parameters,
 * when the trainer made that version for `task`; otherwise none (the defaults apply).
 */
export async function inheritedParams(
  registry: ModelRegistry,
  model: string,
  task: TrainJobSpec['task'],
): Promise<{ version: number | null; params: Partial<TrainParams> }> {
  const details = await registry.getModel(model);
  const versions = details?.versions ?? [];
  const meta = versions.find((v) => v.version === details?.active?.version) ?? versions[versions.length - 1];
  if (!meta || meta.task !== task || meta.source !== 'trained') return { version: null, params: {} };
  return { version: meta.version, params: recordedParams(meta.params) };
}

/** Hooks for metrics. */
export interface JobRunnerHooks {
  onFinished?(job: JobRecord): void;
  onEpoch?(job: JobRecord): void;
}

const LEASE_MS = 30_000;
const RENEW_MS = 10_000;

/** How often a final record that could not be written (Redis down) is tried again. */
const FINAL_SAVE_RETRY_MS = 2_000;

interface LocalJob {
  record: JobRecord;
  child: ChildProcess | null;
  subject: Subject<JobRecord>;
  renew: NodeJS.Timeout;
  cancelled: boolean;
  /**
   * Which of cancel and activation won: set synchronously by the first of them, so a job
   * cancelled before its activation began never activates, and a cancel arriving after it began
   * is refused ({@link JobActivatingError}) instead of reporting a cancel that did not happen.
   */
  settledBy: 'cancel' | 'activation' | null;
}

/**
 * Starts training jobs in child processes, tracks their progress in Redis, activates the new
 * version per policy, and marks jobs whose trainer died as failed.
 */
export class JobRunner {
  private readonly log = new Logger('jobs');
  private readonly local = new Map<string, LocalJob>();
  /** Terminal records whose save failed (Redis down): kept here, served by get(), retried. */
  private readonly unsaved = new Map<string, JobRecord>();
  private unsavedTimer: NodeJS.Timeout | null = null;
  /** Starts past the capacity check but not yet in `local`. */
  private starting = 0;
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
      if (this.local.has(job.id) || this.unsaved.has(job.id)) continue;
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

  /** Jobs running in this process. */
  get runningCount(): number {
    return this.local.size;
  }

  /**
   * Starts a job; throws JobCapacityError when this trainer already runs TRAINER_MAX_JOBS jobs,
   * JobConflictError when the model already has one running. `jobId`: the id to use (the control
   * loop records it before the job starts, so a restart finds the job instead of starting another).
   */
  async start(spec: Omit<TrainJobSpec, 'jobId'> & { readonly jobId?: string }): Promise<JobRecord> {
    if (this.local.size + this.starting >= this.config.maxJobs) throw new JobCapacityError(this.config.maxJobs);
    this.starting++;
    try {
      return await this.admit(spec);
    } finally {
      this.starting--;
    }
  }

  private async admit({ jobId, ...spec }: Omit<TrainJobSpec, 'jobId'> & { readonly jobId?: string }): Promise<JobRecord> {
    const id = jobId ?? randomUUID();
    // A retrain repeats the recipe of the version it replaces, on new data: what the request
    // leaves out comes from that version's recorded parameters, then from the defaults.
    const from = await inheritedParams(this.registry, spec.model, spec.task);
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
      await this.store.unlock(spec.model, id).catch(() => undefined);
      throw err;
    }
    const local: LocalJob = {
      record,
      child: null,
      subject: new Subject<JobRecord>(),
      renew: setInterval(() => void this.renew(local), RENEW_MS),
      cancelled: false,
      settledBy: null,
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
    if (local.settledBy === 'activation') return; // the activation path ends the job
    local.cancelled = true;
    if (await this.store.cancelRequested(local.record.id).catch(() => false)) await this.finish(local, 'cancelled', 'cancelled by request');
    else await this.finish(local, 'failed', 'interrupted: the job lost its model lock');
  }

  private launch(local: LocalJob, spec: TrainJobSpec): void {
    const isTs = __filename.endsWith('.ts');
    const child = fork(join(__dirname, `train-worker.${isTs ? 'ts' : 'js'}`), [], {
      // The heap limit of the training process: a job whose data does not fit fails alone, with
      // a reason, instead of swapping out the trainer.
      execArgv: [...(isTs ? ['-r', '@swc-node/register'] : []), `--max-old-space-size=${this.config.jobMemoryMb}`],
      env: { ...process.env, STREAMCELL_TRAIN_WORKER: '1' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
    local.child = child;
    const rec = local.record;
    rec.status = 'running';
    rec.phase = 'reading';
    rec.startedAt = new Date().toISOString();
    this.persistProgress(local);
    let finished = false;
    child.on('message', (m: WorkerMessage) => {
      switch (m.type) {
        case 'phase':
          if (m.phase === 'backend') rec.backend = m.detail ?? null;
          else rec.phase = m.phase as JobRecord['phase'];
          this.persistProgress(local);
          break;
        case 'epoch':
          rec.epochs.push(m.progress);
          rec.route = m.progress.route;
          rec.progress = { epoch: m.progress.epoch, epochs: m.progress.epochs, fraction: m.progress.epoch / m.progress.epochs };
          this.hooks.onEpoch?.(rec);
          this.persistProgress(local);
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
      else if (signal === 'SIGABRT' || code === 134) {
        // V8 aborts when the heap limit is reached.
        void this.finish(local, 'failed', `training process ran out of memory (heap limit TRAINER_JOB_MEMORY_MB=${this.config.jobMemoryMb} MiB): use less data or a smaller model, or raise the limit`);
      } else void this.finish(local, 'failed', `training process exited (${signal ?? `code ${code}`})`);
    });
    child.on('error', (err) => {
      finished = true;
      void this.finish(local, 'failed', `training process failed: ${err.message}`);
    });
    const start: WorkerStart = {
      type: 'start',
      spec,
      redisUrl: this.config.redisUrl,
      redisCluster: this.config.redisCluster,
      redisSentinelMaster: this.config.redisSentinelMaster,
      brokers: this.config.kafkaBrokers,
      kafkaSasl: this.config.kafkaSasl,
      dataDir: this.config.dataDir,
      maxDataBytes: this.config.maxDataBytes,
      forecastBackend: this.config.forecastBackend,
      textBackend: this.config.textBackend,
    };
    child.send(start);
  }

  /**
   * The child stored a version: activate it when the job says so, unless a cancel came first.
   * Claims the activation synchronously (see {@link LocalJob.settledBy}), then checks the
   * cancel a replica may have recorded in Redis; when that check cannot be made, the version is
   * not activated.
   */
  private async complete(local: LocalJob, result: TrainJobResult): Promise<void> {
    const rec = local.record;
    if (isTerminal(rec.status)) return;
    rec.result = { ...result, activated: false };
    if (!result.shouldActivate) return this.finish(local, 'succeeded', null);
    if (local.cancelled || local.settledBy === 'cancel') {
      return this.finish(local, 'cancelled', `cancelled by request (version ${result.version} stored, not activated)`);
    }
    local.settledBy = 'activation';
    try {
      rec.phase = 'activating';
      this.persistProgress(local);
      if ((await this.store.cancelRequested(rec.id)) || (await this.store.lockHolder(rec.model)) !== rec.id) {
        return await this.finish(local, 'cancelled', `cancelled by request (version ${result.version} stored, not activated)`);
      }
      await this.registry.activate(rec.model, result.version);
      rec.result = { ...result, activated: true };
      await this.finish(local, 'succeeded', null);
    } catch (err) {
      await this.finish(local, 'failed', `version ${result.version} saved but not activated: ${(err as Error).message}`);
    }
  }

  /**
   * Ends a job: status, child killed, record saved, lock released. Never rejects: when Redis is
   * down the final record stays in memory (get() serves it) and is saved again until it lands.
   */
  private async finish(local: LocalJob, status: 'succeeded' | 'failed' | 'cancelled', error: string | null): Promise<void> {
    const rec = local.record;
    if (isTerminal(rec.status)) return;
    rec.status = status;
    rec.phase = 'done';
    rec.error = error;
    rec.finishedAt = new Date().toISOString();
    clearInterval(local.renew);
    if (local.child && local.child.exitCode === null) local.child.kill('SIGKILL');
    this.local.delete(rec.id);
    local.subject.next(structuredClone(rec));
    local.subject.complete();
    try {
      this.hooks.onFinished?.(rec);
    } catch (err) {
      this.log.warn(`metrics hook failed for job ${rec.id}: ${(err as Error).message}`);
    }
    // Served from memory until it is saved: get() must not depend on Redis meanwhile.
    this.unsaved.set(rec.id, rec);
    try {
      await this.store.save(rec);
      await this.store.unlock(rec.model, rec.id);
      this.unsaved.delete(rec.id);
    } catch (err) {
      this.log.warn(`job ${rec.id} ended ${status} but its record could not be saved (${(err as Error).message}); retrying every ${FINAL_SAVE_RETRY_MS} ms`);
      this.scheduleUnsaved();
    }
  }

  private scheduleUnsaved(): void {
    if (this.unsavedTimer) return;
    this.unsavedTimer = setTimeout(() => {
      this.unsavedTimer = null;
      void this.saveUnsaved();
    }, FINAL_SAVE_RETRY_MS);
    this.unsavedTimer.unref();
  }

  private async saveUnsaved(): Promise<void> {
    for (const [id, rec] of this.unsaved) {
      try {
        await this.store.save(rec);
        await this.store.unlock(rec.model, rec.id);
        this.unsaved.delete(id);
        this.log.log(`job ${id}: final record (${rec.status}) saved`);
      } catch {
        break; // still down: try again later
      }
    }
    if (this.unsaved.size > 0) this.scheduleUnsaved();
  }

  /** Saves a progress change; a failure is logged (the final record is saved with retries). */
  private persistProgress(local: LocalJob): void {
    local.subject.next(structuredClone(local.record));
    this.store.save(local.record).catch((err: Error) => this.log.warn(`job ${local.record.id}: progress not saved: ${err.message}`));
  }

  /** The job record (from this process when it runs here, else from Redis). */
  async get(id: string): Promise<JobRecord | null> {
    return this.local.get(id)?.record ?? this.unsaved.get(id) ?? (await this.store.get(id));
  }

  /**
   * Cancels a running job: its process is killed, no version is stored or activated after that.
   * Throws JobActivatingError when the job already began activating its version.
   */
  async cancel(id: string): Promise<JobRecord | null> {
    const local = this.local.get(id);
    if (local) {
      if (local.settledBy === 'activation') throw new JobActivatingError(id, local.record.result?.version ?? null);
      local.settledBy = 'cancel';
      local.cancelled = true;
      local.child?.kill('SIGTERM');
      await this.finish(local, 'cancelled', 'cancelled by request');
      return local.record;
    }
    const rec = this.unsaved.get(id) ?? (await this.store.get(id));
    if (!rec || isTerminal(rec.status)) return rec;
    if (rec.phase === 'activating') throw new JobActivatingError(id, rec.result?.version ?? null);
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
    if (this.unsavedTimer) clearTimeout(this.unsavedTimer);
    await this.saveUnsaved().catch(() => undefined);
    if (this.unsavedTimer) clearTimeout(this.unsavedTimer);
  }
}
