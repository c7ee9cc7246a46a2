import type { InputRing } from '@app/state';

/**
 * Task extras kept in a key's state record next to h and c, mapped onto the @app/state record:
 *
 * - forecast `extras`: four float64 values (residual count + 1, or 0 before the key's first
 *   forecast; lastForecast0; residualMean; residualM2) stored as the 8 float32 words of their
 *   bytes (the state codec copies float32 data bit for bit, so the running statistics keep full
 *   double precision and a replay reproduces them exactly, whatever the batch boundaries);
 *   classify: none before the key's first classification, then one float64 (2 words): the
 *   positive-class probability of the key's latest classification (binary classifiers; labels
 *   are scored against it, docs/accuracy.md). Records written before this layout hold five float64 (hasForecast,
 *   lastForecast0, residualCount, residualMean, residualM2; 10 words) and still decode.
 *   Folding hasForecast into the count is exact: residuals are only counted once a forecast
 *   exists, so "no forecast yet" always has a count of 0.
 *   When forecasts still wait for readings to be scored against (live accuracy,
 *   docs/accuracy.md), a fifth float64 holds their count n, then each forecast's steps still to
 *   be scored follow as float64, oldest first: the one made m readings ago (m = 0 for the
 *   newest) keeps its steps m+1 … H, (H − m) × T values (H horizon steps, T targets). At least
 *   12 words, never 10, so the legacy layout stays unambiguous. No pending forecasts: the
 *   four-float64 layout.
 * - `ring`: the last `keep` inputs for the rewarm swap policy (the caller passes 0 for models
 *   not served with rewarm, so they store none): forecast = raw (unscaled) feature rows incl.
 *   the time delta in seconds; classify = token ids (one per row, exact in float32 below 2^24).
 */

/** Forecast extras. */
export interface ForecastExtras {
  kind: 'forecast';
  hasForecast: boolean;
  lastForecast0: number;
  residualCount: number;
  residualMean: number;
  residualM2: number;
  /**
   * Forecasts still waiting for readings to be scored against, oldest first (at most the
   * horizon's step count; each of the model's output length, de-scaled, float64).
   */
  pending: Float64Array[];
  /** Features per history row. */
  featureCount: number;
  history: Float32Array[];
}

/** Classify extras. */
export interface ClassifyExtras {
  kind: 'classify';
  history: number[];
  /**
   * Positive-class probability of the key's latest classification (binary classifiers), null
   * before the first one or for a classifier of more than two labels.
   */
  lastScore: number | null;
}

export type TaskExtras = ForecastExtras | ClassifyExtras;

/** Float32 words of the forecast extras (four float64). */
export const FORECAST_EXTRAS_WORDS = 8;
/** Float32 words of the forecast extras of records written before the four-float64 layout. */
const LEGACY_FORECAST_WORDS = 10;

/** Extras of a key that starts a sequence. */
export function freshExtras(kind: 'forecast' | 'classify', featureCount: number): TaskExtras {
  return kind === 'forecast'
    ? {
        kind,
        hasForecast: false,
        lastForecast0: 0,
        residualCount: 0,
        residualMean: 0,
        residualM2: 0,
        pending: [],
        featureCount,
        history: [],
      }
    : { kind, history: [], lastScore: null };
}

/**
 * Encodes extras into the record's `extras` and `ring`, keeping at most `keep` history rows;
 * `targets`: forecast targets per horizon step (T).
 */
export function encodeExtras(x: TaskExtras, keep: number, targets = 1): { extras: Float32Array; ring: InputRing | null } {
  if (x.kind === 'forecast') {
    const n = x.pending.length;
    const tails = x.pending.map((f, i) => f.subarray((n - 1 - i) * targets));
    const d = new Float64Array(n > 0 ? 5 + tails.reduce((s, t) => s + t.length, 0) : 4);
    d.set([x.hasForecast ? x.residualCount + 1 : 0, x.lastForecast0, x.residualMean, x.residualM2]);
    if (n > 0) {
      d[4] = n;
      let at = 5;
      for (const t of tails) {
        d.set(t, at);
        at += t.length;
      }
    }
    const hist = keep > 0 ? x.history.slice(-keep) : [];
    let ring: InputRing | null = null;
    if (hist.length > 0) {
      const rows = new Float32Array(hist.length * x.featureCount);
      hist.forEach((r, i) => rows.set(r, i * x.featureCount));
      ring = { count: hist.length, dim: x.featureCount, rows };
    }
    return { extras: new Float32Array(d.buffer), ring };
  }
  const hist = keep > 0 ? x.history.slice(-keep) : [];
  return {
    extras: x.lastScore === null ? new Float32Array(0) : new Float32Array(Float64Array.of(x.lastScore).buffer),
    ring: hist.length > 0 ? { count: hist.length, dim: 1, rows: Float32Array.from(hist) } : null,
  };
}

/**
 * Decodes extras for a task; null when they do not fit it (another task, another feature width):
 * the caller then starts the key's extras fresh, which only affects the anomaly score and rewarm.
 * Pending forecasts that do not fit `forecastLength` outputs over `targets` targets are dropped
 * (not scored); the steps already scored of a decoded forecast read as NaN (never read again).
 */
export function decodeExtras(
  extras: Float32Array | null | undefined,
  ring: InputRing | null | undefined,
  kind: 'forecast' | 'classify',
  featureCount: number,
  forecastLength = 0,
  targets = 1,
): TaskExtras | null {
  if (kind === 'forecast') {
    if (!extras || extras.length < FORECAST_EXTRAS_WORDS || extras.length % 2 !== 0) return null;
    if (ring && ring.dim !== featureCount) return null;
    const d = new Float64Array(extras.slice().buffer);
    const history: Float32Array[] = [];
    if (ring) for (let i = 0; i < ring.count; i++) history.push(ring.rows.slice(i * ring.dim, (i + 1) * ring.dim));
    if (extras.length === LEGACY_FORECAST_WORDS) {
      return {
        kind,
        hasForecast: d[0] === 1,
        lastForecast0: d[1],
        residualCount: d[2],
        residualMean: d[3],
        residualM2: d[4],
        pending: [],
        featureCount,
        history,
      };
    }
    return {
      kind,
      hasForecast: d[0] > 0,
      lastForecast0: d[1],
      residualCount: d[0] > 0 ? d[0] - 1 : 0,
      residualMean: d[2],
      residualM2: d[3],
      pending: pendingOf(d, forecastLength, targets),
      featureCount,
      history,
    };
  }
  if (extras && extras.length !== 0 && extras.length !== 2) return null;
  if (ring && ring.dim !== 1) return null;
  return {
    kind,
    history: ring ? Array.from(ring.rows.subarray(0, ring.count)) : [],
    lastScore: extras && extras.length === 2 ? new Float64Array(extras.slice().buffer)[0] : null,
  };
}

/** Pending forecasts of the layout with a fifth float64 (none when they do not fit `length` × `targets`). */
function pendingOf(d: Float64Array, length: number, targets: number): Float64Array[] {
  if (d.length <= 4 || length <= 0 || targets <= 0 || length % targets !== 0) return [];
  const n = d[4];
  const H = length / targets;
  if (!Number.isInteger(n) || n < 1 || n > H) return [];
  // Forecast i (oldest first) was made m = n − 1 − i readings ago and kept (H − m) × T values.
  const stored = targets * (n * H - (n * (n - 1)) / 2);
  if (d.length !== 5 + stored) return [];
  const out: Float64Array[] = [];
  let at = 5;
  for (let i = 0; i < n; i++) {
    const skip = (n - 1 - i) * targets;
    const f = new Float64Array(length).fill(Number.NaN);
    f.set(d.subarray(at, at + length - skip), skip);
    at += length - skip;
    out.push(f);
  }
  return out;
}
