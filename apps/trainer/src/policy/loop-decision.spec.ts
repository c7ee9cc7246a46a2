import fc from 'fast-check';
import {
  INITIAL_LOOP_STATE,
  NO_EVENTS,
  actionFailed,
  decide,
  decisionAction,
  holdoutError,
  retrainStarted,
  snapshotError,
  type JobObservation,
  type LiveErrorSnapshot,
  type LoopDecision,
  type LoopObservation,
  type LoopPolicy,
  type LoopState,
} from './loop-decision';

/** n events, each with absolute error e. */
function snap(n: number, e: number): LiveErrorSnapshot {
  return { events: n, sumAbs: n * e, sumSq: n * e * e };
}
function plus(a: LiveErrorSnapshot, b: LiveErrorSnapshot): LiveErrorSnapshot {
  return { events: a.events + b.events, sumAbs: a.sumAbs + b.sumAbs, sumSq: a.sumSq + b.sumSq };
}

function policyOf(o: { paused?: boolean; autoPromote?: Partial<LoopPolicy['autoPromote']>; drift?: Partial<LoopPolicy['drift']> } = {}): LoopPolicy {
  return {
    paused: o.paused ?? false,
    autoPromote: { enabled: true, margin: 0.1, minEvents: 100, warmupEvents: 0, ...o.autoPromote },
    drift: {
      enabled: true,
      metric: 'mae',
      threshold: 1.5,
      windowEvents: 100,
      minEvents: 50,
      consecutiveWindows: 2,
      cooldownMs: 60_000,
      retrain: { historyMs: 3_600_000, topic: 'sensor.readings' },
      ...o.drift,
    },
  };
}

function obsOf(now: number, active: { version: number; holdout: number | null; live: LiveErrorSnapshot }, shadow?: { version: number; live: LiveErrorSnapshot }, job?: JobObservation): LoopObservation {
  return { now, active: { version: active.version, holdoutError: active.holdout, live: active.live }, shadow: shadow ?? null, job: job ?? null };
}

describe('loop decisions', () => {
  it('computes window errors from cumulative sums', () => {
    expect(snapshotError(snap(4, 0.5), 'mae')).toBeCloseTo(0.5, 12);
    const mixed = plus(snap(3, 1), snap(1, 3)); // |e| = 1,1,1,3
    expect(snapshotError(mixed, 'mae')).toBeCloseTo(1.5, 12);
    expect(snapshotError(mixed, 'rmse')).toBeCloseTo(Math.sqrt(12 / 4), 12);
    expect(snapshotError(NO_EVENTS, 'mae')).toBeNaN();
  });

  it('starts a retrain after consecutive drifted windows, not after one', () => {
    const p = policyOf();
    const a = (live: LiveErrorSnapshot) => ({ version: 1, holdout: 0.2, live });
    let s = decide(p, INITIAL_LOOP_STATE, obsOf(0, a(NO_EVENTS))).state; // opens the window
    let step = decide(p, s, obsOf(1000, a(snap(100, 0.4)))); // 2× holdout: first drifted window
    expect(step.decision).toEqual({ kind: 'none' });
    expect(step.state.breaches).toBe(1);
    s = step.state;
    step = decide(p, s, obsOf(2000, a(plus(snap(100, 0.4), snap(60, 0.25))))); // 60 events: the window stays open
    expect(step.decision.kind).toBe('none');
    step = decide(p, step.state, obsOf(3000, a(plus(snap(100, 0.4), snap(100, 0.25))))); // a window of 100 at 1.25×
    expect(step.decision.kind).toBe('none');
    expect(step.state.breaches).toBe(0); // a calm window resets the count
    step = decide(p, step.state, obsOf(4000, a(plus(snap(100, 0.4), plus(snap(100, 0.25), snap(100, 0.5))))));
    expect(step.state.breaches).toBe(1);
    step = decide(p, step.state, obsOf(5000, a(plus(snap(100, 0.4), plus(snap(100, 0.25), snap(200, 0.5))))));
    expect(step.decision.kind).toBe('retrain');
    const d = step.decision as Extract<LoopDecision, { kind: 'retrain' }>;
    expect(d.evidence.liveError).toBeCloseTo(0.5, 12);
    expect(d.evidence.ratio).toBeCloseTo(2.5, 12);
    expect(d.evidence.windowEvents).toBe(100);
    expect(d.reason).toMatch(/live mae 0\.5 over 100 events is 2\.5× the holdout mae 0\.2 of v1 \(threshold 1\.5, 2 windows in a row\)/);
    expect(step.state.phase).toBe('retraining');
    expect(step.state.jobId).toBeNull();
  });

  it('ends windows by time when windowMs is set, judging only windows with minEvents', () => {
    const p = policyOf({ drift: { windowEvents: undefined, windowMs: 10_000, minEvents: 20, consecutiveWindows: 1 } });
    const a = (live: LiveErrorSnapshot) => ({ version: 1, holdout: 0.1, live });
    let step = decide(p, INITIAL_LOOP_STATE, obsOf(0, a(NO_EVENTS)));
    step = decide(p, step.state, obsOf(15_000, a(snap(10, 1)))); // time is up but only 10 events: extended
    expect(step.decision.kind).toBe('none');
    step = decide(p, step.state, obsOf(16_000, a(snap(20, 1))));
    expect(step.decision.kind).toBe('retrain');
  });

  it('follows a retrain into shadow, waits out the warm-up, and promotes a winner by the margin', () => {
    const p = policyOf({ autoPromote: { warmupEvents: 30, minEvents: 100, margin: 0.1 } });
    let state: LoopState = { ...INITIAL_LOOP_STATE, phase: 'retraining', activeVersion: 1 };
    state = retrainStarted(state, 'job-1');
    const active = (live: LiveErrorSnapshot) => ({ version: 1, holdout: 0.2, live });
    const running: JobObservation = { id: 'job-1', status: 'running', version: null, error: null };
    let step = decide(p, state, obsOf(0, active(snap(500, 0.5)), undefined, running));
    expect(step.decision.kind).toBe('none');
    step = decide(p, step.state, obsOf(1, active(snap(500, 0.5)), undefined, { ...running, status: 'succeeded', version: 2 }));
    expect(step.decision).toMatchObject({ kind: 'shadow', version: 2, jobId: 'job-1', replaces: null });
    expect(step.state.phase).toBe('shadowing');
    // Warm-up: the shadow's first 30 events are not compared.
    step = decide(p, step.state, obsOf(2, active(snap(520, 0.5)), { version: 2, live: snap(20, 5) }));
    expect(step.state.comparison).toBeNull();
    step = decide(p, step.state, obsOf(3, active(snap(530, 0.5)), { version: 2, live: snap(30, 5) }));
    expect(step.state.comparison).toEqual({ active: snap(530, 0.5), shadow: snap(30, 5) });
    // 99 compared events: too few.
    step = decide(p, step.state, obsOf(4, active(plus(snap(530, 0.5), snap(99, 0.5))), { version: 2, live: plus(snap(30, 5), snap(99, 0.3)) }));
    expect(step.decision.kind).toBe('none');
    step = decide(p, step.state, obsOf(5, active(plus(snap(530, 0.5), snap(100, 0.5))), { version: 2, live: plus(snap(30, 5), snap(100, 0.3)) }));
    expect(step.decision.kind).toBe('promote');
    const d = step.decision as Extract<LoopDecision, { kind: 'promote' }>;
    expect(d.version).toBe(2);
    expect(d.evidence).toMatchObject({ activeEvents: 100, shadowEvents: 100, margin: 0.1 });
    expect(d.evidence.shadowError).toBeCloseTo(0.3, 12);
    expect(d.evidence.activeError).toBeCloseTo(0.5, 12);
    expect(step.state).toMatchObject({ phase: 'watching', activeVersion: 2, shadowVersion: null, quietUntil: 5 + p.drift.cooldownMs });
  });

  it('rejects a shadow that does not beat the active version by the margin', () => {
    const p = policyOf({ autoPromote: { margin: 0.1, minEvents: 50 } });
    const state: LoopState = { ...INITIAL_LOOP_STATE, phase: 'shadowing', activeVersion: 1, shadowVersion: 2, comparison: { active: NO_EVENTS, shadow: NO_EVENTS } };
    // 0.46 < 0.5 but not below 0.5 × 0.9 = 0.45.
    const step = decide(p, state, obsOf(10, { version: 1, holdout: 0.2, live: snap(50, 0.5) }, { version: 2, live: snap(50, 0.46) }));
    expect(step.decision).toMatchObject({ kind: 'reject', version: 2 });
    expect(step.state).toMatchObject({ phase: 'watching', shadowVersion: null, quietUntil: 10 + p.drift.cooldownMs });
  });

  it('logs a failed retrain, cools down, and logs a drift during the cooldown once', () => {
    const p = policyOf({ drift: { consecutiveWindows: 1 } });
    const state = retrainStarted({ ...INITIAL_LOOP_STATE, phase: 'retraining', activeVersion: 1 }, 'job-9');
    const a = (live: LiveErrorSnapshot) => ({ version: 1, holdout: 0.1, live });
    let step = decide(p, state, obsOf(1000, a(NO_EVENTS), undefined, { id: 'job-9', status: 'failed', version: null, error: 'no data in range' }));
    expect(step.decision).toMatchObject({ kind: 'note', action: 'retrain_failed', jobId: 'job-9' });
    expect((step.decision as { reason: string }).reason).toMatch(/failed: no data in range/);
    expect(step.state.quietUntil).toBe(1000 + p.drift.cooldownMs);
    step = decide(p, step.state, obsOf(2000, a(NO_EVENTS)));
    step = decide(p, step.state, obsOf(3000, a(snap(100, 1))));
    expect(step.decision).toMatchObject({ kind: 'note', action: 'skipped' });
    step = decide(p, step.state, obsOf(4000, a(snap(200, 1))));
    expect(step.decision.kind).toBe('none'); // the same standing condition is not logged again
    step = decide(p, step.state, obsOf(1000 + p.drift.cooldownMs, a(snap(300, 1))));
    expect(step.decision.kind).toBe('retrain');
  });

  it('judges a shadow an operator started, and leaves the verdict to the operator when auto-promotion is off', () => {
    const on = policyOf({ drift: { enabled: false }, autoPromote: { minEvents: 10, margin: 0 } });
    let step = decide(on, INITIAL_LOOP_STATE, obsOf(0, { version: 3, holdout: null, live: snap(10, 1) }, { version: 4, live: NO_EVENTS }));
    expect(step.state).toMatchObject({ phase: 'shadowing', shadowVersion: 4 });
    step = decide(on, step.state, obsOf(1, { version: 3, holdout: null, live: snap(10, 1) }, { version: 4, live: NO_EVENTS }));
    step = decide(on, step.state, obsOf(2, { version: 3, holdout: null, live: snap(20, 1) }, { version: 4, live: snap(10, 0.5) }));
    expect(step.decision).toMatchObject({ kind: 'promote', version: 4 });

    const off = policyOf({ drift: { enabled: false }, autoPromote: { enabled: false, minEvents: 10 } });
    const judging: LoopState = { ...INITIAL_LOOP_STATE, phase: 'shadowing', activeVersion: 3, shadowVersion: 4, comparison: { active: NO_EVENTS, shadow: NO_EVENTS } };
    step = decide(off, judging, obsOf(5, { version: 3, holdout: null, live: snap(10, 1) }, { version: 4, live: snap(10, 0.5) }));
    expect(step.decision).toMatchObject({ kind: 'note', action: 'skipped', version: 4 });
    expect((step.decision as { reason: string }).reason).toMatch(/auto-promotion is off/);
    expect(decide(off, step.state, obsOf(6, { version: 3, holdout: null, live: snap(11, 1) }, { version: 4, live: snap(11, 0.5) })).decision.kind).toBe('none');
  });

  it('reads the holdout error of forecasters and classifiers from their recorded metrics', () => {
    expect(holdoutError('forecast', { mae: 0.3, rmse: 0.4 }, 'mae')).toBe(0.3);
    expect(holdoutError('forecast', { mae: 0.3, rmse: 0.4 }, 'rmse')).toBe(0.4);
    expect(holdoutError('classify', { accuracy: 0.9, f1: 0.8 }, 'mae')).toBeCloseTo(0.1, 12);
    expect(holdoutError('forecast', {}, 'mae')).toBeNull();
    expect(holdoutError('classify', { f1: 0.8 }, 'rmse')).toBeNull();
  });

  it('turns each carried-out decision into its action log entry', () => {
    expect(decisionAction({ kind: 'none' }, 'policy:t1')).toBeNull();
    const evidence = { ratio: 2 };
    expect(decisionAction({ kind: 'retrain', reason: 'drift', evidence }, 'policy:t1', 'job-1')).toEqual({ action: 'retrain_started', by: 'policy:t1', reason: 'drift', jobId: 'job-1', evidence });
    expect(decisionAction({ kind: 'shadow', version: 4, jobId: 'job-1', replaces: 3, reason: 'r' }, 'policy:t1')).toEqual({ action: 'shadowed', by: 'policy:t1', reason: 'r', version: 4, jobId: 'job-1', evidence: { replaces: 3 } });
    expect(decisionAction({ kind: 'promote', version: 4, reason: 'won', evidence }, 'p')).toEqual({ action: 'promoted', by: 'p', reason: 'won', version: 4, evidence });
    expect(decisionAction({ kind: 'reject', version: 4, reason: 'lost', evidence }, 'p')).toEqual({ action: 'rejected', by: 'p', reason: 'lost', version: 4, evidence });
    expect(decisionAction({ kind: 'note', action: 'retrain_failed', jobId: 'job-2', reason: 'boom' }, 'p')).toEqual({ action: 'retrain_failed', by: 'p', reason: 'boom', jobId: 'job-2' });
  });

  it('drops a judgement when an operator removes the shadow, and cools down after a failed action', () => {
    const p = policyOf();
    const judging: LoopState = { ...INITIAL_LOOP_STATE, phase: 'shadowing', activeVersion: 1, shadowVersion: 2 };
    const step = decide(p, judging, obsOf(7, { version: 1, holdout: 0.2, live: NO_EVENTS }));
    expect(step.decision).toMatchObject({ kind: 'note', action: 'skipped', version: 2 });
    expect(step.state.phase).toBe('watching');
    expect(actionFailed(p, { ...INITIAL_LOOP_STATE, phase: 'retraining' }, 100)).toMatchObject({ phase: 'watching', quietUntil: 100 + p.drift.cooldownMs });
  });
});

// ---------------------------------------------------------------- properties

const snapshotArb = fc.record({ events: fc.nat(10_000), sumAbs: fc.double({ min: 0, max: 1e4, noNaN: true }), sumSq: fc.double({ min: 0, max: 1e6, noNaN: true }) });
const stateArb: fc.Arbitrary<LoopState> = fc.record({
  phase: fc.constantFrom('watching', 'retraining', 'shadowing'),
  activeVersion: fc.option(fc.integer({ min: 1, max: 5 })),
  window: fc.option(fc.record({ start: snapshotArb, startedAt: fc.nat(1e6) })),
  breaches: fc.nat(3),
  jobId: fc.option(fc.constantFrom('j1', 'j2')),
  shadowVersion: fc.option(fc.integer({ min: 1, max: 5 })),
  comparison: fc.option(fc.record({ active: snapshotArb, shadow: snapshotArb })),
  quietUntil: fc.nat(1e6),
  lastNote: fc.option(fc.constantFrom('cooldown', 'no_holdout')),
});
const obsArb: fc.Arbitrary<LoopObservation> = fc.record({
  now: fc.nat(2e6),
  active: fc.option(fc.record({ version: fc.integer({ min: 1, max: 5 }), holdoutError: fc.option(fc.double({ min: 0, max: 2, noNaN: true })), live: snapshotArb })),
  shadow: fc.option(fc.record({ version: fc.integer({ min: 1, max: 5 }), live: snapshotArb })),
  job: fc.option(
    fc.record({
      id: fc.constantFrom('j1', 'j2'),
      status: fc.constantFrom('queued', 'running', 'succeeded', 'failed', 'cancelled'),
      version: fc.option(fc.integer({ min: 1, max: 5 })),
      error: fc.constant(null),
    }),
  ),
});

/**
 * A model driven through the loop: each tick some events pass, every event of a version has the
 * same absolute error (so a version's live error is known exactly, independently of the loop),
 * the regime may change (the active version's error jumps), jobs finish after some ticks, the
 * operator may pause, resume or remove the shadow.
 */
interface Tick {
  readonly dtMs: number;
  readonly events: number;
  readonly regime: number | null;
  readonly togglePause: boolean;
  readonly dropShadow: boolean;
  readonly jobTicks: number;
  readonly jobFails: boolean;
  readonly newVersionError: number;
}
const tickArb: fc.Arbitrary<Tick> = fc.record({
  dtMs: fc.integer({ min: 1, max: 120_000 }),
  events: fc.nat(300),
  regime: fc.option(fc.double({ min: 0.05, max: 1, noNaN: true }), { freq: 8 }),
  togglePause: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
  dropShadow: fc.integer({ min: 0, max: 29 }).map((n) => n === 0),
  jobTicks: fc.integer({ min: 0, max: 4 }),
  jobFails: fc.integer({ min: 0, max: 3 }).map((n) => n === 0),
  newVersionError: fc.double({ min: 0.05, max: 1, noNaN: true }),
});
const policyArb: fc.Arbitrary<LoopPolicy> = fc.record({
  paused: fc.constant(false),
  autoPromote: fc.record({ enabled: fc.integer({ min: 0, max: 3 }).map((n) => n > 0), margin: fc.double({ min: 0, max: 0.5, noNaN: true }), minEvents: fc.integer({ min: 1, max: 500 }), warmupEvents: fc.nat(200) }),
  drift: fc.record({
    enabled: fc.constant(true),
    metric: fc.constantFrom('mae' as const, 'rmse' as const),
    threshold: fc.double({ min: 1, max: 3, noNaN: true }),
    windowEvents: fc.integer({ min: 1, max: 500 }),
    minEvents: fc.constant(1),
    consecutiveWindows: fc.integer({ min: 1, max: 3 }),
    cooldownMs: fc.integer({ min: 0, max: 300_000 }),
    retrain: fc.constant({ historyMs: 3_600_000 }),
  }),
});

interface Logged {
  readonly at: number;
  readonly decision: LoopDecision;
  readonly paused: boolean;
  /** True error of the active and shadow versions when decided. */
  readonly activeError: number;
  readonly shadowError: number | null;
  readonly holdout: number;
}

/** Runs `ticks` against the loop and returns every decision with the true errors at the time. */
function simulate(policy: LoopPolicy, ticks: readonly Tick[], activeErrorAtStart: number): Logged[] {
  const errorOf = new Map<number, number>([[1, activeErrorAtStart]]);
  const holdoutOf = new Map<number, number>([[1, 0.2]]);
  const live = new Map<number, LiveErrorSnapshot>([[1, NO_EVENTS]]);
  let active = 1;
  let shadow: number | null = null;
  let nextVersion = 2;
  let paused = false;
  let now = 0;
  let state = INITIAL_LOOP_STATE;
  const jobs = new Map<string, { ticksLeft: number; fails: boolean; error: number; obs: JobObservation }>();
  const log: Logged[] = [];
  for (const t of ticks) {
    now += t.dtMs;
    if (t.togglePause) paused = !paused;
    if (t.regime !== null && shadow === null) errorOf.set(active, t.regime);
    if (t.dropShadow) shadow = null;
    for (const v of [active, ...(shadow !== null ? [shadow] : [])]) live.set(v, plus(live.get(v)!, snap(t.events, errorOf.get(v)!)));
    for (const [, job] of jobs) {
      if (job.obs.status !== 'running') continue;
      if (job.ticksLeft-- > 0) continue;
      if (job.fails) job.obs = { ...job.obs, status: 'failed', error: 'boom' };
      else {
        const v = nextVersion++;
        errorOf.set(v, job.error);
        holdoutOf.set(v, job.error);
        live.set(v, NO_EVENTS);
        job.obs = { ...job.obs, status: 'succeeded', version: v };
      }
    }
    const obs: LoopObservation = {
      now,
      active: { version: active, holdoutError: holdoutOf.get(active)!, live: live.get(active)! },
      shadow: shadow !== null ? { version: shadow, live: live.get(shadow)! } : null,
      job: state.jobId !== null ? (jobs.get(state.jobId)?.obs ?? null) : null,
    };
    const step = decide({ ...policy, paused }, state, obs);
    state = step.state;
    const d = step.decision;
    log.push({ at: now, decision: d, paused, activeError: errorOf.get(active)!, shadowError: shadow !== null ? errorOf.get(shadow)! : null, holdout: holdoutOf.get(active)! });
    switch (d.kind) {
      case 'retrain': {
        const id = `job-${jobs.size + 1}`;
        jobs.set(id, { ticksLeft: t.jobTicks, fails: t.jobFails, error: t.newVersionError, obs: { id, status: 'running', version: null, error: null } });
        state = retrainStarted(state, id);
        break;
      }
      case 'shadow':
        shadow = d.version;
        break;
      case 'promote':
        active = d.version;
        shadow = null;
        break;
      case 'reject':
        shadow = null;
        break;
      case 'note':
      case 'none':
        break;
    }
  }
  return log;
}

describe('loop decision properties', () => {
  it('does nothing and changes nothing while paused', () => {
    fc.assert(
      fc.property(policyArb, stateArb, obsArb, (policy, state, obs) => {
        const step = decide({ ...policy, paused: true }, state, obs);
        expect(step.decision).toEqual({ kind: 'none' });
        expect(step.state).toBe(state);
      }),
    );
  });

  it('never acts on a paused model, keeps one retrain in flight, spaces retrains by the cooldown, and promotes only real winners', () => {
    fc.assert(
      fc.property(policyArb, fc.array(tickArb, { minLength: 40, maxLength: 150 }), fc.double({ min: 0.05, max: 1, noNaN: true }), (policy, ticks, e0) => {
        const log = simulate(policy, ticks, e0);
        let inFlight = false;
        let lastEnd = -Infinity;
        let lastPromotion = -Infinity;
        for (const { at, decision: d, paused, activeError, shadowError, holdout } of log) {
          if (paused) expect(d.kind).toBe('none');
          switch (d.kind) {
            case 'retrain':
              expect(inFlight).toBe(false);
              expect(at - lastEnd).toBeGreaterThanOrEqual(policy.drift.cooldownMs);
              // The window that triggered it was drifted: its events all had the active error
              // or a mix of the errors of one regime change; the evidence says so.
              expect(d.evidence.ratio as number).toBeGreaterThan(policy.drift.threshold);
              expect(d.evidence.holdoutError).toBe(holdout);
              inFlight = true;
              break;
            case 'shadow':
              expect(inFlight).toBe(true);
              inFlight = false;
              break;
            case 'note':
              if (d.action === 'retrain_failed') {
                expect(inFlight).toBe(true);
                inFlight = false;
                lastEnd = at;
              }
              break;
            case 'promote':
              // Every event of a version has the same error: the loop's verdict must agree with it.
              expect(policy.autoPromote.enabled).toBe(true);
              expect(shadowError).not.toBeNull();
              expect(shadowError!).toBeLessThan(activeError * (1 - policy.autoPromote.margin) + 1e-9);
              expect(Math.min(d.evidence.activeEvents as number, d.evidence.shadowEvents as number)).toBeGreaterThanOrEqual(policy.autoPromote.minEvents);
              expect(at - lastPromotion).toBeGreaterThanOrEqual(policy.drift.cooldownMs);
              lastPromotion = at;
              lastEnd = at;
              break;
            case 'reject':
              expect(shadowError!).toBeGreaterThanOrEqual(activeError * (1 - policy.autoPromote.margin) - 1e-9);
              lastEnd = at;
              break;
            case 'none':
              break;
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('never retrains a model whose live error stays within the threshold', () => {
    fc.assert(
      fc.property(policyArb, fc.array(tickArb, { minLength: 1, maxLength: 120 }), fc.double({ min: 0, max: 0.999, noNaN: true }), (policy, ticks, f) => {
        // Holdout 0.2; the active error stays at most threshold × holdout, whatever the regime.
        const calm = 0.2 * policy.drift.threshold * f;
        const log = simulate(policy, ticks.map((t) => ({ ...t, regime: t.regime === null ? null : calm })), calm);
        expect(log.filter((l) => l.decision.kind === 'retrain')).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });
});
