import { parseDatasetFile, parseTs, splitCsvLine } from './dataset';
import { forecastWindows } from './forecaster-trainer';
import { seededShuffle } from './seeded-random';

describe('training data', () => {
  it('parses CSV with quotes and JSONL readings and texts', () => {
    expect(splitCsvLine('a,"b, ""c""",d')).toEqual(['a', 'b, "c"', 'd']);
    const csv = parseDatasetFile('sensorId,ts,value\np1,2026-11-27T00:00:00Z,1.5\np1,1795000000000,2\nbad,x,1\n', 'csv', 'forecast');
    expect(csv.skipped).toBe(1);
    expect(csv.dataset).toEqual({ task: 'forecast', readings: [
      { key: 'p1', ts: Date.parse('2026-11-27T00:00:00Z'), values: [1.5] },
      { key: 'p1', ts: 1795000000000, values: [2] },
    ] });
    const multi = parseDatasetFile('sensorId,ts,value_1,value_0\np,1,20,10\n', 'csv', 'forecast');
    expect(multi.dataset.task === 'forecast' && multi.dataset.readings[0].values).toEqual([10, 20]);
    const jsonl = parseDatasetFile('{"text":"good","label":"pos"}\n{"text":"bad","label":0}\n{"text":1}\n', 'jsonl', 'classify');
    expect(jsonl.dataset).toEqual({ task: 'classify', examples: [{ text: 'good', label: 'pos' }, { text: 'bad', label: '0' }] });
    expect(jsonl.skipped).toBe(1);
    expect(parseTs('nope')).toBeNull();
  });

  it('windows each sensor in time order and holds out the latest windows', () => {
    const readings = [];
    for (const key of ['b', 'a']) for (let i = 9; i >= 0; i--) readings.push({ key, ts: i, values: [i + (key === 'a' ? 100 : 0)] });
    const w = forecastWindows(readings, { window: 3, horizon: 2, validationSplit: 0.2 });
    // 10 readings → 6 windows per sensor, 1 held out (round(6 × 0.2)).
    expect(w.train).toHaveLength(10);
    expect(w.holdout).toHaveLength(2);
    expect(w.train[0]).toEqual({ history: [[100], [101], [102]], target: [103, 104] });
    expect(w.holdout[0]).toEqual({ history: [[105], [106], [107]], target: [108, 109] });
    // The scaler never sees values only a held-out target uses.
    expect(w.trainRows.map((r) => r[0])).not.toContain(109);
    expect(w.trainRows.map((r) => r[0])).toContain(104);
  });

  it('shuffles deterministically per seed', () => {
    const xs = Array.from({ length: 20 }, (_, i) => i);
    expect(seededShuffle(xs, 1)).toEqual(seededShuffle(xs, 1));
    expect(seededShuffle(xs, 1)).not.toEqual(seededShuffle(xs, 2));
    expect([...seededShuffle(xs, 1)].sort((a, b) => a - b)).toEqual(xs);
  });
});
