import type { KeySummary, SeriesPoint, TextMessage, VersionMarker } from './live-types';

/** Limits of a {@link KeyStore}. */
export interface KeyStoreOptions {
  /** Keys kept; the least recently updated one is evicted beyond this. */
  readonly maxKeys: number;
  /** Points (sensor) or messages (text) kept per key, oldest dropped first. */
  readonly pointsPerKey: number;
  /** |anomaly score| at or above which a point is flagged. */
  readonly anomalyThreshold: number;
  /** Wall clock (ms) for the message rates. */
  readonly now?: () => number;
}

/** Everything kept about one key. */
export interface KeyEntry {
  readonly key: string;
  readonly kind: 'sensor' | 'text';
  readonly points: SeriesPoint[];
  readonly markers: VersionMarker[];
  readonly messages: TextMessage[];
  /** Features per reading (the forecast is row-major over them). */
  features: number;
  lastVersion: string | null;
  count: number;
  lastTs: number;
  lastScore: number | null;
  rate: number;
  rateAt: number;
}

/** What one message changed, for the subscribers of its key. */
export type KeyChange =
  | { readonly kind: 'point'; readonly key: string; readonly point: SeriesPoint; readonly marker: VersionMarker | null }
  | { readonly kind: 'message'; readonly key: string; readonly message: TextMessage };

/** Seconds over which the per-key rate decays (an exponentially weighted messages/s). */
const RATE_TAU_MS = 60_000;
/** How far back a forecast or classification looks for the input it answers. */
const MATCH_WINDOW = 256;
/** Version markers kept per key. */
const MAX_MARKERS = 64;

/**
 * The console's memory of the streams: per key a bounded ring of points (readings joined with
 * their forecasts by source coordinates) or text messages (joined with their classifications),
 * version changes, and a decayed message rate; keys form an LRU bounded by `maxKeys`, so memory
 * stays flat however many keys the topics carry. Pure: fed by the Kafka tail, read by the HTTP
 * layer.
 */
export class KeyStore {
  private readonly keys = new Map<string, KeyEntry>();
  private readonly now: () => number;

  constructor(private readonly opts: KeyStoreOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Keys held. */
  get size(): number {
    return this.keys.size;
  }

  /** The entry of `key`, if held (does not count as a use). */
  get(key: string): KeyEntry | undefined {
    return this.keys.get(key);
  }

  /** A sensor reading (first feature charted). */
  reading(key: string, ts: number, values: ArrayLike<number>, partition: number, offset: string): KeyChange {
    const e = this.touch(key, 'sensor', ts);
    e.features = Math.max(1, values.length);
    const p = this.point(e, ts, partition, offset);
    p.value = values.length > 0 ? values[0] : null;
    return { kind: 'point', key, point: p, marker: null };
  }

  /** A forecast made after the reading at `partition`/`offset`. */
  forecast(
    key: string,
    ts: number,
    forecast: readonly (number | null)[],
    anomalyScore: number | null,
    modelVersion: string,
    partition: number,
    offset: string,
  ): KeyChange {
    const e = this.touch(key, 'sensor', ts);
    const p = this.point(e, ts, partition, offset);
    const f = e.features;
    const first: number[] = [];
    for (let i = 0; i < forecast.length; i += f) first.push(forecast[i] ?? Number.NaN);
    p.forecast = first;
    p.anomalyScore = anomalyScore;
    p.flagged = anomalyScore !== null && Math.abs(anomalyScore) >= this.opts.anomalyThreshold;
    p.modelVersion = modelVersion;
    if (anomalyScore !== null) e.lastScore = anomalyScore;
    return { kind: 'point', key, point: p, marker: this.versionSeen(e, ts, modelVersion) };
  }

  /** A text event. */
  textEvent(key: string, ts: number, text: string, partition: number, offset: string): KeyChange {
    const e = this.touch(key, 'text', ts);
    const m = this.message(e, key, ts, partition, offset);
    m.text = text;
    return { kind: 'message', key, message: m };
  }

  /** A classification of the text event at `partition`/`offset`. */
  classification(
    key: string,
    ts: number,
    label: string,
    scores: Record<string, number | null>,
    modelVersion: string,
    partition: number,
    offset: string,
  ): KeyChange {
    const e = this.touch(key, 'text', ts);
    const m = this.message(e, key, ts, partition, offset);
    m.label = label;
    m.scores = scores;
    m.modelVersion = modelVersion;
    this.versionSeen(e, ts, modelVersion);
    return { kind: 'message', key, message: m };
  }

  /** The `n` keys with the highest current rate. */
  top(n: number): KeySummary[] {
    const now = this.now();
    const all: KeySummary[] = [];
    for (const e of this.keys.values()) all.push(this.summary(e, now));
    all.sort((a, b) => b.rate - a.rate || b.count - a.count || (a.key < b.key ? -1 : 1));
    return all.slice(0, n);
  }

  /** Up to `n` keys containing `query` (case-insensitive), busiest first. */
  search(query: string, n: number): KeySummary[] {
    const q = query.toLowerCase();
    const now = this.now();
    const hits: KeySummary[] = [];
    for (const e of this.keys.values()) if (e.key.toLowerCase().includes(q)) hits.push(this.summary(e, now));
    hits.sort((a, b) => (a.key.toLowerCase() === q ? -1 : 0) - (b.key.toLowerCase() === q ? -1 : 0) || b.rate - a.rate || (a.key < b.key ? -1 : 1));
    return hits.slice(0, n);
  }

  private summary(e: KeyEntry, now: number): KeySummary {
    return {
      key: e.key,
      kind: e.kind,
      rate: e.rate * Math.exp(-(now - e.rateAt) / RATE_TAU_MS),
      count: e.count,
      lastTs: e.lastTs,
      lastScore: e.lastScore,
    };
  }

  /** Marks `key` as just used (LRU) and counts the message; evicts the oldest key when full. */
  private touch(key: string, kind: 'sensor' | 'text', ts: number): KeyEntry {
    const now = this.now();
    let e = this.keys.get(key);
    if (e) {
      this.keys.delete(key);
    } else {
      e = { key, kind, points: [], markers: [], messages: [], features: 1, lastVersion: null, count: 0, lastTs: ts, lastScore: null, rate: 0, rateAt: now };
      while (this.keys.size >= this.opts.maxKeys) {
        const oldest = this.keys.keys().next().value as string;
        this.keys.delete(oldest);
      }
    }
    this.keys.set(key, e);
    e.rate = e.rate * Math.exp(-(now - e.rateAt) / RATE_TAU_MS) + 1000 / RATE_TAU_MS;
    e.rateAt = now;
    e.count++;
    if (ts > e.lastTs) e.lastTs = ts;
    return e;
  }

  /** The point of the input at `partition`/`offset`, created in event-time order when new. */
  private point(e: KeyEntry, ts: number, partition: number, offset: string): SeriesPoint {
    const pts = e.points;
    for (let i = pts.length - 1; i >= 0 && i >= pts.length - MATCH_WINDOW; i--) {
      if (pts[i].offset === offset && pts[i].partition === partition) return pts[i];
    }
    const p: SeriesPoint = { ts, value: null, forecast: null, anomalyScore: null, flagged: false, modelVersion: null, partition, offset };
    let at = pts.length;
    while (at > 0 && pts[at - 1].ts > ts) at--;
    pts.splice(at, 0, p);
    if (pts.length > this.opts.pointsPerKey) pts.splice(0, pts.length - this.opts.pointsPerKey);
    return p;
  }

  private message(e: KeyEntry, key: string, ts: number, partition: number, offset: string): TextMessage {
    const ms = e.messages;
    for (let i = ms.length - 1; i >= 0 && i >= ms.length - MATCH_WINDOW; i--) {
      if (ms[i].offset === offset && ms[i].partition === partition) return ms[i];
    }
    const m: TextMessage = { key, ts, text: null, label: null, scores: null, modelVersion: null, partition, offset };
    ms.push(m);
    if (ms.length > this.opts.pointsPerKey) ms.splice(0, ms.length - this.opts.pointsPerKey);
    return m;
  }

  /** Records a version change of the key's predictions at event time `ts`. */
  private versionSeen(e: KeyEntry, ts: number, version: string): VersionMarker | null {
    if (e.lastVersion === version) return null;
    const marker: VersionMarker = { ts, from: e.lastVersion, to: version };
    e.lastVersion = version;
    e.markers.push(marker);
    if (e.markers.length > MAX_MARKERS) e.markers.shift();
    return marker;
  }
}
