import { LiveHub, type StreamSink } from './live-hub';
import type { StreamEvents } from './live-types';

describe('LiveHub', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('with thousands of keys, a browser gets its own key and a bounded summary, nothing else', () => {
    const hub = new LiveHub({ maxKeys: 3000, pointsPerKey: 50, anomalyThreshold: 3 });
    hub.start();
    const got: { event: keyof StreamEvents; data: unknown }[] = [];
    const sink: StreamSink = (event, data) => got.push({ event, data });
    hub.subscribe('key-42', sink, {});
    got.length = 0;
    for (let step = 0; step < 3; step++) {
      for (let k = 0; k < 5000; k++) {
        hub.reading(`key-${k}`, step * 1000, [k + step], 0, `${step * 5000 + k}`);
        hub.forecast(`key-${k}`, step * 1000, [k], k === 42 && step === 2 ? 5 : 0.1, '1', 0, `${step * 5000 + k}`);
      }
    }
    jest.advanceTimersByTime(1000);
    hub.stop();
    const points = got.filter((g) => g.event === 'points').map((g) => g.data as StreamEvents['points']);
    expect(new Set(points.map((p) => p.key))).toEqual(new Set(['key-42']));
    expect(points.flatMap((p) => p.points).map((p) => [p.ts, p.value, p.flagged])).toEqual([
      [0, 42, false],
      [1000, 43, false],
      [2000, 44, true],
    ]);
    const tops = got.filter((g) => g.event === 'top').map((g) => g.data as StreamEvents['top']);
    expect(tops.length).toBeGreaterThan(0);
    for (const t of tops) {
      expect(t.keys.length).toBe(12);
      expect(t.totalKeys).toBe(3000);
    }
    // The least recently updated keys were evicted: memory stays bounded by maxKeys. With 5000
    // keys cycling through 3000 places, each key was evicted before it came back and starts afresh.
    expect(hub.keys.get('key-0')).toBeUndefined();
    expect(hub.keys.get('key-4999')!.points).toHaveLength(1);
  });
});
