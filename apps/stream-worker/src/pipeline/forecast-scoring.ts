import { ACCURACY_QUANTA_PER_UNIT, errorQuanta, type AccuracyPartition, type ScoredReading } from '@app/state';
import type { ForecastExtras } from './task-extras';

/**
 * Live accuracy of forecasts (docs/accuracy.md). A forecast made after a key's reading r holds
 * `steps` horizon steps × T targets, row-major (the wire contract's [t+1 … t+horizon]); its
 * step k forecasts the k-th next applied reading of the same key. The key's extras keep the
 * forecasts still waiting (`pending`, oldest first, at most `steps`): when a reading arrives,
 * the newest pending forecast is scored at step 1, the one before at step 2, and so on;
 * a forecast leaves the ring once its last step was scored.
 */

/** Horizon steps of a forecast of `length` values over `targets` targets. */
export function horizonSteps(length: number, targets: number): number {
  return Math.max(1, Math.floor(length / Math.max(1, targets)));
}

/** Extras words a state record holds (u8 in @app/state format 2). */
const MAX_EXTRAS_WORDS = 255;

/**
 * Pending forecasts a key keeps: H, or fewer when their stored steps would not fit the record's
 * extras (task-extras.ts layout: 10 + 2·T·Σ_{m<n}(H − m) words); the steps beyond are then not
 * scored. H = 3, T = 1: 3; H = 15, T = 1: 15; H = 24, T = 1: 6.
 */
export function pendingCapacity(length: number, targets: number): number {
  const T = Math.max(1, targets);
  const H = horizonSteps(length, T);
  let n = H;
  while (n > 0 && 10 + 2 * T * (n * H - (n * (n - 1)) / 2) > MAX_EXTRAS_WORDS) n--;
  return n;
}

/**
 * Scores every pending forecast step that targets this reading (err = actual − forecast, in the
 * reading's units), drops the forecasts whose last step this was, then queues `forecast`.
 * Returns the reading's contributions, or null when no forecast was pending.
 */
export function scoreAndQueue(
  fx: ForecastExtras,
  values: ArrayLike<number>,
  targetIndex: ArrayLike<number>,
  forecast: Float64Array,
  offset: bigint,
): ScoredReading | null {
  const T = targetIndex.length;
  const steps = horizonSteps(forecast.length, T);
  const pending = fx.pending;
  let scored: ScoredReading | null = null;
  if (pending.length > 0) {
    // Quanta are integers: summed as doubles while exact (the common case), else as BigInt.
    let n = 0;
    let e = 0;
    let a = 0;
    let sq = 0;
    const count = pending.length;
    for (let i = 0; i < count; i++) {
      const f = pending[i];
      // The newest forecast (made at the previous reading) is at step 1.
      const k = count - i;
      if (f.length !== forecast.length || k > steps) continue;
      for (let t = 0; t < T; t++) {
        const err = values[targetIndex[t]] - f[(k - 1) * T + t];
        if (!scorable(err)) continue;
        const qe = Math.round(err * ACCURACY_QUANTA_PER_UNIT);
        e += qe;
        a += Math.abs(qe);
        sq += Math.round(err * err * ACCURACY_QUANTA_PER_UNIT);
        n++;
      }
    }
    if (n > 0) {
      const exact = Number.isSafeInteger(a) && Number.isSafeInteger(sq);
      scored = exact
        ? { offset, n, sumErr: BigInt(e), sumAbs: BigInt(a), sumSq: BigInt(sq) }
        : { offset, ...bigScore(pending, values, targetIndex, forecast.length, steps) };
    }
  }
  pending.push(forecast);
  // After this reading, the forecast made `steps` readings ago has no step left (and the record
  // may hold fewer: pendingCapacity).
  const keep = pendingCapacity(forecast.length, T);
  if (pending.length > keep) pending.splice(0, pending.length - keep);
  return scored;
}

/**
 * An error whose square in quanta is not a finite number (|err| above ~1e149, which only a
 * pathological scaler lets through the finite guard) is left out, deterministically, rather
 * than stopping the partition.
 */
function scorable(err: number): boolean {
  return Number.isFinite(err * err * ACCURACY_QUANTA_PER_UNIT);
}

/** The same sums as BigInt per error (errors too large for exact double sums of their quanta). */
function bigScore(
  pending: readonly Float64Array[],
  values: ArrayLike<number>,
  targetIndex: ArrayLike<number>,
  length: number,
  steps: number,
): Omit<ScoredReading, 'offset'> {
  const T = targetIndex.length;
  let n = 0;
  let sumErr = 0n;
  let sumAbs = 0n;
  let sumSq = 0n;
  for (let i = 0; i < pending.length; i++) {
    const k = pending.length - i;
    if (pending[i].length !== length || k > steps) continue;
    for (let t = 0; t < T; t++) {
      const err = values[targetIndex[t]] - pending[i][(k - 1) * T + t];
      if (!scorable(err)) continue;
      const q = errorQuanta(err);
      sumErr += q.e;
      sumAbs += q.a;
      sumSq += q.s;
      n++;
    }
  }
  return { n, sumErr, sumAbs, sumSq };
}

/** Scored readings of one (model, version) in a unit, by input partition. */
export class AccuracyTally {
  private readonly parts = new Map<string, { topic: string; partition: number; readings: ScoredReading[] }>();

  add(topic: string, partition: number, reading: ScoredReading): void {
    const k = `${topic}\u0000${partition}`;
    let p = this.parts.get(k);
    if (p === undefined) this.parts.set(k, (p = { topic, partition, readings: [] }));
    p.readings.push(reading);
  }

  /** Adds every reading of `other` (a later round of the same unit). */
  merge(other: AccuracyTally): void {
    for (const p of other.parts.values()) for (const r of p.readings) this.add(p.topic, p.partition, r);
  }

  get empty(): boolean {
    return this.parts.size === 0;
  }

  partitions(): AccuracyPartition[] {
    return [...this.parts.values()];
  }
}
