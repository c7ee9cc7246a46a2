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
