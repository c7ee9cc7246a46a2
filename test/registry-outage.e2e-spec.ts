/**
 * The registry (Redis) unreachable while events name a model the worker has not loaded yet, and
 * while an activation arrives: a failed registry read is not "no active version", so no event
 * is dead-lettered as unknown_model (the batches wait and are retried), and the activation is
 * retried with backoff until it applies. Private Kafka and Redis (Redis is stopped and started).
 */
import { encodeModelActivated } from '@app/contracts';
import { InMemoryModelEventPublisher, ModelRegistry } from '@app/registry';
import { testRedisClient, uniqueSuffix, waitFor } from './support/e2e-env';
import { TestKafka, type OutMessage } from './support/test-kafka';
import { TestRegistry, buildModel, modelArtifact } from './support/model-fixtures';
import { PrivateStack } from './support/private-stack';
import { RETRY_LOG_LINE, suiteTopics, topicEnv, WorkerProcess } from './support/worker-process';
import { DUAL_FORECASTER } from './support/dual-run';

const T0 = Date.parse('2026-12-02T00:00:00Z');

interface Forecast {
  sensorId: string;
  model: string;
  modelVersion: string;
  source: { offset: string; partition: number };
}

describe('registry outage: events naming a model and an activation while Redis is down', () => {
  let stack: PrivateStack;
  let kafka: TestKafka;
  let registry: TestRegistry;
  let worker: WorkerProcess;
  const s = uniqueSuffix();
  const t = suiteTopics(`ro-${s}`);
  const names = { fc: `ro-${s}-fc`, alt: `ro-${s}-alt`, cl: `ro-${s}-cl` };

  beforeAll(async () => {
    stack = await PrivateStack.start();
    kafka = new TestKafka(stack.brokers, `ro-${s}`);
    await kafka.connect();
    await kafka.createSuiteTopics(t, { sensor: 2 });
    registry = new TestRegistry(stack.redisUrl, kafka.producerClient, t.models);
    await registry.seed(names.fc, DUAL_FORECASTER);
    await registry.seed(names.alt, { ...DUAL_FORECASTER, seed: 21 });
  }, 240_000);

  afterAll(async () => {
    if (worker?.running) await worker.stop('SIGTERM');
    await worker?.dispose();
    await registry?.close();
    await kafka?.disconnect();
    stack?.dispose();
  });

  it('retries instead of dead-lettering unknown_model, and applies an activation that arrived meanwhile', async () => {
    const collector = await kafka.collect([t.forecasts, t.dlq], `ro-${s}-collector`);
    worker = new WorkerProcess(`registry-outage-${s}`, {
      KAFKA_BROKERS: stack.brokers,
      REDIS_URL: stack.redisUrl,
      KAFKA_GROUP_ID: `ro-${s}`,
      ...topicEnv(t),
      FORECAST_MODEL: names.fc,
      CLASSIFY_MODEL: names.cl,
    });
    worker.start();
    await worker.ready();

    // Version 2 of the topic model becomes active in the registry; its event is held back and
    // published only once Redis is down.
    const quiet = testRedisClient(stack.redisUrl);
    const held = new InMemoryModelEventPublisher();
    const reg = new ModelRegistry(quiet, held);
    const def = { ...DUAL_FORECASTER, seed: 31 };
    const v2 = await reg.createVersion(names.fc, await modelArtifact(names.fc, def, buildModel(def)), { task: 'forecast', source: 'imported' });
    await reg.activate(names.fc, v2);
    quiet.disconnect();

    await stack.stop('redis', 1);
    const downAt = Date.now();
    await kafka.producerClient.send({ topic: t.models, acks: -1, messages: [{ key: names.fc, value: encodeModelActivated(held.events[0]) }] });
    // Events naming the model not loaded yet, and events of the topic model, while Redis is down.
    const msgs: OutMessage[] = [];
    for (let i = 0; i < 40; i++) {
      const key = `ro-${s}-${i % 8}`;
      const body = { sensorId: key, ts: T0 + i * 1000, value: 20 + (i % 5), ...(i % 2 === 0 ? { model: names.alt } : {}) };
      msgs.push({ key, value: JSON.stringify(body), partition: i % 2 });
    }
    await kafka.produce(t.sensor, msgs);
    await waitFor('batch retries and an activation retry while Redis is down', () => worker.logs.includes(RETRY_LOG_LINE) && worker.logs.includes('model activation: registry unavailable; will retry'), 60_000, 100);
    const downMs = Date.now() - downAt;
    await stack.restart('redis');

    await waitFor('every event predicted', () => collector.distinctSources(t.forecasts) >= msgs.length, 120_000, 200);
    await waitFor('the held-back activation applied', async () => (await worker.http('/metrics')).body.includes(`streamcell_model_version{model="${names.fc}"} ${v2}`), 60_000, 250);
    // Events after the activation are served by version 2.
    const after: OutMessage[] = [0, 1].map((p) => ({ key: `ro-${s}-after-${p}`, value: JSON.stringify({ sensorId: `ro-${s}-after-${p}`, ts: T0, value: 21 }), partition: p }));
    await kafka.produce(t.sensor, after);
    await waitFor('events after the activation predicted', () => collector.distinctSources(t.forecasts) >= msgs.length + after.length, 60_000, 200);

    const preds = collector.json<Forecast>(t.forecasts);
    const dlq = collector.messages(t.dlq).map((m) => JSON.parse(m.value!.toString()) as { reason: string; detail: string });
    const metrics = (await worker.http('/metrics')).body;
    const retries = Number(/streamcell_model_activation_retries_total (\d+)/.exec(metrics)?.[1] ?? 0);
    console.log(JSON.stringify({ suite: 'registry-outage', redisDownMs: downMs, predictions: preds.length, deadLetters: dlq.length, activationRetries: retries }));
    expect(dlq).toEqual([]);
    const named = preds.filter((p) => p.sensorId.startsWith(`ro-${s}-`) && !p.sensorId.includes('after'));
    expect(new Set(named.map((p) => `${p.source.partition}/${p.source.offset}`)).size).toBe(msgs.length);
    msgs.forEach((m, i) => {
      if (i % 2 !== 0) return;
      const p = named.find((x) => x.source.partition === m.partition && x.sensorId === m.key && x.model === names.alt);
      expect(p).toBeDefined();
    });
    expect(retries).toBeGreaterThanOrEqual(1);
    const late = preds.filter((p) => p.sensorId.includes('after'));
    expect(late.map((p) => [p.model, p.modelVersion])).toEqual([
      [names.fc, String(v2)],
      [names.fc, String(v2)],
    ]);
  });
});
