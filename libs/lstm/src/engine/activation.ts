import type { Activation } from './model-spec';

/**
 * Numeric codes of the activations a recurrent cell may use; shared with the WASM kernel
 * (libs/lstm/wasm/assembly/kernel.ts), so the values must not change.
 */
export enum ActivationCode {
  Linear = 0,
  Tanh = 1,
  Sigmoid = 2,
  HardSigmoid = 3,
  Relu = 4,
}

/** Maps a cell activation name to its kernel code; `softmax` is refused (not a cell activation). */
export function cellActivationCode(name: Activation, where: string): ActivationCode {
  switch (name) {
    case 'linear':
      return ActivationCode.Linear;
    case 'tanh':
      return ActivationCode.Tanh;
    case 'sigmoid':
      return ActivationCode.Sigmoid;
    case 'hard_sigmoid':
      return ActivationCode.HardSigmoid;
    case 'relu':
      return ActivationCode.Relu;
    case 'softmax':
      throw new Error(`${where}: activation 'softmax' is not supported inside a recurrent cell`);
    default:
      throw new Error(`${where}: unknown activation '${String(name)}'`);
  }
}

/** Scalar activation in double precision (the portable kernel and the dense head use it). */
export function activate(code: ActivationCode, x: number): number {
  switch (code) {
    case ActivationCode.Linear:
      return x;
    case ActivationCode.Tanh:
      return Math.tanh(x);
    case ActivationCode.Sigmoid:
      return 1 / (1 + Math.exp(-x));
    case ActivationCode.HardSigmoid: {
      // Keras 2 / tfjs definition: clip(0.2·x + 0.5, 0, 1).
      const y = 0.2 * x + 0.5;
      return y <= 0 ? 0 : y >= 1 ? 1 : y;
    }
    case ActivationCode.Relu:
      return x > 0 ? x : 0;
  }
}
