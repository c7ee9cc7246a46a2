import { DLQ_REASONS } from '@app/contracts';
import { RETRY_KINDS, WorkerMetrics } from './worker-metrics';

describe('WorkerMetrics', () => {
  it('exports readiness and each check from one evaluation per scrape, in the same scrape', async () => {
    const m = new WorkerMetrics();
    let calls = 0;
    m.watchReadiness(async () => {
      calls++;
      return { ready: false, checks: { kafka: { ok: true }, redis: { ok: false }, models: { ok: true } } };
    });
    const text = await m.registry.metrics();
    expect(calls).toBe(1);
    expect(text).toContain('streamcell_worker_ready 0');
    expect(text).toContain('streamcell_worker_check_ok{check="kafka"} 1');
    expect(text).toContain('streamcell_worker_check_ok{check="redis"} 0');
    expect(text).toContain('streamcell_worker_check_ok{check="models"} 1');
  });

  it('reports a worker whose readiness fails to evaluate as not ready', async () => {
    const m = new WorkerMetrics();
    m.watchReadiness(() => Promise.reject(new Error('boom')));
    expect(await m.registry.metrics()).toContain('streamcell_worker_ready 0');
  });

  it('starts every DLQ reason, retry kind, configured model and topic at 0, so the first increment is a visible increase', async () => {
    const m = new WorkerMetrics();
    m.configured({
      models: ['forecaster', 'classifier'],
      inputTopics: ['sensor.readings'],
      outputTopics: ['predictions.forecasts'],
    });
    const text = await m.registry.metrics();
    for (const reason of DLQ_REASONS) expect(text).toContain(`streamcell_dlq_total{reason="${reason}"} 0`);
    for (const kind of RETRY_KINDS)
      expect(text).toContain(`streamcell_batch_retries_total{kind="${kind}"} 0`);
    expect(text).toContain('streamcell_model_load_failures_total{model="classifier"} 0');
    expect(text).toContain('streamcell_events_in_total{topic="sensor.readings"} 0');
    expect(text).toContain('streamcell_predictions_out_total{topic="predictions.forecasts"} 0');
  });

  it('reads the lag from the committed offsets the consumer knows, and forgets partitions it no longer owns', async () => {
    const m = new WorkerMetrics();
    let progress = [
      { topic: 'sensor.readings', partition: 3, committed: 80n, highWatermark: 200n },
      { topic: 'sensor.readings', partition: 4, committed: 50n, highWatermark: 50n },
    ];
    m.watchPartitions({ stuckPartitions: () => [], partitionProgress: () => progress });
    const text = await m.registry.metrics();
    expect(text).toContain('streamcell_consumer_lag{topic="sensor.readings",partition="3"} 120');
    expect(text).toContain('streamcell_consumer_lag{topic="sensor.readings",partition="4"} 0');
    // the group assigned partitions anew: the consumer forgot partition 3
    progress = progress.slice(1);
    m.partitionsAssigned();
    expect(await m.registry.metrics()).not.toContain('partition="3"');
  });

  it('exports the stuck partitions and their age at scrape time', async () => {
    const m = new WorkerMetrics();
    const since = Date.now() - 90_000;
    let stuck = [{ topic: 'text.events', partition: 1, sinceMs: since }];
    m.watchPartitions({ stuckPartitions: () => stuck, partitionProgress: () => [] });
    const text = await m.registry.metrics();
    expect(text).toContain('streamcell_stuck_partitions 1');
    const age = Number(/streamcell_partition_stuck_seconds\{topic="text.events",partition="1"\} (\S+)/.exec(text)![1]);
    expect(age).toBeGreaterThanOrEqual(90);
    stuck = [];
    const after = await m.registry.metrics();
    expect(after).toContain('streamcell_stuck_partitions 0');
    expect(after).not.toContain('streamcell_partition_stuck_seconds{');
  });
});
