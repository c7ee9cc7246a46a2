import {
  buildDeadLetter,
  decodeSensorReading,
  decodeTextEvent,
  encodeClassificationPrediction,
  encodeForecastPrediction,
  type DlqReason,
} from '@app/contracts';
import type { StateRecord } from '@app/state';
import { planBatch, type BatchPlan, type KeyStart, type PlannerEvent } from './batch-planner';
import { decodeExtras, encodeExtras, freshExtras, type ForecastExtras, type TaskExtras } from './task-extras';
import { forecastFeatureCount, type ServingModel } from '../model/serving-model';
import { firstNonFiniteEvents, float32OverflowDetail } from './finite-guard';

/** One consumed message as the processor sees it (kafkajs fields). */
export interface InputMessage {
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
}

/** One partition batch. */
export interface PartitionBatch {
  readonly topic: string;
  readonly partition: number;
  readonly messages: readonly InputMessage[];
}

/** A record to produce (predictions and dead letters). */
export interface OutputRecord {
  readonly topic: string;
  readonly key: string | Buffer | null;
  readonly value: string;
}

/** One compare-and-set write: applies only when it moves the stored (partition, offset) forward. */
export interface StateWrite {
  readonly key: string;
  readonly record: StateRecord;
  /** What was loaded (null: there was no record). */
  readonly expected: { readonly partition: number; readonly offset: bigint } | null;
}

/** State persistence (adapter over @app/state). */
export interface StatePort {
  /** One pipelined round trip; null for keys without a record. */
  loadMany(model: string, keys: readonly string[]): Promise<(StateRecord | null)[]>;
  /** One pipelined round trip of CAS writes; returns the keys whose write was stale (not applied). */
  writeMany(model: string, writes: readonly StateWrite[]): Promise<{ readonly conflicts: readonly string[] }>;
  /**
   * Resolves once earlier writes of this connection are as durable as `writeMany` makes its own
   * (the replica acknowledgement of REDIS_WAIT_REPLICAS; nothing to do without it).
   */
  confirmDurable?(): Promise<void>;
}

/** Producer (adapter over @app/kafka): one call per batch, resolves once acknowledged by all ISRs. */
export interface OutputSink {
  sendBatch(records: readonly OutputRecord[]): Promise<void>;
}

/** The models currently served (swapped by the model manager between batches). */
export interface ModelSource {
  get(name: string): ServingModel | undefined;
  /** Tries to load models events name that are not served yet (e.g. from the registry). */
  resolve?(names: readonly string[]): Promise<void>;
}

/** Observations of one batch, for metrics. Every hook is optional. */
export interface ProcessorObserver {
  eventsIn?(topic: string, n: number): void;
  predictionsOut?(topic: string, n: number): void;
  deadLettered?(reason: DlqReason, n: number): void;
  skipped?(n: number): void;
  batchSize?(n: number): void;
  stepSeconds?(seconds: number, batch: number): void;
  stateOps?(op: 'load' | 'write' | 'conflict', n: number): void;
  /** Keys whose stored state came from another partition (a producer spreading a key, or a repartition). */
  keyPartitionMoved?(n: number): void;
  /** `rewarm_fallback`: rewarm asked for, but the key stored no inputs (reset instead). */
  policyApplied?(policy: 'reset' | 'rewarm' | 'keep' | 'keep_fallback' | 'rewarm_fallback', n: number): void;
}

/** Worker knobs the processor needs. */
export interface ProcessorConfig {
  readonly sensorTopic: string;
  readonly textTopic: string;
  readonly forecastTopic: string;
  readonly classificationTopic: string;
  readonly dlqTopic: string;
  readonly forecastModel: string;
  readonly classifyModel: string;
  readonly maxGapMs: number;
  readonly allowedLatenessMs: number;
  readonly maxTextLength: number;
  readonly maxPayloadBytes: number;
  /** Largest dead letter (record key + value) in bytes; default DEFAULT_MAX_DLQ_BYTES. */
  readonly dlqMaxBytes?: number;
  /**
   * Inputs kept per key for the rewarm policy, by models served with policy `rewarm` only: the
   * ring costs 4 bytes per feature per input in every key's record, so models that never rewarm
   * store none.
   */
  readonly rewarmSteps: number;
}

/** A batch needs a model that has no active version: retry later, drop nothing. */
export class ModelNotReadyError extends Error {
  constructor(readonly model: string) {
    super(`model '${model}' has no active version loaded yet`);
    this.name = 'ModelNotReadyError';
  }
}

/** Summary of one processed batch. */
export interface BatchResult {
  readonly events: number;
  readonly predictions: number;
  readonly deadLetters: number;
  readonly skipped: number;
  /** Highest offset of the batch (resolve it once the result is returned). */
  readonly lastOffset: string | null;
}

interface ValidEvent {
  readonly index: number;
  readonly key: string;
  readonly offset: bigint;
  readonly timeMs: number;
  /** `ts` as the input carried it; predictions echo it. */
  readonly rawTs: string | number;
  readonly reset: boolean;
  /** Forecast: raw values; classify: unused. */
  readonly values: Float64Array | null;
  /** Classify: token ids; forecast: unused. */
  readonly tokens: Int32Array | null;
}

interface Rejection {
  readonly index: number;
  readonly reason: DlqReason;
  readonly detail: string;
}

interface Logger {
  log(message: string): void;
  warn(message: string): void;
}

const SILENT: Logger = { log: () => undefined, warn: () => undefined };

/**
 * The hot path of the worker for one partition batch (docs/architecture.md, Data path): decode/validate → group by key
 * → one pipelined state load per model → time-major batched steps (one engine call per step) →
 * one head call → encode → one producer call → one pipelined CAS state write. The caller resolves
 * and commits offsets only after {@link process} returned; a thrown error means nothing of the
 * batch may be committed (retry it).
 *
 * Deterministic: the same messages and stored states give byte-identical output records and
 * state records (no clock, no randomness; the only wall-clock value is the DLQ `at`).
 */
export class BatchProcessor {
  constructor(
    private readonly cfg: ProcessorConfig,
    private readonly models: ModelSource,
    private readonly store: StatePort,
    private readonly sink: OutputSink,
    private readonly observer: ProcessorObserver = {},
    private readonly logger: Logger = SILENT,
  ) {}

  async process(batch: PartitionBatch, resolved = false): Promise<BatchResult> {
    const { topic, messages } = batch;
    const isSensor = topic === this.cfg.sensorTopic;
    if (!isSensor && topic !== this.cfg.textTopic) throw new Error(`no task consumes topic '${topic}'`);
    const defaultModel = isSensor ? this.cfg.forecastModel : this.cfg.classifyModel;
    const taskKind = isSensor ? 'forecast' : 'classify';

    // 1. Decode and validate; group valid events by model (models resolved once per batch).
    const rejections: Rejection[] = [];
    const groups = new Map<string, { model: ServingModel; events: ValidEvent[] }>();
    const limits = { maxPayloadBytes: this.cfg.maxPayloadBytes, maxTextChars: this.cfg.maxTextLength };
    const missing = new Set<string>();
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i];
      const decoded = isSensor ? decodeSensorReading(m.key, m.value, limits) : decodeTextEvent(m.key, m.value, limits);
      if (!decoded.ok) {
        rejections.push({ index: i, reason: decoded.reason, detail: decoded.detail });
        continue;
      }
      const ev = decoded.event;
      const name = ev.model ?? defaultModel;
      let group = groups.get(name);
      if (group === undefined) {
        const model = this.models.get(name);
        if (model === undefined && !resolved && this.models.resolve !== undefined) {
          missing.add(name);
          continue;
        }
        if (model === undefined || model.task.kind !== taskKind) {
          if (ev.model === undefined) throw new ModelNotReadyError(name);
          rejections.push({
            index: i,
            reason: 'unknown_model',
            detail:
              model === undefined
                ? `/model ${JSON.stringify(name)} has no active version here`
                : `/model ${JSON.stringify(name)} is a ${model.task.kind} model, not ${taskKind}`,
          });
          continue;
        }
        group = { model, events: [] };
        groups.set(name, group);
      }
      const task = group.model.task;
      let values: Float64Array | null = null;
      let tokens: Int32Array | null = null;
      if (task.kind === 'forecast') {
        values = (ev as { values: Float64Array }).values;
        if (values.length !== task.valueCount) {
          rejections.push({
            index: i,
            reason: 'feature_count',
            detail: `/values has ${values.length} features, model ${name} expects ${task.valueCount}`,
          });
          continue;
        }
        const overflow = float32OverflowDetail(values, task, values.length === 1);
        if (overflow !== null) {
          rejections.push({ index: i, reason: 'non_finite', detail: overflow });
          continue;
        }
      } else {
        let ids: number[];
        try {
          ids = task.tokenize((ev as { text: string }).text);
        } catch (e) {
          // Import refuses tokenizers known to throw; any other failure costs this event, not the partition.
          rejections.push({ index: i, reason: 'model_error', detail: `model ${name}: tokenizer failed: ${(e as Error).message}` });
          continue;
        }
        const vocab = group.model.engine.vocabularySize;
        // Ids beyond the embedding (a tokenizer without num_words) have no row: Keras would fail
        // on them; the stream must not, so they are dropped like out-of-vocabulary words.
        tokens = Int32Array.from(ids.filter((t) => t >= 0 && (vocab === 0 || t < vocab)));
      }
      group.events.push({
        index: i,
        key: ev.key,
        offset: BigInt(m.offset),
        timeMs: ev.ts,
        rawTs: ev.rawTs,
        reset: ev.reset,
        values,
        tokens,
      });
    }

    if (missing.size > 0) {
      // Rare (first event naming a model, or the topic's model not active yet): load, then decode again.
      await this.models.resolve!([...missing]);
      return this.process(batch, true);
    }
    this.observer.eventsIn?.(topic, messages.length);
    this.observer.batchSize?.(messages.length);

    // Dead letters ride in the same producer call as the predictions.
    const outputs: { index: number; record: OutputRecord }[] = [];
    for (const rej of rejections) outputs.push({ index: rej.index, record: this.deadLetter(batch, rej) });

    // 2-6 per model (normally one model per topic); names sorted for determinism.
    let predictions = 0;
    let skipped = 0;
    for (const name of [...groups.keys()].sort()) {
      const { model, events } = groups.get(name)!;
      const r = await this.processModelGroup(batch, model, events, outputs, rejections);
      predictions += r.predictions;
      skipped += r.skipped;
    }

    await this.flush(outputs);
    // Events skipped as already applied may have been written by an earlier attempt of this batch
    // whose replica acknowledgement fell short: committing past them needs that acknowledgement.
    if (skipped > 0) await this.store.confirmDurable?.();
    for (const rej of rejections) this.observer.deadLettered?.(rej.reason, 1);
    if (skipped > 0) this.observer.skipped?.(skipped);
    return {
      events: messages.length,
      predictions,
      deadLetters: rejections.length,
      skipped,
      lastOffset: messages.length > 0 ? messages[messages.length - 1].offset : null,
    };
  }

  /**
   * Plans, steps and emits one model's events, then writes the states. Predictions (and the
   * batch's DLQ records, on the last group) are produced before the state write.
   */
  private async processModelGroup(
    batch: PartitionBatch,
    model: ServingModel,
    events: readonly ValidEvent[],
    outputs: { index: number; record: OutputRecord }[],
    rejections: Rejection[],
  ): Promise<{ predictions: number; skipped: number }> {
    const { topic, partition, messages } = batch;
    const keys: string[] = [];
    const seen = new Set<string>();
    for (const e of events) {
      if (!seen.has(e.key)) {
        seen.add(e.key);
        keys.push(e.key);
      }
    }
    const loaded = await this.store.loadMany(model.name, keys);
    this.observer.stateOps?.('load', keys.length);

    // Swap policy: a record from another version is reset, rewarmed or kept.
    const S = model.engine.stateSize;
    const task = model.task;
    const featureCount = task.kind === 'forecast' ? forecastFeatureCount(task) : 0;
    const starts = new Map<string, KeyStart>();
    const prepared = new Map<
      string,
      { record: StateRecord | null; row: Float32Array | null; extras: TaskExtras; warm: Float32Array[] | number[]; baseSteps: number }
    >();
    const policyCounts = { reset: 0, rewarm: 0, keep: 0, keep_fallback: 0, rewarm_fallback: 0 };
    // Inputs for a later rewarm are kept only while the served version was activated with rewarm.
    const ringCapacity = model.policy === 'rewarm' ? this.cfg.rewarmSteps : 0;
    const moved: string[] = [];
    keys.forEach((key, k) => {
      const record = loaded[k];
      if (record && record.partition >= 0 && record.partition !== partition) moved.push(`${key} (state from partition ${record.partition})`);
      const history =
        record && record.partition >= 0
          ? {
              partition: record.partition,
              offset: record.offset,
              lastTimeMs: Number.isNaN(record.lastEventTs) ? Number.NEGATIVE_INFINITY : record.lastEventTs,
            }
          : null;
      const extras = decodeExtras(record?.extras, record?.ring, task.kind, featureCount) ?? freshExtras(task.kind, featureCount);
      if (record === null) {
        starts.set(key, { history, fresh: true, warmSteps: 0 });
        prepared.set(key, { record, row: null, extras, warm: [], baseSteps: 0 });
        return;
      }
      if (record.modelVersion === model.versionLabel && record.state.length === S) {
        starts.set(key, { history, fresh: false, warmSteps: 0 });
        prepared.set(key, { record, row: record.state, extras, warm: [], baseSteps: record.steps });
        return;
      }
      let policy = record.modelVersion === model.versionLabel ? 'reset' : model.policy;
      if (policy === 'keep' && record.state.length !== S) {
        policyCounts.keep_fallback++;
        this.logger.warn(
          `keep policy: key ${key} of ${model.name} has state size ${record.state.length}, v${model.version} needs ${S}; resetting`,
        );
        policy = 'reset';
      }
      if (policy === 'keep') {
        policyCounts.keep++;
        starts.set(key, { history, fresh: false, warmSteps: 0 });
        prepared.set(key, { record, row: record.state, extras, warm: [], baseSteps: record.steps });
        return;
      }
      // The previous forecast and residual statistics came from the old version's outputs.
      if (extras.kind === 'forecast') {
        extras.hasForecast = false;
        extras.residualCount = 0;
        extras.residualMean = 0;
        extras.residualM2 = 0;
      }
      if (policy === 'rewarm' && extras.history.length > 0) {
        policyCounts.rewarm++;
        const warm = extras.history.slice(-this.cfg.rewarmSteps);
        starts.set(key, { history, fresh: false, warmSteps: warm.length });
        prepared.set(key, { record, row: null, extras, warm, baseSteps: warm.length });
        return;
      }
      if (policy === 'rewarm') policyCounts.rewarm_fallback++;
      else policyCounts.reset++;
      extras.history = [];
      starts.set(key, { history, fresh: true, warmSteps: 0 });
      prepared.set(key, { record, row: null, extras, warm: [], baseSteps: 0 });
    });
    if (moved.length > 0) {
      this.observer.keyPartitionMoved?.(moved.length);
      this.logger.warn(
        `${moved.length} keys of ${model.name} arrived on ${topic}/${partition} but their state was written from another partition (a key spread over partitions breaks its event order): ${moved.slice(0, 5).join(', ')}`,
      );
    }
    for (const [p, n] of Object.entries(policyCounts)) {
      if (n > 0) this.observer.policyApplied?.(p as keyof typeof policyCounts, n);
    }
    if (policyCounts.rewarm_fallback > 0) {
      this.logger.warn(
        `rewarm policy: ${policyCounts.rewarm_fallback} keys of ${model.name} stored no inputs to replay (inputs are kept only while a version activated with rewarm is served, and REWARM_STEPS > 0); they start from the initial state`,
      );
    }

    let plannerEvents: PlannerEvent[] = events.map((e) => ({
      index: e.index,
      key: e.key,
      offset: e.offset,
      timeMs: e.timeMs,
      reset: e.reset,
      steps: e.tokens !== null ? e.tokens.length : 1,
    }));
    const byIndex = new Map<number, ValidEvent>();
    for (const e of events) byIndex.set(e.index, e);
    const planOf = (list: PlannerEvent[]): BatchPlan =>
      planBatch(list, starts, { partition, maxGapMs: this.cfg.maxGapMs, allowedLatenessMs: this.cfg.allowedLatenessMs });
    const runOf = (p: BatchPlan): StepOutput | null => (p.slots.length > 0 ? this.run(model, p, prepared, byIndex) : null);
    let plan = planOf(plannerEvents);
    let out = runOf(plan);
    // An event whose step is non-finite is dead-lettered and the key's later events are stepped
    // again without it, so its key keeps the state before it (finite-guard.ts).
    for (let bad = this.nonFinite(model, plan, out); bad.length > 0; bad = this.nonFinite(model, plan, out)) {
      const culprits = new Set(bad.map((b) => b.index));
      for (const b of bad) {
        const rej: Rejection = {
          index: b.index,
          reason: 'non_finite',
          detail: `model ${model.name} v${model.version} gave a non-finite ${b.what} for this event; the key keeps its previous state`,
        };
        rejections.push(rej);
        outputs.push({ index: rej.index, record: this.deadLetter(batch, rej) });
        this.logger.warn(`non-finite ${b.what}: ${model.name} v${model.version}, key ${b.key}, ${topic}/${partition}@${messages[b.index].offset} dead-lettered`);
      }
      plannerEvents = plannerEvents.filter((e) => !culprits.has(e.index));
      plan = planOf(plannerEvents);
      out = runOf(plan);
    }
    for (const l of plan.rejects.late) {
      const e = byIndex.get(l.index)!;
      const rej: Rejection = {
        index: l.index,
        reason: 'late_event',
        detail: `event time ${new Date(e.timeMs).toISOString()} is before the key's last event time ${new Date(l.lastTimeMs).toISOString()} beyond the allowed lateness ${this.cfg.allowedLatenessMs} ms`,
      };
      rejections.push(rej);
      outputs.push({ index: rej.index, record: this.deadLetter(batch, rej) });
    }
    if (out === null) return { predictions: 0, skipped: plan.rejects.skipped.length };

    // Post-process per key in event order (anomaly statistics evolve event by event).
    const writes: StateWrite[] = [];
    let predictions = 0;
    for (const slot of plan.slots) {
      const prep = prepared.get(slot.key)!;
      const extras = prep.extras;
      let stepCount = prep.baseSteps;
      for (const pe of slot.events) {
        const ev = byIndex.get(pe.index)!;
        const m = messages[pe.index];
        if (pe.start !== 'none') {
          const fresh = freshExtras(task.kind, featureCount);
          Object.assign(extras, fresh);
          stepCount = 0;
        }
        stepCount += pe.steps;
        const source = { topic, partition, offset: m.offset };
        let value: string;
        if (task.kind === 'forecast') {
          const fx = extras as ForecastExtras;
          if (ringCapacity > 0) {
            const raw = new Float32Array(featureCount);
            for (let j = 0; j < task.valueCount; j++) raw[j] = ev.values![j];
            if (task.includeTimeDelta) raw[task.valueCount] = pe.deltaMs / 1000;
            fx.history.push(raw);
            if (fx.history.length > ringCapacity) fx.history.splice(0, fx.history.length - ringCapacity);
          }
          const forecast = new Float64Array(task.horizon);
          const base = pe.headRow * model.engine.outputDim;
          // Outputs are horizon × targets, row-major: output j forecasts target j mod T.
          const targets = task.targetIndex;
          for (let j = 0; j < task.horizon; j++) {
            const f = targets[j % targets.length];
            forecast[j] = out[base + j] * task.scale[f] + task.mean[f];
          }
          let anomalyScore: number | undefined;
          if (fx.hasForecast) {
            const r = ev.values![targets[0]] - fx.lastForecast0;
            const n = fx.residualCount;
            if (n >= 2) {
              const std = Math.sqrt(fx.residualM2 / (n - 1));
              anomalyScore = std > 0 ? (r - fx.residualMean) / std : 0;
            }
            const n1 = n + 1;
            const d = r - fx.residualMean;
            fx.residualMean += d / n1;
            fx.residualM2 += d * (r - fx.residualMean);
            fx.residualCount = n1;
          }
          fx.hasForecast = true;
          fx.lastForecast0 = forecast[0];
          value = encodeForecastPrediction({
            sensorId: slot.key,
            ts: ev.rawTs,
            model: model.name,
            modelVersion: model.versionLabel,
            forecast,
            anomalyScore,
            source,
          });
          outputs.push({ index: pe.index, record: { topic: this.cfg.forecastTopic, key: slot.key, value } });
        } else {
          const cx = extras as { kind: 'classify'; history: number[] };
          if (ringCapacity > 0) {
            for (let j = 0; j < ev.tokens!.length; j++) cx.history.push(ev.tokens![j]);
            if (cx.history.length > ringCapacity) cx.history.splice(0, cx.history.length - ringCapacity);
          }
          const base = pe.headRow * model.engine.outputDim;
          let scores: Float64Array;
          if (task.binarySigmoid) {
            const p = out[base];
            scores = Float64Array.of(1 - p, p);
          } else {
            scores = Float64Array.from(out.subarray(base, base + model.engine.outputDim));
          }
          value = encodeClassificationPrediction({
            streamId: slot.key,
            ts: ev.rawTs,
            model: model.name,
            modelVersion: model.versionLabel,
            labels: task.labels,
            scores,
            source,
          });
          outputs.push({ index: pe.index, record: { topic: this.cfg.classificationTopic, key: slot.key, value } });
        }
        predictions++;
      }
      const enc = encodeExtras(extras, ringCapacity);
      const record: StateRecord = {
        modelVersion: model.versionLabel,
        partition,
        offset: slot.lastOffset,
        steps: stepCount,
        lastEventTs: slot.lastTimeMs,
        state: out.finalState.slice(slot.slot * S, slot.slot * S + S),
        extras: enc.extras,
        ring: enc.ring,
      };
      const loadedRecord = prep.record;
      writes.push({
        key: slot.key,
        record,
        expected: loadedRecord ? { partition: loadedRecord.partition, offset: loadedRecord.offset } : null,
      });
    }

    // Produce first (acks all): a state that records an offset implies its predictions are durable.
    await this.flush(outputs);
    const { conflicts } = await this.store.writeMany(model.name, writes);
    this.observer.stateOps?.('write', writes.length);
    // A stale write means another writer (a zombie or the partition's new owner) already stored
    // this key at or past our offset; states are a deterministic function of the applied prefix,
    // so the newer one is correct and ours is dropped.
    if (conflicts.length > 0) this.observer.stateOps?.('conflict', conflicts.length);
    this.observer.predictionsOut?.(task.kind === 'forecast' ? this.cfg.forecastTopic : this.cfg.classificationTopic, predictions);
    return { predictions, skipped: plan.rejects.skipped.length };
  }

  /** One producer call with everything pending (predictions and dead letters), in source order. */
  private async flush(outputs: { index: number; record: OutputRecord }[]): Promise<void> {
    if (outputs.length === 0) return;
    outputs.sort((a, b) => a.index - b.index);
    await this.sink.sendBatch(outputs.map((o) => o.record));
    outputs.length = 0;
  }

  private deadLetter(batch: PartitionBatch, rej: Rejection): OutputRecord {
    const m = batch.messages[rej.index];
    const dl = buildDeadLetter(
      {
        reason: rej.reason,
        detail: rej.detail,
        source: { topic: batch.topic, partition: batch.partition, offset: m.offset },
        key: m.key,
        value: m.value,
      },
      this.cfg.dlqMaxBytes,
    );
    return { topic: this.cfg.dlqTopic, key: dl.key, value: dl.value };
  }

  /** The first event per key whose step yielded a non-finite state or output (none normally). */
  private nonFinite(model: ServingModel, plan: BatchPlan, out: StepOutput | null): ReturnType<typeof firstNonFiniteEvents> {
    if (out === null) return [];
    return firstNonFiniteEvents(plan.slots, out.headStates, model.engine.stateSize, out, model.engine.outputDim);
  }

  /**
   * Executes a plan: boundary actions (head snapshots, resets), one engine call per step over
   * the active prefix of rows, then one head call over every snapshot.
   */
  private run(
    model: ServingModel,
    plan: BatchPlan,
    prepared: ReadonlyMap<string, { row: Float32Array | null; warm: Float32Array[] | number[] }>,
    byIndex: ReadonlyMap<number, ValidEvent>,
  ): StepOutput {
    const engine = model.engine;
    const S = engine.stateSize;
    const D = engine.inputDim;
    const n = plan.slots.length;
    const state = new Float32Array(n * S);
    const task = model.task;

    // Per-slot input sequences (warm steps first), so each step is a plain copy per row.
    const seqF: Float32Array[] = [];
    const seqT: Int32Array[] = [];
    for (const slot of plan.slots) {
      const prep = prepared.get(slot.key)!;
      state.set(prep.row ?? model.initialState, slot.slot * S);
      if (task.kind === 'forecast') {
        const seq = new Float32Array(slot.totalSteps * D);
        const row = new Float64Array(D);
        const warm = prep.warm as Float32Array[];
        for (let t = 0; t < slot.warmSteps; t++) {
          for (let j = 0; j < D; j++) row[j] = warm[t][j];
          scaleInto(row, task.mean, task.scale, seq, t * D);
        }
        for (const pe of slot.events) {
          const ev = byIndex.get(pe.index)!;
          for (let j = 0; j < task.valueCount; j++) row[j] = ev.values![j];
          if (task.includeTimeDelta) row[task.valueCount] = pe.deltaMs / 1000;
          scaleInto(row, task.mean, task.scale, seq, pe.firstStep * D);
        }
        seqF.push(seq);
      } else {
        const seq = new Int32Array(slot.totalSteps);
        const warm = prep.warm as number[];
        const vocab = engine.vocabularySize;
        for (let t = 0; t < slot.warmSteps; t++) seq[t] = warm[t] < vocab ? warm[t] : 0;
        for (const pe of slot.events) seq.set(byIndex.get(pe.index)!.tokens!, pe.firstStep);
        seqT.push(seq);
      }
    }

    const headState = new Float32Array(Math.max(1, plan.headCount) * S);
    const x = new Float32Array(Math.max(1, n * D));
    const ids = new Int32Array(Math.max(1, n));
    // Keras compares the float32 input against the mask value: do the same on the scaled row.
    const maskValue = task.kind === 'forecast' && task.maskValue != null ? Math.fround(task.maskValue) : null;
    const stepMask = maskValue === null ? undefined : new Uint8Array(Math.max(1, n));
    const init = model.initialState;
    for (let b = 0; b <= plan.stepCount; b++) {
      for (const a of plan.boundaries[b]) {
        if (a.kind === 'head') headState.set(state.subarray(a.slot * S, a.slot * S + S), a.row * S);
        else state.set(init, a.slot * S);
      }
      if (b === plan.stepCount) break;
      const nb = plan.stepBatch[b];
      const t0 = process.hrtime.bigint();
      if (task.kind === 'forecast') {
        for (let i = 0; i < nb; i++) x.set(seqF[i].subarray(b * D, b * D + D), i * D);
        if (stepMask) {
          for (let i = 0; i < nb; i++) {
            let live = 0;
            for (let j = 0; j < D; j++) if (x[i * D + j] !== maskValue) live = 1;
            stepMask[i] = live;
          }
        }
        engine.step(nb, x, state, stepMask);
      } else {
        for (let i = 0; i < nb; i++) ids[i] = seqT[i][b];
        engine.stepTokens(nb, ids, state);
      }
      this.observer.stepSeconds?.(Number(process.hrtime.bigint() - t0) / 1e9, nb);
    }
    const out = new Float32Array(Math.max(1, plan.headCount * engine.outputDim)) as StepOutput;
    engine.head(plan.headCount, headState, out);
    out.finalState = state;
    out.headStates = headState;
    return out;
  }
}

/** Head outputs of a run, with the final state per slot and the state after each event (per head row). */
type StepOutput = Float32Array & { finalState: Float32Array; headStates: Float32Array };

/** (x − mean) / scale in float64, rounded once to float32 (as a float32 tensor of scaled inputs). */
function scaleInto(raw: Float64Array, mean: Float64Array, scale: Float64Array, out: Float32Array, at: number): void {
  for (let j = 0; j < raw.length; j++) out[at + j] = (raw[j] - mean[j]) / scale[j];
}
