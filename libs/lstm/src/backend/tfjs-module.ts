import type * as Tfjs from '@tensorflow/tfjs';

let cached: typeof Tfjs | undefined;

/**
 * `@tensorflow/tfjs`, loaded on first use: the stream worker's hot path imports this library
 * but never needs TensorFlow.js, so it should not pay its start-up time and memory.
 */
export function tfjs(): typeof Tfjs {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  cached ??= require('@tensorflow/tfjs') as typeof Tfjs;
  return cached;
}
