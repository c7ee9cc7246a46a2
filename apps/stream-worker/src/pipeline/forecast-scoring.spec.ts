import fc from 'fast-check';
import { ACCURACY_QUANTA_PER_UNIT, decodeStateRecord, encodeStateRecord } from '@app/state';
import { horizonSteps, pendingCapacity, scoreAndQueue } from './forecast-scoring';
import { decodeExtras, encodeExtras, freshExtras, type ForecastExtras } from './task-extras';

/** Through the state record, as between two units of work. */
function viaRecord(x: ForecastExtras, length: number, targets: number): ForecastExtras {
  const enc = encodeExtras(x, 0, targets);
  const rec = decodeStateRecord(
    encodeStateRecord({ modelVersion: '1', partition: 0, offset: 1n, steps: 1, lastEventTs: 1, state: new Float32Array(2), extras: enc.extras, ring: enc.ring }),
  );
  return decodeExtras(rec.extras, rec.ring, 'forecast', x.featureCount, length, targets) as ForecastExtras;
}

const finite = fc.double({ min: -1e4, max: 1e4, noNaN: true });

describe('forecast scoring', () => {
  it('horizon steps are the output length over the targets; the ring keeps what fits a record', () => {
    expect(horizonSteps(6, 2)).toBe(3);
    expect(horizonSteps(1, 1)).toBe(1);
    expect(pendingCapacity(3, 1)).toBe(3);
    expect(pendingCapacity(15, 1)).toBe(15);
    expect(pendingCapacity(16, 1)).toBe(11);
    expect(pendingCapacity(24, 1)).toBe(5);
    expect(pendingCapacity(128, 1)).toBe(0);
  });

  it('scores each horizon step against the k-th next reading, whatever the unit boundaries', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1, 2, 3, 4, 16),
        fc.integer({ min: 1, max: 2 }),
        fc.array(fc.tuple(finite, finite), { minLength: 1, maxLength: 20 }),
        fc.array(fc.array(finite, { minLength: 32, maxLength: 32 }), { minLength: 20, maxLength: 20 }),
        fc.array(fc.boolean(), { minLength: 20, maxLength: 20 }),
        (H, T, readings, forecastsRaw, boundaries) => {
          const L = H * T;
          const targets = T === 1 ? Int32Array.of(1) : Int32Array.of(1, 0);
          const forecasts = forecastsRaw.map((f) => Float64Array.from(f.slice(0, L)));
          // Independent reference: reading r is forecast at step k by the forecast made after
          // reading r − k, for the steps a record holds (k ≤ the ring's capacity).
          const cap = pendingCapacity(L, T);
          let n = 0;
          let e = 0n;
          let a = 0n;
          let s = 0n;
          for (let r = 0; r < readings.length; r++) {
            for (let k = 1; k <= cap && r - k >= 0; k++) {
              for (let t = 0; t < T; t++) {
                const err = readings[r][targets[t]] - forecasts[r - k][(k - 1) * T + t];
                const q = BigInt(Math.round(err * ACCURACY_QUANTA_PER_UNIT));
                e += q;
                a += q < 0n ? -q : q;
                s += BigInt(Math.round(err * err * ACCURACY_QUANTA_PER_UNIT));
                n++;
              }
            }
          }
          let fx = freshExtras('forecast', 2) as ForecastExtras;
          let gn = 0;
          let ge = 0n;
          let ga = 0n;
          let gs = 0n;
          readings.forEach((v, r) => {
            if (boundaries[r]) fx = viaRecord(fx, L, T);
            const got = scoreAndQueue(fx, v, targets, forecasts[r], BigInt(r));
            expect(fx.pending.length).toBe(Math.min(cap, r + 1));
            if (got === null) {
              expect(r).toBe(0);
              return;
            }
            expect(got.offset).toBe(BigInt(r));
            gn += got.n;
            ge += got.sumErr;
            ga += got.sumAbs;
            gs += got.sumSq;
          });
          expect([gn, ge, ga, gs]).toEqual([n, e, a, s]);
        },
      ),
    );
  });

  it('a one-step forecast scores the next reading: err = actual − forecast', () => {
    const fx = freshExtras('forecast', 1) as ForecastExtras;
    expect(scoreAndQueue(fx, [10], Int32Array.of(0), Float64Array.of(12), 5n)).toBeNull();
    const got = scoreAndQueue(fx, [11.5], Int32Array.of(0), Float64Array.of(13), 6n)!;
    expect(got.n).toBe(1);
    expect(Number(got.sumErr) / ACCURACY_QUANTA_PER_UNIT).toBe(-0.5);
    expect(Number(got.sumSq) / ACCURACY_QUANTA_PER_UNIT).toBe(0.25);
    expect(fx.pending).toEqual([Float64Array.of(13)]);
  });

  it('leaves out an error too large to square in quanta instead of failing the unit', () => {
    const fx = freshExtras('forecast', 1) as ForecastExtras;
    scoreAndQueue(fx, [0], Int32Array.of(0), Float64Array.of(-1e160), 1n);
    expect(scoreAndQueue(fx, [1e160], Int32Array.of(0), Float64Array.of(0), 2n)).toBeNull();
    expect(scoreAndQueue(fx, [1], Int32Array.of(0), Float64Array.of(0), 3n)).toMatchObject({ n: 1, sumErr: 1_000_000_000n });
  });
});
