/**
 * The cost of live accuracy on the write path (docs/accuracy.md): one unit's state writes (the
 * worker's compare-and-set pipeline, H = 64 records, one scored reading per key over 4 input
 * partitions) without and with the accumulator update in the same pipeline, alternating in the
 * same run; plus the scoring itself (scoreAndQueue, horizon 3) per reading. Starts its own Redis
 * from the project's image (`npm run images` first) on host networking and removes it.
 *
 *   npm run bench:accuracy [-- --keys 2000 --rounds 40]
 *
 * One JSON line per setting on stdout (batch p50 ms, µs per key), then the ratio. The machine
 * may be shared: compare the ratio, not the absolute times.
 */
import { execFileSync } from 'child_process';
import { performance } from 'perf_hooks';
import { errorQuanta, StateStore, type AccuracyUpdate, type StateRecord } from '@app/state';
import { scoreAndQueue } from '../../apps/stream-worker/src/pipeline/forecast-scoring';
import { freshExtras, type ForecastExtras } from '../../apps/stream-worker/src/pipeline/task-extras';
import { sleep, testRedisClient } from '../../test/support/e2e-env';
import { freePort } from '../../test/support/e2e-stack';
import { arg } from './numeric-arg';

const H = 64;
const KEYS = arg('keys', '2000');
const ROUNDS = arg('rounds', '40');
const PARTITIONS = 4;

const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const port = await freePort();
  const id = execFileSync('docker', ['run', '-d', '--rm', '--network', 'host', 'streamcell/redis:7', 'redis-server', '--port', String(port), '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], { encoding: 'utf8' }).trim();
  const client = testRedisClient(`redis://127.0.0.1:${port}`);
  try {
    for (let i = 0; i < 100 && (await client.ping().catch(() => '')) !== 'PONG'; i++) await sleep(100);
    const store = new StateStore(client);
    const keys = Array.from({ length: KEYS }, (_, i) => `sensor-${i}`);
    const state = new Float32Array(2 * H).map((_, i) => Math.sin(i));
    const record = (offset: number, p: number): StateRecord => ({
      modelVersion: '1',
      partition: p,
      offset: BigInt(offset),
      steps: offset,
      lastEventTs: 1_700_000_000_000 + offset,
      state,
      extras: new Float32Array(10 + 2 * 3 * 3),
      ring: null,
    });
    const unit = (round: number) => keys.map((key, i) => ({ key, record: record(round * KEYS + i, i % PARTITIONS) }));
    const accuracy = (round: number): AccuracyUpdate[] => [
      {
        version: '1',
        partitions: Array.from({ length: PARTITIONS }, (_, p) => ({
          topic: 'sensor.readings',
          partition: p,
          readings: keys
            .map((_, i) => i)
            .filter((i) => i % PARTITIONS === p)
            .map((i) => {
              const q = errorQuanta(Math.sin(round + i));
              return { offset: BigInt(round * KEYS + i), n: 3, sumErr: q.e * 3n, sumAbs: q.a * 3n, sumSq: q.s * 3n };
            }),
        })),
      },
    ];
    const times: Record<'without' | 'with', number[]> = { without: [], with: [] };
    for (let r = 1; r <= ROUNDS; r++) {
      for (const mode of r % 2 === 0 ? (['without', 'with'] as const) : (['with', 'without'] as const)) {
        const round = 2 * r + (mode === 'with' ? 1 : 0);
        // Built before the clock starts: the worker scores (the second figure below) while encoding.
        const writes = unit(round);
        const acc = mode === 'with' ? accuracy(round) : [];
        const t0 = performance.now();
        await store.writeMany('bench', writes, acc);
        times[mode].push(performance.now() - t0);
      }
    }
    for (const mode of ['without', 'with'] as const) {
      const ms = p50(times[mode]);
      console.log(JSON.stringify({ bench: 'accuracy-write', mode, keys: KEYS, batchP50Ms: +ms.toFixed(3), usPerKey: +((ms * 1000) / KEYS).toFixed(2) }));
    }
    console.log(JSON.stringify({ bench: 'accuracy-write', ratioWithOverWithout: +(p50(times.with) / p50(times.without)).toFixed(3) }));

    // Scoring per reading (horizon 3, one target), as the encode stage runs it.
    const fx = freshExtras('forecast', 2) as ForecastExtras;
    const targets = Int32Array.of(0);
    const n = 200_000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) scoreAndQueue(fx, [Math.sin(i)], targets, Float64Array.of(0.1, 0.2, 0.3), BigInt(i));
    console.log(JSON.stringify({ bench: 'accuracy-score', readings: n, usPerReading: +(((performance.now() - t0) * 1000) / n).toFixed(3) }));
  } finally {
    client.disconnect();
    execFileSync('docker', ['rm', '-f', id]);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
