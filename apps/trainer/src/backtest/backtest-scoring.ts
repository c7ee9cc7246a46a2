import { decodeSensorReading } from '@app/contracts';
import type { InputMessage } from '../../../stream-worker/src/pipeline/ports';
import { sourceId, type ReplayOutput } from './backtest-replay';

/**
 * Error statistics of a backtest (docs/backtest.md, "Which reading a forecast targets"): the
 * forecast published after a key's applied reading r holds `steps` horizon steps × T targets
 * (row-major, the wire contract's [t+1 … t+horizon]); step k targets the k-th next applied
 * reading of the same key, and only within one sequence: a reset flag, a reset control record
 * or a gap above the gap limit starts a new sequence, and forecasts made before it are not
 * scored against readings after it. Error = actual − forecast (bias > 0: the model forecasts
 * too low). A reading the version did not apply (dead-lettered) is no target.
 */

/** Sums of errors of one horizon step (or all). */
export interface ErrorStats {
  /** Scored (forecast value, actual) pairs. */
  readonly n: number;
  readonly mae: number | null;
  readonly rmse: number | null;
  /** Mean of actual − forecast. */
  readonly bias: number | null;
}

/** One version's result. */
export interface VersionScore {
  readonly version: number;
  /** Readings that scored at least one error (the live accuracy's `events`, docs/accuracy.md). */
  readonly events: number;
  /** Readings the version applied (each published a forecast). */
  readonly applied: number;
  readonly overall: ErrorStats;
  /** Per horizon step (step 1 first). */
  readonly perStep: (ErrorStats & { readonly step: number })[];
  readonly deadLetters: Record<string, number>;
}

/** One point of a key's series: the reading, and each version's forecast published after it. */
export interface SeriesPoint {
  readonly partition: number;
  readonly offset: string;
  /** Event time, as the reading carried it. */
  readonly ts: string | number;
  /** The reading's values (every feature). */
  readonly actual: number[];
  /** By version; null where the version did not apply the reading. */
  readonly forecasts: Record<string, (number | null)[] | null>;
}

/** A requested key's series (the last `maxPoints` readings of the range). */
export interface KeySeries {
  readonly key: string;
  readonly points: SeriesPoint[];
  /** Readings of the key in the range. */
  readonly totalPoints: number;
  /** True when `points` holds only the last maxPoints of them. */
  readonly truncated: boolean;
}

/** A reading, or a reset control record, of one key, in offset order. */
type KeyEntry =
  | { readonly kind: 'reading'; readonly partition: number; readonly offset: string; readonly ts: number; readonly rawTs: string | number; readonly values: Float64Array; readonly reset: boolean }
  | { readonly kind: 'control' };

/** Valid sensor records of the slice by key, in offset order (what the worker decoded). */
export function entriesByKey(partitions: ReadonlyMap<number, readonly InputMessage[]>, keys: ReadonlySet<string> | null): Map<string, KeyEntry[]> {
  const out = new Map<string, KeyEntry[]>();
  for (const [partition, messages] of partitions) {
    for (const m of messages) {
      const r = decodeSensorReading(m.key, m.value);
      if (!r.ok || (keys !== null && !keys.has(r.event.key))) continue;
      let list = out.get(r.event.key);
      if (list === undefined) out.set(r.event.key, (list = []));
      const e = r.event;
      list.push(e.control !== undefined ? { kind: 'control' } : { kind: 'reading', partition, offset: m.offset, ts: e.ts, rawTs: e.rawTs, values: e.values, reset: e.reset });
    }
  }
  return out;
}

class Sums {
  n = 0;
  err = 0;
  abs = 0;
  sq = 0;
  add(e: number): void {
    this.n++;
    this.err += e;
    this.abs += Math.abs(e);
    this.sq += e * e;
  }
  stats(): ErrorStats {
    const n = this.n;
    return n === 0 ? { n, mae: null, rmse: null, bias: null } : { n, mae: this.abs / n, rmse: Math.sqrt(this.sq / n), bias: this.err / n };
  }
}

/**
 * Scores one version's forecasts against the readings they target.
 *
 * @param targetIndex feature index of each forecast target (the version's sidecar targets)
 * @param maxGapMs the gap rule the replay applied (0: off)
 */
export function scoreVersion(
  version: number,
  byKey: ReadonlyMap<string, readonly KeyEntry[]>,
  out: ReplayOutput,
  targetIndex: ArrayLike<number>,
  maxGapMs: number,
): VersionScore {
  const T = targetIndex.length;
  const overall = new Sums();
  const steps: Sums[] = [];
  let events = 0;
  let applied = 0;
  for (const entries of byKey.values()) {
    // Forecasts of the current sequence, newest last (at most `steps` are still waiting).
    let pending: (number | null)[][] = [];
    let lastTs: number | null = null;
    let controlSeen = false;
    for (const e of entries) {
      if (e.kind === 'control') {
        controlSeen = true;
        continue;
      }
      const forecast = out.forecasts.get(sourceId(e.partition, e.offset));
      if (forecast === undefined) continue; // not applied (dead-lettered): no target, no forecast
      applied++;
      const starts = e.reset || controlSeen || lastTs === null || (maxGapMs > 0 && e.ts - lastTs > maxGapMs);
      if (starts) pending = [];
      controlSeen = false;
      lastTs = e.ts;
      const before = overall.n;
      for (let i = 0; i < pending.length; i++) {
        const f = pending[i];
        const k = pending.length - i; // the newest forecast (made at the previous reading) is at step 1
        for (let t = 0; t < T; t++) {
          const v = f[(k - 1) * T + t];
          if (v === null || v === undefined) continue;
          const err = e.values[targetIndex[t]] - v;
          overall.add(err);
          (steps[k - 1] ??= new Sums()).add(err);
        }
      }
      if (overall.n > before) events++;
      pending.push(forecast);
      const horizon = Math.max(1, Math.floor(forecast.length / Math.max(1, T)));
      while (steps.length < horizon) steps.push(new Sums());
      if (pending.length > horizon) pending = pending.slice(pending.length - horizon);
    }
  }
  return {
    version,
    events,
    applied,
    overall: overall.stats(),
    perStep: steps.map((s, i) => ({ step: i + 1, ...s.stats() })),
    deadLetters: out.deadLetters,
  };
}

/** The series of `key`: its readings with each version's forecast, the last `maxPoints` of them. */
export function keySeries(key: string, entries: readonly KeyEntry[] | undefined, outs: ReadonlyMap<number, ReplayOutput>, maxPoints: number): KeySeries {
  const readings = (entries ?? []).filter((e): e is Extract<KeyEntry, { kind: 'reading' }> => e.kind === 'reading');
  const shown = readings.slice(Math.max(0, readings.length - maxPoints));
  return {
    key,
    totalPoints: readings.length,
    truncated: shown.length < readings.length,
    points: shown.map((e) => {
      const forecasts: Record<string, (number | null)[] | null> = {};
      for (const [version, out] of outs) forecasts[String(version)] = out.forecasts.get(sourceId(e.partition, e.offset)) ?? null;
      return { partition: e.partition, offset: e.offset, ts: e.rawTs, actual: Array.from(e.values), forecasts };
    }),
  };
}
