import { readFile } from 'node:fs/promises';
import type { KafkaSaslLogin } from '@app/kafka';
import type { DlqReason } from '@app/contracts';
import { readDataFile } from './data-file';
import type { DataRange, ModelRegistry, ModelTask, SwapPolicy } from '@app/registry';
import { evaluateClassifier, trainClassifier } from './classifier-trainer';
import {
  formatOf,
  labelOf,
  parseDatasetFile,
  RejectedRecords,
  SensorReadingCollector,
  TextStreamCollector,
  type Dataset,
  type TextExample,
} from './dataset';
import { evaluateForecaster, trainForecaster, type ForecastHoldoutExample } from './forecaster-trainer';
import { DataBudget, readKafkaRange, type KafkaAccess, type KafkaRange } from './kafka-range-reader';
import { isBetter } from './metrics';
import { filesToModel, readSidecar } from './tf-artifact';
import { withDefaults, type EpochProgress, type TrainParams } from './train-params';

/** Where a job's data comes from. */
export type TrainSource =
  | ({ readonly kind: 'kafka'; readonly labelsTopic?: string } & KafkaRange)
  | { readonly kind: 'file'; readonly path: string; readonly format?: 'csv' | 'jsonl' }
  | { readonly kind: 'upload'; readonly content: string; readonly format: 'csv' | 'jsonl'; readonly filename?: string };

/** Activation policy of a retrain. */
export type ActivateMode = 'if-better' | 'always' | 'never';

/** Everything a training job needs (serializable: it crosses the process boundary). */
export interface TrainJobSpec {
  readonly jobId: string;
  readonly model: string;
  readonly task: ModelTask;
  readonly source: TrainSource;
  readonly params: Partial<TrainParams>;
  readonly activate: ActivateMode;
  readonly policy?: SwapPolicy;
}

/** Outcome of a job's training part (activation is the caller's). */
export interface TrainJobResult {
  readonly version: number;
  readonly metrics: Record<string, number>;
  readonly baseline: { readonly version: number; readonly metrics: Record<string, number> } | null;
  readonly shouldActivate: boolean;
  readonly reason: string;
  readonly trainExamples: number;
  readonly holdoutExamples: number;
  readonly dataRange: DataRange;
  /** Records of the data the worker would have dead-lettered, by DLQ reason; they were not used. */
  readonly rejected: Partial<Record<DlqReason, number>>;
}

/** Phases reported besides epochs. */
export type JobPhase = 'reading' | 'training' | 'evaluating' | 'saving';

/** Consumer groups of training reads start with this (then the job id); they are deleted after the read. */
export const TRAINING_GROUP_PREFIX = 'streamcell-trainer-job-';

/** Collaborators of a job: the registry (for the baseline and the new version) and Kafka brokers. */
export interface TrainJobDeps {
  readonly registry: ModelRegistry;
  readonly brokers: string[];
  /** SASL login to Kafka (null or absent: none). */
  readonly kafkaSasl?: KafkaSaslLogin | null;
  readonly onPhase: (phase: JobPhase, detail?: string) => void;
  readonly onEpoch: (e: EpochProgress) => void;
  /**
   * Called right before the new version is stored; throws to stop the job there (the job runner
   * fences on its model lock, so a job cancelled elsewhere never stores a version).
   */
  readonly beforeSave?: () => Promise<void>;
  /**
   * Limits of a job run for the admin API: file sources are read only inside `dataDir` (checked
   * on the opened file) and no job reads more than `maxDataBytes`. Without them (the CLI, on the
   * operator's own files) files are read as given.
   */
  readonly limits?: DataLimits;
}

/** Where a job may read files from, and how much data it may read. */
export interface DataLimits {
  readonly dataDir: string | null;
  readonly maxDataBytes: number;
}

/** Turns a Kafka range message back into the key bytes the worker's decoder sees. */
const keyBytes = (key: string | null): Buffer | null => (key === null ? null : Buffer.from(key, 'utf8'));

/**
 * Reads a job's data: a bounded Kafka range (with a labels topic for text) or a file, each record
 * through the worker's decoders (`dataset.ts`). `rejected` counts the records the worker would
 * have dead-lettered, by reason; a job whose data has no usable record fails naming them.
 */
export async function loadDataset(
  spec: TrainJobSpec,
  kafka: KafkaAccess,
  limits?: DataLimits,
): Promise<{ dataset: Dataset; dataRange: DataRange; rejected: RejectedRecords }> {
  const loaded = await readDataset(spec, kafka, limits);
  const n = loaded.dataset.task === 'forecast' ? loaded.dataset.readings.length : loaded.dataset.examples.length;
  if (n === 0 && loaded.rejected.total > 0) {
    throw new Error(`no usable record in the selected data: ${loaded.rejected.total} rejected (${loaded.rejected.summary()})`);
  }
  return loaded;
}

async function readDataset(
  spec: TrainJobSpec,
  kafka: KafkaAccess,
  limits?: DataLimits,
): Promise<{ dataset: Dataset; dataRange: DataRange; rejected: RejectedRecords }> {
  const src = spec.source;
  const budget = limits ? new DataBudget(limits.maxDataBytes) : undefined;
  if (src.kind === 'file' || src.kind === 'upload') {
    const text =
      src.kind === 'upload' ? src.content : limits ? await readDataFile(limits.dataDir, src.path, limits.maxDataBytes) : await readFile(src.path, 'utf8');
    const format = src.format ?? formatOf(src.kind === 'file' ? src.path : 'upload.csv');
    const { dataset, rejected } = parseDatasetFile(text, format, spec.task, spec.model);
    const examples = dataset.task === 'forecast' ? dataset.readings.length : dataset.examples.length;
    return {
      dataset,
      dataRange: src.kind === 'file' ? { kind: 'file', path: src.path, examples } : { kind: 'upload', examples },
      rejected,
    };
  }
  const group = `${TRAINING_GROUP_PREFIX}${spec.jobId}`;
  if (spec.task === 'forecast') {
    const collector = new SensorReadingCollector(spec.model);
    const resolved = await readKafkaRange(kafka, src, group, (m) => collector.add(keyBytes(m.key), m.value), undefined, budget);
    return {
      dataset: { task: 'forecast', readings: collector.readings },
      dataRange: { kind: 'kafka', topic: src.topic, ...rangeTimes(src), ...resolved, examples: collector.readings.length },
      rejected: collector.rejected,
    };
  }
  // Text: the streams' text events (offset order, from the last reset) joined with the latest
  // label per stream. The labels topic is not a wire-contract topic: `{"streamId","label"}` or
  // `{"text","label"}` messages.
  const streams = new TextStreamCollector(spec.model);
  const labelled = streams.labelled;
  const labels = new Map<string, string>();
  const labelsTopic = src.labelsTopic;
  const resolved = await readKafkaRange(kafka, src, group, (m) => streams.add(keyBytes(m.key), m.value), undefined, budget);
  if (labelsTopic) {
    await readKafkaRange(kafka, { topic: labelsTopic }, `${group}-labels`, (m) => {
      const o = parseLabelMessage(m.value);
      if (!o) return;
      const label = labelOf(o.label);
      if (label === null) return;
      if (typeof o.text === 'string') labelled.push({ text: o.text, label });
      else {
        const id = typeof o.streamId === 'string' ? o.streamId : m.key;
        if (id) labels.set(id, label);
      }
    }, undefined, budget);
  }
  for (const [id, label] of labels) {
    const text = streams.textOf(id);
    if (text !== null) labelled.push({ text, label });
  }
  return {
    dataset: { task: 'classify', examples: labelled },
    dataRange: {
      kind: 'kafka',
      topic: src.topic,
      ...(labelsTopic ? { labelsTopic } : {}),
      ...rangeTimes(src),
      ...resolved,
      examples: labelled.length,
    },
    rejected: streams.rejected,
  };
}

function parseLabelMessage(v: Buffer | null): Record<string, unknown> | null {
  if (!v) return null;
  try {
    const o: unknown = JSON.parse(v.toString('utf8'));
    return o !== null && typeof o === 'object' ? (o as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function rangeTimes(r: KafkaRange): { fromTime?: string; toTime?: string } {
  const iso = (t: string | number) => new Date(typeof t === 'number' ? t : Number.isFinite(Number(t)) ? Number(t) : Date.parse(t)).toISOString();
  return {
    ...(r.fromTime !== undefined ? { fromTime: iso(r.fromTime) } : {}),
    ...(r.toTime !== undefined ? { toTime: iso(r.toTime) } : {}),
  };
}

/**
 * Runs one job up to a stored version: read data, train, evaluate the new model and the active
 * version on the same holdout, store the version. Decides (does not perform) the activation.
 */
export async function runTrainJob(spec: TrainJobSpec, deps: TrainJobDeps): Promise<TrainJobResult> {
  const params: TrainParams = withDefaults(spec.params);
  deps.onPhase('reading');
  const { dataset, dataRange, rejected } = await loadDataset(spec, { brokers: deps.brokers, sasl: deps.kafkaSasl ?? null }, deps.limits);
  const n = dataset.task === 'forecast' ? dataset.readings.length : dataset.examples.length;
  const before = await deps.registry.getModel(spec.model);
  const artifactMeta = {
    name: spec.model,
    versionLabel: `job-${spec.jobId}`,
    parent: before?.active?.version ?? before?.versions[before.versions.length - 1]?.version ?? null,
  };
  deps.onPhase('training', `${n} ${dataset.task === 'forecast' ? 'readings' : 'examples'}${rejected.total > 0 ? `, ${rejected.total} rejected (${rejected.summary()})` : ''}`);
  const trained =
    dataset.task === 'forecast'
      ? await trainForecaster(dataset.readings, params, deps.onEpoch, artifactMeta)
      : await trainClassifier(dataset.examples, params, deps.onEpoch, artifactMeta);

  deps.onPhase('evaluating');
  const active = await deps.registry.getActive(spec.model);
  let baseline: TrainJobResult['baseline'] = null;
  let baselineError: string | null = null;
  if (active && trained.holdout.length > 0) {
    try {
      const files = await deps.registry.loadVersionFiles(spec.model, active.version);
      const sidecar = readSidecar(files);
      const model = await filesToModel(files);
      const metrics =
        dataset.task === 'forecast'
          ? evaluateForecaster(model, sidecar, trained.holdout as ForecastHoldoutExample[])
          : evaluateClassifier(model, sidecar, trained.holdout as TextExample[]);
      model.dispose();
      baseline = { version: active.version, metrics };
    } catch (err) {
      baselineError = (err as Error).message;
    }
  }
  let shouldActivate: boolean;
  let reason: string;
  switch (spec.activate) {
    case 'always':
      shouldActivate = true;
      reason = 'activate=always';
      break;
    case 'never':
      shouldActivate = false;
      reason = 'activate=never';
      break;
    case 'if-better':
      if (!active) [shouldActivate, reason] = [true, 'no active version'];
      else if (trained.holdout.length === 0) [shouldActivate, reason] = [false, 'no holdout to compare on'];
      else if (!baseline) [shouldActivate, reason] = [true, `active version could not be evaluated: ${baselineError}`];
      else {
        shouldActivate = isBetter(dataset.task, trained.metrics, baseline.metrics);
        reason = shouldActivate ? `better than active v${baseline.version}` : `not better than active v${baseline.version}`;
      }
      break;
  }
  trained.model.dispose();

  await deps.beforeSave?.();
  deps.onPhase('saving');
  const latest = await deps.registry.getModel(spec.model);
  const version = await deps.registry.createVersion(spec.model, trained.files, {
    task: dataset.task,
    parentVersion: active?.version ?? latest?.versions[latest.versions.length - 1]?.version ?? null,
    dataRange,
    metrics: trained.metrics,
    policy: spec.policy ?? 'reset',
    source: 'trained',
    jobId: spec.jobId,
    params: { ...params },
  });
  return {
    version,
    metrics: trained.metrics,
    baseline,
    shouldActivate,
    reason,
    trainExamples: trained.trainExamples,
    holdoutExamples: trained.holdout.length,
    dataRange,
    rejected: rejected.counts(),
  };
}
