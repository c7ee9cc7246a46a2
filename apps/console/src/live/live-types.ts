/**
 * What the console pushes to the browser (server-sent events on /api/stream) and serves as JSON.
 * Types only: the browser bundle imports them too (the Fleet page's views as well).
 */

/** One step of a sensor key: the reading and what the worker forecast after it. */
export interface SeriesPoint {
  /** Event time, epoch ms. */
  readonly ts: number;
  /** The reading's first feature; null until the reading itself was seen. */
  value: number | null;
  /** Forecast made after this reading, `[t+1 … t+horizon]` of the first feature. */
  forecast: number[] | null;
  anomalyScore: number | null;
  /** |anomalyScore| at or above the console's threshold. */
  flagged: boolean;
  modelVersion: string | null;
  readonly partition: number;
  readonly offset: string;
}

/** The point where a key's forecasts switched from one model version to another. */
export interface VersionMarker {
  readonly ts: number;
  readonly from: string | null;
  readonly to: string;
}

/** A text stream's message with the classification that followed it. */
export interface TextMessage {
  readonly key: string;
  readonly ts: number;
  text: string | null;
  label: string | null;
  scores: Record<string, number | null> | null;
  modelVersion: string | null;
  readonly partition: number;
  readonly offset: string;
}

/** A key in the busiest list or a search result. */
export interface KeySummary {
  readonly key: string;
  readonly kind: 'sensor' | 'text';
  /** Messages per second, exponentially decayed over about a minute. */
  readonly rate: number;
  readonly count: number;
  readonly lastTs: number;
  readonly lastScore: number | null;
}

/** A dead letter as the console shows it: the envelope with the original bytes as safe text. */
export interface DeadLetterView {
  readonly reason: string;
  readonly detail: string;
  readonly source: { readonly topic: string; readonly partition: number; readonly offset: string };
  /** Position of the dead letter itself on the DLQ topic. */
  readonly dlq: { readonly partition: number; readonly offset: string };
  readonly at: string;
  /** The original key, escaped and truncated (see byte-preview.ts). */
  readonly key: string | null;
  /** The original value, escaped and truncated. */
  readonly preview: string | null;
  readonly bytes: number | null;
  readonly truncated: boolean;
}

/** Dead letters per reason per minute (bucket start, epoch ms). */
export interface DeadLetterCounts {
  readonly bucketMs: number;
  readonly buckets: readonly { readonly at: number; readonly byReason: Readonly<Record<string, number>> }[];
  readonly totals: Readonly<Record<string, number>>;
}

/** A model-activated event from the models topic. */
export interface ActivationView {
  readonly model: string;
  readonly version: string;
  readonly previousVersion: string | null;
  readonly policy: string;
  readonly activatedAt: string;
  readonly epoch: number | null;
}

/** Event names and payloads of /api/stream. */
export interface StreamEvents {
  hello: { readonly anomalyThreshold: number; readonly topics: Record<string, string>; readonly key: string | null };
  series: { readonly key: string; readonly kind: 'sensor' | 'text'; readonly points: SeriesPoint[]; readonly markers: VersionMarker[]; readonly messages: TextMessage[] };
  points: { readonly key: string; readonly points: SeriesPoint[]; readonly markers: VersionMarker[] };
  top: { readonly keys: KeySummary[]; readonly totalKeys: number };
  messages: { readonly messages: TextMessage[] };
  deadLetters: { readonly latest: DeadLetterView[]; readonly counts: DeadLetterCounts };
  activation: ActivationView;
}

/** One worker as the Fleet page shows it. */
export interface WorkerView {
  readonly url: string;
  readonly reachable: boolean;
  /** /health/ready answered 200. */
  readonly ready: boolean;
  readonly readyDetail: string;
  /** Input messages per second over the last interval (null on the first scrape). */
  readonly eventsPerSec: number | null;
  readonly predictionsPerSec: number | null;
  readonly deadLettersPerSec: number | null;
  /** Partition batch wall time over the last interval (since start on the first scrape), seconds. */
  readonly batchP50: number | null;
  readonly batchP99: number | null;
  /** The worker's own lag gauge per topic/partition. */
  readonly lag: readonly { readonly topic: string; readonly partition: string; readonly lag: number }[];
  readonly modelVersions: Readonly<Record<string, number>>;
  readonly scrapedAt: string;
}

/** Lag of the workers' group per partition, from the broker (committed offset vs. end). */
export interface GroupLag {
  readonly groupId: string;
  readonly partitions: readonly { readonly topic: string; readonly partition: number; readonly committed: string | null; readonly end: string; readonly lag: string }[];
  readonly error: string | null;
}

/** The Fleet page's data. */
export interface FleetView {
  readonly workers: readonly WorkerView[];
  readonly group: GroupLag | null;
  readonly intervalMs: number;
}
