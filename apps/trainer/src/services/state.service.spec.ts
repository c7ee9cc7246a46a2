import { RecurrentModel, randomRecurrentModelSpec } from '@app/lstm';
import { decodeStateRecord, encodeStateRecord, NO_OFFSET, NO_PARTITION } from '@app/state';
import { encodeExtras, freshExtras } from '../../../stream-worker/src/pipeline/task-extras';
import { readForecastExtras, splitLayers, viewOf } from './state.service';

describe('state API view of a state record', () => {
  it('reads the forecast extras the worker encodes (last forecast, residual statistics)', () => {
    const x = freshExtras('forecast', 2);
    expect(readForecastExtras(encodeExtras(x, 0).extras)).toEqual({
      kind: 'forecast',
      lastForecast0: null,
      anomaly: { count: 0, mean: 0, m2: 0, std: null },
    });
    Object.assign(x, { hasForecast: true, lastForecast0: 21.123456789012, residualCount: 5, residualMean: -0.25, residualM2: 3.5 });
    expect(readForecastExtras(encodeExtras(x, 0).extras)).toEqual({
      kind: 'forecast',
      lastForecast0: 21.123456789012,
      anomaly: { count: 5, mean: -0.25, m2: 3.5, std: Math.sqrt(3.5 / 4) },
    });
    expect(readForecastExtras(new Float32Array(3))).toBeNull();
  });

  it('splits h and c per layer by the engine layout (stacked LSTM, GRU)', () => {
    const lstm = new RecurrentModel(randomRecurrentModelSpec({ cell: 'lstm', inputDim: 2, units: [3, 2], head: [{ units: 1, activation: 'linear' }] }), { kernel: 'ts' });
    const state = Float32Array.from({ length: 10 }, (_, i) => i + 0.5);
    expect(splitLayers(state, lstm.layout)).toEqual([
      { kind: 'lstm', units: 3, h: [0.5, 1.5, 2.5], c: [3.5, 4.5, 5.5] },
      { kind: 'lstm', units: 2, h: [6.5, 7.5], c: [8.5, 9.5] },
    ]);
    expect(splitLayers(new Float32Array(7), lstm.layout)).toBeNull();
    const gru = new RecurrentModel(randomRecurrentModelSpec({ cell: 'gru', inputDim: 2, units: [2], head: [{ units: 1, activation: 'linear' }] }), { kernel: 'ts' });
    expect(splitLayers(Float32Array.of(1, 2), gru.layout)).toEqual([{ kind: 'gru', units: 2, h: [1, 2], c: null }]);
  });

  it('shows a decoded record: position, event time, window tokens, no extras', () => {
    const record = decodeStateRecord(
      encodeStateRecord({
        modelVersion: '4',
        partition: 2,
        offset: 9_007_199_254_740_993n,
        steps: 3,
        lastEventTs: 1_795_000_000_000,
        state: new Float32Array(0),
        extras: new Float32Array(0),
        ring: { count: 3, dim: 1, rows: Float32Array.of(5, 17, 2) },
      }),
    );
    const v = viewOf('m', 'k', record, null);
    expect(v.last).toEqual({ partition: 2, offset: '9007199254740993', eventTime: '2026-11-18T11:06:40.000Z' });
    expect(v.extras).toEqual({ kind: 'none' });
    expect(v.ring).toEqual({ count: 3, dim: 1, rows: [[5], [17], [2]] });
    expect(v.layers).toBeNull();
    const fresh = viewOf('m', 'k', { ...record, partition: NO_PARTITION, offset: NO_OFFSET, lastEventTs: NaN, ring: null }, null);
    expect(fresh.last).toBeNull();
    expect(fresh.ring).toBeNull();
  });
});
