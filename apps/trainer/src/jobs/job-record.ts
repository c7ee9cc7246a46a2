import type { EpochProgress } from '../training/train-params';
import type { JobPhase, TrainJobResult, TrainJobSpec } from '../training/train-job';

/** Lifecycle of a job. */
export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

/** True for statuses a job never leaves. */
export function isTerminal(s: JobStatus): boolean {
  return s === 'succeeded' || s === 'failed' || s === 'cancelled';
}

/** A job as stored in Redis and returned by GET /v1/jobs/{id}. */
export interface JobRecord {
  readonly id: string;
  readonly model: string;
  readonly task: TrainJobSpec['task'];
  status: JobStatus;
  phase: JobPhase | 'queued' | 'activating' | 'done';
  readonly owner: string;
  /** tfjs backend of the job's tfjs work (model building, evaluation, the tfjs fit route). */
  backend: string | null;
  /**
   * Fit loop that trains the model: `simd` (the project's WASM SIMD training kernel) or `tfjs`
   * (tfjs-layers fit on `backend`, for shapes the kernel does not cover); null before epoch 1.
   */
  route: EpochProgress['route'] | null;
  readonly createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** The job's parameters, complete: the request's, then `paramsFrom`'s, then the defaults. */
  readonly params: TrainJobSpec['params'];
  /**
   * The version whose recorded training parameters the job starts from (the active version, or
   * the latest when none is active, if it was trained by the trainer for the same task); the
   * request's fields override them. null: defaults.
   */
  readonly paramsFrom: number | null;
  readonly activate: TrainJobSpec['activate'];
  readonly source: Record<string, unknown>;
  /** Per-epoch progress (the loss curve). */
  epochs: EpochProgress[];
  progress: { epoch: number; epochs: number; fraction: number };
  result: (TrainJobResult & { activated: boolean }) | null;
  error: string | null;
}
