import { parseDatasetFile, splitCsvLine, TextStreamCollector } from './dataset';
import { forecastWindows } from './forecaster-trainer';
import { seededShuffle } from './seeded-random';

describe('training data', () => {
  it('parses CSV with quotes and JSONL readings and texts, counting rejected rows by reason', () => {
    expect(splitCsvLine('a,"b, ""c""",d')).toEqual(['a', 'b, "c"', 'd']);
    const csv = parseDatasetFile('sensorId,ts,value\np1,2026-11-27T00:00:00Z,1.5\np1,1795000000000,2\nbad,x,1\n', 'csv', 'forecast');
    expect(csv.rejected.counts()).toEqual({ schema_violation: 1 });
    expect(csv.dataset).toEqual({ task: 'forecast', readings: [
      { key: 'p1', ts: Date.parse('2026-11-27T00:00:00Z'), values: [1.5], reset: false },
      { key: 'p1', ts: 1795000000000, values: [2], reset: false },
    ] });
    const multi = parseDatasetFile('sensorId,ts,value_1,value_0\np,1,20,10\n', 'csv', 'forecast');
    expect(multi.dataset.task === 'forecast' && multi.dataset.readings[0].values).toEqual([10, 20]);
    const jsonl = parseDatasetFile('{"text":"good","label":"pos"}\n{"text":"bad","label":0}\n{"text":1}\n{oops\n', 'jsonl', 'classify');
    expect(jsonl.dataset).toEqual({ task: 'classify', examples: [{ text: 'good', label: 'pos' }, { text: 'bad', label: '0' }] });
    expect(jsonl.rejected.counts()).toEqual({ schema_violation: 1, invalid_json: 1 });
  });

  it('takes readings as the worker does: its decoder, its DLQ reasons, reset and model honoured', () => {
    const lines = [
      '{"sensorId":"p","ts":"2026-11-27T10:00:00Z","value":1}',
      // No time zone: the worker dead-letters it (schema_violation), so training does not use it.
      '{"sensorId":"p","ts":"2026-11-27T10:00:01","value":2}',
      '{"sensorId":"p","ts":"2026-11-27T10:00:02+01:00","value":3,"reset":true}',
      '{"sensorId":"p","ts":1795000000000,"value":4,"model":"forecaster"}',
      '{"sensorId":"p","ts":1795000000001,"value":5,"model":"other-model"}',
      '{"sensorId":"p","ts":1795000000002,"values":[6,7]}',
      '{"sensorId":"p","ts":1795000000003,"value":8,"values":[8]}',
      '{"ts":1795000000004,"value":9}',
      '{"sensorId":"p","ts":1795000000005,"value":"ten"}',
      '[1,2]',
      'not json',
    ].join('\n');
    const { dataset, rejected } = parseDatasetFile(lines, 'jsonl', 'forecast', 'forecaster');
    expect(dataset.task === 'forecast' && dataset.readings.map((r) => [r.values[0], r.reset])).toEqual([
      [1, false],
      [3, true],
      [4, false],
    ]);
    expect(rejected.counts()).toEqual({ schema_violation: 4, unknown_model: 1, feature_count: 1, key_missing: 1, invalid_json: 1 });
    expect(rejected.total).toBe(8);
    // Without a model name (offline training), a record naming a model is still data.
    const offline = parseDatasetFile(lines, 'jsonl', 'forecast');
    expect(offline.rejected.counts().unknown_model).toBeUndefined();
    // CSV reset and model columns mean the same as the JSON fields.
    const csv = parseDatasetFile('sensorId,ts,value,reset,model\np,1,1,,\np,2,2,true,\np,3,3,,other\n', 'csv', 'forecast', 'forecaster');
    expect(csv.dataset.task === 'forecast' && csv.dataset.readings.map((r) => r.reset)).toEqual([false, true]);
    expect(csv.rejected.counts()).toEqual({ unknown_model: 1 });
  });

  it('joins a text stream from its last reset and takes labelled events as they are', () => {
    const texts = new TextStreamCollector('classifier');
    const add = (key: string | null, body: unknown) => texts.add(key === null ? null : Buffer.from(key), Buffer.from(JSON.stringify(body)));
    add('s1', { streamId: 's1', ts: 1, text: 'old words' });
    add('s1', { streamId: 's1', ts: 2, text: 'fresh', reset: true });
    add('s1', { streamId: 's1', ts: 3, text: 'start' });
    add('s1', { streamId: 's1', ts: 4, control: 'label', label: 1 }); // scores the live model; no text, no reset
    add('s2', { streamId: 's2', ts: 1, text: 'labelled', label: 'pos' });
    add('s3', { streamId: 'other', ts: 1, text: 'x' });
    add('s4', { streamId: 's4', ts: '2026-11-27T10:00:00', text: 'no zone' });
    add('s5', { streamId: 's5', ts: 1, text: 'y', model: 'sentiment' });
    expect(texts.textOf('s1')).toBe('fresh start');
    expect(texts.textOf('s4')).toBeNull();
    expect(texts.labelled).toEqual([{ text: 'labelled', label: 'pos' }]);
    expect(texts.rejected.counts()).toEqual({ key_mismatch: 1, schema_violation: 1, unknown_model: 1 });
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

  it('starts a new sequence at a reset: no window crosses it', () => {
    const readings = Array.from({ length: 8 }, (_, i) => ({ key: 'p', ts: i, values: [i], reset: i === 4 }));
    const w = forecastWindows(readings, { window: 2, horizon: 1, validationSplit: 0 });
    // Sequences [0..3] and [4..7]: two windows each; none spans 3 → 4.
    expect(w.train.map((e) => [...e.history.map((h) => h[0]), ...e.target])).toEqual([
      [0, 1, 2],
      [1, 2, 3],
      [4, 5, 6],
      [5, 6, 7],
    ]);
  });

  it('shuffles deterministically per seed', () => {
    const xs = Array.from({ length: 20 }, (_, i) => i);
    expect(seededShuffle(xs, 1)).toEqual(seededShuffle(xs, 1));
    expect(seededShuffle(xs, 1)).not.toEqual(seededShuffle(xs, 2));
    expect([...seededShuffle(xs, 1)].sort((a, b) => a - b)).toEqual(xs);
  });
});
