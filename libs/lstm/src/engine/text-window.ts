/**
 * Keras' fixed-length reading of a text, evaluated on the stepping engine: the score of a token
 * sequence is `model.predict(pad_sequences([seq], maxlen, padding, truncating))`.
 *
 * The state after k pad tokens (id 0) from Keras' zero state is the same for every sequence, so
 * it is computed once per model (k = 0 … maxlen) and a sequence of n ≤ maxlen tokens costs n
 * steps from the cached state after maxlen − n pads ('pre' padding), or maxlen steps from zeros
 * ('post' padding: its pads come after the tokens; n steps when the Embedding masks zeros, as
 * Keras skips masked steps). Every step and the head run through the engine, batched across
 * sequences (one engine call per step over all sequences that have a step left), so a
 * sequence's result has the same bits whatever else shares its batch.
 */

/** What the window needs of the engine (a subset of `RecurrentModel`). */
export interface TokenStepEngine {
  readonly stateSize: number;
  readonly outputDim: number;
  readonly vocabularySize: number;
  stepTokens(batch: number, tokenIds: Int32Array, state: Float32Array, mask?: Uint8Array): void;
  head(batch: number, state: Float32Array, out: Float32Array): void;
}

/** Keras `pad_sequences` settings of the model's training input. */
export interface TextWindowOptions {
  /** Row length (`maxlen`). */
  readonly maxlen: number;
  /** Where the pads go (Keras default 'pre'). */
  readonly padding: 'pre' | 'post';
  /** Which end of a longer sequence is cut (Keras default 'pre': the last `maxlen` tokens stay). */
  readonly truncating?: 'pre' | 'post';
  /**
   * The Embedding has `mask_zero`: pad steps leave the state unchanged and are skipped. Only a
   * saving: without it the pads are stepped, which for a masking model changes nothing either.
   */
  readonly maskZero?: boolean;
}

/**
 * Largest `maxlen` of a window: a key's state record keeps its last maxlen tokens in the input
 * ring, whose row count is a u16 (libs/state).
 */
export const MAX_WINDOW_LENGTH = 65_535;

/**
 * Scores token sequences as Keras' `model.predict(pad_sequences(...))` does, on a
 * {@link TokenStepEngine}; the states after 0 … maxlen pad tokens are cached at construction.
 * Not re-entrant (scratch buffers are shared), like the engine.
 */
export class TextWindow {
  readonly maxlen: number;
  readonly padding: 'pre' | 'post';
  readonly truncating: 'pre' | 'post';
  readonly maskZero: boolean;
  /** (maxlen + 1) × stateSize: row k is the state after k pad tokens from zeros. */
  private readonly padStates: Float32Array;
  private state = new Float32Array(0);
  private ids = new Int32Array(0);
  private mask = new Uint8Array(0);
  private first = new Int32Array(0);
  private steps = new Int32Array(0);
  private count = new Int32Array(0);

  constructor(
    private readonly engine: TokenStepEngine,
    options: TextWindowOptions,
  ) {
    const { maxlen, padding } = options;
    if (!Number.isInteger(maxlen) || maxlen < 1 || maxlen > MAX_WINDOW_LENGTH) {
      throw new RangeError(`TextWindow: maxlen must be an integer in [1, ${MAX_WINDOW_LENGTH}], got ${maxlen}`);
    }
    if (padding !== 'pre' && padding !== 'post') throw new RangeError(`TextWindow: padding must be 'pre' or 'post'`);
    const truncating = options.truncating ?? 'pre';
    if (truncating !== 'pre' && truncating !== 'post') throw new RangeError(`TextWindow: truncating must be 'pre' or 'post'`);
    if (engine.vocabularySize === 0) throw new Error('TextWindow: the model has no Embedding layer');
    this.maxlen = maxlen;
    this.padding = padding;
    this.truncating = truncating;
    this.maskZero = options.maskZero === true;
    const S = engine.stateSize;
    // 'post' rows start from zeros; only 'pre' needs the states after 1..maxlen pads.
    const cached = padding === 'pre' && !this.maskZero ? maxlen : 0;
    this.padStates = new Float32Array((maxlen + 1) * S);
    const row = new Float32Array(S);
    const pad = new Int32Array(1);
    for (let k = 1; k <= cached; k++) {
      engine.stepTokens(1, pad, row);
      this.padStates.set(row, k * S);
    }
  }

  /** The state after `k` pad tokens from zeros (0 ≤ k ≤ maxlen); a view into the cache. */
  padState(k: number): Float32Array {
    if (!Number.isInteger(k) || k < 0 || k > this.maxlen) throw new RangeError(`padState: k must be in [0, ${this.maxlen}]`);
    const S = this.engine.stateSize;
    const at = this.padding === 'pre' && !this.maskZero ? k : 0;
    return this.padStates.subarray(at * S, at * S + S);
  }

  /**
   * Scores `rows` token sequences: row r's tokens are `tokens[offsets[r] .. offsets[r + 1])` (any
   * length; cut to `maxlen` by `truncating`). Writes rows × outputDim floats to `out`: row r equals
   * the model's output on `pad_sequences([row r], maxlen, padding, truncating)`. With `finalState`
   * (rows × stateSize floats), the recurrent state at the end of each padded row is written there.
   */
  evaluate(rows: number, tokens: Int32Array, offsets: Int32Array, out: Float32Array, finalState?: Float32Array): void {
    const e = this.engine;
    const S = e.stateSize;
    if (!Number.isInteger(rows) || rows < 0) throw new RangeError(`evaluate: rows must be a non-negative integer`);
    if (offsets.length < rows + 1) throw new RangeError(`evaluate: offsets needs ${rows + 1} entries, has ${offsets.length}`);
    if (out.length < rows * e.outputDim) throw new RangeError(`evaluate: out has ${out.length} floats, need ${rows * e.outputDim}`);
    if (finalState && finalState.length < rows * S) throw new RangeError(`evaluate: finalState has ${finalState.length} floats, need ${rows * S}`);
    if (rows === 0) return;
    this.reserve(rows);
    const { maxlen } = this;
    const vocab = e.vocabularySize;
    let longest = 0;
    for (let r = 0; r < rows; r++) {
      const a = offsets[r];
      const b = offsets[r + 1];
      if (!(a >= 0 && b >= a && b <= tokens.length)) throw new RangeError(`evaluate: row ${r} spans [${a}, ${b}) outside the ${tokens.length} tokens`);
      for (let i = a; i < b; i++) {
        if (tokens[i] < 0 || tokens[i] >= vocab) throw new RangeError(`evaluate: row ${r} has token id ${tokens[i]} outside [0, ${vocab})`);
      }
      const n = Math.min(b - a, maxlen);
      this.count[r] = n;
      this.first[r] = this.truncating === 'pre' ? b - n : a;
      // 'pre': the pads are in the cached start state; 'post': pads follow the tokens.
      const steps = this.padding === 'pre' || this.maskZero ? n : maxlen;
      this.steps[r] = steps;
      if (steps > longest) longest = steps;
      this.state.set(this.padState(this.padding === 'pre' ? maxlen - n : 0), r * S);
    }
    for (let t = 0; t < longest; t++) {
      let all = true;
      for (let r = 0; r < rows; r++) {
        const live = t < this.steps[r];
        this.mask[r] = live ? 1 : 0;
        this.ids[r] = live && t < this.count[r] ? tokens[this.first[r] + t] : 0;
        if (!live) all = false;
      }
      e.stepTokens(rows, this.ids, this.state, all ? undefined : this.mask);
    }
    e.head(rows, this.state, out);
    if (finalState) finalState.set(this.state.subarray(0, rows * S));
  }

  private reserve(rows: number): void {
    if (this.ids.length >= rows) return;
    const n = Math.max(rows, this.ids.length * 2);
    this.state = new Float32Array(n * this.engine.stateSize);
    this.ids = new Int32Array(n);
    this.mask = new Uint8Array(n);
    this.first = new Int32Array(n);
    this.steps = new Int32Array(n);
    this.count = new Int32Array(n);
  }
}
