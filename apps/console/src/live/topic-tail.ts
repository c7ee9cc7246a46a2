import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Logger } from '@nestjs/common';
import { decodeModelActivated, decodeSensorReading, decodeTextEvent, parseDlqRecord, type DlqEnvelope } from '@app/contracts';
import { createKafkaClient, restartOnCrash, type Consumer, type Kafka, type KafkaMessage } from '@app/kafka';
import type { ConsoleConfig } from '../config/console-config';
import type { LiveHub } from './live-hub';

/** How often topics missing at the start are looked for again. */
const RECHECK_MS = 10_000;

function eventTime(ts: unknown): number | null {
  if (typeof ts === 'number' && Number.isFinite(ts)) return ts;
  if (typeof ts === 'string') {
    const t = Date.parse(ts);
    return Number.isFinite(t) ? t : null;
  }
  return null;
}

function parseJson(value: Buffer | null): Record<string, unknown> | null {
  if (!value) return null;
  try {
    const v = JSON.parse(value.toString('utf8')) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function sourceOf(body: Record<string, unknown>): { partition: number; offset: string } | null {
  const s = body.source as { partition?: unknown; offset?: unknown } | undefined;
  if (!s || typeof s.partition !== 'number' || typeof s.offset !== 'string') return null;
  return { partition: s.partition, offset: s.offset };
}

/**
 * Reads the six topics into the {@link LiveHub} as an observer: its own consumer group, unique per
 * process (several consoles never split partitions between them), that never commits an offset,
 * so the workers' group and its offsets are untouched and nothing is left behind but an empty
 * group the broker forgets. It starts at the end of each topic minus `backfill` messages per
 * partition (the models topic, compacted, from its beginning: the activation history).
 * Messages that fail to decode are skipped here: the workers dead-letter them, and the DLQ topic
 * shows them.
 */
export class TopicTail {
  private readonly log = new Logger('console-tail');
  private readonly kafka: Kafka;
  private consumer: Consumer | null = null;
  private running = false;
  private detach: (() => void) | null = null;
  private recheck: NodeJS.Timeout | null = null;
  /** Consumer group of this process (for the README's "what it leaves on the broker"). */
  readonly groupId: string;

  constructor(
    private readonly config: ConsoleConfig,
    private readonly hub: LiveHub,
  ) {
    this.kafka = createKafkaClient({ brokers: config.kafkaBrokers, clientId: config.kafkaClientId, sasl: config.kafkaSasl, logLevel: 'warn', logger: this.log });
    this.groupId = `${config.groupPrefix}-${hostname()}-${randomBytes(4).toString('hex')}`;
  }

  /** The Kafka client (the fleet monitor's admin shares it). */
  get client(): Kafka {
    return this.kafka;
  }

  async start(): Promise<void> {
    const t = this.config.topics;
    const topics = [...new Set([t.sensor, t.text, t.forecasts, t.classifications, t.dlq, t.models])];
    const admin = this.kafka.admin();
    await admin.connect();
    const existing = new Set(await admin.listTopics());
    const present = topics.filter((x) => existing.has(x));
    const missing = topics.filter((x) => !existing.has(x));
    if (missing.length > 0) {
      this.log.warn(`topics ${missing.join(', ')} do not exist (yet); checking again every ${RECHECK_MS / 1000} s`);
      this.recheck = setTimeout(() => void this.restartWhenCreated(missing), RECHECK_MS);
    }
    const starts: { topic: string; partition: number; offset: string }[] = [];
    for (const topic of present) {
      for (const p of await admin.fetchTopicOffsets(topic)) {
        const high = BigInt(p.high);
        const low = BigInt(p.low);
        const back = topic === t.models ? high - low : BigInt(this.config.backfill);
        const from = high - back > low ? high - back : low;
        starts.push({ topic, partition: p.partition, offset: from.toString() });
      }
    }
    await admin.disconnect();

    const consumer = this.kafka.consumer({ groupId: this.groupId, allowAutoTopicCreation: false, sessionTimeout: 30_000 });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topics: present, fromBeginning: false });
    this.running = true;
    const run = () =>
      consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: true,
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) this.apply(batch.topic, batch.partition, m);
        },
      });
    this.detach = restartOnCrash(consumer, run, () => this.running, {
      onRestart: (attempt, delay, cause) => this.log.warn(`consumer crashed (${String(cause)}); restart ${attempt} in ${delay} ms`),
    });
    await run();
    for (const s of starts) consumer.seek(s);
    this.log.log(`tailing ${present.join(', ')} as group ${this.groupId} (no commits), ${this.config.backfill} messages back per partition`);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.recheck) clearTimeout(this.recheck);
    this.recheck = null;
    this.detach?.();
    this.detach = null;
    await this.consumer?.disconnect();
    this.consumer = null;
  }

  /** Topics created after the start (e.g. by workers that boot later) join by a restart of the tail. */
  private async restartWhenCreated(missing: readonly string[]): Promise<void> {
    this.recheck = null;
    if (!this.running) return;
    const admin = this.kafka.admin();
    try {
      await admin.connect();
      const existing = new Set(await admin.listTopics());
      if (missing.some((t) => existing.has(t))) {
        this.log.log(`topics created since the start (${missing.filter((t) => existing.has(t)).join(', ')}); restarting the tail`);
        await this.stop();
        await this.start();
        return;
      }
    } catch (err) {
      this.log.warn(`listing topics: ${(err as Error).message}`);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    if (this.running) this.recheck = setTimeout(() => void this.restartWhenCreated(missing), RECHECK_MS);
  }

  private apply(topic: string, partition: number, m: KafkaMessage): void {
    const t = this.config.topics;
    const key = m.key;
    switch (topic) {
      case t.sensor: {
        const r = decodeSensorReading(key, m.value);
        // Control records (an admin reset of the key) carry no reading to draw.
        if (r.ok && r.event.control === undefined) this.hub.reading(r.event.key, r.event.ts, r.event.values, partition, m.offset);
        return;
      }
      case t.text: {
        const r = decodeTextEvent(key, m.value);
        if (r.ok && r.event.control === undefined) this.hub.textEvent(r.event.key, r.event.ts, r.event.text, partition, m.offset);
        return;
      }
      case t.forecasts: {
        const b = parseJson(m.value);
        const src = b && sourceOf(b);
        const ts = b && eventTime(b.ts);
        if (!b || !src || ts === null || typeof b.sensorId !== 'string' || !Array.isArray(b.forecast)) return;
        const score = typeof b.anomalyScore === 'number' ? b.anomalyScore : null;
        this.hub.forecast(b.sensorId, ts, b.forecast as (number | null)[], score, String(b.modelVersion), src.partition, src.offset);
        return;
      }
      case t.classifications: {
        const b = parseJson(m.value);
        const src = b && sourceOf(b);
        const ts = b && eventTime(b.ts);
        if (!b || !src || ts === null || typeof b.streamId !== 'string' || typeof b.label !== 'string') return;
        const scores = b.scores && typeof b.scores === 'object' ? (b.scores as Record<string, number | null>) : {};
        this.hub.classification(b.streamId, ts, b.label, scores, String(b.modelVersion), src.partition, src.offset);
        return;
      }
      case t.dlq: {
        let env: DlqEnvelope;
        try {
          env = parseDlqRecord(m.value ?? '');
        } catch {
          return;
        }
        if (env && typeof env === 'object' && typeof env.reason === 'string') this.hub.deadLetter(env, partition, m.offset);
        return;
      }
      case t.models: {
        const r = decodeModelActivated(m.value);
        if (r.ok) this.hub.activation(r.event);
        return;
      }
      default:
        return;
    }
  }
}
