/**
 * A partition whose batch keeps failing is visible: the forecasts topic is made to refuse every
 * record (max.message.bytes below a prediction's size) while readings keep arriving, so every
 * sensor partition with new events is stuck. The worker must then report it —
 * streamcell_stuck_partitions and streamcell_partition_stuck_seconds{topic,partition},
 * /health/ready 503 once STUCK_PARTITION_READY_MS has passed — and streamcell_consumer_lag must
 * equal the group's real lag (the admin API's fetchTopicOffsets − fetchOffsets), before, during
 * and after. Once the topic accepts records again everything flows, nothing lost.
 */
import { ConfigResourceTypes, type Admin } from 'kafkajs';
import { e2eStack, uniqueSuffix, waitFor } from './support/e2e-env';
import { TestKafka, type Collector } from './support/test-kafka';
import { TestRegistry } from './support/model-fixtures';
import { suiteTopics, topicEnv, WorkerProcess } from './support/worker-process';
import { sensorEvents, toMessages } from './support/event-streams';
import { DUAL_FORECASTER } from './support/dual-run';

const PARTITIONS = 3;

/** Gauge values of one metric by the listed labels' values (joined with '/'). */
function gauge(metrics: string, name: string, labels: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of metrics.split('\n')) {
    const m = /^(\w+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const id = labels.map((l) => new RegExp(`${l}="([^"]*)"`).exec(m[2] ?? '')?.[1] ?? '').join('/');
    out.set(id, Number(m[3]));
  }
  return out;
}

describe('stuck partitions: metrics, readiness and lag tell the truth', () => {
  const stack = e2eStack();
  const s = uniqueSuffix();
  const t = suiteTopics(`stuck-${s}`);
  const group = `stuck-${s}-worker`;
  const kafka = new TestKafka(stack.brokers, `stuck-${s}`);
  let admin: Admin;
  let registry: TestRegistry;
  let collector: Collector;
  let worker: WorkerProcess;
  const first = sensorEvents(`stuck-a-${s}`, 12, 4, PARTITIONS, 11);
  const second = sensorEvents(`stuck-b-${s}`, 12, 5, PARTITIONS, 12);

  /**
   * The group's lag per sensor partition that holds events, from the admin API (committed −1:
   * from the log start). The worker reports partitions it has fetched records of.
   */
  async function adminLag(): Promise<Map<string, number>> {
    const ends = await admin.fetchTopicOffsets(t.sensor);
    const committed = await admin.fetchOffsets({ groupId: group, topics: [t.sensor] });
    const byPartition = new Map(committed[0].partitions.map((p) => [p.partition, Number(p.offset)]));
    return new Map(
      ends.filter((e) => Number(e.high) > 0).map((e) => {
        const c = byPartition.get(e.partition) ?? -1;
        return [`${t.sensor}/${e.partition}`, Number(e.high) - (c < 0 ? Number(e.low) : c)];
      }),
    );
  }

  /** Waits until the worker's lag gauge equals the admin API's lag for every partition with events. */
  async function lagAgrees(what: string): Promise<Map<string, number>> {
    let last = '';
    let lag = new Map<string, number>();
    await waitFor(
      `${what}: streamcell_consumer_lag equal to the group's committed lag (${last})`,
      async () => {
        const metrics = (await worker.http('/metrics')).body;
        const mine = gauge(metrics, 'streamcell_consumer_lag', ['topic', 'partition']);
        lag = await adminLag();
        last = JSON.stringify({ worker: [...mine], admin: [...lag] });
        return [...lag].every(([k, v]) => mine.get(k) === v);
      },
      60_000,
      250,
    );
    return lag;
  }

  async function setMaxMessageBytes(value: string): Promise<void> {
    await admin.alterConfigs({
      validateOnly: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: t.forecasts, configEntries: [{ name: 'max.message.bytes', value }] }],
    });
  }

  beforeAll(async () => {
    await kafka.connect();
    await kafka.createSuiteTopics(t, { sensor: PARTITIONS, forecasts: 1 });
    admin = kafka.kafka.admin();
    await admin.connect();
    registry = new TestRegistry(stack.redisUrl, kafka.producerClient, t.models);
    await registry.seed(`stuck-${s}-fc`, DUAL_FORECASTER);
    collector = await kafka.collect([t.forecasts, t.dlq]);
    worker = await WorkerProcess.launch(`stuck-${s}`, {
      KAFKA_BROKERS: stack.brokers,
      REDIS_URL: stack.redisUrl,
      KAFKA_GROUP_ID: group,
      ...topicEnv(t),
      FORECAST_MODEL: `stuck-${s}-fc`,
      CLASSIFY_MODEL: `stuck-${s}-cl`,
      STUCK_PARTITION_READY_MS: '3s',
    });
  });

  afterAll(async () => {
    await worker?.dispose();
    await admin?.disconnect();
    await registry?.close();
    await kafka.disconnect();
  });

  it('reports stuck partitions and their age, fails readiness past the limit, and keeps the lag true', async () => {
    await kafka.produce(t.sensor, toMessages(first));
    await collector.waitFor(t.forecasts, first.length, 60_000);
    const flowing = await lagAgrees('while flowing');
    expect([...flowing.values()].every((v) => v === 0)).toBe(true);
    expect((await worker.http('/health/ready')).status).toBe(200);

    // Every prediction is now refused by the broker: the partitions that get events are stuck.
    await setMaxMessageBytes('64');
    await kafka.produce(t.sensor, toMessages(second));
    const withEvents = [...new Set(second.map((e) => `${t.sensor}/${e.partition}`))].sort();
    let stuckAges = new Map<string, number>();
    await waitFor(
      'every partition with new events reported stuck',
      async () => {
        const metrics = (await worker.http('/metrics')).body;
        stuckAges = gauge(metrics, 'streamcell_partition_stuck_seconds', ['topic', 'partition']);
        const count = gauge(metrics, 'streamcell_stuck_partitions', []).get('');
        return count === withEvents.length && [...stuckAges.keys()].sort().join() === withEvents.join();
      },
      60_000,
      250,
    );
    let ready = { status: 200, body: '' };
    await waitFor(
      '/health/ready 503 naming the stuck partitions',
      async () => {
        ready = await worker.http('/health/ready');
        return ready.status === 503;
      },
      30_000,
      250,
    );
    // The body is the status and the checks.
    const checks = JSON.parse(ready.body) as Record<string, { ok: boolean; stuck?: { topic: string; partition: number; stuckMs: number; kind: string }[] }>;
    expect(checks.partitions.ok).toBe(false);
    expect(checks.partitions.stuck!.map((p) => `${p.topic}/${p.partition}`).sort()).toEqual(withEvents);
    expect(checks.partitions.stuck!.every((p) => p.stuckMs > 3000 && p.kind === 'kafka')).toBe(true);
    // Kafka, Redis and the models are fine: only the partitions make it not ready.
    expect(checks.kafka.ok && checks.redis.ok && checks.models.ok).toBe(true);
    const ages = gauge((await worker.http('/metrics')).body, 'streamcell_partition_stuck_seconds', ['topic', 'partition']);
    for (const [k, age] of ages) expect(age).toBeGreaterThan(stuckAges.get(k)!);

    // The lag is what the group really has to read: nothing of the new events is committed.
    const stuckLag = await lagAgrees('while stuck');
    const perPartition = new Map<string, number>();
    for (const e of second) perPartition.set(`${t.sensor}/${e.partition}`, (perPartition.get(`${t.sensor}/${e.partition}`) ?? 0) + 1);
    for (const [k, n] of perPartition) expect(stuckLag.get(k)).toBe(n);
    expect(collector.distinctSources(t.forecasts)).toBe(first.length);

    // The topic accepts records again: the partitions resume by themselves, nothing is lost.
    await setMaxMessageBytes('1048588');
    await waitFor('every event predicted', () => collector.distinctSources(t.forecasts) >= first.length + second.length, 60_000);
    await waitFor('no stuck partition', async () => {
      const metrics = (await worker.http('/metrics')).body;
      return gauge(metrics, 'streamcell_stuck_partitions', []).get('') === 0 && gauge(metrics, 'streamcell_partition_stuck_seconds', ['topic', 'partition']).size === 0;
    });
    await waitFor('ready again', async () => (await worker.http('/health/ready')).status === 200);
    const after = await lagAgrees('after recovery');
    expect([...after.values()].every((v) => v === 0)).toBe(true);
    expect(collector.distinctSources(t.forecasts)).toBe(first.length + second.length);
    expect(collector.count(t.dlq)).toBe(0);
  });
});
