import { seededRandom } from '@app/lstm';
import { partitionFor, type OutMessage } from './test-kafka';

/** One generated input event with its routing. */
export interface GeneratedEvent {
  readonly key: string;
  readonly partition: number;
  /** Index of this event within its key's history. */
  readonly index: number;
  readonly body: Record<string, unknown>;
}

/** Words the classifier suites know (ids 2.. in this order; 1 is OOV). */
export const WORDS = [
  'pump',
  'broken',
  'again',
  'works',
  'fine',
  'thanks',
  'the',
  'is',
  'not',
  'very',
  'good',
  'bad',
  'slow',
  'fast',
  'help',
  'please',
  'urgent',
  'fixed',
  'issue',
  'still',
  'leak',
  'noise',
  'great',
  'support',
];

const BASE_TS = Date.parse('2026-11-27T10:00:00Z');

/** A generated stream: key prefix, number of keys, events per key, partitions, PRNG seed. */
type StreamArgs = [prefix: string, keys: number, perKey: number, partitions: number, seed: number];

/**
 * `keys` keys × `perKey` events, interleaved in a seeded shuffle that keeps each key's order.
 * `start(key, rnd)` draws a key's parameters and returns the maker of its i-th event body.
 */
function keyedEvents(
  [prefix, keys, perKey, partitions, seed]: StreamArgs,
  start: (key: string, rnd: () => number) => (i: number) => Record<string, unknown>,
): GeneratedEvent[] {
  const rnd = seededRandom(seed);
  const perKeyEvents: GeneratedEvent[][] = [];
  for (let k = 0; k < keys; k++) {
    const key = `${prefix}-${k}`;
    const partition = partitionFor(key, partitions);
    const next = start(key, rnd);
    const list: GeneratedEvent[] = [];
    for (let i = 0; i < perKey; i++) list.push({ key, partition, index: i, body: next(i) });
    perKeyEvents.push(list);
  }
  return interleave(perKeyEvents, rnd);
}

/**
 * Sensor readings: `keys` sensors × `perKey` readings, sine + noise with occasional spikes,
 * event times strictly increasing per key (1-3 s apart, alternating ISO and epoch-ms forms).
 */
export function sensorEvents(...args: StreamArgs): GeneratedEvent[] {
  return keyedEvents(args, (key, rnd) => {
    const phase = rnd() * Math.PI * 2;
    let ts = BASE_TS + Math.floor(rnd() * 10_000);
    return (i) => {
      ts += 1000 + Math.floor(rnd() * 2000);
      let value = 20 + 5 * Math.sin(phase + i / 5) + (rnd() - 0.5);
      if (rnd() < 0.03) value += 15;
      value = Math.round(value * 1000) / 1000;
      return { sensorId: key, ts: i % 2 === 0 ? new Date(ts).toISOString() : ts, value };
    };
  });
}

/** Text events: `keys` streams × `perKey` short texts from {@link WORDS} (plus an unknown word now and then). */
export function textEvents(...args: StreamArgs): GeneratedEvent[] {
  return keyedEvents(args, (key, rnd) => {
    let ts = BASE_TS + Math.floor(rnd() * 10_000);
    return () => {
      ts += 1000 + Math.floor(rnd() * 5000);
      const n = 1 + Math.floor(rnd() * 6);
      const words: string[] = [];
      for (let w = 0; w < n; w++)
        words.push(rnd() < 0.1 ? 'zzzunknown' : WORDS[Math.floor(rnd() * WORDS.length)]);
      const text = words.join(' ') + (rnd() < 0.3 ? '!' : '');
      return { streamId: key, ts: new Date(ts).toISOString(), text };
    };
  });
}

/** Merges per-key lists in a random order that keeps each key's own order. */
function interleave(lists: GeneratedEvent[][], rnd: () => number): GeneratedEvent[] {
  const pos = lists.map(() => 0);
  const live = lists.map((_, i) => i).filter((i) => lists[i].length > 0);
  const out: GeneratedEvent[] = [];
  while (live.length > 0) {
    const j = Math.floor(rnd() * live.length);
    const k = live[j];
    out.push(lists[k][pos[k]++]);
    if (pos[k] >= lists[k].length) live.splice(j, 1);
  }
  return out;
}

/** Kafka messages of generated events (JSON bodies, key = event key). */
export function toMessages(events: readonly GeneratedEvent[]): OutMessage[] {
  return events.map((e) => ({ key: e.key, value: JSON.stringify(e.body), partition: e.partition }));
}

/** Event time of a body in epoch ms. */
export function eventTimeMs(body: Record<string, unknown>): number {
  const ts = body.ts;
  return typeof ts === 'number' ? ts : Date.parse(String(ts));
}

/**
 * Gives each planned message the offset it will get: production order per (topic, partition),
 * which holds for fresh topics written by one idempotent producer in plan order. Returns each
 * partition's next offset (its end offset once the plan is produced).
 */
export function assignOffsets<T extends { offset?: string }>(plan: readonly T[], partitionOf: (m: T) => string): Map<string, bigint> {
  const next = new Map<string, bigint>();
  for (const m of plan) {
    const id = partitionOf(m);
    const o = next.get(id) ?? 0n;
    m.offset = o.toString();
    next.set(id, o + 1n);
  }
  return next;
}
