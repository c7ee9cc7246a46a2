import { decodeStateRecord, isClusterClient, stateKey, type RedisLike, type StateRecord } from '@app/state';
import { testRedisClient, type RedisTarget } from './e2e-env';

/** One key's state record: the stored bytes and their decoding (via the @app/state codec). */
export interface ComparableState {
  readonly raw: Buffer;
  readonly record: StateRecord;
}

/** Reads state records of (model, key) from Redis with the @app/state key layout and codec. */
export class StateReader {
  readonly redis: RedisLike;

  private readonly cluster: boolean;

  constructor(target: RedisTarget) {
    this.redis = testRedisClient(target);
    this.cluster = isClusterClient(this.redis);
  }

  /** The records of (model, key) for many keys in one round trip (null where absent). */
  async readMany(model: string, keys: readonly string[]): Promise<(ComparableState | null)[]> {
    let raws: (Buffer | null)[] = [];
    if (this.cluster) {
      // Keys of many slots: one command each, auto-pipelined per node. After a failover the
      // first read of a stale slot map fails with MOVED (ioredis does not redirect auto-pipelined
      // commands of mixed slots) and refreshes the map: read again.
      for (let attempt = 1; ; attempt++) {
        try {
          raws = await Promise.all(keys.map((key) => this.redis.getBuffer(stateKey(model, key))));
          break;
        } catch (e) {
          if (attempt >= 10 || !/^(MOVED|ASK|CLUSTERDOWN|TRYAGAIN)\b/.test((e as Error).message)) throw e;
          if (isClusterClient(this.redis)) this.redis.refreshSlotsCache();
          await new Promise((r) => setTimeout(r, 300));
        }
      }
    } else {
      const pipe = this.redis.pipeline();
      for (const key of keys) pipe.getBuffer(stateKey(model, key));
      raws = ((await pipe.exec()) ?? []).map(([err, raw]) => {
        if (err) throw err;
        return raw as Buffer | null;
      });
    }
    return raws.map((raw) => (raw ? { raw, record: decodeStateRecord(raw) } : null));
  }

  /** Redis MEMORY USAGE of the state keys of `keys` (bytes, as Redis accounts them). */
  async memoryUsage(model: string, keys: readonly string[]): Promise<number[]> {
    const pipe = this.redis.pipeline();
    for (const key of keys) pipe.call('MEMORY', 'USAGE', stateKey(model, key), 'SAMPLES', '0');
    const res = (await pipe.exec()) ?? [];
    return res.map(([err, n]) => {
      if (err) throw err;
      return Number(n);
    });
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}

/** Human-readable difference between two records (first differing field). */
export function describeDifference(a: StateRecord, b: StateRecord): string {
  const scalar = ['modelVersion', 'partition', 'offset', 'steps', 'lastEventTs'] as const;
  for (const f of scalar) {
    if (!Object.is(a[f], b[f])) return `${f}: ${String(a[f])} vs ${String(b[f])}`;
  }
  const vec = (name: string, x: Float32Array, y: Float32Array): string | null => {
    if (x.length !== y.length) return `${name} length ${x.length} vs ${y.length}`;
    let worst = -1;
    let err = 0;
    const xb = new Uint32Array(x.buffer, x.byteOffset, x.length);
    const yb = new Uint32Array(y.buffer, y.byteOffset, y.length);
    for (let i = 0; i < x.length; i++) {
      if (xb[i] !== yb[i] && Math.abs(x[i] - y[i]) >= err) {
        err = Math.abs(x[i] - y[i]);
        worst = i;
      }
    }
    return worst < 0 ? null : `${name}[${worst}] ${x[worst]} vs ${y[worst]} (max abs diff ${err})`;
  };
  return (
    vec('state', a.state, b.state) ??
    vec('extras', a.extras, b.extras) ??
    (a.ring && b.ring
      ? vec('ring', a.ring.rows, b.ring.rows)
      : a.ring || b.ring
        ? 'ring present on one side only'
        : null) ??
    'bytes differ'
  );
}

/**
 * Differences between the final states of models `a` and `b` for every key: missing records or
 * records whose bytes differ (with the first differing field). Empty when bit-identical.
 */
export async function compareStates(
  reader: StateReader,
  a: string,
  b: string,
  keys: readonly string[],
): Promise<string[]> {
  const [sa, sb] = await Promise.all([reader.readMany(a, keys), reader.readMany(b, keys)]);
  const out: string[] = [];
  keys.forEach((key, i) => {
    const x = sa[i];
    const y = sb[i];
    if (!x || !y) out.push(`${key}: missing state (${a}: ${!!x}, ${b}: ${!!y})`);
    else if (!x.raw.equals(y.raw)) out.push(`${key}: ${describeDifference(x.record, y.record)}`);
  });
  return out.slice(0, 30);
}
