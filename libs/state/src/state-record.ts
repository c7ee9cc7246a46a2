/**
 * Bounded ring of a key's most recent model inputs, oldest first, kept for the `rewarm` swap
 * policy (replay the last N inputs through a new model version).
 */
export interface InputRing {
  /** Rows held (≤ the configured capacity). */
  readonly count: number;
  /** Features per row (the model's input width at one step). */
  readonly dim: number;
  /** count × dim floats, row-major, oldest row first. */
  readonly rows: Float32Array;
}

/**
 * One key's state for one model (docs/architecture.md, State record). The stepping engine owns what
 * `state` and `extras` mean; this lib stores them bit-exactly.
 */
export interface StateRecord {
  /** Model version that produced `state`. */
  readonly modelVersion: string;
  /** Partition of the last applied event; {@link NO_PARTITION} when none. */
  readonly partition: number;
  /** Offset of the last applied event; {@link NO_OFFSET} when none. */
  readonly offset: bigint;
  /** Steps applied since the key's state was last (re)started from zeros. */
  readonly steps: number;
  /** Event time (epoch ms) of the last applied event; NaN when none. */
  readonly lastEventTs: number;
  /** Engine state: h and c of every layer, concatenated (float32). */
  readonly state: Float32Array;
  /** Task extras, e.g. last forecast and residual mean/variance (float32; may be empty). */
  readonly extras: Float32Array;
  /** Recent inputs for `rewarm`; null when the model does not keep them. */
  readonly ring: InputRing | null;
}

/** `partition` of a record that has applied no event yet. */
export const NO_PARTITION = -1;
/** `offset` of a record that has applied no event yet. */
export const NO_OFFSET = -1n;

/** Parses a Kafka offset (decimal string, as kafkajs reports it) into the record's bigint form. */
export function toOffset(offset: string | bigint | number): bigint {
  return typeof offset === 'bigint' ? offset : BigInt(offset);
}

/**
 * True when the event at (partition, offset) is already reflected in `record`: same partition
 * and an offset at or below the last applied one. The worker skips such events on replay, which
 * is what makes state transitions exactly-once.
 */
export function isAlreadyApplied(
  record: StateRecord | null | undefined,
  partition: number,
  offset: string | bigint,
): boolean {
  if (!record || record.partition !== partition || record.partition === NO_PARTITION) return false;
  return toOffset(offset) <= record.offset;
}

/**
 * Appends one input row to a ring of at most `capacity` rows, dropping the oldest; returns a new
 * ring (the old one is not modified). A row of a different width starts a fresh ring; capacity
 * 0 gives null (no ring kept).
 */
export function pushInputRow(
  ring: InputRing | null,
  row: ArrayLike<number>,
  capacity: number,
): InputRing | null {
  if (capacity <= 0) return null;
  const dim = row.length;
  const keep = ring && ring.dim === dim ? Math.min(ring.count, capacity - 1) : 0;
  const rows = new Float32Array((keep + 1) * dim);
  if (keep > 0 && ring) rows.set(ring.rows.subarray((ring.count - keep) * dim, ring.count * dim));
  rows.set(row, keep * dim);
  return { count: keep + 1, dim, rows };
}
