import type { CollectedMessage } from './test-kafka';

/** Source coordinates carried by every prediction and dead letter. */
export interface SourceRef {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

/** What {@link checkCoverage} found. */
export interface CoverageReport {
  /** Predictions read for this source topic. */
  readonly predictions: number;
  /** Distinct source offsets with a prediction. */
  readonly covered: number;
  /** Source offsets that should have a prediction and have none (first 20). */
  readonly missing: readonly string[];
  readonly missingCount: number;
  /** Offsets predicted more than once. */
  readonly duplicated: number;
  /** Offsets whose duplicate predictions differ in bytes (first 20, with both bodies). */
  readonly differingDuplicates: readonly string[];
  /** Predictions whose source offset does not exist in the input. */
  readonly unexpected: readonly string[];
}

/** Source of a prediction's body. */
export function sourceOf(m: CollectedMessage): SourceRef {
  const body = JSON.parse(m.value!.toString('utf8')) as { source: SourceRef };
  return body.source;
}

/**
 * Groups the predictions of `sourceTopic` by source offset and checks that every expected offset
 * has one and that duplicates are byte-identical (key and value).
 */
export function checkCoverage(
  predictions: readonly CollectedMessage[],
  sourceTopic: string,
  expected: ReadonlySet<string>,
): CoverageReport {
  const byOffset = new Map<string, CollectedMessage[]>();
  for (const m of predictions) {
    const s = sourceOf(m);
    if (s.topic !== sourceTopic) continue;
    const id = `${s.partition}/${s.offset}`;
    let list = byOffset.get(id);
    if (!list) byOffset.set(id, (list = []));
    list.push(m);
  }
  const missing: string[] = [];
  let missingCount = 0;
  for (const id of expected) {
    if (!byOffset.has(id)) {
      missingCount++;
      if (missing.length < 20) missing.push(id);
    }
  }
  let duplicated = 0;
  const differing: string[] = [];
  const unexpected: string[] = [];
  let count = 0;
  for (const [id, list] of byOffset) {
    count += list.length;
    if (!expected.has(id) && unexpected.length < 20) unexpected.push(id);
    if (list.length > 1) {
      duplicated++;
      const first = list[0];
      for (const other of list.slice(1)) {
        if (!bytesEqual(first.key, other.key) || !bytesEqual(first.value, other.value)) {
          if (differing.length < 20)
            differing.push(`${id}: ${first.value?.toString()} <> ${other.value?.toString()}`);
          break;
        }
      }
    }
  }
  return {
    predictions: count,
    covered: byOffset.size,
    missing,
    missingCount,
    duplicated,
    differingDuplicates: differing,
    unexpected,
  };
}

/** Every offset `0..end-1` of every partition, as `partition/offset`. */
export function allOffsets(ends: ReadonlyMap<number, bigint>): Set<string> {
  const out = new Set<string>();
  for (const [p, end] of ends) for (let o = 0n; o < end; o++) out.add(`${p}/${o}`);
  return out;
}

/** Byte equality of two optional buffers. */
export function bytesEqual(a: Buffer | null, b: Buffer | null): boolean {
  if (a === null || b === null) return a === b;
  return a.equals(b);
}

/**
 * One prediction per source offset, as a JSON string with the fields that legitimately differ
 * between two runs (model name, source topic) replaced, so runs can be compared bit for bit:
 * JSON.parse/stringify keeps key order and round-trips every double exactly.
 */
export function normalizedPredictions(
  predictions: readonly CollectedMessage[],
  sourceTopic: string,
): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of predictions) {
    const body = JSON.parse(m.value!.toString('utf8')) as Record<string, unknown> & { source: SourceRef };
    if (body.source.topic !== sourceTopic) continue;
    const id = `${body.source.partition}/${body.source.offset}`;
    const norm = { ...body, model: '<model>', source: { ...body.source, topic: '<topic>' } };
    out.set(id, `${m.key?.toString('utf8')}|${JSON.stringify(norm)}`);
  }
  return out;
}

/** Differences between two normalized prediction maps (first `limit`). */
export function diffPredictionMaps(
  a: ReadonlyMap<string, string>,
  b: ReadonlyMap<string, string>,
  limit = 10,
): string[] {
  const out: string[] = [];
  for (const [id, va] of a) {
    const vb = b.get(id);
    if (vb !== va) {
      out.push(`${id}: ${va} <> ${vb ?? '(none)'}`);
      if (out.length >= limit) break;
    }
  }
  if (a.size !== b.size) out.push(`sizes differ: ${a.size} vs ${b.size}`);
  return out;
}
