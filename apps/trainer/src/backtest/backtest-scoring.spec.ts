import type { InputMessage } from '../../../stream-worker/src/pipeline/ports';
import { sourceId, type ReplayOutput } from './backtest-replay';
import { entriesByKey, keySeries, scoreVersion } from './backtest-scoring';

const msg = (offset: number, body: Record<string, unknown>): InputMessage => ({
  offset: String(offset),
  key: Buffer.from(String(body.sensorId)),
  value: Buffer.from(JSON.stringify(body)),
});

describe('backtest scoring', () => {
  // Key k: readings 10, 12, 15, 11 (offsets 0, 1, 3, 5), a control record at 4; key j: one reading.
  const partitions = new Map<number, InputMessage[]>([
    [
      0,
      [
        msg(0, { sensorId: 'k', ts: 1000, value: 10 }),
        msg(1, { sensorId: 'k', ts: 2000, value: 12 }),
        msg(2, { sensorId: 'j', ts: 2000, value: 7 }),
        msg(3, { sensorId: 'k', ts: 3000, value: 15 }),
        msg(4, { sensorId: 'k', ts: 1, control: 'reset' }),
        msg(5, { sensorId: 'k', ts: 4000, value: 11 }),
        msg(6, { sensorId: 'k', ts: 5000, value: 'bad' }),
      ],
    ],
  ]);
  // Horizon 2, one target: forecasts published after each applied reading.
  const out: ReplayOutput = {
    forecasts: new Map([
      [sourceId(0, '0'), [11, 13]],
      [sourceId(0, '1'), [14, null]],
      [sourceId(0, '2'), [8, 9]],
      [sourceId(0, '3'), [16, 17]],
      [sourceId(0, '5'), [12, 12]],
    ]),
    deadLetters: { schema_violation: 1 },
  };

  it('step k of the forecast after a reading targets the k-th next reading of the key, within its sequence', () => {
    const s = scoreVersion(4, entriesByKey(partitions, null), out, [0], 0);
    // Reading 12: step 1 of [11, 13] → +1. Reading 15: step 1 of [14, null] → +1, step 2 of [11, 13] → +2.
    // Reading 11 comes after a reset: nothing pending. Errors: +1, +1, +2.
    expect(s.applied).toBe(5);
    expect(s.events).toBe(2);
    expect(s.overall).toEqual({ n: 3, mae: 4 / 3, rmse: Math.sqrt(6 / 3), bias: 4 / 3 });
    expect(s.perStep).toEqual([
      { step: 1, n: 2, mae: 1, rmse: 1, bias: 1 },
      { step: 2, n: 1, mae: 2, rmse: 2, bias: 2 },
    ]);
    expect(s.deadLetters).toEqual({ schema_violation: 1 });
  });

  it('a gap above the gap limit starts a sequence as a reset does', () => {
    const noControl = new Map([[0, partitions.get(0)!.filter((m) => m.offset !== '4')]]);
    // With the control record gone, reading 11 scores step 1 of [16, 17] → −5 and step 2 of [14, null] (null: skipped).
    expect(scoreVersion(4, entriesByKey(noControl, null), out, [0], 0).overall.n).toBe(4);
    // Readings 1000 ms apart: a limit of 1000 sees no gap, 999 sees one before every reading.
    expect(scoreVersion(4, entriesByKey(noControl, null), out, [0], 1000).overall.n).toBe(4);
    expect(scoreVersion(4, entriesByKey(noControl, null), out, [0], 999).overall.n).toBe(0);
  });

  it('a series keeps the last maxPoints readings with each version forecast', () => {
    const byKey = entriesByKey(partitions, new Set(['k']));
    expect([...byKey.keys()]).toEqual(['k']);
    const s = keySeries('k', byKey.get('k'), new Map([[4, out]]), 2);
    expect(s).toEqual({
      key: 'k',
      totalPoints: 4,
      truncated: true,
      points: [
        { partition: 0, offset: '3', ts: 3000, actual: [15], forecasts: { '4': [16, 17] } },
        { partition: 0, offset: '5', ts: 4000, actual: [11], forecasts: { '4': [12, 12] } },
      ],
    });
    expect(keySeries('none', undefined, new Map([[4, out]]), 2)).toEqual({ key: 'none', totalPoints: 0, truncated: false, points: [] });
  });
});
