import * as tf from '@tensorflow/tfjs';

/** Architecture parameters shared by both tasks. */
export interface RecurrentArch {
  readonly hiddenUnits: number;
  readonly layers: number;
  readonly seed: number;
}

function seeded(seed: number, k: number) {
  return {
    kernelInitializer: tf.initializers.glorotUniform({ seed: seed * 101 + k * 7 + 1 }),
    recurrentInitializer: tf.initializers.orthogonal({ seed: seed * 101 + k * 7 + 2, gain: 1 }),
  };
}

function addLstmStack(m: tf.Sequential, arch: RecurrentArch, inputShape?: (number | null)[]): void {
  for (let i = 0; i < arch.layers; i++) {
    m.add(
      tf.layers.lstm({
        name: `lstm_${i + 1}`,
        units: arch.hiddenUnits,
        // Keras' default (tfjs defaults to hard_sigmoid); the streaming engine assumes the same.
        recurrentActivation: 'sigmoid',
        returnSequences: i < arch.layers - 1,
        unitForgetBias: true,
        ...seeded(arch.seed, i),
        ...(i === 0 && inputShape ? { inputShape } : {}),
      }),
    );
  }
}

/** LSTM stack → Dense(horizon), variable-length input of `features` values per step. */
export function buildForecaster(arch: RecurrentArch, features: number, horizon: number): tf.Sequential {
  const m = tf.sequential({ name: 'forecaster' });
  addLstmStack(m, arch, [null, features]);
  m.add(
    tf.layers.dense({
      name: 'dense',
      units: horizon,
      kernelInitializer: tf.initializers.glorotUniform({ seed: arch.seed * 101 + 97 }),
    }),
  );
  return m;
}

/**
 * Embedding (mask_zero, so pre-padding does not move the state: streaming from a zero state
 * matches the padded training input) → LSTM stack → Dense(sigmoid | softmax).
 */
export function buildClassifier(
  arch: RecurrentArch,
  vocab: number,
  embeddingDim: number,
  maxlen: number,
  numClasses: number,
): tf.Sequential {
  const m = tf.sequential({ name: 'classifier' });
  m.add(
    tf.layers.embedding({
      name: 'embedding',
      inputDim: vocab,
      outputDim: embeddingDim,
      inputLength: maxlen,
      maskZero: true,
      embeddingsInitializer: tf.initializers.randomUniform({ minval: -0.05, maxval: 0.05, seed: arch.seed * 101 + 89 }),
    }),
  );
  addLstmStack(m, arch);
  m.add(
    tf.layers.dense({
      name: 'dense',
      units: numClasses === 2 ? 1 : numClasses,
      activation: numClasses === 2 ? 'sigmoid' : 'softmax',
      kernelInitializer: tf.initializers.glorotUniform({ seed: arch.seed * 101 + 97 }),
    }),
  );
  return m;
}
