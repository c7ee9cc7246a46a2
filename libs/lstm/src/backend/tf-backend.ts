import { tfjs } from './tfjs-module';
import * as path from 'node:path';

/** Backends the trainer can run on, fastest first. */
export type TfBackendChoice = 'node' | 'wasm' | 'cpu';

/** Anything with a `log` method (a Nest Logger, console). */
export interface BackendLogger {
  log(message: string): void;
  warn?(message: string): void;
}

/** tfjs registers the native backend under this name. */
const TF_NAME: Record<TfBackendChoice, string> = { node: 'tensorflow', wasm: 'wasm', cpu: 'cpu' };

/** Kernels the gradient of an Embedding needs (missing in tfjs-backend-wasm 4.x). */
export const EMBEDDING_TRAINING_KERNELS: readonly string[] = ['UnsortedSegmentSum'];

/**
 * Chooses and activates the TensorFlow.js backend: `@tensorflow/tfjs-node` when it can be
 * loaded (optional dependency), else `@tensorflow/tfjs-backend-wasm` (wasm files served from
 * the package's dist/ on disk), else the pure-JS cpu backend. A preferred backend is tried first.
 * Logs the choice and returns it.
 */
export async function initTfBackend(
  preferred?: TfBackendChoice,
  logger?: BackendLogger,
): Promise<TfBackendChoice> {
  const fallbacks: TfBackendChoice[] = ['node', 'wasm', 'cpu'];
  const order = preferred ? [preferred, ...fallbacks.filter((c) => c !== preferred)] : fallbacks;
  const failures: string[] = [];
  for (const choice of order) {
    try {
      await activate(choice);
      const note = failures.length ? ` (unavailable: ${failures.join('; ')})` : '';
      logger?.log(`TensorFlow.js backend: ${choice}${note}`);
      return choice;
    } catch (e) {
      failures.push(`${choice}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error(`no TensorFlow.js backend could be initialised: ${failures.join('; ')}`);
}

async function activate(choice: TfBackendChoice): Promise<void> {
  switch (choice) {
    case 'node':
      if (tfjs().findBackendFactory(TF_NAME.node) === null) {
        // Optional dependency: absent where its native download is not possible.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        require('@tensorflow/tfjs-node');
      }
      break;
    case 'wasm':
      if (tfjs().findBackendFactory(TF_NAME.wasm) === null) {
        type WasmModule = typeof import('@tensorflow/tfjs-backend-wasm');
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const wasm = require('@tensorflow/tfjs-backend-wasm') as WasmModule;
        wasm.setWasmPaths(wasmDistDir() + path.sep);
      }
      break;
    case 'cpu':
      break;
  }
  const ok = await tfjs().setBackend(TF_NAME[choice]);
  if (!ok) throw new Error(`backend ${TF_NAME[choice]} failed to initialise`);
  await tfjs().ready();
}

/** Directory holding tfjs-backend-wasm's .wasm binaries. */
export function wasmDistDir(): string {
  // The package's main file lives in dist/, next to the .wasm files.
  return path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
}

/** The active backend as a {@link TfBackendChoice}. */
export function currentTfBackend(): TfBackendChoice {
  const name = tfjs().getBackend();
  if (name === TF_NAME.node) return 'node';
  if (name === 'wasm') return 'wasm';
  return 'cpu';
}

/** Whether `backend` (default: the active one) registers a kernel, e.g. 'UnsortedSegmentSum'. */
export function backendSupportsKernel(
  kernelName: string,
  backend: TfBackendChoice = currentTfBackend(),
): boolean {
  return tfjs().getKernel(kernelName, TF_NAME[backend]) !== undefined;
}

/**
 * The first of `candidates` (default node, wasm, cpu) that is registered and has every kernel in
 * `kernels`; e.g. text models need {@link EMBEDDING_TRAINING_KERNELS}, which wasm lacks.
 * Only backends already initialised or loadable are considered; does not switch backend.
 */
export function backendForKernels(
  kernels: readonly string[],
  candidates: readonly TfBackendChoice[] = ['node', 'wasm', 'cpu'],
): TfBackendChoice | null {
  for (const c of candidates) {
    if (tfjs().findBackendFactory(TF_NAME[c]) === null && c !== 'cpu') continue;
    if (kernels.every((k) => backendSupportsKernel(k, c))) return c;
  }
  return null;
}
