import * as fc from 'fast-check';
import { accuracyTotalsOf, decodeStateRecord, encodeStateRecord } from '@app/state';
import { scoreLabel } from './label-scoring';
import { decodeExtras, encodeExtras, freshExtras, type ClassifyExtras } from './task-extras';

/** Independent reference: the textbook formulas over float64, the label's probability at least 1e-15. */
function reference(p: number, y: 0 | 1): { logLoss: number; right: number; brier: number } {
  return { logLoss: -Math.log(Math.max(1e-15, y === 1 ? p : 1 - p)), right: (p >= 0.5) === (y === 1) ? 1 : 0, brier: (p - y) ** 2 };
}

/** The classify extras after a state record round trip (what a replay or the next unit loads). */
function throughRecord(cx: ClassifyExtras): ClassifyExtras {
  const enc = encodeExtras(cx, 0);
  const rec = decodeStateRecord(
    encodeStateRecord({ modelVersion: '1', partition: 0, offset: 1n, steps: 1, lastEventTs: 0, state: new Float32Array(4), extras: enc.extras, ring: enc.ring }),
  );
  return decodeExtras(rec.extras, rec.ring, 'classify', 0) as ClassifyExtras;
}

describe('live accuracy of classifiers (labels)', () => {
  it('scores a label against the latest classification: log loss, right at 0.5, Brier', () => {
    const cx = freshExtras('classify', 0) as ClassifyExtras;
    expect(scoreLabel(cx, 1, 3n)).toBeNull(); // before the key's first classification
    cx.lastScore = 0.8;
    expect(scoreLabel(cx, 1, 4n)).toEqual({ offset: 4n, n: 1, sumErr: 223_143_551n, sumAbs: 1_000_000_000n, sumSq: 40_000_000n });
    expect(scoreLabel(cx, 0, 5n)).toEqual({ offset: 5n, n: 1, sumErr: 1_609_437_912n, sumAbs: 0n, sumSq: 640_000_000n });
    cx.lastScore = 0.5; // the 0.5 threshold says 1
    expect(scoreLabel(cx, 1, 6n)!.sumAbs).toBe(1_000_000_000n);
    cx.lastScore = 0; // clamped: finite log loss
    expect(scoreLabel(cx, 1, 7n)!.sumErr).toBe(BigInt(Math.round(-Math.log(1e-15) * 1e9)));
  });

  it('the score survives the state record bit for bit; no score leaves the classify extras empty', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }), fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 4 }), (p, history) => {
        const cx: ClassifyExtras = { kind: 'classify', history, lastScore: p };
        const back = throughRecord(cx);
        expect(Object.is(back.lastScore, p)).toBe(true);
        expect(scoreLabel(back, 1, 9n)).toEqual(scoreLabel(cx, 1, 9n));
      }),
    );
    expect(encodeExtras(freshExtras('classify', 0), 0).extras.length).toBe(0);
    expect(throughRecord(freshExtras('classify', 0) as ClassifyExtras).lastScore).toBeNull();
  });

  it('totals from the scored labels equal the textbook formulas (within the 1e-9 rounding per label)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ p: fc.double({ min: 0, max: 1, noNaN: true }), y: fc.constantFrom<0 | 1>(0, 1) }), { minLength: 1, maxLength: 60 }),
        (labels) => {
          let n = 0n;
          let e = 0n;
          let a = 0n;
          let s = 0n;
          labels.forEach(({ p, y }, i) => {
            const r = scoreLabel({ kind: 'classify', history: [], lastScore: p }, y, BigInt(i))!;
            n += BigInt(r.n);
            e += r.sumErr;
            a += r.sumAbs;
            s += r.sumSq;
          });
          // As the accumulator hash stores them (two limbs of 10^12).
          const limb = (x: bigint, f: string) => ({ [`c:${f}:h`]: String(x / 10n ** 12n), [`c:${f}:l`]: String(x % 10n ** 12n) });
          const t = accuracyTotalsOf({ 'c:n': String(n), 'c:events': String(n), ...limb(e, 'e'), ...limb(a, 'a'), ...limb(s, 's') })!;
          const ref = labels.map(({ p, y }) => reference(p, y));
          const mean = (f: (r: (typeof ref)[number]) => number) => ref.reduce((acc, r) => acc + f(r), 0) / ref.length;
          expect(t.labels!.events).toBe(labels.length);
          expect(t.labels!.accuracy).toBe(mean((r) => r.right));
          expect(Math.abs(t.labels!.logLoss - mean((r) => r.logLoss))).toBeLessThan(1e-8);
          expect(Math.abs(t.labels!.brier - mean((r) => r.brier))).toBeLessThan(1e-9);
          // Forecast totals stay empty.
          expect(t.events).toBe(0);
          expect(t.mae).toBeNull();
        },
      ),
    );
  });
});
