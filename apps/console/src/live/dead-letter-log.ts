import type { DlqEnvelope } from '@app/contracts';
import { previewBase64 } from './byte-preview';
import type { DeadLetterCounts, DeadLetterView } from './live-types';

/** Minutes of per-reason counts kept. */
const BUCKET_MS = 60_000;
const BUCKETS = 60;

/**
 * The dead letters the console has seen: the latest `keep` as safe views (original bytes escaped
 * and truncated, never the raw bytes) and counts per reason per minute of rejection time.
 */
export class DeadLetterLog {
  private readonly latest: DeadLetterView[] = [];
  private readonly buckets = new Map<number, Record<string, number>>();
  private readonly totals: Record<string, number> = {};

  constructor(private readonly keep = 200) {}

  /** DLQ positions counted (a tail restarted after topics appeared reads some again). */
  private readonly seen = new Set<string>();

  /** Adds one envelope read at `dlqPartition`/`dlqOffset`; returns its view, or null when already counted. */
  add(env: DlqEnvelope, dlqPartition: number, dlqOffset: string): DeadLetterView | null {
    const position = `${dlqPartition}:${dlqOffset}`;
    if (this.seen.has(position)) return null;
    this.seen.add(position);
    if (this.seen.size > 100_000) this.seen.delete(this.seen.values().next().value as string);
    const value = previewBase64(env.value);
    const key = previewBase64(env.key, 128);
    const view: DeadLetterView = {
      reason: String(env.reason),
      detail: String(env.detail ?? ''),
      source: { topic: String(env.source?.topic ?? ''), partition: Number(env.source?.partition ?? -1), offset: String(env.source?.offset ?? '') },
      dlq: { partition: dlqPartition, offset: dlqOffset },
      at: String(env.at ?? ''),
      key: key ? key.text : null,
      preview: value ? value.text : null,
      bytes: value ? value.bytes : null,
      truncated: value ? value.truncated : false,
    };
    this.latest.push(view);
    if (this.latest.length > this.keep) this.latest.shift();
    const at = Date.parse(view.at);
    if (Number.isFinite(at)) {
      const bucket = Math.floor(at / BUCKET_MS) * BUCKET_MS;
      let b = this.buckets.get(bucket);
      if (!b) {
        b = {};
        this.buckets.set(bucket, b);
        const oldest = [...this.buckets.keys()].sort((x, y) => x - y);
        while (oldest.length > BUCKETS) this.buckets.delete(oldest.shift()!);
      }
      b[view.reason] = (b[view.reason] ?? 0) + 1;
    }
    this.totals[view.reason] = (this.totals[view.reason] ?? 0) + 1;
    return view;
  }

  /** The latest `n`, newest first. */
  recent(n = this.keep): DeadLetterView[] {
    return this.latest.slice(-n).reverse();
  }

  counts(): DeadLetterCounts {
    const buckets = [...this.buckets.entries()].sort((a, b) => a[0] - b[0]).map(([at, byReason]) => ({ at, byReason: { ...byReason } }));
    return { bucketMs: BUCKET_MS, buckets, totals: { ...this.totals } };
  }
}
