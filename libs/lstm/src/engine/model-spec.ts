/**
 * Framework-free description of a recurrent model's weights, in Keras layout.
 *
 * Every matrix is a row-major Float32Array. Kernels are `inputDim × (gates·units)` and recurrent
 * kernels `units × (gates·units)`, gate blocks in Keras order: LSTM i, f, c, o; GRU z, r, h.
 * This is the contract between artifact import (tfjs layers-format / Keras), the trainer, and
 * the stepping kernels.
 */
export type Activation = 'tanh' | 'sigmoid' | 'hard_sigmoid' | 'relu' | 'linear' | 'softmax';

/** One Keras `LSTM` layer. */
export interface LstmLayerSpec {
  readonly kind: 'lstm';
  readonly inputDim: number;
  readonly units: number;
  /** inputDim × 4·units, gate order i, f, c, o. */
  readonly kernel: Float32Array;
  /** units × 4·units. */
  readonly recurrentKernel: Float32Array;
  /** 4·units, or null when the layer was built with `use_bias=False`. */
  readonly bias: Float32Array | null;
  readonly activation: Activation;
  readonly recurrentActivation: Activation;
}

/** One Keras `GRU` layer. */
export interface GruLayerSpec {
  readonly kind: 'gru';
  readonly inputDim: number;
  readonly units: number;
  /** inputDim × 3·units, gate order z, r, h. */
  readonly kernel: Float32Array;
  /** units × 3·units. */
  readonly recurrentKernel: Float32Array;
  /**
   * reset_after=true: 2 × 3·units (input bias row, then recurrent bias row);
   * reset_after=false: 3·units; null without bias.
   */
  readonly bias: Float32Array | null;
  readonly resetAfter: boolean;
  readonly activation: Activation;
  readonly recurrentActivation: Activation;
}

export type RecurrentLayerSpec = LstmLayerSpec | GruLayerSpec;

/** One Keras `Dense` layer of the output head. */
export interface DenseLayerSpec {
  readonly kind: 'dense';
  readonly inputDim: number;
  readonly units: number;
  /** inputDim × units. */
  readonly kernel: Float32Array;
  readonly bias: Float32Array | null;
  readonly activation: Activation;
}

/** Keras `Embedding`: token id → row of `embeddings`. */
export interface EmbeddingSpec {
  readonly kind: 'embedding';
  /** Vocabulary size (rows). */
  readonly inputDim: number;
  readonly outputDim: number;
  /** inputDim × outputDim. */
  readonly embeddings: Float32Array;
  /** When true, token 0 is a padding mask: the step is skipped and state carries over (as Keras). */
  readonly maskZero: boolean;
}

/**
 * A whole inference model: optional embedding, stacked recurrent layers (each passes its full
 * sequence to the next; only the last layer's final h feeds the head), and a dense head.
 */
export interface RecurrentModelSpec {
  readonly embedding: EmbeddingSpec | null;
  readonly recurrent: readonly RecurrentLayerSpec[];
  readonly head: readonly DenseLayerSpec[];
}
