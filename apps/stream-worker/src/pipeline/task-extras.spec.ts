import { decodeStateRecord, encodeStateRecord } from '@app/state';
import {
  decodeExtras,
  encodeExtras,
  FORECAST_EXTRAS_WORDS,
  freshExtras,
  type ForecastExtras,
} from './task-extras';

function forecastExtras(overrides: Partial<ForecastExtras> = {}): ForecastExtras {
  return {
    kind: 'forecast',
    hasForecast: true,
    lastForecast0: 21.12345678901234,
    residualCount: 41,
    residualMean: -0.1 / 3,
    residualM2: 7.000000000000001,
    pending: [],
    featureCount: 2,
    history: [Float32Array.of(20.5, 0), Float32Array.of(21.25, 1.5), Float32Array.of(19, 2)],
    ...overrides,
  };
}

/** Through the state codec, as the record travels through Redis. */
function viaRecord(enc: ReturnType<typeof encodeExtras>) {
  const buf = encodeStateRecord({
    modelVersion: '3',
    partition: 0,
    offset: 9n,
    steps: 10,
    lastEventTs: 1,
    state: new Float32Array(8),
    extras: enc.extras,
    ring: enc.ring,
  });
  return decodeStateRecord(buf);
}

describe('task extras', () => {
  it('forecast statistics round-trip exactly in four float64 (8 words)', () => {
    const x = forecastExtras();
    const enc = encodeExtras(x, 16);
    expect(enc.extras.length).toBe(FORECAST_EXTRAS_WORDS);
    const rec = viaRecord(enc);
    expect(decodeExtras(rec.extras, rec.ring, 'forecast', 2)).toEqual(x);
  });

  it('"no forecast yet" and a first forecast without residuals stay distinct', () => {
    const fresh = freshExtras('forecast', 2) as ForecastExtras;
    const first = forecastExtras({ residualCount: 0, residualMean: 0, residualM2: 0, history: [] });
    for (const x of [fresh, first]) {
      const rec = viaRecord(encodeExtras(x, 0));
      expect(decodeExtras(rec.extras, rec.ring, 'forecast', 2)).toEqual(x);
    }
  });

  it('keeps at most `keep` ring rows and none with keep 0', () => {
    const x = forecastExtras();
    expect(encodeExtras(x, 2).ring).toMatchObject({ count: 2, dim: 2 });
    expect(Array.from(encodeExtras(x, 2).ring!.rows)).toEqual([21.25, 1.5, 19, 2]);
    expect(encodeExtras(x, 0).ring).toBeNull();
    const tokens = encodeExtras({ kind: 'classify', history: [5, 6, 7], lastScore: null }, 2);
    expect(tokens.extras.length).toBe(0);
    expect(Array.from(tokens.ring!.rows)).toEqual([6, 7]);
    expect(encodeExtras({ kind: 'classify', history: [5, 6, 7], lastScore: null }, 0).ring).toBeNull();
  });

  it('reads the five-float64 extras of records written before the compact layout', () => {
    const legacy = new Float32Array(Float64Array.of(1, 22.5, 3, 0.25, 1.75).buffer);
    expect(legacy.length).toBe(10);
    expect(decodeExtras(legacy, null, 'forecast', 2)).toEqual({
      kind: 'forecast',
      hasForecast: true,
      lastForecast0: 22.5,
      residualCount: 3,
      residualMean: 0.25,
      residualM2: 1.75,
      pending: [],
      featureCount: 2,
      history: [],
    });
    const none = new Float32Array(Float64Array.of(0, 0, 0, 0, 0).buffer);
    expect(decodeExtras(none, null, 'forecast', 2)).toMatchObject({ hasForecast: false, residualCount: 0 });
  });

  it('refuses extras of another task or width (the caller starts them fresh)', () => {
    const enc = encodeExtras(forecastExtras(), 4);
    expect(decodeExtras(enc.extras, enc.ring, 'forecast', 3)).toBeNull();
    expect(decodeExtras(enc.extras, enc.ring, 'classify', 0)).toBeNull();
    expect(decodeExtras(new Float32Array(6), null, 'forecast', 2)).toBeNull();
    expect(decodeExtras(new Float32Array(0), null, 'classify', 0)).toEqual({ kind: 'classify', history: [], lastScore: null });
  });

  it('pending forecasts keep the steps still to be scored, bit for bit; another output length drops them only', () => {
    // H = 2 steps × T = 2 targets; the older forecast (made 1 reading ago) keeps step 2 only.
    const pending = [Float64Array.of(0.1, 1 / 3, -2.5e-17, -0), Float64Array.of(Math.PI, 5e-324, 1e300, 7)];
    const x = forecastExtras({ pending });
    const rec = viaRecord(encodeExtras(x, 16, 2));
    expect(rec.extras.length).toBe(10 + 2 * (2 + 4));
    const back = decodeExtras(rec.extras, rec.ring, 'forecast', 2, 4, 2) as ForecastExtras;
    expect(back).toEqual({ ...x, pending: [Float64Array.of(NaN, NaN, -2.5e-17, -0), pending[1]] });
    expect(Object.is(back.pending[0][3], -0)).toBe(true);
    expect(back.pending[1][1]).toBe(5e-324);
    const other = decodeExtras(rec.extras, rec.ring, 'forecast', 2, 6, 2) as ForecastExtras;
    expect(other).toEqual({ ...x, pending: [] });
  });
});
