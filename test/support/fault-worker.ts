/** Old import path of worker-process.ts, kept only for hot-swap.e2e-spec.ts and bench/e2e until they import the new modules. */
export { WorkerProcess as FaultWorker } from './worker-process';
