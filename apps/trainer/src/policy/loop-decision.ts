import type { ModelPolicySpec, NewPolicyAction } from '@app/registry';

/**
 * The control loop's decisions as pure functions (docs/closed-loop.md): from the model's policy,
 * the loop's own state and one observation of the live accuracy of the active and shadow
 * versions (and of the loop's retrain job) to at most one action and the next state. The trainer's
 * loop runner reads the observation, stores the state and performs the action; nothing here
 * touches Redis, Kafka or the clock.
 */

/** Cumulative live scoring of one version: events scored, Σ|error|, Σerror² (classifiers: misses). */
export interface LiveErrorSnapshot {
  readonly events: number;
  readonly sumAbs: number;
  readonly sumSq: number;
}

/** No events scored. */
export const NO_EVENTS: LiveErrorSnapshot = { events: 0, sumAbs: 0, sumSq: 0 };

/** What the scoring between two cumulative snapshots adds. */
export function snapshotDelta(to: LiveErrorSnapshot, from: LiveErrorSnapshot): LiveErrorSnapshot {
  return { events: to.events - from.events, sumAbs: to.sumAbs - from.sumAbs, sumSq: to.sumSq - from.sumSq };
}

/** Mean error of a snapshot (or of a delta) by `metric`; NaN without events. */
export function snapshotError(s: LiveErrorSnapshot, metric: 'mae' | 'rmse'): number {
  if (s.events <= 0) return NaN;
  return metric === 'mae' ? s.sumAbs / s.events : Math.sqrt(Math.max(0, s.sumSq) / s.events);
}

/** The loop's retrain job as the job store has it. */
export interface JobObservation {
  readonly id: string;
  readonly status: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  /** The version the job stored (succeeded jobs). */
  readonly version: number | null;
  readonly error: string | null;
}

/** One look at the model, taken by the loop runner before each decision. */
export interface LoopObservation {
  /** Epoch milliseconds. */
  readonly now: number;
  /** The active version, its holdout error (by the policy's metric; null: unknown) and live scoring. */
  readonly active: { readonly version: number; readonly holdoutError: number | null; readonly live: LiveErrorSnapshot } | null;
  /** The shadow version and its live scoring, when one is stepped. */
  readonly shadow: { readonly version: number; readonly live: LiveErrorSnapshot } | null;
  /** The job `state.jobId` names (null: none, or its record is gone). */
  readonly job: JobObservation | null;
}

/** Where the loop is: watching the active version, waiting for its retrain, or judging a shadow. */
export type LoopPhase = 'watching' | 'retraining' | 'shadowing';

/** The loop's memory between observations (stored per model by the loop runner). */
export interface LoopState {
  readonly phase: LoopPhase;
  /** The active version the drift window belongs to. */
  readonly activeVersion: number | null;
  /** The open drift window: the active version's snapshot when it opened. */
  readonly window: { readonly start: LiveErrorSnapshot; readonly startedAt: number } | null;
  /** Consecutive drifted windows (capped at the policy's `consecutiveWindows`). */
  readonly breaches: number;
  /** The loop's retrain job (phase `retraining`); null while its start is pending. */
  readonly jobId: string | null;
  /** The version being judged (phase `shadowing`). */
  readonly shadowVersion: number | null;
  /** Both versions' snapshots when the comparison began (after the shadow's warm-up). */
  readonly comparison: { readonly active: LiveErrorSnapshot; readonly shadow: LiveErrorSnapshot } | null;
  /** No retrain starts before this (epoch ms): the cooldown after a retrain ended. */
  readonly quietUntil: number;
  /** The kind of the last note logged, so a standing condition is logged once, not per window. */
  readonly lastNote: string | null;
}

/** A fresh loop. */
export const INITIAL_LOOP_STATE: LoopState = {
  phase: 'watching',
  activeVersion: null,
  window: null,
  breaches: 0,
  jobId: null,
  shadowVersion: null,
  comparison: null,
  quietUntil: 0,
  lastNote: null,
};

/** Numbers a decision was made on, recorded with it in the action log. */
export type Evidence = Readonly<Record<string, number | string | boolean | null>>;

/** What the loop runner does after a decision; `note`s are only logged. */
export type LoopDecision =
  | { readonly kind: 'none' }
  | { readonly kind: 'retrain'; readonly reason: string; readonly evidence: Evidence }
  | { readonly kind: 'shadow'; readonly version: number; readonly jobId: string; readonly replaces: number | null; readonly reason: string }
  | { readonly kind: 'promote'; readonly version: number; readonly reason: string; readonly evidence: Evidence }
  | { readonly kind: 'reject'; readonly version: number; readonly reason: string; readonly evidence: Evidence }
  | {
      readonly kind: 'note';
      readonly action: 'retrain_failed' | 'skipped';
      readonly reason: string;
      readonly version?: number;
      readonly jobId?: string;
      readonly evidence?: Evidence;
    };

/** A decision and the state the loop is in once it is carried out. */
export interface LoopStep {
  readonly decision: LoopDecision;
  readonly state: LoopState;
}

/** The policy fields the decisions read. */
export type LoopPolicy = ModelPolicySpec & { readonly paused: boolean };

const NONE: LoopDecision = { kind: 'none' };

/** Rounds for log text (the evidence keeps full precision). */
function fmt(x: number): string {
  return Number.isFinite(x) ? Number(x.toPrecision(4)).toString() : String(x);
}

/** Back to watching the active version, no retrain before the cooldown ends. */
function cooledDown(state: LoopState, policy: LoopPolicy, now: number): LoopState {
  return {
    ...state,
    phase: 'watching',
    jobId: null,
    shadowVersion: null,
    comparison: null,
    window: null,
    breaches: 0,
    quietUntil: Math.max(state.quietUntil, now + policy.drift.cooldownMs),
    lastNote: null,
  };
}

/** A note logged once per standing condition (`key`), then silent until something else happens. */
function noteOnce(state: LoopState, key: string, decision: LoopDecision & { kind: 'note' }): LoopStep {
  if (state.lastNote === key) return { decision: NONE, state };
  return { decision, state: { ...state, lastNote: key } };
}

/**
 * The next decision of the loop. At most one action per call; nothing at all while the policy is
 * paused; at most one retrain in flight (a retrain is decided only in phase `watching`, and the
 * phase leaves `retraining` only when the job has ended); no retrain within `cooldownMs` of the
 * end of the previous one; a drift needs `consecutiveWindows` windows in a row over the threshold,
 * and a shadow is promoted only when its error over at least `minEvents` live events (after its
 * warm-up) is below the active version's over the same span by the margin, else rejected.
 */
export function decide(policy: LoopPolicy, state: LoopState, obs: LoopObservation): LoopStep {
  if (policy.paused || !obs.active) return { decision: NONE, state };
  let s = state;
  if (s.activeVersion !== obs.active.version) {
    // A new active version (promoted by the loop or activated by an operator): its own windows.
    s = { ...s, activeVersion: obs.active.version, window: null, breaches: 0 };
  }
  switch (s.phase) {
    case 'watching':
      return watch(policy, s, obs);
    case 'retraining':
      return awaitJob(policy, s, obs);
    case 'shadowing':
      return judgeShadow(policy, s, obs);
  }
}

function watch(policy: LoopPolicy, state: LoopState, obs: LoopObservation): LoopStep {
  const active = obs.active!;
  if (obs.shadow && obs.shadow.version !== active.version && policy.autoPromote.enabled) {
    // A shadow started by an operator is judged like the loop's own.
    return { decision: NONE, state: { ...state, phase: 'shadowing', shadowVersion: obs.shadow.version, comparison: null, lastNote: null } };
  }
  const drift = policy.drift;
  if (!drift.enabled) return { decision: NONE, state: state.window ? { ...state, window: null, breaches: 0 } : state };
  const live = active.live;
  if (!state.window || live.events < state.window.start.events) {
    return { decision: NONE, state: { ...state, window: { start: live, startedAt: obs.now }, breaches: 0 } };
  }
  const d = snapshotDelta(live, state.window.start);
  const ended =
    (drift.windowEvents !== undefined && d.events >= drift.windowEvents) ||
    (drift.windowMs !== undefined && obs.now - state.window.startedAt >= drift.windowMs);
  if (!ended || d.events < drift.minEvents) return { decision: NONE, state };
  const next: LoopState = { ...state, window: { start: live, startedAt: obs.now } };
  const liveError = snapshotError(d, drift.metric);
  const holdout = active.holdoutError;
  if (holdout === null || !(holdout > 0) || !Number.isFinite(holdout)) {
    return noteOnce({ ...next, breaches: 0 }, 'no_holdout', {
      kind: 'note',
      action: 'skipped',
      version: active.version,
      reason: `v${active.version} has no holdout ${drift.metric} to judge drift against`,
      evidence: { liveError, events: d.events },
    });
  }
  const ratio = liveError / holdout;
  if (!(ratio > drift.threshold)) return { decision: NONE, state: { ...next, breaches: 0, lastNote: null } };
  const breaches = Math.min(state.breaches + 1, drift.consecutiveWindows);
  if (breaches < drift.consecutiveWindows) return { decision: NONE, state: { ...next, breaches } };
  const evidence: Evidence = {
    metric: drift.metric,
    liveError,
    holdoutError: holdout,
    ratio,
    threshold: drift.threshold,
    windowEvents: d.events,
    windowMs: obs.now - state.window.startedAt,
    consecutiveWindows: breaches,
  };
  const what = `live ${drift.metric} ${fmt(liveError)} over ${d.events} events is ${fmt(ratio)}× the holdout ${drift.metric} ${fmt(holdout)} of v${active.version} (threshold ${drift.threshold}, ${breaches} window${breaches > 1 ? 's' : ''} in a row)`;
  if (obs.now < state.quietUntil) {
    return noteOnce({ ...next, breaches }, 'cooldown', {
      kind: 'note',
      action: 'skipped',
      version: active.version,
      reason: `drift (${what}) but the cooldown after the last retrain runs until ${new Date(state.quietUntil).toISOString()}`,
      evidence: { ...evidence, quietUntil: state.quietUntil },
    });
  }
  return {
    decision: { kind: 'retrain', reason: `drift: ${what}`, evidence },
    state: { ...next, phase: 'retraining', jobId: null, breaches: 0, window: null, lastNote: null },
  };
}

function awaitJob(policy: LoopPolicy, state: LoopState, obs: LoopObservation): LoopStep {
  if (state.jobId === null) return { decision: NONE, state };
  const job = obs.job;
  if (!job || job.id !== state.jobId) {
    return {
      decision: { kind: 'note', action: 'retrain_failed', jobId: state.jobId, reason: `retrain job ${state.jobId} has no record any more` },
      state: cooledDown(state, policy, obs.now),
    };
  }
  if (job.status === 'queued' || job.status === 'running') return { decision: NONE, state };
  if (job.status !== 'succeeded' || job.version === null) {
    const why = job.status === 'succeeded' ? 'stored no version' : `${job.status}${job.error ? `: ${job.error}` : ''}`;
    return {
      decision: { kind: 'note', action: 'retrain_failed', jobId: job.id, reason: `retrain job ${job.id} ${why}` },
      state: cooledDown(state, policy, obs.now),
    };
  }
  const replaces = obs.shadow && obs.shadow.version !== job.version ? obs.shadow.version : null;
  return {
    decision: {
      kind: 'shadow',
      version: job.version,
      jobId: job.id,
      replaces,
      reason: `retrain job ${job.id} stored v${job.version}: it runs as shadow next to v${obs.active!.version} until it is judged on live events${replaces !== null ? ` (replaces shadow v${replaces})` : ''}`,
    },
    state: { ...state, phase: 'shadowing', jobId: null, shadowVersion: job.version, comparison: null, lastNote: null },
  };
}

function judgeShadow(policy: LoopPolicy, state: LoopState, obs: LoopObservation): LoopStep {
  const active = obs.active!;
  const version = state.shadowVersion!;
  if (active.version === version) {
    // Promoted by an operator: nothing left to judge.
    return { decision: NONE, state: cooledDown(state, policy, obs.now) };
  }
  if (!obs.shadow || obs.shadow.version !== version) {
    return {
      decision: { kind: 'note', action: 'skipped', version, reason: `v${version} is no longer the shadow of the model (changed by an operator); its judgement is dropped` },
      state: cooledDown(state, policy, obs.now),
    };
  }
  const ap = policy.autoPromote;
  const cmp = state.comparison;
  if (!cmp) {
    if (obs.shadow.live.events < ap.warmupEvents) return { decision: NONE, state };
    return { decision: NONE, state: { ...state, comparison: { active: active.live, shadow: obs.shadow.live } } };
  }
  const a = snapshotDelta(active.live, cmp.active);
  const s = snapshotDelta(obs.shadow.live, cmp.shadow);
  if (a.events < 0 || s.events < 0) {
    // A counter went back (its accumulator was reset): compare from here.
    return { decision: NONE, state: { ...state, comparison: { active: active.live, shadow: obs.shadow.live } } };
  }
  if (Math.min(a.events, s.events) < ap.minEvents) return { decision: NONE, state };
  const metric = policy.drift.metric;
  const activeError = snapshotError(a, metric);
  const shadowError = snapshotError(s, metric);
  const bar = activeError * (1 - ap.margin);
  const wins = shadowError < bar;
  const evidence: Evidence = {
    metric,
    activeVersion: active.version,
    activeError,
    activeEvents: a.events,
    shadowError,
    shadowEvents: s.events,
    margin: ap.margin,
    minEvents: ap.minEvents,
  };
  const verdict = `shadow v${version} ${metric} ${fmt(shadowError)} over ${s.events} events vs active v${active.version} ${fmt(activeError)} over ${a.events} (${wins ? 'below' : 'not below'} ${fmt(bar)}, margin ${ap.margin})`;
  if (!ap.enabled) {
    return noteOnce(state, `verdict:${version}:${wins}`, {
      kind: 'note',
      action: 'skipped',
      version,
      reason: `${verdict}; auto-promotion is off, the operator decides`,
      evidence,
    });
  }
  if (wins) {
    return {
      decision: { kind: 'promote', version, reason: verdict, evidence },
      state: { ...cooledDown(state, policy, obs.now), activeVersion: version },
    };
  }
  return { decision: { kind: 'reject', version, reason: verdict, evidence }, state: cooledDown(state, policy, obs.now) };
}

/** The state once the runner started the retrain `decide` asked for. */
export function retrainStarted(state: LoopState, jobId: string): LoopState {
  return { ...state, phase: 'retraining', jobId };
}

/**
 * The state when the runner could not carry out `decision` (a retrain refused because a job runs,
 * a shadow or promotion the registry refused): back to watching after a cooldown, so a standing
 * failure is retried at the cooldown's pace, not at every observation.
 */
export function actionFailed(policy: LoopPolicy, state: LoopState, now: number): LoopState {
  return cooledDown(state, policy, now);
}

/**
 * The holdout error a version's live error is compared with, from its recorded holdout metrics:
 * forecasters' `mae` or `rmse`, classifiers' error rate (1 − `accuracy`, for either metric, as
 * their live error is the rate of wrong labels); null when the version recorded none (imports).
 */
export function holdoutError(task: 'forecast' | 'classify', metrics: Readonly<Record<string, number>>, metric: 'mae' | 'rmse'): number | null {
  const v = task === 'classify' ? (metrics.accuracy === undefined ? undefined : 1 - metrics.accuracy) : metrics[metric];
  return v !== undefined && Number.isFinite(v) ? v : null;
}

/**
 * The action log entry of a decision the runner carried out (`by`: the loop's name; `jobId`: the
 * retrain it started); null for `none`.
 */
export function decisionAction(decision: LoopDecision, by: string, jobId?: string): NewPolicyAction | null {
  switch (decision.kind) {
    case 'none':
      return null;
    case 'retrain':
      return { action: 'retrain_started', by, reason: decision.reason, ...(jobId !== undefined ? { jobId } : {}), evidence: decision.evidence };
    case 'shadow':
      return { action: 'shadowed', by, reason: decision.reason, version: decision.version, jobId: decision.jobId, evidence: { replaces: decision.replaces } };
    case 'promote':
      return { action: 'promoted', by, reason: decision.reason, version: decision.version, evidence: decision.evidence };
    case 'reject':
      return { action: 'rejected', by, reason: decision.reason, version: decision.version, evidence: decision.evidence };
    case 'note':
      return {
        action: decision.action,
        by,
        reason: decision.reason,
        ...(decision.version !== undefined ? { version: decision.version } : {}),
        ...(decision.jobId !== undefined ? { jobId: decision.jobId } : {}),
        ...(decision.evidence !== undefined ? { evidence: decision.evidence } : {}),
      };
  }
}
