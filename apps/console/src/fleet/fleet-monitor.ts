import { Logger } from '@nestjs/common';
import type { Admin, Kafka } from '@app/kafka';
import type { ConsoleConfig } from '../config/console-config';
import type { FleetView, GroupLag, WorkerView } from '../live/live-types';
import { bucketsOf, histogramQuantile, parsePrometheusText, sumOf, type Sample } from './prometheus-text';

interface Previous {
  readonly at: number;
  readonly samples: Sample[];
}

const INTERVAL_MS = 5000;

/**
 * Scrapes each worker's /health/ready and /metrics (the ones the workers export for Prometheus)
 * every 5 s and asks the broker for the workers' committed offsets; rates and latency quantiles
 * are over the last interval.
 */
export class FleetMonitor {
  private readonly log = new Logger('console-fleet');
  private readonly previous = new Map<string, Previous>();
  private view: FleetView = { workers: [], group: null, intervalMs: INTERVAL_MS };
  private timer: NodeJS.Timeout | null = null;
  private admin: Admin | null = null;
  private busy = false;

  constructor(
    private readonly config: ConsoleConfig,
    private readonly kafka: Kafka,
  ) {}

  start(): void {
    this.admin = this.kafka.admin();
    void this.tick();
    this.timer = setInterval(() => void this.tick(), INTERVAL_MS);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.admin?.disconnect().catch(() => undefined);
  }

  current(): FleetView {
    return this.view;
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const [workers, group] = await Promise.all([Promise.all(this.config.workerUrls.map((u) => this.scrape(u))), this.groupLag()]);
      this.view = { workers, group, intervalMs: INTERVAL_MS };
    } finally {
      this.busy = false;
    }
  }

  private async scrape(url: string): Promise<WorkerView> {
    const now = Date.now();
    const get = async (path: string) => {
      const res = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(3000) });
      return { status: res.status, text: await res.text() };
    };
    let ready = false;
    let readyDetail = '';
    let samples: Sample[];
    try {
      const [r, m] = await Promise.all([get('/health/ready'), get('/metrics')]);
      ready = r.status === 200;
      readyDetail = r.text.slice(0, 500);
      samples = parsePrometheusText(m.text);
    } catch (err) {
      return {
        url,
        reachable: false,
        ready: false,
        readyDetail: (err as Error).message,
        eventsPerSec: null,
        predictionsPerSec: null,
        deadLettersPerSec: null,
        batchP50: null,
        batchP99: null,
        lag: [],
        modelVersions: {},
        scrapedAt: new Date(now).toISOString(),
      };
    }
    const prev = this.previous.get(url);
    this.previous.set(url, { at: now, samples });
    const rate = (name: string) => {
      if (!prev) return null;
      const d = sumOf(samples, name) - sumOf(prev.samples, name);
      return d >= 0 ? d / ((now - prev.at) / 1000) : null; // a restarted worker resets its counters
    };
    const buckets = bucketsOf(samples, 'streamcell_batch_seconds');
    if (prev) {
      const before = bucketsOf(prev.samples, 'streamcell_batch_seconds');
      const delta = new Map([...buckets].map(([le, c]) => [le, c - (before.get(le) ?? 0)]));
      if ([...delta.values()].every((c) => c >= 0) && (delta.get(Infinity) ?? 0) > 0) {
        buckets.clear();
        for (const [le, c] of delta) buckets.set(le, c);
      }
    }
    const modelVersions: Record<string, number> = {};
    for (const s of samples) if (s.name === 'streamcell_model_version' && s.labels.model) modelVersions[s.labels.model] = s.value;
    return {
      url,
      reachable: true,
      ready,
      readyDetail,
      eventsPerSec: rate('streamcell_events_in_total'),
      predictionsPerSec: rate('streamcell_predictions_out_total'),
      deadLettersPerSec: rate('streamcell_dlq_total'),
      batchP50: histogramQuantile(buckets, 0.5),
      batchP99: histogramQuantile(buckets, 0.99),
      lag: samples
        .filter((s) => s.name === 'streamcell_consumer_lag')
        .map((s) => ({ topic: s.labels.topic ?? '', partition: s.labels.partition ?? '', lag: s.value })),
      modelVersions,
      scrapedAt: new Date(now).toISOString(),
    };
  }

  private async groupLag(): Promise<GroupLag | null> {
    if (!this.admin) return null;
    const groupId = this.config.workerGroupId;
    const topics = [this.config.topics.sensor, this.config.topics.text];
    try {
      await this.admin.connect();
      const existing = new Set(await this.admin.listTopics());
      const present = topics.filter((t) => existing.has(t));
      const committed = await this.admin.fetchOffsets({ groupId, topics: present });
      const partitions: GroupLag['partitions'][number][] = [];
      for (const t of committed) {
        const ends = await this.admin.fetchTopicOffsets(t.topic);
        for (const p of t.partitions) {
          const end = ends.find((e) => e.partition === p.partition)?.high ?? '0';
          const c = p.offset === '-1' ? null : p.offset;
          const lag = BigInt(end) - (c === null ? BigInt(ends.find((e) => e.partition === p.partition)?.low ?? '0') : BigInt(c));
          partitions.push({ topic: t.topic, partition: p.partition, committed: c, end, lag: (lag < 0n ? 0n : lag).toString() });
        }
      }
      partitions.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
      return { groupId, partitions, error: null };
    } catch (err) {
      this.log.warn(`lag of group ${groupId}: ${(err as Error).message}`);
      return { groupId, partitions: [], error: (err as Error).message };
    }
  }
}
