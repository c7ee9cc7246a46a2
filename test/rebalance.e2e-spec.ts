/**
 * Rebalance: two workers share one consumer group; mid-stream one leaves (SIGTERM: finish the
 * batch, commit, exit 0 within 10 s), later a third joins. Partitions move between members
 * three times while events flow. Same checks as crash/replay against an uninterrupted run:
 * final states bit-identical, every offset predicted, duplicates byte-identical.
 */
import { waitFor } from './support/e2e-env';
import { DualRun } from './support/dual-run';
import { sensorEvents, textEvents } from './support/event-streams';

const PARTITIONS = 6;

describe('rebalance: members leave and join mid-stream', () => {
  const run = new DualRun('rb', PARTITIONS);
  const seed = Number.parseInt(process.env.FAULT_SEED ?? String(Date.now() % 1e9), 10);

  beforeAll(() => run.setUp());
  afterAll(() => run.tearDown());

  it('keeps final states identical to a single uninterrupted worker', async () => {
    const sensors = sensorEvents(`rb-sensor-${run.s}`, 250, 40, PARTITIONS, seed);
    const texts = textEvents(`rb-text-${run.s}`, 50, 40, PARTITIONS, seed + 1);
    const total = sensors.length + texts.length;

    await run.produceReference(sensors, texts);
    const ref = run.worker('ref', true).start();
    const a = run.worker('a', false).start();
    const b = run.worker('b', false).start();
    await Promise.all([ref.ready(), a.ready(), b.ready()]);

    const feeding = run.feed(sensors, texts, 24, 500);

    await waitFor('35% predicted', () => run.predicted() >= total * 0.35, 200_000, 20);
    const leftAt = run.predicted();
    const bExit = await b.stop('SIGTERM');
    // SIGTERM contract: finish the batch, commit, disconnect, exit 0 within 10 s.
    expect(bExit.code).toBe(0);
    expect(bExit.afterSignalMs).toBeLessThan(10_000);

    await waitFor('65% predicted after the leave', () => run.predicted() >= total * 0.65, 200_000, 20);
    const joinedAt = run.predicted();
    expect(joinedAt).toBeLessThan(total);
    const c = run.worker('c', false).start();
    await c.ready();

    await feeding;
    await run.drain();
    const report = await run.verify(sensors, texts);
    console.log(JSON.stringify({ suite: 'rebalance', seed, leftAt, joinedAt, bExit, ...report }));
    // Both remaining members took part after the join (each owns some partition and stays up).
    expect(a.running && c.running).toBe(true);

    for (const w of [a, c, ref]) {
      const exit = await w.stop('SIGTERM');
      expect(exit.code).toBe(0);
      expect(exit.afterSignalMs).toBeLessThan(10_000);
    }
  });
});
