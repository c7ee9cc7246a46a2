import type { EmbeddingSpec } from './model-spec';
import type { LayerPlan } from './layer-plan';

/** Which stepping kernel a model runs on. */
export type KernelKind = 'wasm' | 'ts';

/**
 * A compiled step kernel for one model. Inputs are validated by `RecurrentModel` before they get
 * here. `mask` (when given) has one byte per key: 0 leaves that key's state untouched.
 */
export interface Stepper {
  readonly kind: KernelKind;
  step(batch: number, x: Float32Array, state: Float32Array, mask: Uint8Array | undefined): void;
  stepTokens(batch: number, tokens: Int32Array, state: Float32Array, mask: Uint8Array | undefined): void;
}

/** What every stepper is built from. */
export interface StepperPlan {
  readonly layers: readonly LayerPlan[];
  readonly stateSize: number;
  readonly embedding: EmbeddingSpec | null;
}
