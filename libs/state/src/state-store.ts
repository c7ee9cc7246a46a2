import type { ChainableCommander } from 'ioredis';
import {
  CAS_CHUNK_KEYS,
  CAS_SET_COMMAND,
  CAS_SET_LUA,
  CAS_SET_MANY_COMMAND,
  CAS_SET_MANY_LUA,
  MEMORY_USAGE_COMMAND,
  MEMORY_USAGE_LUA,
} from './cas-script';
import { ACCURACY_ADD_COMMAND, ACCURACY_ADD_LUA, accuracyScriptArgs, type AccuracyUpdate } from './accuracy';
import { isClusterClient, type RedisLike } from './redis-client';
import { decodeStateRecord, encodeStateRecord, StateCodecError } from './state-codec';
import { accuracyKey, DEFAULT_KEY_PREFIX, stateKey } from './state-keys';
import type { StateRecord } from './state-record';

/** Options of {@link StateStore}. */
export interface StateStoreOptions {
  /** Key prefix (default `sc`); see `stateKey`. */
  readonly keyPrefix?: string;
  /** Idle TTL in ms, refreshed on every applied write; 0 = keys never expire. Default 7 days. */
  readonly idleTtlMs?: number;
  /**
   * Called when a stored record cannot be decoded; the key then loads as null (fresh state)
   * instead of stopping the partition. Default: ignore.
   */
  readonly onCorruptRecord?: (redisKey: string, error: StateCodecError) => void;
  /**
   * Replicas that must acknowledge a batch's writes before {@link StateStore.writeMany} and
   * friends resolve (Redis WAIT; 0 = do not wait, the default). Redis replicates asynchronously:
   * without it, a master that fails right after a write can lose that write to the replica that
   * replaces it, while the Kafka offset past it is already committed, and the key's state then
   * silently misses those events. With it, a write that did not reach enough replicas fails the
   * batch, which is retried and committed only once it has.
   */
  readonly waitReplicas?: number;
  /** How long WAIT blocks for the replicas, ms (default 1000). */
  readonly waitTimeoutMs?: number;
}

/** A (model, message key) pair. */
export interface StateRef {
  readonly model: string;
  readonly key: string;
}

/** One record to write for a message key. */
export interface StateWrite {
  readonly key: string;
  readonly record: StateRecord;
}

/** A write that names its model (for batches mixing models). */
export interface StateRefWrite extends StateWrite {
  readonly model: string;
}

/** Per-write result: written, or skipped because the stored record is at or past its position. */
export type WriteOutcome = 'applied' | 'stale';

/** What {@link StateStore.bytesPerKey} measures over sample keys (MEMORY USAGE, SAMPLES 0). */
export interface StateMemoryReport {
  /** Sample keys that exist. */
  readonly keys: number;
  /** Mean MEMORY USAGE per key: value, key name, object and dict/expire entries. */
  readonly avgRedisBytes: number;
  /** Mean encoded record size (STRLEN). */
  readonly avgPayloadBytes: number;
  /** Mean key name length. */
  readonly avgKeyNameBytes: number;
  /** avgRedisBytes − avgPayloadBytes: what Redis adds per key. */
  readonly avgOverheadBytes: number;
  readonly maxRedisBytes: number;
}

/**
 * A Redis failure during a batch operation (the batch is safe to retry). `reason` is `replicas`
 * when the writes were done but fewer replicas than `waitReplicas` acknowledged them.
 */
export class StateStoreError extends Error {
  constructor(
    message: string,
    override readonly cause?: unknown,
    readonly reason: 'redis' | 'replicas' = 'redis',
  ) {
    super(message);
    this.name = 'StateStoreError';
  }
}

/** Default {@link StateStoreOptions.idleTtlMs}: 7 days. */
export const DEFAULT_IDLE_TTL_MS = 7 * 24 * 3600 * 1000;

type CasCapable = {
  [CAS_SET_COMMAND](key: string, record: Buffer, ttlMs: string): Promise<number>;
  [CAS_SET_MANY_COMMAND](numKeys: number, ...keysTtlRecords: (string | Buffer)[]): Promise<number[]>;
  [MEMORY_USAGE_COMMAND](key: string): Promise<[number | null, number]>;
  [ACCURACY_ADD_COMMAND](key: string, ...args: string[]): Promise<number[]>;
};

/**
 * The Redis adapter for per-key state (framework-free). Every batch operation is one round
 * trip: a pipeline on a standalone server; on a Cluster, commands issued together in one tick
 * (auto-pipelining: one pipeline per node, sent in parallel).
 *
 * Writes are compare-and-set on the record's last applied (partition, offset) in Lua (see
 * cas-script.ts; standalone: one script call per 256 keys, Cluster: one per key), so retrying a batch, a replay after a crash, or a slower zombie writer
 * can never move a key's state backwards.
 */
export class StateStore {
  readonly keyPrefix: string;
  readonly idleTtlMs: number;
  private readonly ttlArg: string;
  private readonly cluster: boolean;
  private readonly waitReplicas: number;
  private readonly waitTimeoutMs: number;

  constructor(
    readonly redis: RedisLike,
    private readonly options: StateStoreOptions = {},
  ) {
    this.keyPrefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
    this.idleTtlMs = options.idleTtlMs ?? DEFAULT_IDLE_TTL_MS;
    if (!Number.isInteger(this.idleTtlMs) || this.idleTtlMs < 0) {
      throw new RangeError(`idleTtlMs must be a non-negative integer, got ${this.idleTtlMs}`);
    }
    this.ttlArg = String(this.idleTtlMs);
    this.cluster = isClusterClient(redis);
    this.waitReplicas = options.waitReplicas ?? 0;
    this.waitTimeoutMs = options.waitTimeoutMs ?? 1000;
    if (!Number.isInteger(this.waitReplicas) || this.waitReplicas < 0) {
      throw new RangeError(`waitReplicas must be a non-negative integer, got ${this.waitReplicas}`);
    }
    if (!Number.isInteger(this.waitTimeoutMs) || this.waitTimeoutMs < 1) {
      throw new RangeError(`waitTimeoutMs must be a positive integer, got ${this.waitTimeoutMs}`);
    }
    // defineCommand: EVALSHA, with the body sent once per connection and again after NOSCRIPT.
    const defined = redis as unknown as Partial<CasCapable>;
    if (typeof defined[CAS_SET_COMMAND] !== 'function') {
      redis.defineCommand(CAS_SET_COMMAND, { numberOfKeys: 1, lua: CAS_SET_LUA });
    }
    if (typeof defined[CAS_SET_MANY_COMMAND] !== 'function') {
      redis.defineCommand(CAS_SET_MANY_COMMAND, { lua: CAS_SET_MANY_LUA });
    }
    if (typeof defined[ACCURACY_ADD_COMMAND] !== 'function') {
      redis.defineCommand(ACCURACY_ADD_COMMAND, { numberOfKeys: 1, lua: ACCURACY_ADD_LUA });
    }
    if (typeof defined[MEMORY_USAGE_COMMAND] !== 'function') {
      redis.defineCommand(MEMORY_USAGE_COMMAND, { numberOfKeys: 1, lua: MEMORY_USAGE_LUA });
    }
  }

  /** Redis key of (model, key) under this store's prefix. */
  redisKey(model: string, key: string): string {
    return stateKey(model, key, this.keyPrefix);
  }

  /** Loads the records of `keys` for `model` in one round trip; null where none is stored. */
  loadMany(model: string, keys: readonly string[]): Promise<(StateRecord | null)[]> {
    return this.loadRedisKeys(keys.map((k) => stateKey(model, k, this.keyPrefix)));
  }

  /** Like {@link loadMany} for pairs of different models. */
  loadRefs(refs: readonly StateRef[]): Promise<(StateRecord | null)[]> {
    return this.loadRedisKeys(refs.map((r) => stateKey(r.model, r.key, this.keyPrefix)));
  }

  /** Raw stored bytes of `keys` (null where absent), one round trip. */
  async loadRaw(model: string, keys: readonly string[]): Promise<(Buffer | null)[]> {
    return this.getBuffers(keys.map((k) => stateKey(model, k, this.keyPrefix)));
  }

  /**
   * Writes records of `model` with compare-and-set, one round trip; outcome per write in input
   * order. Rejects with {@link StateStoreError} if any command failed (safe to retry the batch).
   *
   * `accuracy`: live accuracy the writes' events scored, added to the (model, version)
   * accumulators BEFORE any state is written (docs/accuracy.md): first in the same pipeline on a
   * standalone server (one connection, so Redis runs them in order), awaited first on a Cluster
   * (the hash and the state keys live on different nodes).
   */
  writeMany(model: string, writes: readonly StateWrite[], accuracy: readonly AccuracyUpdate[] = []): Promise<WriteOutcome[]> {
    const acc = accuracy
      .map((u) => ({ key: accuracyKey(u.model ?? model, u.version, this.keyPrefix), args: accuracyScriptArgs(u.partitions, u.kind) }))
      .filter((u) => u.args[1] !== '0');
    return this.casWrite(
      writes.map((w) => stateKey(model, w.key, this.keyPrefix)),
      writes.map((w) => encodeStateRecord(w.record)),
      acc,
    );
  }

  /** Like {@link writeMany} for writes of different models. */
  writeRefs(writes: readonly StateRefWrite[]): Promise<WriteOutcome[]> {
    return this.casWrite(
      writes.map((w) => stateKey(w.model, w.key, this.keyPrefix)),
      writes.map((w) => encodeStateRecord(w.record)),
    );
  }

  /** Deletes the records of `keys` (one round trip); resolves to how many existed. */
  async deleteMany(model: string, keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0;
    const redisKeys = keys.map((k) => stateKey(model, k, this.keyPrefix));
    if (this.cluster) {
      const n = await Promise.all(redisKeys.map((k) => this.redis.del(k)));
      return n.reduce((a, b) => a + b, 0);
    }
    return this.redis.del(...redisKeys);
  }

  /** Remaining TTL in ms per key (-1 no expiry, -2 absent), one round trip. */
  async ttlMany(model: string, keys: readonly string[]): Promise<number[]> {
    const redisKeys = keys.map((k) => stateKey(model, k, this.keyPrefix));
    if (this.cluster) return Promise.all(redisKeys.map((k) => this.redis.pttl(k)));
    const p = this.redis.pipeline();
    for (const k of redisKeys) p.pttl(k);
    return (await this.execPipeline(p, 'pttl')) as number[];
  }

  /**
   * Measures Redis memory for sample keys of `model` (MEMORY USAGE … SAMPLES 0 and STRLEN):
   * payload versus what Redis adds per key (key name, object header, dict and expire entries,
   * allocator rounding). Used by the bench to report bytes per key honestly.
   */
  async bytesPerKey(model: string, sampleKeys: readonly string[]): Promise<StateMemoryReport> {
    const redisKeys = sampleKeys.map((k) => stateKey(model, k, this.keyPrefix));
    let pairs: [number | null, number][];
    if (this.cluster) {
      const client = this.redis as unknown as CasCapable;
      pairs = await Promise.all(redisKeys.map((k) => client[MEMORY_USAGE_COMMAND](k)));
    } else {
      const p = this.redis.pipeline() as ChainableCommander & CasCapable;
      for (const k of redisKeys) void p[MEMORY_USAGE_COMMAND](k);
      pairs = (await this.execPipeline(p, 'memory usage')) as [number | null, number][];
    }
    const usage = pairs.map((x) => x[0]);
    const lens = pairs.map((x) => x[1]);
    let n = 0;
    let redisBytes = 0;
    let payload = 0;
    let names = 0;
    let max = 0;
    usage.forEach((u, i) => {
      if (u === null || u === undefined) return;
      n++;
      redisBytes += u;
      payload += lens[i];
      names += Buffer.byteLength(redisKeys[i]);
      max = Math.max(max, u);
    });
    const avg = (x: number) => (n === 0 ? 0 : x / n);
    return {
      keys: n,
      avgRedisBytes: avg(redisBytes),
      avgPayloadBytes: avg(payload),
      avgKeyNameBytes: avg(names),
      avgOverheadBytes: avg(redisBytes - payload),
      maxRedisBytes: max,
    };
  }

  private async loadRedisKeys(redisKeys: string[]): Promise<(StateRecord | null)[]> {
    const raw = await this.getBuffers(redisKeys);
    const out: (StateRecord | null)[] = new Array(raw.length);
    for (let i = 0; i < raw.length; i++) {
      const b = raw[i];
      if (b === null) {
        out[i] = null;
        continue;
      }
      try {
        out[i] = decodeStateRecord(b);
      } catch (e) {
        if (!(e instanceof StateCodecError)) throw e;
        this.options.onCorruptRecord?.(redisKeys[i], e);
        out[i] = null;
      }
    }
    return out;
  }

  private async getBuffers(redisKeys: string[]): Promise<(Buffer | null)[]> {
    if (redisKeys.length === 0) return [];
    try {
      if (this.cluster) return await Promise.all(redisKeys.map((k) => this.redis.getBuffer(k)));
    } catch (e) {
      this.afterClusterError(e);
      throw new StateStoreError(`state load failed: ${(e as Error).message}`, e);
    }
    const p = this.redis.pipeline();
    for (const k of redisKeys) p.getBuffer(k);
    return (await this.execPipeline(p, 'state load')) as (Buffer | null)[];
  }

  private async casWrite(
    redisKeys: string[],
    records: Buffer[],
    accuracy: readonly { key: string; args: string[] }[] = [],
  ): Promise<WriteOutcome[]> {
    if (redisKeys.length === 0 && accuracy.length === 0) return [];
    let results: unknown[];
    if (this.cluster) {
      const client = this.redis as unknown as CasCapable;
      try {
        await Promise.all(accuracy.map((a) => client[ACCURACY_ADD_COMMAND](a.key, ...a.args)));
        results = await Promise.all(
          redisKeys.map((k, i) => client[CAS_SET_COMMAND](k, records[i], this.ttlArg)),
        );
      } catch (e) {
        this.afterClusterError(e);
        throw new StateStoreError(`state write failed: ${(e as Error).message}`, e);
      }
      if (this.waitReplicas > 0) await this.waitClusterReplicas();
    } else {
      const p = this.redis.pipeline() as ChainableCommander & CasCapable;
      for (const a of accuracy) void p[ACCURACY_ADD_COMMAND](a.key, ...a.args);
      for (let start = 0; start < redisKeys.length; start += CAS_CHUNK_KEYS) {
        const end = Math.min(start + CAS_CHUNK_KEYS, redisKeys.length);
        const args: (string | Buffer)[] = redisKeys.slice(start, end);
        args.push(this.ttlArg);
        for (let i = start; i < end; i++) args.push(records[i]);
        void p[CAS_SET_MANY_COMMAND](end - start, ...args);
      }
      // WAIT rides in the same pipeline: still one round trip, plus the replication.
      if (this.waitReplicas > 0) void p.call('WAIT', this.waitReplicas, this.waitTimeoutMs);
      const replies = await this.execPipeline(p, 'state write');
      if (this.waitReplicas > 0) this.checkAcks(Number(replies.pop()), 'redis');
      replies.splice(0, accuracy.length);
      results = (replies as number[][]).flat();
    }
    return results.map((r) => (Number(r) === 1 ? 'applied' : 'stale'));
  }

  /**
   * Waits until `waitReplicas` replicas acknowledged every earlier write of this client's
   * connection(s), as the write methods do for their own writes; throws a {@link StateStoreError}
   * (reason `replicas`) when they fall short. Resolves at once when `waitReplicas` is 0. For a
   * batch that found its writes already applied by an earlier attempt whose acknowledgement fell
   * short.
   */
  async waitForReplicas(): Promise<void> {
    if (this.waitReplicas === 0) return;
    if (this.cluster) return this.waitClusterReplicas();
    let acks: unknown;
    try {
      acks = await this.redis.call('WAIT', this.waitReplicas, this.waitTimeoutMs);
    } catch (e) {
      throw new StateStoreError(`state write: WAIT failed: ${(e as Error).message}`, e);
    }
    this.checkAcks(Number(acks), 'redis');
  }

  /**
   * After a failover or a resharding, ioredis redirects a single command on MOVED but not the
   * auto-pipelined commands of many slots a batch sends: they fail, and the slot map stays stale
   * until something else refreshes it. Refresh it now so that the batch's retry goes to the
   * right nodes.
   */
  private afterClusterError(e: unknown): void {
    if (isClusterClient(this.redis) && /^(MOVED|ASK|CLUSTERDOWN)\b/.test((e as Error)?.message ?? '')) {
      this.redis.refreshSlotsCache();
    }
  }

  /**
   * WAIT on every master of the Cluster, in parallel, each on the connection the writes went
   * through (ioredis keeps one per node). Masters this batch did not write to answer at once.
   */
  private async waitClusterReplicas(): Promise<void> {
    if (!isClusterClient(this.redis)) return;
    const masters = this.redis.nodes('master');
    const acks = await Promise.all(
      masters.map(async (node) => {
        const where = `${String(node.options.host)}:${String(node.options.port)}`;
        try {
          return { where, acks: Number(await node.call('WAIT', this.waitReplicas, this.waitTimeoutMs)) };
        } catch (e) {
          throw new StateStoreError(`state write: WAIT on ${where} failed: ${(e as Error).message}`, e);
        }
      }),
    );
    for (const a of acks) this.checkAcks(a.acks, a.where);
  }

  private checkAcks(acks: number, where: string): void {
    if (!(acks >= this.waitReplicas)) {
      throw new StateStoreError(
        `state write reached ${acks} of ${this.waitReplicas} replicas of ${where} within ${this.waitTimeoutMs} ms`,
        undefined,
        'replicas',
      );
    }
  }

  private async execPipeline(p: ChainableCommander, what: string): Promise<unknown[]> {
    let res: [Error | null, unknown][] | null;
    try {
      res = await p.exec();
    } catch (e) {
      throw new StateStoreError(`${what} failed: ${(e as Error).message}`, e);
    }
    if (!res) throw new StateStoreError(`${what} failed: pipeline was discarded`);
    const out = new Array<unknown>(res.length);
    for (let i = 0; i < res.length; i++) {
      const [err, value] = res[i];
      if (err) throw new StateStoreError(`${what} failed: ${err.message}`, err);
      out[i] = value;
    }
    return out;
  }
}
