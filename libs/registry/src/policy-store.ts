import type { Cluster, Redis } from 'ioredis';
import { RegistryKeys, assertModelName } from './registry-keys';
import type { ModelPolicy, ModelPolicySpec, NewPolicyAction, PolicyAction } from './policy.types';

/** Options of {@link PolicyStore}. */
export interface PolicyStoreOptions {
  /** Key prefix (default `reg`, the registry's). */
  readonly keyPrefix?: string;
  /** Entries kept in a model's action log; older ones are trimmed (default 1000). */
  readonly maxActions?: number;
  /** Clock, for tests. */
  readonly now?: () => Date;
}

/** A change of the stored policy: a new spec, a pause, a resume, or its removal. */
export type PolicyChange =
  | { readonly op: 'set'; readonly spec: ModelPolicySpec }
  | { readonly op: 'pause' | 'resume' | 'delete' };

/**
 * Changes the policy hash and appends the change to the action log in one step, so the log
 * never misses a change nor records one that did not happen. The spec is kept as the JSON text
 * the trainer validated (Lua's cjson would round numbers). Returns {-1} when a pause, resume or
 * delete finds no policy, else {revision, log entry id}.
 * KEYS: policy hash, actions stream. ARGV: op, spec JSON, at, by, action JSON, max log length.
 */
const CHANGE_LUA = `
local op = ARGV[1]
local exists = redis.call('EXISTS', KEYS[1]) == 1
if op ~= 'set' and not exists then return {-1, ''} end
local rev = 0
if op == 'delete' then
  redis.call('DEL', KEYS[1])
else
  if op == 'set' then
    redis.call('HSET', KEYS[1], 'spec', ARGV[2])
    if not exists then redis.call('HSET', KEYS[1], 'paused', '0') end
  elseif op == 'pause' then
    redis.call('HSET', KEYS[1], 'paused', '1')
  else
    redis.call('HSET', KEYS[1], 'paused', '0')
  end
  rev = redis.call('HINCRBY', KEYS[1], 'revision', 1)
  redis.call('HSET', KEYS[1], 'updatedAt', ARGV[3], 'updatedBy', ARGV[4])
end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '=', ARGV[6], '*', 'entry', ARGV[5])
return {rev, id}
`;

type RedisLike = Redis | Cluster;

/** The action log entry stored for a policy change. */
const CHANGE_ACTIONS = { set: 'policy_set', pause: 'paused', resume: 'resumed', delete: 'policy_deleted' } as const;

/**
 * Per-model control policy and action log in Redis, next to the model's registry keys (same hash
 * tag): `reg:{m}:policy` (hash: spec JSON, paused, revision, updatedAt, updatedBy) and
 * `reg:{m}:actions` (a stream capped at `maxActions` entries, ordered by id, each entry one
 * JSON action). Framework-free; the trainer's admin API and control loop use it.
 */
export class PolicyStore {
  private readonly keys: RegistryKeys;
  private readonly maxActions: number;
  private readonly now: () => Date;

  constructor(
    private readonly redis: RedisLike,
    options: PolicyStoreOptions = {},
  ) {
    this.keys = new RegistryKeys(options.keyPrefix ?? 'reg');
    this.maxActions = options.maxActions ?? 1000;
    this.now = options.now ?? (() => new Date());
  }

  /** The model's policy, or null when none is set. */
  async get(model: string): Promise<ModelPolicy | null> {
    assertModelName(model);
    const h = await this.redis.hgetall(this.keys.policy(model));
    if (!h.spec) return null;
    const spec = JSON.parse(h.spec) as ModelPolicySpec;
    return {
      model,
      autoPromote: spec.autoPromote,
      drift: spec.drift,
      paused: h.paused === '1',
      revision: Number(h.revision ?? 0),
      updatedAt: h.updatedAt ?? '',
      updatedBy: h.updatedBy ?? '',
    };
  }

  /**
   * Applies a change and logs it (`policy_set`, `paused`, `resumed`, `policy_deleted`) with
   * who and why. Returns the policy after the change (null after a delete), or `undefined` when a
   * pause, resume or delete found no policy (nothing changed, nothing logged).
   */
  async change(model: string, change: PolicyChange, by: string, reason: string): Promise<ModelPolicy | null | undefined> {
    assertModelName(model);
    const at = this.now().toISOString();
    const entry: NewPolicyAction = { action: CHANGE_ACTIONS[change.op], by, reason };
    const [rev] = (await this.redis.eval(
      CHANGE_LUA,
      2,
      this.keys.policy(model),
      this.keys.actions(model),
      change.op,
      change.op === 'set' ? JSON.stringify(change.spec) : '',
      at,
      by,
      JSON.stringify({ ...entry, at }),
      String(this.maxActions),
    )) as [number, string];
    if (rev === -1) return undefined;
    return change.op === 'delete' ? null : this.get(model);
  }

  /** Appends an entry to the model's action log; returns it as stored. */
  async append(model: string, action: NewPolicyAction): Promise<PolicyAction> {
    assertModelName(model);
    const at = this.now().toISOString();
    const id = await this.redis.xadd(this.keys.actions(model), 'MAXLEN', '=', String(this.maxActions), '*', 'entry', JSON.stringify({ ...action, at }));
    return { ...action, at, id: id ?? '', model };
  }

  /**
   * The newest `limit` entries of the model's action log, newest first; `before` (an entry id)
   * pages to older ones. `next` is the id to pass as `before` for the next page (null: no more).
   */
  async actions(model: string, opts: { limit: number; before?: string }): Promise<{ actions: PolicyAction[]; next: string | null }> {
    assertModelName(model);
    const end = opts.before === undefined ? '+' : `(${opts.before}`;
    const rows = await this.redis.xrevrange(this.keys.actions(model), end, '-', 'COUNT', opts.limit);
    const actions = rows.map(([id, fields]) => {
      const json = fields[1] ?? '{}'; // fields: ['entry', json]
      return { ...(JSON.parse(json) as Omit<PolicyAction, 'id' | 'model'>), id, model };
    });
    const next = actions.length === opts.limit ? actions[actions.length - 1].id : null;
    return { actions, next };
  }
}
