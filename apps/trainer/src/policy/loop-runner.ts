import { randomUUID } from 'node:crypto';
import type { ModelPolicy, ModelRegistry, NewPolicyAction, PolicyStore } from '@app/registry';
import { RegistryKeys } from '@app/registry';
import { readAccuracy, type RedisLike } from '@app/state';
import type { JobRunner } from '../jobs/job-runner';
import type { JobsService, RetrainRequest } from '../services/jobs.service';
import {
  actionFailed,
  decide,
  decisionAction,
  holdoutError,
  INITIAL_LOOP_STATE,
  NO_EVENTS,
  retrainStarted,
  type JobObservation,
  type LiveErrorSnapshot,
  type LoopDecision,
  type LoopObservation,
  type LoopState,
} from './loop-decision';

/**
 * The control loop runner (docs/closed-loop.md): every period, for each model with a policy whose
 * loop lease this trainer holds, observe (active and shadow versions, their holdout and live
 * errors from the workers' exactly-once accumulators, the loop's retrain job), `decide`, carry the
 * decision out (retrain with `activate: never`, put the result in shadow, promote it warm or drop
 * it) and log it in the model's action log. The loop's state lives in Redis (`reg:{m}:loop`),
 * written only while the lease is held; a retrain's job id is stored before the job starts, so a
 * restarted trainer finds that job (or its absence) instead of starting a second one.
 */

/** What the runner reads and acts through (the trainer's registry, stores, job runner). */
export interface LoopRunnerDeps {
  readonly redis: RedisLike;
  readonly registry: ModelRegistry;
  readonly policies: PolicyStore;
  readonly jobs: JobsService;
  readonly runner: Pick<JobRunner, 'get' | 'start'>;
  /** This trainer (lease holder and `by` of the log entries: `policy:<instanceId>`). */
  readonly instanceId: string;
  /** Lease lifetime, ms (renewed on every tick). */
  readonly leaseMs: number;
  /** Workers' STATE_KEY_PREFIX (accumulator keys). */
  readonly stateKeyPrefix?: string;
  readonly now?: () => number;
  readonly onError?: (model: string, err: unknown) => void;
}

/** Takes the lease when free, renews it when ours; 1 when held by `ARGV[1]` afterwards. */
const LEASE_LUA = `
local cur = redis.call('GET', KEYS[1])
if cur == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0`;

/** Stores the loop state only while the lease is ours (a replica that lost it writes nothing). */
const SAVE_LUA = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
return 1`;

/** Releases the lease when ours. */
const RELEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** Live scoring as the decisions count it: per scored error (reading × horizon step × target). */
function snapshotOf(t: { errors: number; sumAbs: number; sumSq: number } | null): LiveErrorSnapshot {
  return t ? { events: t.errors, sumAbs: t.sumAbs, sumSq: t.sumSq } : NO_EVENTS;
}

export class LoopRunner {
  private readonly keys = new RegistryKeys();
  private readonly by: string;
  private readonly now: () => number;

  constructor(private readonly deps: LoopRunnerDeps) {
    this.by = `policy:${deps.instanceId}`;
    this.now = deps.now ?? Date.now;
  }

  /** One pass over every model; a model's failure is reported and does not stop the others. */
  async tick(): Promise<void> {
    for (const m of await this.deps.registry.listModels()) {
      try {
        await this.tickModel(m.name);
      } catch (err) {
        this.deps.onError?.(m.name, err);
      }
    }
  }

  /** Gives up every lease this trainer holds (shutdown), so another replica takes over at once. */
  async release(models: readonly string[]): Promise<void> {
    for (const m of models) await this.deps.redis.eval(RELEASE_LUA, 1, this.keys.loopLease(m), this.deps.instanceId);
  }

  /** The loop state of `model` (the initial one when none is stored). */
  async state(model: string): Promise<LoopState> {
    const json = await this.deps.redis.get(this.keys.loop(model));
    return json ? { ...INITIAL_LOOP_STATE, ...(JSON.parse(json) as Partial<LoopState>) } : INITIAL_LOOP_STATE;
  }

  /** One look at `model`: returns the decision carried out (`none` without a policy or lease). */
  async tickModel(model: string): Promise<LoopDecision> {
    const policy = await this.deps.policies.get(model);
    if (!policy) return { kind: 'none' };
    const held = (await this.deps.redis.eval(LEASE_LUA, 1, this.keys.loopLease(model), this.deps.instanceId, String(this.deps.leaseMs))) as number;
    if (held !== 1 || policy.paused) return { kind: 'none' };
    const state = await this.state(model);
    const obs = await this.observe(model, policy, state);
    const step = decide(policy, state, obs);
    const d = step.decision;
    let next = step.state;
    let jobId: string | undefined;
    try {
      switch (d.kind) {
        case 'retrain':
          jobId = randomUUID();
          // Stored before the job starts: a restart finds this job instead of starting another.
          next = retrainStarted(next, jobId);
          if (!(await this.save(model, next))) return { kind: 'none' };
          await this.deps.jobs.retrain(this.deps.runner as JobRunner, model, this.retrainRequest(policy, obs.now), jobId);
          break;
        case 'shadow':
          await this.deps.registry.setShadow(model, d.version);
          break;
        case 'promote':
          await this.deps.registry.promoteShadow(model, d.version);
          break;
        case 'reject':
          await this.deps.registry.clearShadow(model, d.version);
          break;
        case 'none':
        case 'note':
          break;
      }
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      next = actionFailed(policy, next, obs.now);
      await this.log(model, {
        action: d.kind === 'retrain' ? 'retrain_failed' : 'skipped',
        by: this.by,
        reason: `${d.kind} could not be carried out: ${why}`,
        ...('version' in d && d.version !== undefined ? { version: d.version } : {}),
        ...(jobId !== undefined ? { jobId } : {}),
      });
      await this.save(model, next);
      return { kind: 'none' };
    }
    const entry = decisionAction(d, this.by, jobId);
    if (entry) await this.log(model, entry);
    if (d.kind !== 'none' || JSON.stringify(next) !== JSON.stringify(state)) await this.save(model, next);
    return d;
  }

  private async observe(model: string, policy: ModelPolicy, state: LoopState): Promise<LoopObservation> {
    const now = this.now();
    const details = await this.deps.registry.getModel(model);
    const activeVersion = details?.active?.version ?? null;
    const meta = activeVersion === null ? undefined : details!.versions.find((v) => v.version === activeVersion);
    const shadowVersion = details?.shadow?.version ?? null;
    const prefix = this.deps.stateKeyPrefix;
    const [activeLive, shadowLive, job] = await Promise.all([
      activeVersion === null ? null : readAccuracy(this.deps.redis, model, activeVersion, prefix),
      shadowVersion === null ? null : readAccuracy(this.deps.redis, model, shadowVersion, prefix),
      state.jobId === null ? null : this.job(state.jobId),
    ]);
    return {
      now,
      active:
        activeVersion === null || !meta
          ? null
          : { version: activeVersion, holdoutError: holdoutError(meta.task, meta.metrics, policy.drift.metric), live: snapshotOf(activeLive) },
      shadow: shadowVersion === null ? null : { version: shadowVersion, live: snapshotOf(shadowLive) },
      job,
    };
  }

  private async job(id: string): Promise<JobObservation | null> {
    const rec = await this.deps.runner.get(id);
    if (!rec) return null;
    return { id: rec.id, status: rec.status, version: rec.result?.version ?? null, error: rec.error };
  }

  /** The retrain of a drift: the policy's training fields on the last `historyMs` of its topic, into no activation. */
  private retrainRequest(policy: ModelPolicy, now: number): RetrainRequest {
    const { historyMs, topic, labelsTopic, ...params } = policy.drift.retrain;
    return {
      ...(params as Partial<RetrainRequest>),
      source: {
        kind: 'kafka',
        topic: topic!,
        ...(labelsTopic !== undefined ? { labelsTopic } : {}),
        fromTime: String(now - historyMs),
        toTime: String(now),
      },
      activate: 'never',
    };
  }

  private async log(model: string, entry: NewPolicyAction): Promise<void> {
    await this.deps.policies.append(model, entry);
  }

  private async save(model: string, state: LoopState): Promise<boolean> {
    const ok = (await this.deps.redis.eval(SAVE_LUA, 2, this.keys.loopLease(model), this.keys.loop(model), this.deps.instanceId, JSON.stringify(state))) as number;
    return ok === 1;
  }
}
