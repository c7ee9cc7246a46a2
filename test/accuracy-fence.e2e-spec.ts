/**
 * The live accuracy accumulator script on a real Redis (libs/state/src/accuracy.ts,
 * docs/accuracy.md), property-tested with fast-check: whatever the unit boundaries, replays of
 * already counted readings (alone or overlapping new ones, as a crash between the accumulator
 * and the state writes or a zombie produces), every reading is counted exactly once, the
 * fixed-point sums equal BigInt sums of the readings (carries across the limbs included), and
 * each partition's fence stands at its last reading.
 */
import fc from 'fast-check';
import {
  ACCURACY_QUANTA_PER_UNIT,
  accuracyKey,
  labelQuanta,
  readAccuracy,
  StateStore,
  type AccuracyPartition,
  type RedisLike,
  type ScoredReading,
} from '@app/state';
import { e2eStack, testRedisClient, uniqueSuffix } from './support/e2e-env';

const TOPIC = 'sensor.readings';

interface Stream {
  readonly partition: number;
  readonly readings: ScoredReading[];
}

const reading = (offset: bigint) =>
  fc
    .record({
      n: fc.integer({ min: 1, max: 6 }),
      e: fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }),
      a: fc.bigInt({ min: 0n, max: 10n ** 20n }),
      s: fc.bigInt({ min: 0n, max: 10n ** 22n }),
    })
    .map((r): ScoredReading => ({ offset, n: r.n, sumErr: r.e, sumAbs: r.a, sumSq: r.s }));

/** One partition: readings at increasing offsets (with gaps, as other models' events leave). */
const stream = (partition: number) =>
  fc
    .array(fc.integer({ min: 1, max: 1_000_000 }), { minLength: 1, maxLength: 25 })
    .chain((gaps) => {
      let o = 9_999_990n; // crosses a power of ten: offsets compare by length, then digits
      const offsets = gaps.map((g) => (o += BigInt(g)));
      return fc.tuple(...offsets.map((x) => reading(x)));
    })
    .map((readings): Stream => ({ partition, readings }));

/**
 * A delivery schedule: each step picks partitions and a unit per partition that starts at or
 * before the first uncounted reading (a replay may start anywhere earlier) and resends an
 * arbitrary subset of the already counted readings in its range.
 */
const schedule = fc.array(
  fc.record({ pick: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }), back: fc.nat(30), len: fc.nat(8), keep: fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }) }),
  { maxLength: 30 },
);

describe('live accuracy accumulator script (real Redis)', () => {
  const stack = e2eStack();
  let redis: RedisLike;
  let store: StateStore;
  const model = `acc-fence-${uniqueSuffix()}`;
  let run = 0;

  beforeAll(() => {
    redis = testRedisClient(stack);
    store = new StateStore(redis);
  });
  afterAll(() => redis.disconnect());

  it('counts every reading exactly once, whatever the units, replays and overlaps', async () => {
    await fc.assert(
      fc.asyncProperty(fc.tuple(stream(0), stream(1), stream(2)), schedule, async (streams, steps) => {
        const version = String(++run);
        const counted = streams.map(() => 0); // readings counted so far per partition (the fence's index)
        const send = async (parts: AccuracyPartition[]) => {
          if (parts.length > 0) await store.writeMany(model, [], [{ version, partitions: parts }]);
        };
        const unitOf = (s: Stream, i: number, back: number, len: number, keep: boolean[]): ScoredReading[] => {
          const from = Math.max(0, counted[i] - back);
          const to = Math.min(s.readings.length, counted[i] + len);
          // Already counted readings may be missing (their keys' states were written); new ones may not.
          return s.readings.slice(from, to).filter((_r, j) => from + j >= counted[i] || keep[j % keep.length]);
        };
        for (const st of steps) {
          const parts: AccuracyPartition[] = [];
          streams.forEach((s, i) => {
            if (!st.pick[i]) return;
            const readings = unitOf(s, i, st.back, st.len, st.keep);
            parts.push({ topic: TOPIC, partition: s.partition, readings: [...readings].reverse() });
            counted[i] = Math.max(counted[i], ...readings.map((r) => s.readings.indexOf(r) + 1));
          });
          await send(parts);
        }
        // Then each partition to its end, and the whole log once more (a full replay).
        await send(streams.map((s, i) => ({ topic: TOPIC, partition: s.partition, readings: s.readings.slice(counted[i]) })));
        await send(streams.map((s) => ({ topic: TOPIC, partition: s.partition, readings: s.readings })));

        const all = streams.flatMap((s) => s.readings);
        const n = all.reduce((a, r) => a + r.n, 0);
        const sum = (f: (r: ScoredReading) => bigint) => Number(all.reduce((a, r) => a + f(r), 0n)) / ACCURACY_QUANTA_PER_UNIT;
        const got = await readAccuracy(redis, model, version);
        expect(got).toEqual({
          events: all.length,
          errors: n,
          mae: sum((r) => r.sumAbs) / n,
          rmse: Math.sqrt(sum((r) => r.sumSq) / n),
          bias: sum((r) => r.sumErr) / n,
          sumErr: sum((r) => r.sumErr),
          sumAbs: sum((r) => r.sumAbs),
          sumSq: sum((r) => r.sumSq),
          fences: Object.fromEntries(
            streams.map((s) => [`${TOPIC}:${s.partition}`, s.readings[s.readings.length - 1].offset.toString()]),
          ),
          labels: null,
        });
        // The stored limbs are exact: high × 10^12 + low equals the BigInt sum.
        const raw = await redis.hgetall(accuracyKey(model, version));
        const exact = BigInt(raw['e:h']) * 10n ** 12n + BigInt(raw['e:l']);
        expect(exact).toBe(all.reduce((a, r) => a + r.sumErr, 0n));
        expect(BigInt(raw['e:l'])).toBeGreaterThanOrEqual(0n);
        expect(BigInt(raw['e:l'])).toBeLessThan(10n ** 12n);
      }),
      { numRuns: 60 },
    );
  });

  it('a zombie resending a counted unit changes nothing', async () => {
    const version = 'z';
    const r = (o: bigint, e: bigint): ScoredReading => ({ offset: o, n: 1, sumErr: e, sumAbs: e < 0n ? -e : e, sumSq: e * e });
    const unit = [r(5n, 1_500_000_000n), r(9n, -500_000_000n)];
    await store.writeMany(model, [], [{ version, partitions: [{ topic: TOPIC, partition: 3, readings: unit }] }]);
    const before = await readAccuracy(redis, model, version);
    await store.writeMany(model, [], [{ version, partitions: [{ topic: TOPIC, partition: 3, readings: unit }] }]);
    expect(await readAccuracy(redis, model, version)).toEqual(before);
    expect(before).toMatchObject({ events: 2, errors: 2, mae: 1, bias: 0.5, fences: { [`${TOPIC}:3`]: '9' } });
  });

  it('labels: counted exactly once across replays in the c: fields, with the textbook log loss, accuracy and Brier', async () => {
    const label = fc.record({ p: fc.double({ min: 0, max: 1, noNaN: true }), y: fc.constantFrom<0 | 1>(0, 1), gap: fc.integer({ min: 1, max: 50 }) });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(label, { minLength: 1, maxLength: 20 }), { minLength: 1, maxLength: 2 }),
        fc.array(fc.record({ back: fc.nat(10), len: fc.integer({ min: 1, max: 6 }) }), { maxLength: 12 }),
        async (parts, steps) => {
          const version = `l${++run}`;
          const streams = parts.map((ls) => {
            let o = 0n;
            return ls.map((l) => {
              const q = labelQuanta(l.p, l.y);
              return { ...l, reading: { offset: (o += BigInt(l.gap)), n: 1, sumErr: q.logLoss, sumAbs: q.correct, sumSq: q.brier } };
            });
          });
          const counted = streams.map(() => 0);
          const send = (i: number, from: number, to: number) =>
            store.writeMany(model, [], [{ version, kind: 'label', partitions: [{ topic: 'text.events', partition: i, readings: streams[i].slice(from, to).map((l) => l.reading) }] }]);
          for (const st of steps)
            for (let i = 0; i < streams.length; i++) {
              const to = Math.min(streams[i].length, counted[i] + st.len);
              await send(i, Math.max(0, counted[i] - st.back), to);
              counted[i] = to;
            }
          for (let i = 0; i < streams.length; i++) {
            await send(i, counted[i], streams[i].length);
            await send(i, 0, streams[i].length); // a full replay
          }
          const all = streams.flat();
          const got = await readAccuracy(redis, model, version);
          expect(got!.events).toBe(0);
          expect(got!.mae).toBeNull();
          expect(got!.labels!.events).toBe(all.length);
          const mean = (f: (l: (typeof all)[number]) => number) => all.reduce((a, l) => a + f(l), 0) / all.length;
          expect(got!.labels!.accuracy).toBe(mean((l) => ((l.p >= 0.5) === (l.y === 1) ? 1 : 0)));
          expect(Math.abs(got!.labels!.logLoss - mean((l) => -Math.log(Math.max(1e-15, l.y === 1 ? l.p : 1 - l.p))))).toBeLessThan(1e-8);
          expect(Math.abs(got!.labels!.brier - mean((l) => (l.p - l.y) ** 2))).toBeLessThan(1e-9);
          expect(got!.fences).toEqual(Object.fromEntries(streams.map((s, i) => [`text.events:${i}`, s[s.length - 1].reading.offset.toString()])));
        },
      ),
      { numRuns: 30 },
    );
  });
});
