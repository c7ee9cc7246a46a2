import { initTfBackend } from './preprocess';
import { registerWasmTrainingKernels } from './wasm-kernels';

/**
 * Selects the tfjs backend for a training run (@app/lstm's initTfBackend: the preferred one, else
 * the next available). On wasm the missing Embedding gradient kernel (UnsortedSegmentSum) is
 * registered first (wasm-kernels.ts), so text models train on wasm too.
 */
export async function initTrainingBackend(want: 'cpu' | 'wasm'): Promise<string> {
  const got = await initTfBackend(want);
  if (got === 'wasm') registerWasmTrainingKernels();
  return got;
}
