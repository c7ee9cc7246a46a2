/**
 * Demo viewer: prints live forecasts and classifications next to the inputs they came from,
 * until SIGINT/SIGTERM or DEMO_SECONDS.
 *
 * Env: KAFKA_BROKERS, SENSOR_TOPIC, TEXT_TOPIC, FORECAST_TOPIC, CLASSIFICATION_TOPIC, DLQ_TOPIC,
 * DEMO_SECONDS (0 = until stopped), DEMO_ANOMALY_Z (default 3.5).
 */
import { Kafka, logLevel } from 'kafkajs';

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const topics = {
  sensor: process.env.SENSOR_TOPIC ?? 'sensor.readings',
  text: process.env.TEXT_TOPIC ?? 'text.events',
  forecasts: process.env.FORECAST_TOPIC ?? 'predictions.forecasts',
  classes: process.env.CLASSIFICATION_TOPIC ?? 'predictions.classifications',
  dlq: process.env.DLQ_TOPIC ?? 'streamcell.dlq',
};
const seconds = Number(process.env.DEMO_SECONDS ?? 0);
const anomalyZ = Number(process.env.DEMO_ANOMALY_Z ?? 3.5);
/** Residual statistics of a sensor's first few forecasts are too thin to call anything an anomaly. */
const ANOMALY_WARMUP = 10;
const seenPerSensor = new Map<string, number>();
const color = process.stdout.isTTY;
const paint = (code: string, s: string): string => (color ? `\u001b[${code}m${s}\u001b[0m` : s);

interface Source {
  topic: string;
  partition: number;
  offset: string;
}

const inputs = new Map<string, Record<string, unknown>>();
const pending: { at: number; topic: string; body: Record<string, unknown> }[] = [];
const counts = { forecasts: 0, classifications: 0, dlq: 0, anomalies: 0 };

const idOf = (s: Source): string => `${s.topic}/${s.partition}/${s.offset}`;
const time = (ts: unknown): string =>
  new Date(typeof ts === 'number' ? ts : String(ts)).toISOString().slice(11, 19);
const num = (v: number): string => v.toFixed(2).padStart(6);

function show(topic: string, body: Record<string, unknown>): void {
  const src = body.source as Source | undefined;
  const input = src ? inputs.get(idOf(src)) : undefined;
  if (topic === topics.forecasts) {
    counts.forecasts++;
    const f = body.forecast as number[];
    const z = body.anomalyScore as number | undefined;
    const seen = (seenPerSensor.get(String(body.sensorId)) ?? 0) + 1;
    seenPerSensor.set(String(body.sensorId), seen);
    const flagged = z !== undefined && seen > ANOMALY_WARMUP && Math.abs(z) >= anomalyZ;
    if (flagged) counts.anomalies++;
    const value = input && typeof input.value === 'number' ? num(input.value) : '     ?';
    const line =
      `${time(body.ts)}  ${paint('36', String(body.sensorId).padEnd(10))} value ${value}  →  next ${f.map(num).join(' ')}` +
      `   anomaly ${z === undefined ? '     -' : num(z)}   ${paint('2', `${String(body.model)} v${String(body.modelVersion)}`)}`;
    console.log(flagged ? `${line}  ${paint('1;31', '<< ANOMALY')}` : line);
  } else if (topic === topics.classes) {
    counts.classifications++;
    const scores = body.scores as Record<string, number>;
    const label = String(body.label);
    const text = input && typeof input.text === 'string' ? `"${input.text}"` : '';
    console.log(
      `${time(body.ts)}  ${paint('35', String(body.streamId).padEnd(10))} ${text.padEnd(40)} → ${paint(label === 'neg' ? '31' : '32', label.padEnd(4))} ` +
        `${Object.entries(scores)
          .map(([k, v]) => `${k} ${v.toFixed(2)}`)
          .join('  ')}   ${paint('2', `${String(body.model)} v${String(body.modelVersion)}`)}`,
    );
  } else {
    counts.dlq++;
    console.log(`${paint('33', 'DLQ')} ${String(body.reason)}: ${String(body.detail)}`);
  }
}

async function main(): Promise<void> {
  const kafka = new Kafka({ clientId: 'streamcell-demo-watch', brokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({
    groupId: `streamcell-demo-watch-${process.pid}-${Date.now()}`,
    maxWaitTimeInMs: 100,
  });
  await consumer.connect();
  for (const topic of Object.values(topics)) await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      if (!message.value) return;
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(message.value.toString('utf8')) as Record<string, unknown>;
      } catch {
        return;
      }
      if (topic === topics.sensor || topic === topics.text) {
        inputs.set(`${topic}/${partition}/${message.offset}`, body);
        if (inputs.size > 50_000) inputs.delete(inputs.keys().next().value!);
        return;
      }
      // Hold outputs briefly so their input (read from another topic) can arrive first.
      pending.push({ at: Date.now(), topic, body });
    },
  });
  const flush = setInterval(() => {
    const now = Date.now();
    while (
      pending.length > 0 &&
      (now - pending[0].at > 300 || inputs.has(idOf(pending[0].body.source as Source)))
    ) {
      const p = pending.shift()!;
      show(p.topic, p.body);
    }
  }, 50);
  console.log(
    paint(
      '1',
      `[demo] watching ${topics.forecasts}, ${topics.classes}, ${topics.dlq}${seconds > 0 ? ` for ${seconds}s` : ''} (Ctrl-C to stop)`,
    ),
  );
  await new Promise<void>((resolve) => {
    process.on('SIGINT', resolve);
    process.on('SIGTERM', resolve);
    if (seconds > 0) setTimeout(resolve, seconds * 1000);
  });
  clearInterval(flush);
  for (const p of pending.splice(0)) show(p.topic, p.body);
  await consumer.disconnect();
  console.log(
    paint(
      '1',
      `[demo] ${counts.forecasts} forecasts (${counts.anomalies} anomalies), ${counts.classifications} classifications, ${counts.dlq} dead letters`,
    ),
  );
  if (counts.forecasts + counts.classifications === 0) process.exitCode = 2;
}

main().catch((err: unknown) => {
  console.error(`[demo] watcher failed: ${(err as Error).message}`);
  process.exit(1);
});
