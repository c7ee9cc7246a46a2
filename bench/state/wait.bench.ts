/**
 * The cost of REDIS_WAIT_REPLICAS: one batch of state writes (the worker's compare-and-set
 * pipeline, H = 64 records) against a master with one replica, without WAIT and with WAIT 1,
 * alternating in the same run. Starts its own master + replica + Sentinel from the project's
 * Redis image (`npm run images` first) and removes them at the end.
 *
 *   npm run bench:wait [-- --keys 2000 --rounds 40]
 *
 * One JSON line per setting on stdout: batch p50/p99 ms, µs per key; then the ratio.
 */
import { rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { performance } from 'perf_hooks';
import { StateStore, type StateRecord } from '@app/state';
import { testRedisClient } from '../../test/support/e2e-env';
import { SENTINEL_MASTER, startRedisSentinel } from '../../test/support/redis-sentinel';
import { arg } from './numeric-arg';

const H = 64;
const KEYS = arg('keys', '2000');
const ROUNDS = arg('rounds', '40');

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function main(): Promise<void> {
  process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
  // The containers are tracked in a state file of this run only (removed with them at the end).
  const stateFile = join(tmpdir(), `streamcell-bench-wait-${process.pid}.json`);
  process.env.STREAMCELL_TEST_STATE_FILE = stateFile;
  const redis = await startRedisSentinel();
  const client = testRedisClient({ redisUrl: redis.url, redisSentinelMaster: SENTINEL_MASTER });
  try {
    const stores = { 0: new StateStore(client), 1: new StateStore(client, { waitReplicas: 1, waitTimeoutMs: 5000 }) };
    const keys = Array.from({ length: KEYS }, (_, i) => `sensor-${i}`);
    const state = new Float32Array(2 * H).map((_, i) => Math.sin(i));
    const batch = (offset: number) =>
      keys.map((key) => ({
        key,
        record: {
          modelVersion: '1',
          partition: 0,
          offset: BigInt(offset),
          steps: offset,
          lastEventTs: offset,
          state,
          extras: new Float32Array(4),
          ring: null,
        } satisfies StateRecord,
      }));
    const times: Record<0 | 1, number[]> = { 0: [], 1: [] };
    let offset = 1;
    for (let r = -3; r < ROUNDS; r++) {
      // Alternate the order per round so neither setting always follows the other.
      for (const w of r % 2 === 0 ? ([0, 1] as const) : ([1, 0] as const)) {
        const writes = batch(offset++);
        const t0 = performance.now();
        await stores[w].writeMany('bench-wait', writes);
        if (r >= 0) times[w].push(performance.now() - t0);
      }
    }
    const summary: Record<number, number> = {};
    for (const w of [0, 1] as const) {
      const sorted = [...times[w]].sort((a, b) => a - b);
      const p50 = quantile(sorted, 0.5);
      summary[w] = p50;
      console.log(
        JSON.stringify({
          bench: 'state_write_wait',
          waitReplicas: w,
          keys: KEYS,
          H,
          rounds: ROUNDS,
          p50Ms: +p50.toFixed(3),
          p99Ms: +quantile(sorted, 0.99).toFixed(3),
          usPerKey: +((p50 * 1000) / KEYS).toFixed(3),
        }),
      );
    }
    console.log(JSON.stringify({ bench: 'state_write_wait_ratio', keys: KEYS, waitOverNoWait: +(summary[1] / summary[0]).toFixed(3) }));
  } finally {
    client.disconnect();
    await redis.stop();
    rmSync(stateFile, { force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
