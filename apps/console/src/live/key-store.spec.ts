import { KeyStore } from './key-store';

describe('KeyStore', () => {
  let clock = 0;
  const store = (maxKeys = 3, pointsPerKey = 4) => new KeyStore({ maxKeys, pointsPerKey, anomalyThreshold: 3, now: () => clock });

  it('joins a reading and its forecast by source coordinates, in either order', () => {
    const s = store();
    s.reading('a', 1000, [5, 9], 0, '10');
    s.forecast('a', 1000, [6, 90, 7, 91], 0.5, '1', 0, '10');
    s.forecast('a', 2000, [8, 92, 9, 93], 4.2, '1', 1, '3');
    s.reading('a', 2000, [7], 1, '3');
    const pts = s.get('a')!.points;
    expect(pts.map((p) => [p.ts, p.value, p.forecast, p.flagged])).toEqual([
      [1000, 5, [6, 7], false],
      [2000, 7, [8, 9], true],
    ]);
  });

  it('bounds points per key and marks version changes at their event time', () => {
    const s = store(3, 4);
    for (let i = 0; i < 6; i++) s.forecast('a', i * 1000, [i], null, i < 4 ? '1' : '2', 0, String(i));
    const e = s.get('a')!;
    expect(e.points.map((p) => p.offset)).toEqual(['2', '3', '4', '5']);
    expect(e.markers).toEqual([
      { ts: 0, from: null, to: '1' },
      { ts: 4000, from: '1', to: '2' },
    ]);
  });

  it('evicts the least recently updated key beyond maxKeys and ranks by decayed rate', () => {
    const s = store(3);
    clock = 0;
    for (let i = 0; i < 5; i++) s.reading('busy', i, [1], 0, String(i));
    s.reading('quiet', 1, [1], 0, '100');
    s.reading('b', 1, [1], 0, '101');
    s.reading('busy', 9, [1], 0, '9');
    s.textEvent('t', 1, 'hello', 0, '0');
    expect(s.size).toBe(3);
    expect(s.get('quiet')).toBeUndefined();
    expect(s.top(2).map((k) => k.key)).toEqual(['busy', 'b']);
    expect(s.search('BU', 10).map((k) => k.key)).toEqual(['busy']);
    clock = 600_000;
    expect(s.top(1)[0].rate).toBeLessThan(1e-3);
  });

  it('joins a text event with its classification', () => {
    const s = store();
    s.classification('t', 5, 'broken', { ok: 0.1, broken: 0.9 }, '3', 0, '7');
    s.textEvent('t', 5, 'the pump is broken', 0, '7');
    expect(s.get('t')!.messages).toEqual([
      { key: 't', ts: 5, text: 'the pump is broken', label: 'broken', scores: { ok: 0.1, broken: 0.9 }, modelVersion: '3', partition: 0, offset: '7' },
    ]);
  });
});
