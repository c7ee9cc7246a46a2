import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { DlqReason } from '@app/contracts';
import type { ProcessorObserver } from '../pipeline/batch-processor';
import type { ActivationIgnoredReason, ModelManagerObserver } from '../model/model-manager';

/**
 * Prometheus metrics of the worker (own registry, served on /metrics). Implements the processor
 * and model-manager observer hooks, so the hot path calls plain methods, never prom-client
 * label lookups per event (labels are resolved per batch).
 */
export class WorkerMetrics implements ProcessorObserver, ModelManagerObserver {
  readonly registry = new Registry();
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
  private readonly lag: Gauge<'topic' | 'partition'>;
  private readonly retriesTotal: Counter<'kind'>;
  // Events choose model names: these carry no model label, so they cannot grow without bound.
  private readonly activationsIgnored: Counter<'reason'>;
  private readonly activationRetries: Counter;
  private readonly corruptStates: Counter;
  private readonly keysMoved: Counter;

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
    this.modelLoadFailures = new Counter({
      name: 'streamcell_model_load_failures_total',
      help: 'Model versions that failed to load',
      labelNames: ['model'],
      registers,
    });
    this.lag = new Gauge({
      name: 'streamcell_consumer_lag',
      help: 'High watermark minus the next offset after the last processed batch',
      labelNames: ['topic', 'partition'],
      registers,
    });
    this.retriesTotal = new Counter({
      name: 'streamcell_batch_retries_total',
      help: 'Batch attempts that failed and were retried (partition paused meanwhile)',
      labelNames: ['kind'],
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
  policyApplied(policy: 'reset' | 'rewarm' | 'keep' | 'keep_fallback' | 'rewarm_fallback', n: number): void {
    this.policyTotal.inc({ policy }, n);
  }
  versionServed(model: string, version: number): void {
    this.modelVersion.set({ model }, version);
  }
  loadFailed(model: string): void {
    this.modelLoadFailures.inc({ model });
  }
  batchDone(topic: string, seconds: number): void {
    this.batchSeconds.observe({ topic }, seconds);
  }
  consumerLag(topic: string, partition: number, lag: number): void {
    this.lag.set({ topic, partition: String(partition) }, lag);
  }
  retry(kind: string): void {
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
