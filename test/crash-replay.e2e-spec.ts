/**
 * Crash/replay: the worker is SIGKILLed at random moments (5 times) while 20,000 events over
 * 500 keys (400 sensors, 100 text streams) flow, and restarted each time. An uninterrupted
 * worker processes an identical copy of the log (same partitions and offsets) with
 * identically-weighted models under other names. Then every key's final state equals the
 * uninterrupted run's bit for bit, every source offset has a prediction, duplicates are
 * byte-identical and every prediction equals the uninterrupted run's.
 */
import { seededRandom } from '@app/lstm';
import { sleep, waitFor } from './support/e2e-env';
import { DualRun } from './support/dual-run';
import { sensorEvents, textEvents } from './support/event-streams';

const PARTITIONS = 4;
const KILLS = 5;

describe('crash/replay: SIGKILL at random moments', () => {
  const run = new DualRun('cr', PARTITIONS);
  const seed = Number.parseInt(process.env.FAULT_SEED ?? String(Date.now() % 1e9), 10);
  const rnd = seededRandom(seed);

  beforeAll(() => run.setUp());
  afterAll(() => run.tearDown());

  it(`final states equal an uninterrupted run after ${KILLS} SIGKILLs`, async () => {
    const sensors = sensorEvents(`cr-sensor-${run.s}`, 400, 40, PARTITIONS, seed);
    const texts = textEvents(`cr-text-${run.s}`, 100, 40, PARTITIONS, seed + 1);
    const total = sensors.length + texts.length;
    expect(total).toBe(20_000);

    await run.produceReference(sensors, texts);
    const ref = run.worker('ref', true).start();
    const victim = run.worker('victim', false).start();
    await Promise.all([ref.ready(), victim.ready()]);

    // Kill points: one random point inside each fifth of the stream, after a random jitter.
    const points = Array.from({ length: KILLS }, (_, i) =>
      Math.floor((0.02 + (0.9 * (i + rnd())) / KILLS) * total),
    );
    // The stream is fed in segments, each reaching a little past the next kill point, so every
    // kill lands while the worker is consuming and events are still to come (the worker drains
    // a backlog in a few batches, and a restart waits out the dead member's session).
    let fed = 0;
    const feedTo = (fraction: number) => {
      const from = fed;
      fed = fraction;
      const cut = <T>(a: readonly T[]) => a.slice(Math.floor(from * a.length), Math.floor(fraction * a.length));
      return run.feed(cut(sensors), cut(texts), 8, 100);
    };
    const kills: { atPredictions: number; jitterMs: number; restartReadyMs: number }[] = [];
    for (const point of points) {
      const feeding = feedTo(Math.min(1, point / total + 0.05));
      // The restarted incarnation must have made progress before it is killed again.
      const floor = Math.max(point, (kills[kills.length - 1]?.atPredictions ?? 0) + 1);
      await waitFor(`${floor} predictions`, () => run.predicted() >= floor || !victim.running, 200_000, 10);
      expect(victim.running).toBe(true);
      const jitterMs = Math.floor(rnd() * 120);
      await sleep(jitterMs);
      const atPredictions = run.predicted();
      const exit = await victim.stop('SIGKILL');
      expect(exit.signal).toBe('SIGKILL');
      await feeding;
      victim.start();
      kills.push({ atPredictions, jitterMs, restartReadyMs: await victim.ready() });
    }
    await feedTo(1);
    console.log(JSON.stringify({ suite: 'crash-replay', seed, kills }));
    expect(kills).toHaveLength(KILLS);
    // Every kill landed while predictions were still outstanding.
    for (const k of kills) expect(k.atPredictions).toBeLessThan(total);

    await run.drain();
    const report = await run.verify(sensors, texts);
    console.log(JSON.stringify({ suite: 'crash-replay', ...report }));

    const exit = await victim.stop('SIGTERM');
    expect(exit.code).toBe(0);
    expect(exit.afterSignalMs).toBeLessThan(10_000);
    expect((await ref.stop('SIGTERM')).code).toBe(0);
  });
});
