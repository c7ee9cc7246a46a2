import type { DlqReason } from '@app/contracts';
import type { AccuracyUpdate, StateRecord } from '@app/state';
import type { ServingModel } from '../model/serving-model';

/**
 * The pipeline's boundary: what it consumes, what it produces and the side effects it calls
 * (state store, producer, models, observer). Adapters (runtime/, model/, observability/) import
 * these types from here, never the orchestrator.
 */

/** Record headers as kafkajs reads them (a name may repeat: then an array). */
export type RecordHeaders = Readonly<Record<string, Buffer | string | (Buffer | string)[] | undefined>>;

/** Headers of an output record (a trace context: trace-headers.ts). */
export type OutputHeaders = Readonly<Record<string, string | Buffer>>;

/** One consumed message as the pipeline sees it (kafkajs fields). */
export interface InputMessage {
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  /** W3C `traceparent` / `tracestate` are carried on to the message's outputs (trace-headers.ts). */
  readonly headers?: RecordHeaders;
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
  /** Trace context of the source message (trace-headers.ts); none when it has none. */
  readonly headers?: OutputHeaders;
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
  /**
   * One pipelined round trip of CAS writes; returns the keys whose write was stale (not applied).
   * `accuracy`: the live accuracy the writes' events scored, applied before any state is
   * written (docs/accuracy.md).
   */
  writeMany(
    model: string,
    writes: readonly StateWrite[],
    accuracy?: readonly AccuracyUpdate[],
  ): Promise<{ readonly conflicts: readonly string[] }>;
  /**
   * Resolves once earlier writes of this connection are as durable as `writeMany` makes its own
   * (the replica acknowledgement of REDIS_WAIT_REPLICAS; nothing to do without it).
   */
  confirmDurable?(): Promise<void>;
}

/** Producer (adapter over @app/kafka): one call per unit, resolves once acknowledged by all ISRs. */
export interface OutputSink {
  sendBatch(records: readonly OutputRecord[]): Promise<void>;
}

/** The models currently served (swapped by the model manager between units). */
export interface ModelSource {
  get(name: string): ServingModel | undefined;
  /** Tries to load models events name that are not served yet (e.g. from the registry). */
  resolve?(names: readonly string[]): Promise<void>;
  /**
   * The version label of an activation of `name` that is verified but not loaded here yet (its
   * load failed and is being retried), or null. Keys another worker already moved to it wait
   * for it rather than being swapped back and forth.
   */
  pendingVersion?(name: string): string | null;
  /** The shadow version of `name` (stepped next to the active one, outputs kept off the prediction topics). */
  shadow?(name: string): ServingModel | undefined;
}

/**
 * Label of `streamcell_swap_policy_total`: the policy applied to a key whose state came from
 * another version; `*_fallback` = asked for, impossible for that key, reset instead.
 */
export type PolicyApplied = 'reset' | 'rewarm' | 'keep' | 'warm' | 'keep_fallback' | 'rewarm_fallback' | 'warm_fallback';

/** Timed stages of a unit of work (the pipeline's; fetch_wait and commit are the consumer's). */
export type PipelineStage = 'decode' | 'state_load' | 'step' | 'produce' | 'state_write';

/**
 * Tracing of one unit of work (docs/tracing.md): the stage timings of this unit, and the trace
 * context headers of its outputs. `UNTRACED` (trace-headers.ts) when tracing is off.
 */
export interface UnitTrace {
  /** A stage of this unit just ended after `seconds`. */
  stage(stage: PipelineStage, seconds: number): void;
  /**
   * Headers of the output of message `index` of batch `batch` of the unit (a prediction or dead
   * letter), or undefined for none.
   */
  outputHeaders(batch: number, index: number, input: InputMessage): OutputHeaders | undefined;
}

/** Observations of one unit, for metrics. Every hook is optional. */
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
  policyApplied?(policy: PolicyApplied, n: number): void;
  /** A shadow version stepped `events` events; `restarts` of its keys restarted (missed events). */
  shadowStepped?(model: string, events: number, restarts: number): void;
  stageSeconds?(stage: PipelineStage, seconds: number): void;
  /**
   * Predictions acknowledged by the producer at `emittedAtMs` (epoch ms), with the event times
   * (epoch ms) of their events.
   */
  emitted?(eventTimesMs: readonly number[], emittedAtMs: number): void;
}

/** Worker knobs the pipeline needs. */
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
  /** Topic of shadow versions' outputs (same encoding as the prediction topics); empty: none published. */
  readonly shadowTopic?: string;
}

/** A batch needs a model that has no active version: retry later, drop nothing. */
export class ModelNotReadyError extends Error {
  constructor(
    readonly model: string,
    why = 'has no active version loaded yet',
  ) {
    super(`model '${model}' ${why}`);
    this.name = 'ModelNotReadyError';
  }
}

/**
 * A prepared unit was not written because a unit prepared before it failed to write (it was
 * computed from that unit's states): prepare it again, nothing of it is durable.
 */
export class UnitSupersededError extends Error {
  constructor() {
    super('an earlier unit of work failed to write; this one is prepared again');
    this.name = 'UnitSupersededError';
  }
}

/** Summary of one processed unit (or batch). */
export interface BatchResult {
  readonly events: number;
  readonly predictions: number;
  readonly deadLetters: number;
  readonly skipped: number;
}

/** Where the pipeline logs. */
export interface PipelineLogger {
  log(message: string): void;
  warn(message: string): void;
}

export const SILENT_LOGGER: PipelineLogger = { log: () => undefined, warn: () => undefined };
