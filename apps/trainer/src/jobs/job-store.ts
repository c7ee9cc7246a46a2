import type { Cluster, Redis } from 'ioredis';
import type { JobRecord } from './job-record';

const JOB_TTL_SECONDS = 30 * 24 * 3600;

/**
 * Job records in Redis (so any replica can answer GET /v1/jobs/{id} and a restart never loses a
 * job), plus a per-model lock with a lease that makes "one running job per model" hold across
 * replicas.
 *
 * Redis Cluster: job records, cancel marks and the active set share the hash tag `{jobs}` (one
 * slot, so a record and the active set change in one MULTI; jobs are few); each model's lock has
 * its own tag.
 */
export class JobStore {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly prefix = 'trainer',
  ) {}

  private jobKey(id: string) {
    return `${this.prefix}:{jobs}:job:${id}`;
  }
  private lockKey(model: string) {
    return `${this.prefix}:lock:{${model}}`;
  }
  private activeSet() {
    return `${this.prefix}:{jobs}:active`;
  }

  /** Takes the model's lock for `jobId` (lease `ttlMs`); false when another job holds it. */
  async tryLock(model: string, jobId: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(this.lockKey(model), jobId, 'PX', ttlMs, 'NX')) === 'OK';
  }

  /** Extends the lease if `jobId` still holds it. */
  async renewLock(model: string, jobId: string, ttlMs: number): Promise<boolean> {
    const r = await this.redis.eval(
      "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0",
      1,
      this.lockKey(model),
      jobId,
      String(ttlMs),
    );
    return r === 1;
  }

  /** Releases the lock if `jobId` holds it. */
  async unlock(model: string, jobId: string): Promise<void> {
    await this.redis.eval(
      "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
      1,
      this.lockKey(model),
      jobId,
    );
  }

  /** The job holding the model's lock, if any. */
  async lockHolder(model: string): Promise<string | null> {
    return this.redis.get(this.lockKey(model));
  }

  /** Records that a job was cancelled (read by the replica that runs it). */
  async requestCancel(id: string): Promise<void> {
    await this.redis.set(`${this.prefix}:{jobs}:cancel:${id}`, '1', 'EX', 24 * 3600);
  }

  /** True when {@link requestCancel} was called for the job. */
  async cancelRequested(id: string): Promise<boolean> {
    return (await this.redis.exists(`${this.prefix}:{jobs}:cancel:${id}`)) === 1;
  }

  async save(job: JobRecord): Promise<void> {
    const m = this.redis.multi().set(this.jobKey(job.id), JSON.stringify(job), 'EX', JOB_TTL_SECONDS);
    if (job.status === 'queued' || job.status === 'running') m.sadd(this.activeSet(), job.id);
    else m.srem(this.activeSet(), job.id);
    await m.exec();
  }

  async get(id: string): Promise<JobRecord | null> {
    const json = await this.redis.get(this.jobKey(id));
    return json ? (JSON.parse(json) as JobRecord) : null;
  }

  /** Jobs recorded as queued or running. */
  async listActive(): Promise<JobRecord[]> {
    const ids = await this.redis.smembers(this.activeSet());
    const out: JobRecord[] = [];
    for (const id of ids) {
      const j = await this.get(id);
      if (j) out.push(j);
      else await this.redis.srem(this.activeSet(), id);
    }
    return out;
  }
}
