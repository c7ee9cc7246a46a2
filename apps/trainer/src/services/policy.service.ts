import { ModelNotFoundError, type ModelPolicy, type ModelPolicySpec, type ModelRegistry, type PolicyAction, type PolicyStore } from '@app/registry';
import { topicAllowed, type TrainerConfig } from '../config/trainer-config';
import { InvalidRequestError } from './invalid-request.error';
import { ModelsService } from './models.service';

/** Defaults of the optional policy fields (README, admin API). */
export const POLICY_DEFAULTS = {
  warmupEvents: 0,
  metric: 'mae',
  minEvents: 50,
  consecutiveWindows: 2,
  cooldownMs: 600_000,
} as const;

/** A policy as the admin API's body gives it (validated field by field by the DTOs). */
export interface PolicyRequest {
  readonly autoPromote: { readonly enabled?: boolean; readonly margin: number; readonly minEvents: number; readonly warmupEvents?: number };
  readonly drift: {
    readonly enabled?: boolean;
    readonly metric?: 'mae' | 'rmse';
    readonly threshold: number;
    readonly windowEvents?: number;
    readonly windowMs?: number;
    readonly minEvents?: number;
    readonly consecutiveWindows?: number;
    readonly cooldownMs?: number;
    /** The history to read, plus training fields of the retrain request (epochs, hiddenUnits...). */
    readonly retrain: { readonly historyMs: number; readonly topic?: string; readonly labelsTopic?: string };
  };
}

/** Who changed something: `operator` or `operator:<name>`. */
export function operatorName(by: string | undefined): string {
  return by ? `operator:${by}` : 'operator';
}

/** Most action log entries one page returns. */
export const MAX_ACTIONS_PAGE = 500;

/**
 * Model policies and the action log, the rules the admin API follows: a policy belongs to an
 * existing model, its fields fit together (a window has an end, a retrain reads an allowed
 * topic), defaults are filled in before it is stored, and every change is logged with who and why.
 */
export class PolicyService {
  constructor(
    private readonly registry: ModelRegistry,
    private readonly store: PolicyStore,
    private readonly config: Pick<TrainerConfig, 'sourceTopics'>,
  ) {}

  /** The model's policy; ModelNotFoundError when the model or its policy does not exist. */
  async get(name: string): Promise<ModelPolicy> {
    ModelsService.modelName(name);
    const policy = await this.store.get(name);
    if (!policy) throw new ModelNotFoundError(`model ${name} has no policy (PUT /v1/models/${name}/policy sets one)`);
    return policy;
  }

  /** Checks, completes and stores a policy (logged as `policy_set`); returns it as stored. */
  async set(name: string, request: PolicyRequest, by: string, reason?: string): Promise<ModelPolicy> {
    const spec = await this.spec(name, request);
    const stored = await this.store.change(name, { op: 'set', spec }, by, reason ?? 'policy set through the admin API');
    return stored!;
  }

  /** Pauses or resumes the model's policy (logged with who and why). */
  async setPaused(name: string, paused: boolean, by: string, reason?: string): Promise<ModelPolicy> {
    ModelsService.modelName(name);
    const stored = await this.store.change(name, { op: paused ? 'pause' : 'resume' }, by, reason ?? (paused ? 'paused through the admin API' : 'resumed through the admin API'));
    if (stored === undefined) throw new ModelNotFoundError(`model ${name} has no policy to ${paused ? 'pause' : 'resume'}`);
    return stored!;
  }

  /** Removes the model's policy (logged as `policy_deleted`). */
  async delete(name: string, by: string): Promise<void> {
    ModelsService.modelName(name);
    const removed = await this.store.change(name, { op: 'delete' }, by, 'policy removed through the admin API');
    if (removed === undefined) throw new ModelNotFoundError(`model ${name} has no policy`);
  }

  /** A page of the model's action log, newest first (`limit` 1..500, default 50; `before` an entry id). */
  async actions(name: string, limit?: string, before?: string): Promise<{ actions: PolicyAction[]; next: string | null }> {
    ModelsService.modelName(name);
    let n = 50;
    if (limit !== undefined) {
      if (!/^[1-9][0-9]{0,3}$/.test(limit) || Number(limit) > MAX_ACTIONS_PAGE) throw new InvalidRequestError(`limit must be an integer from 1 to ${MAX_ACTIONS_PAGE}`);
      n = Number(limit);
    }
    if (before !== undefined && !/^\d{1,20}-\d{1,20}$/.test(before)) throw new InvalidRequestError('before must be an action id (the `next` of the previous page)');
    return this.store.actions(name, { limit: n, ...(before !== undefined ? { before } : {}) });
  }

  /** The stored form of a request: cross-field checks, the retrain topic resolved, defaults filled in. */
  private async spec(name: string, r: PolicyRequest): Promise<ModelPolicySpec> {
    ModelsService.modelName(name);
    const model = await this.registry.getModel(name);
    if (!model) throw new ModelNotFoundError(`model ${name} not found`);
    const d = r.drift;
    if (d.windowEvents === undefined && d.windowMs === undefined) {
      throw new InvalidRequestError('drift.windowEvents or drift.windowMs is required (when a window ends)');
    }
    const minEvents = d.minEvents ?? Math.min(POLICY_DEFAULTS.minEvents, d.windowEvents ?? POLICY_DEFAULTS.minEvents);
    if (d.windowEvents !== undefined && minEvents > d.windowEvents) {
      throw new InvalidRequestError(`drift.minEvents (${minEvents}) must be at most drift.windowEvents (${d.windowEvents})`);
    }
    const { topic: givenTopic, labelsTopic: givenLabels, historyMs, ...params } = d.retrain as PolicyRequest['drift']['retrain'] & Record<string, unknown>;
    // The version a retrain replaces tells where the model's data comes from.
    const basis = model.versions.find((v) => v.version === model.active?.version) ?? model.versions[model.versions.length - 1];
    const trainedFrom = basis.dataRange?.kind === 'kafka' ? basis.dataRange : null;
    const topic = givenTopic ?? trainedFrom?.topic;
    if (topic === undefined) {
      throw new InvalidRequestError(`drift.retrain.topic is required: v${basis.version} was not trained from a Kafka topic`);
    }
    const labelsTopic = givenLabels ?? (givenTopic === undefined ? trainedFrom?.labelsTopic : undefined);
    for (const [field, t] of [
      ['topic', topic],
      ['labelsTopic', labelsTopic],
    ] as const) {
      if (t !== undefined && !topicAllowed(this.config.sourceTopics, t)) {
        throw new InvalidRequestError(`drift.retrain.${field} ${t} is not a training source topic (TRAINER_SOURCE_TOPICS: ${this.config.sourceTopics.join(', ')})`);
      }
    }
    return {
      autoPromote: {
        enabled: r.autoPromote.enabled ?? true,
        margin: r.autoPromote.margin,
        minEvents: r.autoPromote.minEvents,
        warmupEvents: r.autoPromote.warmupEvents ?? POLICY_DEFAULTS.warmupEvents,
      },
      drift: {
        enabled: d.enabled ?? true,
        metric: d.metric ?? POLICY_DEFAULTS.metric,
        threshold: d.threshold,
        ...(d.windowEvents !== undefined ? { windowEvents: d.windowEvents } : {}),
        ...(d.windowMs !== undefined ? { windowMs: d.windowMs } : {}),
        minEvents,
        consecutiveWindows: d.consecutiveWindows ?? POLICY_DEFAULTS.consecutiveWindows,
        cooldownMs: d.cooldownMs ?? POLICY_DEFAULTS.cooldownMs,
        retrain: { ...definedOnly(params), historyMs, topic, ...(labelsTopic !== undefined ? { labelsTopic } : {}) },
      },
    };
  }
}

/** The entries whose value is set (class-transformer leaves absent optional fields undefined). */
function definedOnly(o: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
