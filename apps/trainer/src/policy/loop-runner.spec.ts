import type { ModelPolicy, ModelRegistry, NewPolicyAction, PolicyStore } from '@app/registry';
import { accuracyKey, ACCURACY_QUANTA_PER_UNIT, type RedisLike } from '@app/state';
import type { JobRecord } from '../jobs/job-record';
import type { JobRunner } from '../jobs/job-runner';
import type { JobsService, RetrainRequest } from '../services/jobs.service';
import { LoopRunner } from './loop-runner';

/**
 * The runner's own duties, on in-memory stand-ins for Redis, the registry and the job runner (the
 * real ones run in test/closed-loop.e2e-spec.ts): the retrain's job id is stored before the job
 * starts, a restarted trainer finds that job instead of starting another, one replica holds a
 * model's lease, nothing runs while paused, and a refused action is logged and cools down.
 */

const MODEL = 'pump';
const LIMB = 10n ** 12n;

/** Just enough of Redis for the runner: strings with expiry, the accumulator hashes, its three scripts. */
class FakeRedis {
  readonly strings = new Map<string, { value: string; expiresAt: number }>();
  readonly hashes = new Map<string, Record<string, string>>();
  constructor(readonly clock: { now: number }) {}
  async get(key: string): Promise<string | null> {
    const e = this.strings.get(key);
    return e && e.expiresAt > this.clock.now ? e.value : null;
  }
  async hgetall(key: string): Promise<Record<string, string>> {
    return this.hashes.get(key) ?? {};
  }
  async eval(script: string, _n: number, ...args: string[]): Promise<number> {
    const live = (k: string) => this.strings.get(k) !== undefined && this.strings.get(k)!.expiresAt > this.clock.now;
    if (script.includes('PEXPIRE')) {
      const [lease, me, ttl] = args;
      if (live(lease) && this.strings.get(lease)!.value !== me) return 0;
      this.strings.set(lease, { value: me, expiresAt: this.clock.now + Number(ttl) });
      return 1;
    }
    if (script.includes('KEYS[2]')) {
      const [lease, key, me, value] = args;
      if (!live(lease) || this.strings.get(lease)!.value !== me) return 0;
      this.strings.set(key, { value, expiresAt: Infinity });
      return 1;
    }
    const [lease, me] = args;
    if (live(lease) && this.strings.get(lease)!.value === me) this.strings.delete(lease);
    return 1;
  }
  /** Cumulative totals of a version's accumulator: `errors` errors of absolute error `e` each. */
  setLive(version: number, errors: number, e: number): void {
    const limbs = (x: number) => {
      const q = BigInt(Math.round(x * ACCURACY_QUANTA_PER_UNIT));
      return [String(q / LIMB), String(q % LIMB)];
    };
    const [ah, al] = limbs(errors * e);
    const [sh, sl] = limbs(errors * e * e);
    this.hashes.set(accuracyKey(MODEL, String(version)), { events: String(errors), n: String(errors), 'a:h': ah, 'a:l': al, 's:h': sh, 's:l': sl });
  }
}

const POLICY: ModelPolicy = {
  model: MODEL,
  paused: false,
  revision: 1,
  updatedAt: '',
  updatedBy: 'operator',
  autoPromote: { enabled: true, margin: 0.2, minEvents: 50, warmupEvents: 0 },
  drift: {
    enabled: true,
    metric: 'mae',
    threshold: 2,
    windowEvents: 50,
    minEvents: 50,
    consecutiveWindows: 1,
    cooldownMs: 60_000,
    retrain: { historyMs: 30_000, topic: 'sensor.readings', epochs: 2 },
  },
};

/** One trainer replica over the shared fakes. */
function setup() {
  const clock = { now: 1_000_000 };
  const redis = new FakeRedis(clock);
  const log: NewPolicyAction[] = [];
  const jobs = new Map<string, JobRecord>();
  const started: { jobId: string | undefined; request: RetrainRequest; storedBefore: string | null }[] = [];
  const pointers = { active: 1, shadow: null as number | null };
  let policy: ModelPolicy = POLICY;
  let refuseRetrain: Error | null = null;
  const registry = {
    listModels: async () => [{ name: MODEL }],
    getModel: async () => ({
      name: MODEL,
      versions: [1, 2].map((version) => ({ version, task: 'forecast', metrics: { mae: 0.5, rmse: 0.6 } })),
      active: { version: pointers.active },
      shadow: pointers.shadow === null ? null : { version: pointers.shadow },
    }),
    setShadow: async (_m: string, v: number) => (pointers.shadow = v),
    promoteShadow: async (_m: string, v: number) => {
      pointers.active = v;
      pointers.shadow = null;
    },
    clearShadow: async () => (pointers.shadow = null),
  } as unknown as ModelRegistry;
  const policies = {
    get: async () => policy,
    append: async (_m: string, a: NewPolicyAction) => log.push(a),
  } as unknown as PolicyStore;
  const jobsService = {
    retrain: async (_r: JobRunner, _m: string, request: RetrainRequest, jobId?: string) => {
      started.push({ jobId, request, storedBefore: await redis.get(`reg:{${MODEL}}:loop`) });
      if (refuseRetrain) throw refuseRetrain;
      jobs.set(jobId!, { id: jobId!, status: 'running', result: null, error: null } as unknown as JobRecord);
    },
  } as unknown as JobsService;
  const runner = { get: async (id: string) => jobs.get(id) ?? null, start: async () => undefined } as unknown as JobRunner;
  const replica = (instanceId: string) =>
    new LoopRunner({ redis: redis as unknown as RedisLike, registry, policies, jobs: jobsService, runner, instanceId, leaseMs: 3000, now: () => clock.now });
  return {
    clock,
    redis,
    log,
    jobs,
    started,
    pointers,
    replica,
    setPolicy: (p: ModelPolicy) => (policy = p),
    refuse: (e: Error | null) => (refuseRetrain = e),
  };
}

/** Opens the drift window, then closes it drifted: live mae 2.0 over 50 errors, 4× the holdout 0.5. */
async function drift(w: ReturnType<typeof setup>, loop: LoopRunner): Promise<void> {
  w.redis.setLive(1, 100, 0.5);
  expect((await loop.tickModel(MODEL)).kind).toBe('none');
  w.clock.now += 1000;
  w.redis.setLive(1, 150, 1); // Σ|e| 50 → 150: the 50 new errors average 2.0
}

describe('control loop runner', () => {
  it('stores the retrain job id before the job starts; a restart finds the job and starts no other', async () => {
    const w = setup();
    const first = w.replica('t1');
    await drift(w, first);
    expect((await first.tickModel(MODEL)).kind).toBe('retrain');
    expect(w.started).toHaveLength(1);
    const [{ jobId, request, storedBefore }] = w.started;
    expect(JSON.parse(storedBefore!)).toMatchObject({ phase: 'retraining', jobId });
    expect(request).toMatchObject({ activate: 'never', epochs: 2, source: { kind: 'kafka', topic: 'sensor.readings', fromTime: String(w.clock.now - 30_000), toTime: String(w.clock.now) } });
    expect(w.log.map((a) => [a.action, a.by, a.jobId])).toEqual([['retrain_started', 'policy:t1', jobId]]);
    expect(w.log[0].evidence).toMatchObject({ holdoutError: 0.5, ratio: expect.closeTo(4, 6) });

    // The same trainer restarted (a new runner, same instance): the job runs, nothing new starts.
    const restarted = w.replica('t1');
    for (let i = 0; i < 3; i++) {
      w.clock.now += 500;
      w.redis.setLive(1, 300 + i * 100, 2);
      expect((await restarted.tickModel(MODEL)).kind).toBe('none');
    }
    expect(w.started).toHaveLength(1);

    // The job ends: its version goes into shadow, judged, and promoted when it wins by the margin.
    w.jobs.set(jobId!, { ...w.jobs.get(jobId!)!, status: 'succeeded', result: { version: 2 } } as unknown as JobRecord);
    expect(await restarted.tickModel(MODEL)).toMatchObject({ kind: 'shadow', version: 2 });
    expect(w.pointers).toEqual({ active: 1, shadow: 2 });
    w.redis.setLive(2, 0, 0);
    expect((await restarted.tickModel(MODEL)).kind).toBe('none'); // the comparison begins
    w.redis.setLive(1, 600, 2);
    w.redis.setLive(2, 60, 0.3);
    expect(await restarted.tickModel(MODEL)).toMatchObject({ kind: 'promote', version: 2 });
    expect(w.pointers).toEqual({ active: 2, shadow: null });
    expect(w.log.map((a) => a.action)).toEqual(['retrain_started', 'shadowed', 'promoted']);
    expect(await restarted.state(MODEL)).toMatchObject({ phase: 'watching', activeVersion: 2, quietUntil: w.clock.now + 60_000 });
  });

  it('runs a model on one replica at a time; another takes over once the lease expires', async () => {
    const w = setup();
    const a = w.replica('t1');
    const b = w.replica('t2');
    await drift(w, a);
    expect((await b.tickModel(MODEL)).kind).toBe('none');
    expect(w.started).toHaveLength(0);
    expect((await a.tickModel(MODEL)).kind).toBe('retrain');
    // t1 stops renewing: after the lease's 3 s, t2 runs the loop from the stored state (the job).
    w.clock.now += 3001;
    expect((await b.tickModel(MODEL)).kind).toBe('none');
    expect(await b.state(MODEL)).toMatchObject({ phase: 'retraining', jobId: w.started[0].jobId });
    expect((await a.tickModel(MODEL)).kind).toBe('none'); // t2 holds it now
    expect(w.started).toHaveLength(1);
  });

  it('does nothing while paused', async () => {
    const w = setup();
    const loop = w.replica('t1');
    w.setPolicy({ ...POLICY, paused: true });
    await drift(w, loop);
    expect((await loop.tickModel(MODEL)).kind).toBe('none');
    expect(w.started).toHaveLength(0);
    expect(w.log).toEqual([]);
    expect(await loop.state(MODEL)).toEqual(expect.objectContaining({ phase: 'watching', window: null }));
  });

  it('logs a retrain the trainer refuses and cools down', async () => {
    const w = setup();
    const loop = w.replica('t1');
    await drift(w, loop);
    w.refuse(new Error('model pump already has a running job'));
    expect((await loop.tickModel(MODEL)).kind).toBe('none');
    expect(w.log).toMatchObject([{ action: 'retrain_failed', by: 'policy:t1', reason: 'retrain could not be carried out: model pump already has a running job' }]);
    expect(await loop.state(MODEL)).toMatchObject({ phase: 'watching', jobId: null, quietUntil: w.clock.now + 60_000 });
  });
});
