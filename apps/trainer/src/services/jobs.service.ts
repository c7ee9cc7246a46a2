import { randomUUID } from 'node:crypto';
import type { ModelRegistry, ModelTask, SwapPolicy } from '@app/registry';
import { topicAllowed, type TrainerConfig } from '../config/trainer-config';
import { inheritedParams, JobConflictError, type JobRunner } from '../jobs/job-runner';
import type { JobStore } from '../jobs/job-store';
import { DataFileError, resolveDataFile } from '../training/data-file';
import {
  runTrainJob,
  type ActivateMode,
  type TrainJobDeps,
  type TrainJobResult,
  type TrainSource,
} from '../training/train-job';
import { recordedParams, withDefaults, type TrainParams } from '../training/train-params';
import { InvalidRequestError } from './invalid-request.error';
import { ModelsService } from './models.service';

/** Where a retrain reads its data, as the admin API's body (and the CLI) give it. */
export interface RetrainSourceRequest {
  readonly kind: 'kafka' | 'file' | 'upload';
  readonly topic?: string;
  readonly labelsTopic?: string;
  readonly fromTime?: string;
  readonly toTime?: string;
  readonly fromOffsets?: Record<string, string>;
  readonly toOffsets?: Record<string, string>;
  readonly path?: string;
  readonly content?: string;
  readonly format?: 'csv' | 'jsonl';
}

/** A retrain request: task, data source, the parameters it sets, activation and swap policy. */
export interface RetrainRequest extends Partial<TrainParams> {
  readonly task?: ModelTask;
  readonly source: RetrainSourceRequest;
  readonly activate?: ActivateMode;
  readonly policy?: SwapPolicy;
}

/** The training parameters a request sets (the others come from the parent version or the defaults). */
function requestedParams(r: Partial<TrainParams>): Partial<TrainParams> {
  return recordedParams(r);
}

/** How long the CLI's model lock lives without renewal; renewed at a third of it. */
const CLI_LOCK_MS = 30_000;

/**
 * Retraining, the rules both the admin API and the CLI follow: the model's task, the allowed
 * source topics and files, the parameters inherited from the version a retrain replaces, and one
 * job per model at a time (the model lock in Redis).
 */
export class JobsService {
  private readonly models: ModelsService;

  constructor(
    registry: ModelRegistry,
    private readonly config: Pick<TrainerConfig, 'sourceTopics' | 'dataDir' | 'maxDataBytes'>,
  ) {
    this.models = new ModelsService(registry);
  }

  /**
   * Checks a retrain request and starts its job in a training process of `runner` (admin API).
   * Throws `InvalidRequestError` naming the field, `JobConflictError` while the model has a job,
   * `JobCapacityError` when this trainer runs TRAINER_MAX_JOBS jobs.
   */
  async retrain(runner: JobRunner, name: string, request: RetrainRequest, jobId?: string) {
    ModelsService.modelName(name);
    const task = await this.models.taskFor(
      name,
      request.task,
      request.source.labelsTopic ? 'classify' : undefined,
    );
    const source = await this.source(request.source);
    const job = await runner.start({
      ...(jobId !== undefined ? { jobId } : {}),
      model: name,
      task,
      source,
      params: requestedParams(request),
      activate: request.activate ?? 'if-better',
      ...(request.policy ? { policy: request.policy } : {}),
    });
    return { job, task };
  }

  /** A request's data source, checked: allowed topics, time and offset syntax, confined files, sizes. */
  private async source(s: RetrainSourceRequest): Promise<TrainSource> {
    switch (s.kind) {
      case 'kafka': {
        for (const [field, topic] of [
          ['topic', s.topic],
          ['labelsTopic', s.labelsTopic],
        ] as const) {
          if (topic !== undefined && !topicAllowed(this.config.sourceTopics, topic)) {
            throw new InvalidRequestError(
              `source.${field} ${topic} is not a training source topic (TRAINER_SOURCE_TOPICS: ${this.config.sourceTopics.join(', ')})`,
            );
          }
        }
        const source: TrainSource = {
          kind: 'kafka',
          topic: s.topic!,
          ...(s.labelsTopic ? { labelsTopic: s.labelsTopic } : {}),
          ...(s.fromTime !== undefined ? { fromTime: s.fromTime } : {}),
          ...(s.toTime !== undefined ? { toTime: s.toTime } : {}),
          ...(s.fromOffsets ? { fromOffsets: s.fromOffsets } : {}),
          ...(s.toOffsets ? { toOffsets: s.toOffsets } : {}),
        };
        for (const t of [s.fromTime, s.toTime]) {
          if (t !== undefined && !Number.isFinite(Number(t)) && !Number.isFinite(Date.parse(t))) {
            throw new InvalidRequestError(
              'source.fromTime/source.toTime must be ISO-8601 or epoch milliseconds',
            );
          }
        }
        for (const [field, offs] of [
          ['fromOffsets', s.fromOffsets],
          ['toOffsets', s.toOffsets],
        ] as const) {
          for (const [p, o] of Object.entries(offs ?? {})) {
            if (!/^\d+$/.test(p) || !/^\d+$/.test(String(o)))
              throw new InvalidRequestError(`source.${field} must map partition numbers to offset strings`);
          }
        }
        return source;
      }
      case 'file': {
        let path: string;
        try {
          path = await resolveDataFile(this.config.dataDir, s.path!, this.config.maxDataBytes);
        } catch (err) {
          if (err instanceof DataFileError) throw new InvalidRequestError(err.message);
          throw err;
        }
        return { kind: 'file', path, ...(s.format ? { format: s.format } : {}) };
      }
      case 'upload':
        if (Buffer.byteLength(s.content!) > this.config.maxDataBytes) {
          throw new InvalidRequestError(
            `source.content is over TRAINER_MAX_DATA_BYTES (${this.config.maxDataBytes} bytes)`,
          );
        }
        return { kind: 'upload', content: s.content!, format: s.format ?? 'csv' };
    }
  }
}

/**
 * Runs a retrain in this process (the CLI), under the same rules as `JobsService.retrain`: the
 * model's task, the parent version's parameters where the request sets none, and the model
 * lock (a job running in a trainer, or another CLI run, makes this one fail with
 * `JobConflictError`; the lock is renewed while training and checked before the version is
 * stored). Activation is the caller's (`result.shouldActivate`).
 */
export async function trainInProcess(
  registry: ModelRegistry,
  store: JobStore,
  name: string,
  request: RetrainRequest & { readonly source: { readonly kind: 'file'; readonly path: string } },
  deps: Omit<TrainJobDeps, 'registry' | 'beforeSave'>,
): Promise<TrainJobResult & { paramsFrom: number | null }> {
  ModelsService.modelName(name);
  const task = await new ModelsService(registry).taskFor(name, request.task);
  const from = await inheritedParams(registry, name, task);
  const jobId = `cli-${randomUUID()}`;
  if (!(await store.tryLock(name, jobId, CLI_LOCK_MS)))
    throw new JobConflictError(name, await store.lockHolder(name));
  const renew = setInterval(
    () => void store.renewLock(name, jobId, CLI_LOCK_MS).catch(() => undefined),
    CLI_LOCK_MS / 3,
  );
  try {
    const result = await runTrainJob(
      {
        jobId,
        model: name,
        task,
        source: {
          kind: 'file',
          path: request.source.path,
          ...(request.source.format ? { format: request.source.format } : {}),
        },
        params: withDefaults({ ...from.params, ...requestedParams(request) }),
        activate: request.activate ?? 'if-better',
        ...(request.policy ? { policy: request.policy } : {}),
      },
      {
        ...deps,
        registry,
        beforeSave: async () => {
          if ((await store.lockHolder(name)) !== jobId)
            throw new Error(`the lock of model ${name} was lost; the version is not stored`);
        },
      },
    );
    return { ...result, paramsFrom: from.version };
  } finally {
    clearInterval(renew);
    await store.unlock(name, jobId).catch(() => undefined);
  }
}
