import { DenseHead } from './dense-head';
import { planLayers, type LayerPlan } from './layer-plan';
import type { RecurrentModelSpec } from './model-spec';
import type { KernelKind, Stepper } from './stepper';
import { TsStepper } from './ts-stepper';
import { createWasmStepper, loadWasmKernel } from './wasm-stepper';

/** Kernel choice: `auto` takes WASM SIMD when the built kernel is present and validates, else TS. */
export type KernelPreference = 'auto' | KernelKind;

/** Options of {@link RecurrentModel}. */
export interface RecurrentModelOptions {
  /**
   * Which kernel to run. Default: env `STREAMCELL_LSTM_KERNEL` (`auto` | `wasm` | `ts`), else `auto`.
   * Forcing `wasm` throws when the WASM kernel cannot be loaded.
   */
  readonly kernel?: KernelPreference;
  /** Path of kernel.wasm. Default: env `STREAMCELL_LSTM_WASM`, else found by walking up to libs/lstm/wasm/build. */
  readonly wasmPath?: string;
  /** Batch size the scratch buffers are first sized for (they grow on demand). Default 256. */
  readonly initialBatch?: number;
}

/** Where one recurrent layer's vectors sit in a key's state row. */
export interface StateLayoutEntry {
  readonly kind: 'lstm' | 'gru';
  readonly units: number;
  /** Offset (floats) of h within the key's row. */
  readonly hOffset: number;
  /** Offset (floats) of c within the key's row, or -1 for GRU. */
  readonly cOffset: number;
}

function resolvePreference(opt: KernelPreference | undefined): KernelPreference {
  const v = opt ?? process.env.STREAMCELL_LSTM_KERNEL ?? 'auto';
  if (v !== 'auto' && v !== 'wasm' && v !== 'ts') {
    throw new Error(`STREAMCELL_LSTM_KERNEL / kernel option must be auto, wasm or ts (got '${v}')`);
  }
  return v;
}

/**
 * A stateful recurrent model (optional Embedding → stacked LSTM/GRU → Dense head) that advances
 * B independent keys by one step at a time on typed arrays, with Keras semantics.
 *
 * State layout: each key owns `stateSize` consecutive floats; for each recurrent layer in order,
 * `h` (units floats) then, for LSTM only, `c` (units floats). A zeroed row is Keras' initial state.
 * Results for a key are bit-identical whatever other keys share its batch and whatever the batch size.
 * Steady-state stepping allocates nothing. Not safe for concurrent use (scratch buffers are shared).
 */
export class RecurrentModel {
  /** Floats per key in the state array. */
  readonly stateSize: number;
  /** Features per step for {@link step} (the first recurrent layer's input width). */
  readonly inputDim: number;
  /** Floats per key written by {@link head}. */
  readonly outputDim: number;
  /** Vocabulary size of the embedding (0 without one). */
  readonly vocabularySize: number;
  /** Kernel actually in use. */
  readonly kernel: KernelKind;
  /** Per recurrent layer: kind, units and offsets inside a key's state row. */
  readonly layout: readonly StateLayoutEntry[];
  private readonly stepper: Stepper;
  private readonly dense: DenseHead;
  private readonly last: LayerPlan;

  constructor(
    readonly spec: RecurrentModelSpec,
    options: RecurrentModelOptions = {},
  ) {
    const { layers, stateSize } = planLayers(spec);
    this.stateSize = stateSize;
    this.inputDim = layers[0].inputDim;
    this.last = layers[layers.length - 1];
    this.dense = new DenseHead(spec.head ?? [], this.last.units);
    this.outputDim = this.dense.outputDim;
    this.vocabularySize = spec.embedding ? spec.embedding.inputDim : 0;
    this.layout = layers.map((l) => ({
      kind: l.kind,
      units: l.units,
      hOffset: l.hOffset,
      cOffset: l.cOffset,
    }));
    const plan = { layers, stateSize, embedding: spec.embedding ?? null };
    const pref = resolvePreference(options.kernel);
    const initialBatch = Math.max(1, options.initialBatch ?? 256);
    let stepper: Stepper | null = null;
    if (pref !== 'ts') {
      const wasm = loadWasmKernel(options.wasmPath);
      if (wasm.module) stepper = createWasmStepper(wasm.module, plan, initialBatch);
      else if (pref === 'wasm') throw new Error(`WASM kernel requested but unavailable: ${wasm.reason}`);
    }
    this.stepper = stepper ?? new TsStepper(plan);
    this.kernel = this.stepper.kind;
  }

  /** A zeroed state array for `batch` keys (Keras' initial state). */
  createState(batch: number): Float32Array {
    return new Float32Array(batch * this.stateSize);
  }

  /** Offset (floats) of the last recurrent layer's h in a key's state row (the head's input). */
  get outputStateOffset(): number {
    return this.last.hOffset;
  }

  /**
   * Advances `batch` keys by one step. `x` holds `batch` rows of `inputDim` floats; `state` holds
   * `batch` rows of `stateSize` floats and is updated in place. With `mask`, keys whose byte is 0
   * are left untouched (no event at this step).
   */
  step(batch: number, x: Float32Array, state: Float32Array, mask?: Uint8Array): void {
    this.checkBatch(batch, state, mask);
    if (x.length < batch * this.inputDim) {
      throw new Error(`step: x has ${x.length} floats, need ${batch * this.inputDim}`);
    }
    if (batch === 0) return;
    this.stepper.step(batch, x, state, mask);
  }

  /**
   * Advances `batch` keys by one token each through the embedding. With `maskZero`, token 0 leaves
   * the key's state unchanged (as Keras' masking does); `mask` works as in {@link step}.
   */
  stepTokens(batch: number, tokenIds: Int32Array, state: Float32Array, mask?: Uint8Array): void {
    const vocab = this.vocabularySize;
    if (vocab === 0) throw new Error('stepTokens: the model has no embedding layer');
    this.checkBatch(batch, state, mask);
    if (tokenIds.length < batch)
      throw new Error(`stepTokens: ${tokenIds.length} token ids for batch ${batch}`);
    for (let b = 0; b < batch; b++) {
      const t = tokenIds[b];
      if (t < 0 || t >= vocab) throw new RangeError(`stepTokens: token id ${t} outside [0, ${vocab})`);
    }
    if (batch === 0) return;
    this.stepper.stepTokens(batch, tokenIds, state, mask);
  }

  /** Applies the dense head to each key's last-layer h; writes `batch` rows of `outputDim` floats. */
  head(batch: number, state: Float32Array, out: Float32Array): void {
    this.checkBatch(batch, state, undefined);
    if (out.length < batch * this.outputDim) {
      throw new Error(`head: out has ${out.length} floats, need ${batch * this.outputDim}`);
    }
    this.dense.apply(batch, state, this.stateSize, this.last.hOffset, out);
  }

  private checkBatch(batch: number, state: Float32Array, mask: Uint8Array | undefined): void {
    if (!Number.isInteger(batch) || batch < 0)
      throw new Error(`batch must be a non-negative integer (got ${batch})`);
    if (state.length < batch * this.stateSize) {
      throw new Error(`state has ${state.length} floats, need ${batch * this.stateSize}`);
    }
    if (mask !== undefined && mask.length < batch)
      throw new Error(`mask has ${mask.length} bytes, need ${batch}`);
  }
}
