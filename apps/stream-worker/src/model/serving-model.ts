/**
 * What the batch processor needs of a loaded model version: the engine (typed-array stepping),
 * the task's pre/post-processing parameters and the swap policy. Built by the model loader from
 * a registry artifact; framework-free so the processor can be tested with a hand-made engine.
 */
import type { SwapPolicy } from '@app/contracts';

export type { SwapPolicy };

/** The subset of `@app/lstm` RecurrentModel the worker uses. */
export interface StepEngine {
  readonly stateSize: number;
  readonly inputDim: number;
  readonly outputDim: number;
  /** Embedding rows (0 without an embedding). */
  readonly vocabularySize: number;
  step(batch: number, x: Float32Array, state: Float32Array, mask?: Uint8Array): void;
  stepTokens(batch: number, tokenIds: Int32Array, state: Float32Array, mask?: Uint8Array): void;
  head(batch: number, state: Float32Array, out: Float32Array): void;
}

/** Forecast task parameters (sidecar task `forecast`). */
export interface ForecastTask {
  readonly kind: 'forecast';
  /** Raw input values per event (without the time delta). */
  readonly valueCount: number;
  /** The time delta in seconds is appended as the last feature. */
  readonly includeTimeDelta: boolean;
  /** Scaler over every feature, delta included (length valueCount + (includeTimeDelta ? 1 : 0)). */
  readonly mean: Float64Array;
  readonly scale: Float64Array;
  /** Forecast length (= engine.outputDim): horizon steps × targets, row-major. */
  readonly horizon: number;
  /**
   * Feature index of each forecast target (sidecar `input.targets`, default every value feature):
   * output j is de-scaled with the mean and scale of feature targetIndex[j mod targets].
   */
  readonly targetIndex: Int32Array;
  /**
   * Keras `Masking(mask_value)` in front of the recurrent layers: a step whose scaled features
   * all equal it leaves the state unchanged, as Keras skips masked timesteps. Null without one.
   */
  readonly maskValue?: number | null;
}

/** Classify task parameters (sidecar task `classify`). */
export interface ClassifyTask {
  readonly kind: 'classify';
  /** Text → token ids (Keras tokenizer semantics). */
  tokenize(text: string): number[];
  /** One label per score. */
  readonly labels: readonly string[];
  /** One sigmoid unit: scores are [1 − p, p]. */
  readonly binarySigmoid: boolean;
  /**
   * Text mode 'window' (sidecar `input.mode`): each message is scored on the key's last `maxlen`
   * tokens as Keras' pad_sequences + predict reads them (@app/lstm TextWindow); absent or null:
   * mode 'stream', one step per token over the whole stream.
   */
  readonly window?: WindowScorer | null;
}

/** The subset of `@app/lstm` TextWindow the worker uses. */
export interface WindowScorer {
  readonly maxlen: number;
  /** Row r = tokens[offsets[r] .. offsets[r + 1]) → out[r × outputDim ..], Keras' output on the padded row. */
  evaluate(rows: number, tokens: Int32Array, offsets: Int32Array, out: Float32Array): void;
}

/** One loaded, ready-to-serve model version. */
export interface ServingModel {
  readonly name: string;
  readonly version: number;
  /** Version as it appears on predictions (string). */
  readonly versionLabel: string;
  readonly engine: StepEngine;
  readonly task: ForecastTask | ClassifyTask;
  /** State of a key that starts a sequence (zeros, or after the padding prefix). */
  readonly initialState: Float32Array;
  /** Policy for keys whose state was computed by another version. */
  readonly policy: SwapPolicy;
}

/** Number of float features per step of a forecast model. */
export function forecastFeatureCount(task: ForecastTask): number {
  return task.valueCount + (task.includeTimeDelta ? 1 : 0);
}

/**
 * The state after `prefix` pad tokens (id 0) from zeros: a model trained on pre-padded
 * sequences starts every key there, so incremental results match training-time inputs.
 */
export function paddedInitialState(engine: StepEngine, prefix: number): Float32Array {
  const state = new Float32Array(engine.stateSize);
  if (prefix > 0) {
    const ids = new Int32Array(1);
    for (let i = 0; i < prefix; i++) engine.stepTokens(1, ids, state);
  }
  return state;
}
