import { initTfBackend } from './preprocess';

/**
 * Selects the tfjs backend for a training run (@app/lstm's initTfBackend: native when installed,
 * else the preferred one). Text models prefer cpu: wasm lacks the Embedding gradient
 * (UnsortedSegmentSum) unless the kernel registered in wasm-kernels.ts is present.
 */
export async function initTrainingBackend(want: 'cpu' | 'wasm'): Promise<string> {
  return initTfBackend(want);
}
