/**
 * Demo producer: a few sensors (sine + noise, an occasional spike) and a few ticket streams
 * (short texts whose mood drifts), written to the sensor and text topics until SIGINT/SIGTERM
 * or DEMO_SECONDS.
 *
 * Env: KAFKA_BROKERS, SENSOR_TOPIC, TEXT_TOPIC, DEMO_SECONDS (0 = until stopped),
 * DEMO_SENSOR_INTERVAL_MS (default 500).
 */
import { Kafka, logLevel } from 'kafkajs';
import { TICKET_TEXTS } from './demo-data';

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const sensorTopic = process.env.SENSOR_TOPIC ?? 'sensor.readings';
const textTopic = process.env.TEXT_TOPIC ?? 'text.events';
const seconds = Number(process.env.DEMO_SECONDS ?? 0);
const sensorEvery = Number(process.env.DEMO_SENSOR_INTERVAL_MS ?? 500);

const SENSORS = [
  { id: 'pump-1', base: 20, amp: 4, period: 40 },
  { id: 'pump-2', base: 24, amp: 2, period: 25 },
  { id: 'boiler-1', base: 18, amp: 6, period: 60 },
];
const TICKETS = ['ticket-101', 'ticket-102', 'ticket-103'];

async function main(): Promise<void> {
  const producer = new Kafka({
    clientId: 'streamcell-demo-producer',
    brokers,
    logLevel: logLevel.ERROR,
  }).producer();
  await producer.connect();
  let stopping = false;
  const stop = (): void => {
    stopping = true;
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const startedAt = Date.now();
  let tick = 0;
  // Each ticket stream walks through the texts from its own mood.
  const mood = TICKETS.map((_, i) => (i * 4) % TICKET_TEXTS.length);
  while (!stopping && (seconds <= 0 || Date.now() - startedAt < seconds * 1000)) {
    const now = Date.now();
    const readings = SENSORS.map((s) => {
      let value = s.base + s.amp * Math.sin((2 * Math.PI * tick) / s.period) + (Math.random() - 0.5) * 0.6;
      if (Math.random() < 0.02) value += 12 + Math.random() * 6;
      const body = { sensorId: s.id, ts: new Date(now).toISOString(), value: Math.round(value * 100) / 100 };
      return { key: s.id, value: JSON.stringify(body) };
    });
    await producer.send({ topic: sensorTopic, acks: -1, messages: readings });
    if (tick % 5 === 0) {
      const i = Math.floor(Math.random() * TICKETS.length);
      mood[i] = (mood[i] + (Math.random() < 0.7 ? 1 : -1) + TICKET_TEXTS.length) % TICKET_TEXTS.length;
      const body = { streamId: TICKETS[i], ts: now, text: TICKET_TEXTS[mood[i]] };
      await producer.send({
        topic: textTopic,
        acks: -1,
        messages: [{ key: TICKETS[i], value: JSON.stringify(body) }],
      });
    }
    tick++;
    await new Promise((r) => setTimeout(r, sensorEvery));
  }
  await producer.disconnect();
}

main().catch((err: unknown) => {
  console.error(`[demo] producer failed: ${(err as Error).message}`);
  process.exit(1);
});
