/** Options of Keras `pad_sequences`. */
export interface PadSequencesOptions {
  /** Row length; defaults to the longest sequence. */
  readonly maxlen?: number | null;
  /** Where pad values go: 'pre' (Keras default) or 'post'. */
  readonly padding?: 'pre' | 'post';
  /** Which end of a too-long sequence is cut: 'pre' (Keras default, keeps the tail) or 'post'. */
  readonly truncating?: 'pre' | 'post';
  /** Pad value (Keras default 0). */
  readonly value?: number;
}

/**
 * Keras `pad_sequences` with dtype int32: one Int32Array of length `maxlen` per sequence.
 * An empty sequence yields a row of pad values.
 */
export function padSequences(
  sequences: readonly ArrayLike<number>[],
  options: PadSequencesOptions = {},
): Int32Array[] {
  const padding = options.padding ?? 'pre';
  const truncating = options.truncating ?? 'pre';
  const value = options.value ?? 0;
  if (padding !== 'pre' && padding !== 'post') {
    throw new Error(`padSequences: padding must be 'pre' or 'post', got ${String(padding)}`);
  }
  if (truncating !== 'pre' && truncating !== 'post') {
    throw new Error(`padSequences: truncating must be 'pre' or 'post', got ${String(truncating)}`);
  }
  let maxlen = options.maxlen ?? null;
  if (maxlen === null) maxlen = sequences.reduce((m, s) => Math.max(m, s.length), 0);
  if (!Number.isInteger(maxlen) || maxlen < 0) {
    throw new Error(`padSequences: maxlen must be a non-negative integer, got ${maxlen}`);
  }
  return sequences.map((s) => padSequence(s, maxlen, padding, truncating, value));
}

/** One row of {@link padSequences}. */
export function padSequence(
  s: ArrayLike<number>,
  maxlen: number,
  padding: 'pre' | 'post' = 'pre',
  truncating: 'pre' | 'post' = 'pre',
  value = 0,
): Int32Array {
  const row = new Int32Array(maxlen).fill(value);
  const n = Math.min(s.length, maxlen);
  if (n === 0) return row;
  const from = truncating === 'pre' ? s.length - n : 0;
  const to = padding === 'pre' ? maxlen - n : 0;
  for (let i = 0; i < n; i++) row[to + i] = s[from + i];
  return row;
}
