/**
 * A model's automatic-control policy and the log of what the control loop (and operators acting on
 * it) did. Stored by {@link PolicyStore}; the trainer's control loop reads the policy and writes
 * the actions (docs/closed-loop.md).
 */

/** Promotion of a shadow version that beats the active one on live traffic. */
export interface AutoPromotePolicy {
  /** false: the loop never promotes; a shadow's verdict is only logged. */
  readonly enabled: boolean;
  /** Relative margin: promote when shadow error <= active error × (1 − margin), 0 <= margin < 1. */
  readonly margin: number;
  /** Live events both versions must have been scored on (after the warm-up) before a verdict. */
  readonly minEvents: number;
  /** Shadow events left out of the comparison while its per-key state warms up. */
  readonly warmupEvents: number;
}

/** What a drift-triggered retrain reads and how it trains (the retrain request's fields). */
export interface DriftRetrainSettings {
  /** History read: the last `historyMs` milliseconds of `topic`, ending when the retrain starts. */
  readonly historyMs: number;
  /** Source topic (default: the topic the active version was trained on). */
  readonly topic?: string;
  /** Classifiers: the labels topic (default: the active version's). */
  readonly labelsTopic?: string;
  /** Training parameters of the retrain request (epochs, hiddenUnits, window, seed...). */
  readonly [param: string]: unknown;
}

/** When the active version counts as drifted, and what the loop then does. */
export interface DriftPolicy {
  /** false: live error is not watched; no retrain is started automatically. */
  readonly enabled: boolean;
  /** Error the windows are judged by: `mae` or `rmse` (classifiers: error rate, either name). */
  readonly metric: 'mae' | 'rmse';
  /** Drift when live error ÷ holdout error exceeds this (>= 1). */
  readonly threshold: number;
  /** A window ends after this many scored events (unset: by time only). */
  readonly windowEvents?: number;
  /** A window ends after this many milliseconds (unset: by events only). */
  readonly windowMs?: number;
  /** A window is judged only once it holds this many events (a quiet stream extends it). */
  readonly minEvents: number;
  /** Consecutive drifted windows that trigger a retrain (one noisy window does not). */
  readonly consecutiveWindows: number;
  /** After a retrain ends (promoted, rejected or failed), no new retrain for this long. */
  readonly cooldownMs: number;
  readonly retrain: DriftRetrainSettings;
}

/** A model's policy as set through the admin API. */
export interface ModelPolicySpec {
  readonly autoPromote: AutoPromotePolicy;
  readonly drift: DriftPolicy;
}

/** The stored policy: the spec, whether it is paused, and who changed it last. */
export interface ModelPolicy extends ModelPolicySpec {
  readonly model: string;
  readonly paused: boolean;
  /** Increments on every change (set, pause, resume). */
  readonly revision: number;
  readonly updatedAt: string;
  readonly updatedBy: string;
}

/** What was done. */
export type PolicyActionKind =
  | 'policy_set'
  | 'policy_deleted'
  | 'paused'
  | 'resumed'
  | 'retrain_started'
  | 'retrain_failed'
  | 'shadowed'
  | 'promoted'
  | 'rejected'
  | 'skipped';

/** One entry of a model's action log, as appended. */
export interface NewPolicyAction {
  readonly action: PolicyActionKind;
  /** Who: `policy` (the control loop, with the trainer instance) or `operator` (with a name when given). */
  readonly by: string;
  /** Why, in words (the numbers are in `evidence`). */
  readonly reason: string;
  /** The version acted on (the shadow, the promoted one), when there is one. */
  readonly version?: number;
  /** The retrain job, when there is one. */
  readonly jobId?: string;
  /** The numbers the decision was made on (live and holdout errors, events, ratios). */
  readonly evidence?: Readonly<Record<string, number | string | boolean | null>>;
}

/** A stored entry of the action log: ordered by `id` (Redis stream id), newest last. */
export interface PolicyAction extends NewPolicyAction {
  readonly id: string;
  readonly model: string;
  /** When (ISO-8601). */
  readonly at: string;
}
