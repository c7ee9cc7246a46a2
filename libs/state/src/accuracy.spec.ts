import { accuracyScriptArgs, accuracyTotalsOf, errorQuanta, fenceField, labelQuanta } from './accuracy';
import { accuracyKey } from './state-keys';

describe('live accuracy accumulator (client side)', () => {
  it('keys one hash per (model, version) in the model’s slot', () => {
    expect(accuracyKey('fc', '3')).toBe('sc:acc:{fc}:3');
    expect(accuracyKey('a:b{c}', '1', 'x')).toBe('x:acc:{a%3Ab%7Bc%7D}:1');
    expect(fenceField('sensor.readings', 2)).toBe('f:sensor.readings:2');
  });

  it('rounds each error once to 1e-9 of its unit', () => {
    expect(errorQuanta(-0.5)).toEqual({ e: -500_000_000n, a: 500_000_000n, s: 250_000_000n });
    expect(errorQuanta(1e-10)).toEqual({ e: 0n, a: 0n, s: 0n });
  });

  it('encodes sorted cumulative fixed-width records, negative sums with a low limb in [0, 10^12)', () => {
    const r = (offset: bigint, e: bigint) => ({ offset, n: 2, sumErr: e, sumAbs: e < 0n ? -e : e, sumSq: e * e });
    const args = accuracyScriptArgs([
      { topic: 't', partition: 1, readings: [r(12n, -3n), r(7n, 10n ** 13n)] },
      { topic: 't', partition: 2, readings: [] },
    ]);
    expect(args.slice(0, 5)).toEqual(['', '1', 'f:t:1', '2', '12']);
    expect(args[5]).toBe('7'.padStart(20, '0') + '12'.padStart(20, '0'));
    const rec = args[6];
    expect(rec.length).toBe(2 * (15 + 3 * 29));
    // Second record: n = 4, Σerr = 10^13 − 3 = 9 × 10^12 + (10^12 − 3).
    const second = rec.slice(102);
    expect(second.slice(0, 15)).toBe('4'.padStart(15, '0'));
    expect(second.slice(15, 32)).toBe('9'.padStart(17, ' '));
    expect(second.slice(32, 44)).toBe('999999999997');
    // Readings sort by offset: the first record is offset 7's, Σerr = 10^13 = 10 × 10^12 + 0.
    expect(rec.slice(15, 32)).toBe('10'.padStart(17, ' '));
    expect(rec.slice(32, 44)).toBe('0'.padStart(12, '0'));
    // A negative total: −3 = −1 × 10^12 + (10^12 − 3).
    const neg = accuracyScriptArgs([{ topic: 't', partition: 0, readings: [r(1n, -3n)] }])[6];
    expect(neg.slice(15, 32)).toBe('-1'.padStart(17, ' '));
    expect(neg.slice(32, 44)).toBe('999999999997');
  });

  it('reads totals from the hash fields; null before anything was counted', () => {
    expect(accuracyTotalsOf({})).toBeNull();
    expect(
      accuracyTotalsOf({
        n: '4',
        events: '2',
        'e:h': '-1',
        'e:l': '999000000000', // −10^9 quanta = −1
        'a:h': '0',
        'a:l': '6000000000', // 6
        's:h': '0',
        's:l': '16000000000', // 16
        'f:t:0': '41',
      }),
    ).toEqual({ events: 2, errors: 4, mae: 1.5, rmse: 2, bias: -0.25, sumErr: -1, sumAbs: 6, sumSq: 16, fences: { 't:0': '41' }, labels: null });
  });

  it('label updates go to the c: fields; their totals are log loss, accuracy at 0.5 and Brier', () => {
    expect(accuracyScriptArgs([{ topic: 't', partition: 0, readings: [] }], 'label').slice(0, 2)).toEqual(['c:', '0']);
    expect(labelQuanta(0.8, 1)).toEqual({ logLoss: 223_143_551n, correct: 1_000_000_000n, brier: 40_000_000n });
    expect(labelQuanta(0.2, 0)).toEqual({ logLoss: 223_143_551n, correct: 1_000_000_000n, brier: 40_000_000n });
    expect(labelQuanta(1, 0).logLoss).toBe(34_538_776_395n); // −ln(1e-15), clamped
    const t = accuracyTotalsOf({ 'c:n': '4', 'c:events': '4', 'c:e:l': '2000000000', 'c:a:l': '3000000000', 'c:s:l': '1000000000', 'f:t:0': '9' })!;
    expect(t.labels).toEqual({ events: 4, logLoss: 0.5, accuracy: 0.75, brier: 0.25, sumLogLoss: 2, correct: 3, sumBrier: 1 });
    expect(t.events).toBe(0);
  });
});
