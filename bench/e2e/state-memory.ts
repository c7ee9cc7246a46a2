import {
  CAS_SET_LUA,
  CAS_SET_MANY_LUA,
  createRedisClient,
  encodeStateRecord,
  type RedisLike,
  type StateFormatVersion,
  type StateRecord,
} from '@app/state';

/**
 * Redis memory of per-key state, three ways, because each alone misleads:
 *
 * - the record payload (STRLEN): what the project's format controls, the target's subject;
 * - `MEMORY USAGE key SAMPLES 0`: value allocation (jemalloc size class of the sds string),
 *   object header, key name and main dict entry, but not the expires entry a TTL adds;
 * - the `used_memory` delta over the keys: everything, including the expires entry and the two
 *   dicts' bucket arrays.
 */

/** Fields of INFO memory, in bytes. */
export interface MemoryInfo {
  readonly used: number;
  /** Server bookkeeping: clients' buffers, script cache, dicts' entries and bucket arrays. */
  readonly overhead: number;
  /** Normal clients' buffers (part of overhead). */
  readonly clients: number;
  /** Keys in the connection's database (DBSIZE). */
  readonly keys: number;
}

/**
 * INFO memory. The slow log is emptied first: it keeps the arguments of the last 128 slow
 * commands (the worker's compare-and-set calls carry 256 records each), which would otherwise
 * count as state.
 */
export async function memoryInfo(redis: RedisLike): Promise<MemoryInfo> {
  await redis.call('SLOWLOG', 'RESET');
  const info = await redis.info('memory');
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:(\\d+)`, 'm').exec(info);
    if (!m) throw new Error(`INFO memory has no ${name}`);
    return Number(m[1]);
  };
  return {
    used: field('used_memory'),
    overhead: field('used_memory_overhead'),
    clients: field('mem_clients_normal'),
    keys: await redis.dbsize(),
  };
}

/** `used_memory` of INFO memory, in bytes (slow log emptied first, see {@link memoryInfo}). */
export async function usedMemory(redis: RedisLike): Promise<number> {
  return (await memoryInfo(redis)).used;
}

/**
 * Loads the worker's compare-and-set scripts into the script cache, so that a `used_memory`
 * delta taken around a worker run counts state keys and not the scripts' first EVAL.
 */
export async function preloadStateScripts(redis: RedisLike): Promise<void> {
  for (const lua of [CAS_SET_LUA, CAS_SET_MANY_LUA]) await redis.script('LOAD', lua);
}

/** One record layout stored under many keys. */
export interface LayoutCase {
  readonly name: string;
  readonly record: StateRecord;
  readonly format: StateFormatVersion;
  /** Idle TTL (SET … PX), 0 = none. */
  readonly ttlMs: number;
  /** Key names to use instead of the common ones (same count). */
  readonly redisKeys?: readonly string[];
}

/** What one layout costs per key. */
export interface LayoutResult {
  readonly name: string;
  readonly format: StateFormatVersion;
  readonly ttl: boolean;
  readonly keyNameBytes: number;
  readonly recordBytes: number;
  readonly memoryUsageAvg: number;
  readonly usedMemoryPerKey: number;
}

function redisUrlWithDb(url: string, db: number): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

/**
 * Writes each case's record under every name of `redisKeys` into its own empty logical database
 * (so each case grows its own dicts from nothing), measures, and flushes that database again.
 * The writer connection is closed before the second `used_memory` reading, so its buffers do
 * not count. Databases `firstDb`, `firstDb + 1`, … must be empty (the bench's own Redis).
 */
export async function measureLayouts(
  redisUrl: string,
  redisKeys: readonly string[],
  cases: readonly LayoutCase[],
  firstDb = 1,
): Promise<LayoutResult[]> {
  const probe = createRedisClient(redisUrl, { connectionName: 'bench-state-probe' });
  const out: LayoutResult[] = [];
  try {
    for (let i = 0; i < cases.length; i++) {
      const c = cases[i];
      const names = c.redisKeys ?? redisKeys;
      const db = firstDb + i;
      const writer = createRedisClient(redisUrlWithDb(redisUrl, db), {
        connectionName: 'bench-state-writer',
      });
      try {
        if ((await writer.dbsize()) !== 0) throw new Error(`database ${db} is not empty`);
        const value = encodeStateRecord(c.record, c.format);
        const before = await usedMemory(probe);
        for (let start = 0; start < names.length; start += 500) {
          const p = writer.pipeline();
          for (const k of names.slice(start, start + 500)) {
            if (c.ttlMs > 0) p.set(k, value, 'PX', c.ttlMs);
            else p.set(k, value);
          }
          await p.exec();
        }
        const usage = writer.pipeline();
        for (const k of names) usage.call('MEMORY', 'USAGE', k, 'SAMPLES', '0');
        const res = (await usage.exec()) ?? [];
        const total = res.reduce((a, [err, n]) => {
          if (err) throw err;
          return a + Number(n);
        }, 0);
        await writer.quit();
        const after = await usedMemory(probe);
        out.push({
          name: c.name,
          format: c.format,
          ttl: c.ttlMs > 0,
          keyNameBytes: Math.round(names.reduce((a, k) => a + Buffer.byteLength(k), 0) / names.length),
          recordBytes: value.length,
          memoryUsageAvg: Math.round(total / names.length),
          usedMemoryPerKey: Math.round((after - before) / names.length),
        });
      } finally {
        writer.disconnect();
        const cleaner = createRedisClient(redisUrlWithDb(redisUrl, db), {
          connectionName: 'bench-state-cleaner',
        });
        await cleaner.flushdb();
        await cleaner.quit();
      }
    }
  } finally {
    await probe.quit();
  }
  return out;
}
