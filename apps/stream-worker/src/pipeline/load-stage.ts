import type { StateRecord } from '@app/state';
import { forecastFeatureCount, type ServingModel } from '../model/serving-model';
import type { KeyStart } from './batch-planner';
import type { PolicyApplied, ProcessorObserver, PipelineLogger } from './ports';
import { decodeExtras, freshExtras, type TaskExtras } from './task-extras';

/**
 * Stage 2, load: each key's stored record (loaded for the whole unit in one round trip per
 * model) becomes the row its steps start from, with the model-swap policy applied to records of
 * another version.
 */

/** How one key enters the step stage. */
export interface PreparedKey {
  /** The loaded record (null: none); its (partition, offset) is the write's expectation. */
  readonly record: StateRecord | null;
  /** State row to continue from; null starts from the model's initial state. */
  readonly row: Float32Array | null;
  readonly extras: TaskExtras;
  /** Inputs replayed before the unit's events (rewarm). */
  readonly warm: Float32Array[] | number[];
  /** Steps the row has taken so far. */
  readonly baseSteps: number;
}

/** Keys ready for the planner (starts) and the step stage (prepared). */
export interface LoadedKeys {
  readonly starts: Map<string, KeyStart>;
  readonly prepared: Map<string, PreparedKey>;
}


/** Applies the swap policy to each key's loaded record. */
export function prepareKeys(
  model: ServingModel,
  keys: readonly string[],
  loaded: readonly (StateRecord | null)[],
  partitionOf: ReadonlyMap<string, number>,
  rewarmSteps: number,
  observer: ProcessorObserver,
  logger: PipelineLogger,
): LoadedKeys {
  const S = model.engine.stateSize;
  const task = model.task;
  // Text mode 'window': a record keeps the key's last maxlen tokens and no recurrent state.
  const storedS = task.kind === 'classify' && task.window ? 0 : S;
  const moved: string[] = [];
  const featureCount = task.kind === 'forecast' ? forecastFeatureCount(task) : 0;
  const starts = new Map<string, KeyStart>();
  const prepared = new Map<string, PreparedKey>();
  const counts: Record<PolicyApplied, number> = { reset: 0, rewarm: 0, keep: 0, warm: 0, keep_fallback: 0, rewarm_fallback: 0, warm_fallback: 0 };
  keys.forEach((key, k) => {
    const record = loaded[k];
    const partition = partitionOf.get(key)!;
    if (record && record.partition >= 0 && record.partition !== partition) moved.push(`${key} (state from partition ${record.partition})`);
    const history =
      record && record.partition >= 0
        ? {
            partition: record.partition,
            offset: record.offset,
            lastTimeMs: Number.isNaN(record.lastEventTs) ? Number.NEGATIVE_INFINITY : record.lastEventTs,
          }
        : null;
    const extras =
      decodeExtras(
        record?.extras,
        record?.ring,
        task.kind,
        featureCount,
        task.kind === 'forecast' ? task.horizon : 0,
        task.kind === 'forecast' ? task.targetIndex.length : 1,
      ) ??
      freshExtras(task.kind, featureCount);
    // Pending forecasts and the latest classification are scored for the version that made them only (docs/accuracy.md).
    if (record !== null && record.modelVersion !== model.versionLabel) {
      if (extras.kind === 'forecast') extras.pending = [];
      else extras.lastScore = null;
    }
    const set = (start: KeyStart, prep: PreparedKey): void => {
      starts.set(key, start);
      prepared.set(key, prep);
    };
    if (record === null) {
      set({ history, fresh: true, warmSteps: 0 }, { record, row: null, extras, warm: [], baseSteps: 0 });
      return;
    }
    if (record.modelVersion === model.versionLabel && record.state.length === storedS) {
      // No step since a sequence start (a reset control record was the key's last event): the
      // next event starts a sequence, as a new key's first event does.
      set({ history, fresh: record.steps === 0, warmSteps: 0 }, { record, row: record.state, extras, warm: [], baseSteps: record.steps });
      return;
    }
    let policy = record.modelVersion === model.versionLabel ? 'reset' : model.policy;
    // warm: keys whose shadow record could take over were given it already (shadow-stage.ts).
    const warmFallback = policy === 'warm';
    if (warmFallback) policy = 'reset';
    if (policy === 'keep' && record.state.length !== storedS) {
      counts.keep_fallback++;
      logger.warn(
        `keep policy: key ${key} of ${model.name} has state size ${record.state.length}, v${model.version} needs ${S}; resetting`,
      );
      policy = 'reset';
    }
    if (policy === 'keep') {
      counts.keep++;
      set({ history, fresh: false, warmSteps: 0 }, { record, row: record.state, extras, warm: [], baseSteps: record.steps });
      return;
    }
    // The previous forecast and residual statistics came from the old version's outputs.
    if (extras.kind === 'forecast') {
      extras.hasForecast = false;
      extras.residualCount = 0;
      extras.residualMean = 0;
      extras.residualM2 = 0;
      extras.pending = [];
    }
    if (policy === 'rewarm' && extras.history.length > 0) {
      counts.rewarm++;
      const warm = extras.history.slice(-rewarmSteps);
      set({ history, fresh: false, warmSteps: warm.length }, { record, row: null, extras, warm, baseSteps: warm.length });
      return;
    }
    if (policy === 'rewarm') counts.rewarm_fallback++;
    else if (warmFallback) counts.warm_fallback++;
    else counts.reset++;
    extras.history = [];
    set({ history, fresh: true, warmSteps: 0 }, { record, row: null, extras, warm: [], baseSteps: 0 });
  });
  if (moved.length > 0) {
    observer.keyPartitionMoved?.(moved.length);
    logger.warn(
      `${moved.length} keys of ${model.name} arrived on another partition than the one their state was written from (a key spread over partitions breaks its event order): ${moved.slice(0, 5).join(', ')}`,
    );
  }
  for (const [p, n] of Object.entries(counts)) {
    if (n > 0) observer.policyApplied?.(p as PolicyApplied, n);
  }
  if (counts.rewarm_fallback > 0) {
    logger.warn(
      `rewarm policy: ${counts.rewarm_fallback} keys of ${model.name} stored no inputs to replay (inputs are kept only while a version activated with rewarm is served, and REWARM_STEPS > 0); they start from the initial state`,
    );
  }
  return { starts, prepared };
}

/** The distinct keys of a model's events, in first-seen order. */
export function distinctKeys(events: readonly { readonly key: string }[]): string[] {
  const seen = new Set<string>();
  const keys: string[] = [];
  for (const e of events) {
    if (!seen.has(e.key)) {
      seen.add(e.key);
      keys.push(e.key);
    }
  }
  return keys;
}
