import * as tf from '@tensorflow/tfjs';

/**
 * Selects the tfjs backend for a training run. wasm is faster for forecasters but lacks the
 * Embedding gradient (UnsortedSegmentSum), so text models use cpu. Falls back to cpu when wasm
 * cannot initialize.
 */
export async function initTrainingBackend(want: 'cpu' | 'wasm'): Promise<string> {
  if (want === 'wasm') {
    try {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      const dist = require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm').replace(/[^/]+$/, '');
      wasm.setWasmPaths(dist);
      if (await tf.setBackend('wasm')) {
        await tf.ready();
        return 'wasm';
      }
    } catch {
      // fall through to cpu
    }
  }
  await tf.setBackend('cpu');
  await tf.ready();
  return 'cpu';
}
