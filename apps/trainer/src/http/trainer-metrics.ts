import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { JobRecord } from '../jobs/job-record';

/** Prometheus metrics of the trainer (own registry, so tests can build several apps). */
export class TrainerMetrics {
  readonly registry = new Registry();
  readonly jobs = new Counter({ name: 'streamcell_trainer_jobs_total', help: 'Finished training jobs by status', labelNames: ['status', 'task'], registers: [this.registry] });
  readonly duration = new Histogram({
    name: 'streamcell_trainer_job_duration_seconds',
    help: 'Training job wall time',
    labelNames: ['task'],
    buckets: [5, 15, 30, 60, 120, 300, 900, 1800, 3600],
    registers: [this.registry],
  });
  readonly examplesPerSecond = new Gauge({ name: 'streamcell_trainer_examples_per_second', help: 'Training throughput of the last epoch', labelNames: ['model'], registers: [this.registry] });
  readonly running = new Gauge({ name: 'streamcell_trainer_jobs_running', help: 'Jobs running in this trainer', registers: [this.registry] });
  readonly activations = new Counter({ name: 'streamcell_trainer_activations_total', help: 'Versions activated through this trainer', registers: [this.registry] });

  /** Live accuracy per model version (docs/accuracy.md), refreshed every ACCURACY_PUBLISH_MS. */
  readonly liveMae = new Gauge({ name: 'streamcell_live_mae', help: 'Live mean absolute forecast error (reading units)', labelNames: ['model', 'version'], registers: [this.registry] });
  readonly liveRmse = new Gauge({ name: 'streamcell_live_rmse', help: 'Live root mean squared forecast error (reading units)', labelNames: ['model', 'version'], registers: [this.registry] });
  readonly liveBias = new Gauge({ name: 'streamcell_live_bias', help: 'Live mean forecast error, actual minus forecast (reading units)', labelNames: ['model', 'version'], registers: [this.registry] });
  readonly liveEvents = new Gauge({ name: 'streamcell_live_events', help: 'Readings scored against earlier forecasts, exactly once', labelNames: ['model', 'version'], registers: [this.registry] });
  readonly liveLabels = new Gauge({ name: 'streamcell_live_labels', help: 'Labels scored against the key’s latest classification, exactly once', labelNames: ['model', 'version'], registers: [this.registry] });
  readonly liveLogLoss = new Gauge({ name: 'streamcell_live_log_loss', help: 'Live mean log loss of classifications against labels (natural log)', labelNames: ['model', 'version'], registers: [this.registry] });
  readonly liveLabelAccuracy = new Gauge({ name: 'streamcell_live_label_accuracy', help: 'Live share of labels the classification got right at 0.5', labelNames: ['model', 'version'], registers: [this.registry] });
  readonly liveBrier = new Gauge({ name: 'streamcell_live_brier', help: 'Live mean Brier score of classifications against labels', labelNames: ['model', 'version'], registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'streamcell_trainer_' });
    // Outcomes start at 0, so increase() sees the first failed job (a series born at 1 shows none).
    for (const task of ['forecast', 'classify'] as const)
      for (const status of ['succeeded', 'failed', 'cancelled'] as const) this.jobs.inc({ status, task }, 0);
  }

  /** Sets the live accuracy gauges of one version. */
  setAccuracy(a: {
    model: string;
    version: number;
    events: number;
    mae: number | null;
    rmse: number | null;
    bias: number | null;
    labels?: number;
    logLoss?: number | null;
    labelAccuracy?: number | null;
    brier?: number | null;
  }): void {
    const labels = { model: a.model, version: String(a.version) };
    if (a.labels !== undefined && a.labels > 0) {
      this.liveLabels.set(labels, a.labels);
      if (a.logLoss != null) this.liveLogLoss.set(labels, a.logLoss);
      if (a.labelAccuracy != null) this.liveLabelAccuracy.set(labels, a.labelAccuracy);
      if (a.brier != null) this.liveBrier.set(labels, a.brier);
      if (a.events === 0) return;
    }
    this.liveEvents.set(labels, a.events);
    if (a.mae !== null) this.liveMae.set(labels, a.mae);
    if (a.rmse !== null) this.liveRmse.set(labels, a.rmse);
    if (a.bias !== null) this.liveBias.set(labels, a.bias);
  }

  onEpoch(job: JobRecord): void {
    const last = job.epochs[job.epochs.length - 1];
    if (last) this.examplesPerSecond.set({ model: job.model }, last.examplesPerSecond);
  }

  onFinished(job: JobRecord): void {
    this.running.dec();
    this.jobs.inc({ status: job.status, task: job.task });
    if (job.startedAt && job.finishedAt) this.duration.observe({ task: job.task }, (Date.parse(job.finishedAt) - Date.parse(job.startedAt)) / 1000);
    if (job.result?.activated) this.activations.inc();
  }
}
