import { planBatch, type KeyStart, type PlannerEvent } from './batch-planner';

const opts = { maxGapMs: 0, allowedLatenessMs: 0 };

let nextIndex = 0;
function ev(key: string, offset: number, timeMs: number, steps = 1, reset = false): PlannerEvent {
  return { index: nextIndex++, key, partition: 0, offset: BigInt(offset), timeMs, steps, reset };
}

beforeEach(() => {
  nextIndex = 0;
});

describe('planBatch', () => {
  it('groups by key in offset order and schedules time-major with a shrinking active prefix', () => {
    const events = [ev('a', 1, 1000), ev('b', 2, 1000), ev('a', 3, 2000), ev('c', 4, 500), ev('a', 5, 2500), ev('b', 6, 3000)];
    const plan = planBatch(events, new Map(), opts);
    expect(plan.slots.map((s) => [s.key, s.totalSteps])).toEqual([
      ['a', 3],
      ['b', 2],
      ['c', 1],
    ]);
    expect(plan.stepCount).toBe(3);
    expect(Array.from(plan.stepBatch)).toEqual([3, 2, 1]);
    expect(plan.headCount).toBe(6);
    // head after each event's last step, in key order and offset order within a key
    expect(plan.boundaries[0]).toEqual([]);
    expect(plan.boundaries[1].map((a) => [a.kind, a.slot])).toEqual([
      ['head', 0],
      ['head', 1],
      ['head', 2],
    ]);
    expect(plan.boundaries[3].map((a) => [a.kind, a.slot])).toEqual([['head', 0]]);
    const a = plan.slots[0];
    expect(a.events.map((e) => Number(e.offset))).toEqual([1, 3, 5]);
    expect(a.events.map((e) => e.deltaMs)).toEqual([0, 1000, 500]);
    expect(a.events.map((e) => e.start)).toEqual(['initial', 'none', 'none']);
    expect(a.lastOffset).toBe(5n);
    expect(a.lastTimeMs).toBe(2500);
    expect(plan.slots.flatMap((s) => s.events).map((e) => e.headRow)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('sorts keys defensively by offset and breaks step-count ties by first offset', () => {
    const events = [ev('z', 9, 10), ev('y', 4, 10), ev('z', 7, 5)];
    const plan = planBatch(events, new Map(), opts);
    expect(plan.slots.map((s) => s.key)).toEqual(['z', 'y']);
    expect(plan.slots[0].events.map((e) => Number(e.offset))).toEqual([7, 9]);
  });

  it('expands text events into their token steps and places heads after each event', () => {
    const events = [ev('t', 10, 0, 3), ev('t', 11, 1, 0), ev('t', 12, 2, 2), ev('u', 13, 0, 1)];
    const plan = planBatch(events, new Map(), opts);
    const t = plan.slots[0];
    expect(t.totalSteps).toBe(5);
    expect(Array.from(plan.stepBatch)).toEqual([2, 1, 1, 1, 1]);
    expect(t.events.map((e) => [e.firstStep, e.steps])).toEqual([
      [0, 3],
      [3, 0],
      [3, 2],
    ]);
    // the zero-token event is evaluated at the same boundary, after the first event's head
    expect(plan.boundaries[3].map((a) => [a.kind, a.slot, a.kind === 'head' ? a.row : -1])).toEqual([
      ['head', 0, 0],
      ['head', 0, 1],
    ]);
  });

  it('skips offsets at or below the last applied one, only for the same partition', () => {
    const starts = new Map<string, KeyStart>([
      ['a', { history: { partition: 0, offset: 5n, lastTimeMs: 100 }, fresh: false, warmSteps: 0 }],
      ['b', { history: { partition: 3, offset: 99n, lastTimeMs: 100 }, fresh: false, warmSteps: 0 }],
    ]);
    const events = [ev('a', 4, 200), ev('a', 5, 200), ev('a', 6, 300), ev('b', 7, 400)];
    const plan = planBatch(events, starts, opts);
    expect(plan.rejects.skipped).toEqual([0, 1]);
    const a = plan.slots.find((s) => s.key === 'a')!;
    expect(a.events.map((e) => Number(e.offset))).toEqual([6]);
    expect(a.events[0].deltaMs).toBe(200);
    expect(a.events[0].start).toBe('none');
    expect(plan.slots.find((s) => s.key === 'b')!.events.length).toBe(1);
  });

  it('drops a key whose events were all already applied', () => {
    const starts = new Map<string, KeyStart>([
      ['a', { history: { partition: 0, offset: 10n, lastTimeMs: 0 }, fresh: false, warmSteps: 0 }],
    ]);
    const plan = planBatch([ev('a', 9, 0), ev('a', 10, 0)], starts, opts);
    expect(plan.slots).toEqual([]);
    expect(plan.stepCount).toBe(0);
    expect(plan.boundaries).toEqual([[]]);
    expect(plan.rejects.skipped).toEqual([0, 1]);
  });

  it('rejects late events against the evolving last event time and honours lateness settings', () => {
    const starts = new Map<string, KeyStart>([
      ['a', { history: { partition: 0, offset: 1n, lastTimeMs: 1000 }, fresh: false, warmSteps: 0 }],
    ]);
    const events = [ev('a', 2, 999), ev('a', 3, 1000), ev('a', 4, 5000), ev('a', 5, 4000)];
    const plan = planBatch(events, starts, opts);
    expect(plan.rejects.late).toEqual([
      { index: 0, lastTimeMs: 1000 },
      { index: 3, lastTimeMs: 5000 },
    ]);
    expect(plan.slots[0].events.map((e) => e.deltaMs)).toEqual([0, 4000]);

    const lenient = planBatch(events, starts, { ...opts, allowedLatenessMs: 1000 });
    expect(lenient.rejects.late).toEqual([]);
    expect(lenient.slots[0].events.map((e) => e.deltaMs)).toEqual([-1, 1, 4000, -1000]);

    const off = planBatch(events, starts, { ...opts, allowedLatenessMs: -1 });
    expect(off.rejects.late).toEqual([]);
  });

  it('turns reset flags and event-time gaps into row resets at the event boundary', () => {
    const starts = new Map<string, KeyStart>([
      ['a', { history: { partition: 0, offset: 1n, lastTimeMs: 0 }, fresh: false, warmSteps: 0 }],
    ]);
    const events = [ev('a', 2, 100), ev('a', 3, 200, 1, true), ev('a', 4, 10_000), ev('a', 5, 10_100)];
    const plan = planBatch(events, starts, { ...opts, maxGapMs: 5000 });
    const a = plan.slots[0];
    expect(a.events.map((e) => e.start)).toEqual(['none', 'flag', 'gap', 'none']);
    expect(a.events.map((e) => e.deltaMs)).toEqual([100, 0, 0, 100]);
    expect(plan.boundaries[1].map((x) => x.kind)).toEqual(['head', 'reset']);
    expect(plan.boundaries[2].map((x) => x.kind)).toEqual(['head', 'reset']);
    expect(plan.boundaries[3].map((x) => x.kind)).toEqual(['head']);
  });

  it('starts fresh keys and policy resets with a zero time delta, and prepends warm steps', () => {
    const starts = new Map<string, KeyStart>([
      ['a', { history: { partition: 0, offset: 1n, lastTimeMs: 50 }, fresh: true, warmSteps: 0 }],
      ['w', { history: { partition: 0, offset: 1n, lastTimeMs: 50 }, fresh: false, warmSteps: 4 }],
    ]);
    const plan = planBatch([ev('a', 2, 100), ev('w', 3, 100), ev('w', 4, 200)], starts, opts);
    const w = plan.slots[0];
    expect(w.key).toBe('w');
    expect(w.totalSteps).toBe(6);
    expect(w.events.map((e) => e.firstStep)).toEqual([4, 5]);
    expect(w.warmSteps).toBe(4);
    expect(w.events[0].deltaMs).toBe(50);
    const a = plan.slots[1];
    expect(a.events[0].start).toBe('initial');
    expect(a.events[0].deltaMs).toBe(0);
    expect(Array.from(plan.stepBatch)).toEqual([2, 1, 1, 1, 1, 1]);
    expect(plan.boundaries[5].map((x) => x.kind)).toEqual(['head']);
  });

  it('is deterministic regardless of the input order across keys', () => {
    const base = [ev('a', 1, 1), ev('b', 2, 1), ev('c', 3, 1), ev('a', 4, 2), ev('b', 5, 2)];
    const p1 = planBatch(base, new Map(), opts);
    const p2 = planBatch([base[2], base[1], base[4], base[0], base[3]], new Map(), opts);
    expect(p2.slots.map((s) => s.key)).toEqual(p1.slots.map((s) => s.key));
    const order = (p: typeof p1) => p.slots.flatMap((s) => s.events).map((e) => e.index);
    expect(order(p2)).toEqual(order(p1));
  });
});
