import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { DLQ_REASONS, type DlqReason } from '@app/contracts';
import type { PipelineStage, PolicyApplied, ProcessorObserver } from '../pipeline/ports';
import type { ActivationIgnoredReason, ModelManagerObserver } from '../model/model-manager';

/**
 * Kinds of {@link WorkerMetrics.retry}: batch failures the consumer retries with backoff, and
 * `commit` for offset commits that failed (carried by the next unit's commit).
 */
export const RETRY_KINDS = ['kafka', 'redis', 'redis_replicas', 'model_not_ready', 'other', 'commit'] as const;

/** The consumer's view of its partitions (libs/kafka BatchConsumer). */
export interface PartitionSource {
  stuckPartitions(): readonly { topic: string; partition: number; sinceMs: number }[];
  partitionProgress(): readonly { topic: string; partition: number; committed: bigint; highWatermark: bigint }[];
}

/**
 * Prometheus metrics of the worker (own registry, served on /metrics). Implements the processor
 * and model-manager observer hooks, so the hot path calls plain methods, never prom-client
 * label lookups per event (labels are resolved per batch).
 */
export class WorkerMetrics implements ProcessorObserver, ModelManagerObserver {
  readonly registry = new Registry();
  /** Consumer state read on each scrape (set by the runtime once the consumer exists). */
  private partitions: PartitionSource | null = null;
  private readonly eventsInTotal: Counter<'topic'>;
  private readonly predictionsTotal: Counter<'topic'>;
  private readonly dlqTotal: Counter<'reason'>;
  private readonly skippedTotal: Counter;
  private readonly batchSizeHist: Histogram;
  private readonly stepHist: Histogram;
  private readonly stepBatchHist: Histogram;
  private readonly batchSeconds: Histogram<'topic'>;
  private readonly stateOpsTotal: Counter<'op'>;
  private readonly policyTotal: Counter<'policy'>;
  private readonly modelVersion: Gauge<'model'>;
  private readonly modelLoadFailures: Counter<'model'>;
  private readonly shadowVersion: Gauge<'model'>;
  private readonly shadowLoadFailures: Counter<'model'>;
  private readonly shadowEvents: Counter<'model'>;
  private readonly shadowRestarts: Counter<'model'>;
  private readonly lag: Gauge<'topic' | 'partition'>;
  private readonly retriesTotal: Counter<'kind'>;
  private readonly stageHist: Histogram<'stage'>;
  private readonly eventToEmit: Histogram;
  private readonly stuckCount: Gauge;
  private readonly stuckSeconds: Gauge<'topic' | 'partition'>;
  // Events choose model names: these carry no model label, so they cannot grow without bound.
  private readonly activationsIgnored: Counter<'reason'>;
  private readonly activationRetries: Counter;
  private readonly corruptStates: Counter;
  private readonly keysMoved: Counter;
  private readiness: (() => Promise<{ ready: boolean; checks: Record<string, unknown> }>) | null = null;
  private pendingReadiness: Promise<{ ready: boolean; checks: Record<string, unknown> } | null> | null = null;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'streamcell_worker_' });
    this.eventsInTotal = new Counter({ name: 'streamcell_events_in_total', help: 'Messages consumed', labelNames: ['topic'], registers });
    this.predictionsTotal = new Counter({
      name: 'streamcell_predictions_out_total',
      help: 'Predictions produced',
      labelNames: ['topic'],
      registers,
    });
    this.dlqTotal = new Counter({ name: 'streamcell_dlq_total', help: 'Messages dead-lettered', labelNames: ['reason'], registers });
    this.skippedTotal = new Counter({
      name: 'streamcell_events_skipped_total',
      help: 'Events at or below the key state offset (already applied; replays)',
      registers,
    });
    this.batchSizeHist = new Histogram({
      name: 'streamcell_batch_size',
      help: 'Messages per partition batch',
      buckets: [1, 4, 16, 64, 256, 1024, 4096, 16384],
      registers,
    });
    this.stepHist = new Histogram({
      name: 'streamcell_step_seconds',
      help: 'Latency of one batched engine step (all active keys)',
      buckets: [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1],
      registers,
    });
    this.stepBatchHist = new Histogram({
      name: 'streamcell_step_keys',
      help: 'Keys advanced per engine step',
      buckets: [1, 4, 16, 64, 256, 1024, 4096],
      registers,
    });
    this.batchSeconds = new Histogram({
      name: 'streamcell_batch_seconds',
      help: 'Wall time of one partition batch (decode to state write)',
      labelNames: ['topic'],
      buckets: [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10],
      registers,
    });
    this.stateOpsTotal = new Counter({
      name: 'streamcell_state_ops_total',
      help: 'State records loaded, written and stale (CAS not applied)',
      labelNames: ['op'],
      registers,
    });
    this.policyTotal = new Counter({
      name: 'streamcell_swap_policy_total',
      help: 'Keys whose state came from another model version, by policy applied',
      labelNames: ['policy'],
      registers,
    });
    this.modelVersion = new Gauge({ name: 'streamcell_model_version', help: 'Version served per model', labelNames: ['model'], registers });
    this.shadowVersion = new Gauge({ name: 'streamcell_shadow_version', help: 'Shadow version stepped per model (0: none)', labelNames: ['model'], registers });
    this.shadowLoadFailures = new Counter({
      name: 'streamcell_shadow_load_failures_total',
      help: 'Shadow versions that failed to load (the active version serves on; the load is retried)',
      labelNames: ['model'],
      registers,
    });
    this.shadowEvents = new Counter({
      name: 'streamcell_shadow_events_total',
      help: 'Events stepped by shadow versions',
      labelNames: ['model'],
      registers,
    });
    this.shadowRestarts = new Counter({
      name: 'streamcell_shadow_key_restarts_total',
      help: 'Shadow keys restarted from the initial state because the shadow missed events of the key',
      labelNames: ['model'],
      registers,
    });
    this.modelLoadFailures = new Counter({
      name: 'streamcell_model_load_failures_total',
      help: 'Model versions that failed to load',
      labelNames: ['model'],
      registers,
    });
    this.lag = new Gauge({
      name: 'streamcell_consumer_lag',
      help: "High watermark at the last fetch minus the group's committed offset, per assigned partition",
      collect: () => {
        if (this.partitions) this.consumerLags(this.partitions.partitionProgress());
      },
      labelNames: ['topic', 'partition'],
      registers,
    });
    this.retriesTotal = new Counter({
      name: 'streamcell_batch_retries_total',
      help: 'Batch attempts that failed and were retried (partition paused meanwhile)',
      labelNames: ['kind'],
      registers,
    });
    this.stageHist = new Histogram({
      name: 'streamcell_batch_stage_seconds',
      help: 'Wall time of each stage of a unit of work (the partition batches of one fetch): fetch_wait, decode, state_load, step, produce, state_write, commit',
      labelNames: ['stage'],
      buckets: [0.0001, 0.0003, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
      registers,
    });
    this.eventToEmit = new Histogram({
      name: 'streamcell_event_to_emit_seconds',
      help: "From an event's own time (ts) to its prediction acknowledged by Kafka (includes the producer's clock offset and any backlog)",
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 300],
      registers,
    });
    this.stuckCount = new Gauge({
      name: 'streamcell_stuck_partitions',
      help: 'Assigned partitions whose last batch attempt failed (retrying with backoff)',
      collect: () => {
        if (this.partitions) this.stuckPartitions(this.partitions.stuckPartitions(), this.partitions.partitionProgress(), Date.now());
      },
      registers,
    });
    this.stuckSeconds = new Gauge({
      name: 'streamcell_partition_stuck_seconds',
      help: 'Seconds since the first failure in a row of the batch of a stuck partition (0 for the other partitions read)',
      labelNames: ['topic', 'partition'],
      registers,
    });
    this.activationsIgnored = new Counter({
      name: 'streamcell_model_activations_ignored_total',
      help: 'Model activation events not applied: stale, naming a model without an active version, or not matching the registry (version, epoch, policy, checksums)',
      labelNames: ['reason'],
      registers,
    });
    this.activationRetries = new Counter({
      name: 'streamcell_model_activation_retries_total',
      help: 'Failed model activations scheduled to be tried again',
      registers,
    });
    this.corruptStates = new Counter({
      name: 'streamcell_state_corrupt_total',
      help: 'Stored key states that could not be decoded (the key starts afresh)',
      registers,
    });
    this.keysMoved = new Counter({
      name: 'streamcell_key_partition_moved_total',
      help: 'Keys whose event arrived on another partition than the one their stored state came from',
      registers,
    });
    // Known label values start at 0: increase()/rate() cannot see the first increment of a series
    // that appears with it, so an alert on the first dead letter or retry would never fire.
    for (const reason of DLQ_REASONS) this.dlqTotal.inc({ reason }, 0);
    for (const kind of RETRY_KINDS) this.retriesTotal.inc({ kind }, 0);
    // Both gauges are collected in the same scrape from one readiness evaluation.
    const checkOk: Gauge<'check'> = new Gauge({
      name: 'streamcell_worker_check_ok',
      help: 'Readiness checks of /health/ready (kafka, redis, models): 1 passing, 0 failing',
      labelNames: ['check'],
      registers,
      collect: async () => {
        const r = await this.scrapeReadiness();
        for (const [check, v] of Object.entries(r?.checks ?? {})) checkOk.set({ check }, (v as { ok?: boolean } | null)?.ok ? 1 : 0);
      },
    });
    const ready: Gauge = new Gauge({
      name: 'streamcell_worker_ready',
      help: 'Whether /health/ready reports this worker ready (1) or not (0)',
      registers,
      collect: async () => ready.set((await this.scrapeReadiness())?.ready ? 1 : 0),
    });
  }

  /** One readiness evaluation shared by the gauges of a scrape (null before start or on error). */
  private scrapeReadiness(): Promise<{ ready: boolean; checks: Record<string, unknown> } | null> {
    if (!this.readiness) return Promise.resolve(null);
    this.pendingReadiness ??= this.readiness()
      .catch(() => null)
      .finally(() => (this.pendingReadiness = null));
    return this.pendingReadiness;
  }

  /**
   * Exports the readiness the health server reports as `streamcell_worker_ready` (1/0) and
   * `streamcell_worker_check_ok{check}`, evaluated at scrape time (off the hot path).
   */
  watchReadiness(readiness: () => Promise<{ ready: boolean; checks: Record<string, unknown> }>): void {
    this.readiness = readiness;
  }

  /** Starts the counters of this worker's models and topics at 0 (see the constructor). */
  configured(c: { models: readonly string[]; inputTopics: readonly string[]; outputTopics: readonly string[] }): void {
    for (const model of c.models) this.modelLoadFailures.inc({ model }, 0);
    for (const topic of c.inputTopics) this.eventsInTotal.inc({ topic }, 0);
    for (const topic of c.outputTopics) this.predictionsTotal.inc({ topic }, 0);
  }

  /** The group assigned partitions anew: lag of partitions this worker no longer owns must not linger. */
  partitionsAssigned(): void {
    this.lag.reset();
  }

  eventsIn(topic: string, n: number): void {
    this.eventsInTotal.inc({ topic }, n);
  }
  predictionsOut(topic: string, n: number): void {
    if (n > 0) this.predictionsTotal.inc({ topic }, n);
  }
  deadLettered(reason: DlqReason, n: number): void {
    this.dlqTotal.inc({ reason }, n);
  }
  skipped(n: number): void {
    this.skippedTotal.inc(n);
  }
  batchSize(n: number): void {
    this.batchSizeHist.observe(n);
  }
  stepSeconds(seconds: number, batch: number): void {
    this.stepHist.observe(seconds);
    this.stepBatchHist.observe(batch);
  }
  stateOps(op: 'load' | 'write' | 'conflict', n: number): void {
    this.stateOpsTotal.inc({ op: op === 'conflict' ? 'stale' : op }, n);
  }
  policyApplied(policy: PolicyApplied, n: number): void {
    this.policyTotal.inc({ policy }, n);
  }
  versionServed(model: string, version: number): void {
    this.modelVersion.set({ model }, version);
  }
  shadowServed(model: string, version: number | null): void {
    this.shadowVersion.set({ model }, version ?? 0);
  }
  shadowLoadFailed(model: string): void {
    this.shadowLoadFailures.inc({ model });
  }
  shadowStepped(model: string, events: number, restarts: number): void {
    this.shadowEvents.inc({ model }, events);
    if (restarts > 0) this.shadowRestarts.inc({ model }, restarts);
  }
  loadFailed(model: string): void {
    this.modelLoadFailures.inc({ model });
  }
  batchDone(topic: string, seconds: number): void {
    this.batchSeconds.observe({ topic }, seconds);
  }
  /** Where the lag and stuck-partition gauges read from on each scrape. */
  watchPartitions(source: PartitionSource): void {
    this.partitions = source;
  }
  stageSeconds(stage: PipelineStage | 'fetch_wait' | 'commit', seconds: number): void {
    this.stageHist.observe({ stage }, seconds);
  }
  emitted(eventTimesMs: readonly number[], emittedAtMs: number): void {
    for (const t of eventTimesMs) this.eventToEmit.observe((emittedAtMs - t) / 1000);
  }
  /**
   * Replaces the stuck-partition gauges (called on every scrape): the age of each stuck partition,
   * 0 for the other partitions the consumer reads.
   */
  stuckPartitions(
    stuck: readonly { topic: string; partition: number; sinceMs: number }[],
    reading: readonly { topic: string; partition: number }[],
    nowMs: number,
  ): void {
    this.stuckCount.set(stuck.length);
    this.stuckSeconds.reset();
    for (const p of reading) this.stuckSeconds.set({ topic: p.topic, partition: String(p.partition) }, 0);
    for (const p of stuck) this.stuckSeconds.set({ topic: p.topic, partition: String(p.partition) }, (nowMs - p.sinceMs) / 1000);
  }
  /** Replaces the lag gauges: high watermark minus the group's committed offset, per partition. */
  consumerLags(parts: readonly { topic: string; partition: number; committed: bigint; highWatermark: bigint }[]): void {
    this.lag.reset();
    for (const p of parts) {
      const lag = p.highWatermark > p.committed ? p.highWatermark - p.committed : 0n;
      this.lag.set({ topic: p.topic, partition: String(p.partition) }, Number(lag));
    }
  }
  retry(kind: (typeof RETRY_KINDS)[number]): void {
    this.retriesTotal.inc({ kind });
  }
  activationIgnored(_model: string, reason: ActivationIgnoredReason): void {
    this.activationsIgnored.inc({ reason });
  }
  activationRetry(): void {
    this.activationRetries.inc();
  }
  corruptState(): void {
    this.corruptStates.inc();
  }
  keyPartitionMoved(n: number): void {
    this.keysMoved.inc(n);
  }
}
