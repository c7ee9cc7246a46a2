import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import {
  backendForKernels,
  backendSupportsKernel,
  currentTfBackend,
  EMBEDDING_TRAINING_KERNELS,
  initTfBackend,
  wasmDistDir,
} from './tf-backend';

function recorder() {
  const lines: string[] = [];
  return { lines, log: (m: string) => lines.push(m) };
}

describe('initTfBackend', () => {
  jest.setTimeout(30_000);

  it('selects a working backend (tfjs-node when installed, else wasm), logs it and computes with it', async () => {
    const logger = recorder();
    const chosen = await initTfBackend(undefined, logger);
    let nodeInstalled = true;
    try {
      require.resolve('@tensorflow/tfjs-node');
    } catch {
      nodeInstalled = false;
    }
    if (!nodeInstalled) expect(chosen).toBe('wasm');
    expect(currentTfBackend()).toBe(chosen);
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]).toContain(`TensorFlow.js backend: ${chosen}`);
    if (!nodeInstalled) expect(logger.lines[0]).toMatch(/unavailable: node/);
    const y = tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]])).dataSync();
    expect(Array.from(y)).toEqual([11]);
  });

  it('honours a preferred backend and reports kernel support (wasm lacks the Embedding gradient)', async () => {
    expect(await initTfBackend('cpu')).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(backendSupportsKernel('UnsortedSegmentSum', 'cpu')).toBe(true);
    expect(await initTfBackend('wasm')).toBe('wasm');
    expect(backendSupportsKernel('MatMul', 'wasm') || backendSupportsKernel('BatchMatMul', 'wasm')).toBe(
      true,
    );
    expect(backendSupportsKernel('UnsortedSegmentSum', 'wasm')).toBe(false);
    // Text models train where the Embedding gradient exists.
    expect(backendForKernels(EMBEDDING_TRAINING_KERNELS, ['wasm', 'cpu'])).toBe('cpu');
    expect(backendForKernels([], ['wasm', 'cpu'])).toBe('wasm');
  });

  it('points the wasm backend at the package dist directory on disk', () => {
    expect(existsSync(path.join(wasmDistDir(), 'tfjs-backend-wasm-simd.wasm'))).toBe(true);
  });
});
