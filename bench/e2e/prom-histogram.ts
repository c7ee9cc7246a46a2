/**
 * Reading the worker's own Prometheus histograms from two `/metrics` scrapes: the difference
 * between them is what happened in between (a benchmark phase).
 */

/** One histogram series: cumulative bucket counts by upper bound, sum and count. */
export interface HistogramSeries {
  readonly buckets: Map<number, number>;
  sum: number;
  count: number;
}

/** Parses every series of histogram `name` in a Prometheus text exposition, keyed by `label`'s value ('' without it). */
export function parseHistogram(text: string, name: string, label?: string): Map<string, HistogramSeries> {
  const out = new Map<string, HistogramSeries>();
  const series = (labels: string): HistogramSeries => {
    const id = label === undefined ? '' : (new RegExp(`${label}="([^"]*)"`).exec(labels)?.[1] ?? '');
    let s = out.get(id);
    if (s === undefined) out.set(id, (s = { buckets: new Map(), sum: 0, count: 0 }));
    return s;
  };
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^(\w+?)(_bucket|_sum|_count)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const labels = m[3] ?? '';
    const value = Number(m[4]);
    const s = series(labels);
    if (m[2] === '_sum') s.sum = value;
    else if (m[2] === '_count') s.count = value;
    else {
      const le = /le="([^"]*)"/.exec(labels)?.[1] ?? '+Inf';
      s.buckets.set(le === '+Inf' ? Infinity : Number(le), value);
    }
  }
  return out;
}

/** after − before, series by series. */
export function histogramDelta(
  before: Map<string, HistogramSeries>,
  after: Map<string, HistogramSeries>,
): Map<string, HistogramSeries> {
  const out = new Map<string, HistogramSeries>();
  for (const [id, a] of after) {
    const b = before.get(id);
    const buckets = new Map<number, number>();
    for (const [le, n] of a.buckets) buckets.set(le, n - (b?.buckets.get(le) ?? 0));
    out.set(id, { buckets, sum: a.sum - (b?.sum ?? 0), count: a.count - (b?.count ?? 0) });
  }
  return out;
}

/** Upper bound of the bucket holding quantile q (Prometheus' histogram_quantile without interpolation). */
export function bucketQuantile(s: HistogramSeries, q: number): number {
  const target = q * s.count;
  for (const [le, n] of [...s.buckets].sort((x, y) => x[0] - y[0])) if (n >= target) return le;
  return Infinity;
}

/** A compact summary in milliseconds: count, mean and the bucket bounds of p50 and p99. */
export function summarizeMs(s: HistogramSeries): { count: number; meanMs: number; p50LeMs: number; p99LeMs: number; totalMs: number } {
  const ms = (x: number): number => (Number.isFinite(x) ? Number((x * 1000).toFixed(3)) : x);
  return {
    count: s.count,
    meanMs: s.count > 0 ? ms(s.sum / s.count) : 0,
    p50LeMs: ms(bucketQuantile(s, 0.5)),
    p99LeMs: ms(bucketQuantile(s, 0.99)),
    totalMs: ms(s.sum),
  };
}

/** The value of an unlabelled gauge in a Prometheus text exposition (null when absent). */
export function parseGauge(text: string, name: string): number | null {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? null : Number(line.slice(name.length + 1));
}
