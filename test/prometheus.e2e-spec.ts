/**
 * The shipped observability against a real Prometheus: the project's Prometheus image runs the
 * shipped config (deploy/prometheus/prometheus.yml, its targets pointed at this run's processes)
 * and alert rules, scraping a real stream-worker process and a real trainer on the run's Kafka and
 * Redis. After the trainer trained the classifier and the worker processed a load with some bad
 * records, every panel query of the Grafana dashboard and every alert expression is evaluated
 * through Prometheus' HTTP API: each must parse, panels must return series, and alert
 * expressions must select only metrics Prometheus has scraped. The rules must be loaded and
 * evaluate without errors, and the counters must equal what Kafka holds.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import type { StartedTestContainer } from 'testcontainers';
import { parse, stringify } from 'yaml';
import { loadTrainerConfig } from '../apps/trainer/src/config/trainer-config';
import type { JobRecord } from '../apps/trainer/src/jobs/job-record';
import { createTrainerApp } from '../apps/trainer/src/trainer-app';
import {
  DEPLOY_DIR,
  alertGroups,
  alertQueries,
  dashboardQueries,
  metricNames,
  usesMetricsNotYetExported,
} from '../deploy/prometheus/shipped-queries';
import { e2eStack, sleep, uniqueSuffix, waitFor } from './support/e2e-env';
import { E2E_IMAGES, freePort, imagePresent, removeContainers, track, untrack } from './support/e2e-stack';
import { DUAL_FORECASTER } from './support/dual-run';
import { sensorEvents, textEvents, toMessages } from './support/event-streams';
import { TestRegistry } from './support/model-fixtures';
import { TestKafka } from './support/test-kafka';
import { tinyClassifierRetrain } from './support/trainer-requests';
import { suiteTopics, topicEnv, WorkerProcess, workerEnv } from './support/worker-process';

interface PromResponse<T> {
  status: 'success' | 'error';
  error?: string;
  data: T;
}
interface VectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

describe('Prometheus with the shipped config, rules and dashboard queries', () => {
  const stack = e2eStack();
  const s = uniqueSuffix();
  const t = suiteTopics(`prom-${s}`);
  const forecaster = `prom-fc-${s}`;
  const classifier = `prom-cl-${s}`;
  const token = randomBytes(24).toString('hex');
  const kafka = new TestKafka(stack.brokers, `prom-${s}`);
  let registry: TestRegistry;
  let app: INestApplication;
  let trainerUrl: string;
  let worker: WorkerProcess;
  let prometheus: StartedTestContainer | null = null;
  let promUrl: string;
  const sensor = toMessages(sensorEvents(`prom-s-${s}`, 12, 60, 3, 7));
  const text = toMessages(textEvents(`prom-t-${s}`, 6, 40, 2, 8));
  const BAD_JSON = 9;

  async function query(expr: string): Promise<PromResponse<{ resultType: string; result: VectorSample[] }>> {
    const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
    return (await res.json()) as PromResponse<{ resultType: string; result: VectorSample[] }>;
  }

  async function scalar(expr: string): Promise<number | null> {
    const r = await query(expr);
    return r.status === 'success' && r.data.result.length === 1 ? Number(r.data.result[0].value[1]) : null;
  }

  beforeAll(async () => {
    if (!imagePresent(E2E_IMAGES.prometheus)) {
      throw new Error(`e2e image ${E2E_IMAGES.prometheus} is missing: build it with 'npm run images'`);
    }
    await kafka.connect();
    await kafka.createSuiteTopics(t, { sensor: 3, text: 2, forecasts: 3, classes: 2 });
    registry = new TestRegistry(stack.redisUrl, kafka.producerClient, t.models);
    await registry.seed(forecaster, DUAL_FORECASTER);

    ({ app } = await createTrainerApp(
      loadTrainerConfig({
        REDIS_URL: stack.redisUrl,
        KAFKA_BROKERS: stack.brokers,
        ADMIN_TOKEN: token,
        MODELS_TOPIC: t.models,
        TRAINER_INSTANCE_ID: `prom-${s}`,
      }),
    ));
    await app.listen(0, '127.0.0.1');
    trainerUrl = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;

    worker = await WorkerProcess.launch(
      `prometheus-${s}`,
      workerEnv(stack, {
        KAFKA_GROUP_ID: `prom-${s}`,
        ...topicEnv(t),
        FORECAST_MODEL: forecaster,
        CLASSIFY_MODEL: classifier,
      }),
    );

    // The shipped config with this run's targets, a fast scrape and evaluation, the shipped rules.
    const port = await freePort();
    const config = parse(readFileSync(join(DEPLOY_DIR, 'prometheus', 'prometheus.yml'), 'utf8')) as {
      global: Record<string, string>;
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    config.global = { scrape_interval: '1s', evaluation_interval: '1s' };
    const targets: Record<string, string> = {
      'stream-worker': `127.0.0.1:${worker.httpPort}`,
      trainer: trainerUrl.slice('http://'.length),
    };
    for (const sc of config.scrape_configs) sc.static_configs = [{ targets: [targets[sc.job_name]] }];
    const { GenericContainer, Wait } = await import('testcontainers');
    prometheus = await new GenericContainer(E2E_IMAGES.prometheus)
      .withNetworkMode('host')
      .withCopyContentToContainer([
        { content: stringify(config), target: '/etc/prometheus/prometheus.yml' },
        {
          content: readFileSync(join(DEPLOY_DIR, 'prometheus', 'alerts.yml'), 'utf8'),
          target: '/etc/prometheus/alerts.yml',
        },
      ])
      .withCommand([
        '--config.file=/etc/prometheus/prometheus.yml',
        '--storage.tsdb.path=/prometheus',
        `--web.listen-address=127.0.0.1:${port}`,
      ])
      .withWaitStrategy(Wait.forLogMessage(/Server is ready to receive web requests/))
      .withStartupTimeout(60_000)
      .start();
    track(prometheus.getId());
    promUrl = `http://127.0.0.1:${port}`;
    // Prometheus scrapes its first targets a few seconds after it serves: the load below must come
    // after a first sample (the worker starts its counters at 0), or rate() would see no increase.
    await waitFor(
      'first scrapes of worker and trainer',
      async () => (await scalar('count(up == 1)')) === 2,
      60_000,
      500,
    );
  });

  afterAll(async () => {
    if (prometheus) {
      const id = prometheus.getId();
      removeContainers([id]);
      untrack([id]);
    }
    await worker?.dispose();
    await app?.close();
    await registry?.close();
    await kafka.disconnect();
  }, 120_000);

  it('scrapes the worker and the trainer, whose counters match what Kafka holds', async () => {
    // A training job through the trainer's API: the classifier the worker then serves.
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const started = await fetch(`${trainerUrl}/v1/models/${classifier}/retrain`, {
      method: 'POST',
      headers,
      body: JSON.stringify(tinyClassifierRetrain()),
    });
    expect(started.status).toBe(202);
    const { jobId } = (await started.json()) as { jobId: string };
    let job!: JobRecord;
    await waitFor(
      `training job ${jobId}`,
      async () => {
        job = (await (await fetch(`${trainerUrl}/v1/jobs/${jobId}`, { headers })).json()) as JobRecord;
        return ['succeeded', 'failed', 'cancelled'].includes(job.status);
      },
      180_000,
    );
    expect(job.status).toBe('succeeded');

    // Load: readings, texts, and records that are not JSON (dead-lettered as invalid_json).
    const bad = Array.from({ length: BAD_JSON }, (_, i) => ({
      key: `prom-bad-${i}`,
      value: '{"sensorId":',
      partition: i % 3,
    }));
    await kafka.produce(t.sensor, [...sensor, ...bad]);
    await kafka.produce(t.text, text);
    const consumed = sensor.length + bad.length + text.length;
    const sel = `{job="stream-worker"}`;
    await waitFor(
      `Prometheus to see ${consumed} events consumed`,
      async () => (await scalar(`sum(streamcell_events_in_total${sel})`)) === consumed,
      180_000,
      1000,
    );

    const endSum = async (topic: string) =>
      [...(await kafka.endOffsets(topic)).values()].reduce((a, b) => a + Number(b), 0);
    const outputs = (await endSum(t.forecasts)) + (await endSum(t.classes));
    expect(outputs).toBe(sensor.length + text.length);
    await waitFor(
      'predictions scraped',
      async () => (await scalar(`sum(streamcell_predictions_out_total${sel})`)) === outputs,
      30_000,
      1000,
    );
    expect(await endSum(t.dlq)).toBe(BAD_JSON);
    expect(await scalar(`sum(streamcell_dlq_total{job="stream-worker", reason="invalid_json"})`)).toBe(
      BAD_JSON,
    );
    expect(
      await scalar(`sum(streamcell_trainer_jobs_total{job="trainer", status="succeeded", task="classify"})`),
    ).toBe(1);
    expect(await scalar(`max(streamcell_model_version{model="${classifier}"})`)).toBe(job.result?.version);
    expect(await scalar(`min(streamcell_worker_ready${sel})`)).toBe(1);
    expect(await scalar('min(up)')).toBe(1);
    // rate() over the window needs a few scrapes after the load.
    await waitFor(
      'rates of the load',
      async () => ((await scalar(`sum(rate(streamcell_events_in_total${sel}[1m]))`)) ?? 0) > 0,
      30_000,
      1000,
    );
  });

  it('evaluates every dashboard panel query to series', async () => {
    const queries = dashboardQueries('1m');
    const failures: string[] = [];
    // Series born with the load's first batch need a second scrape before rate() has two samples.
    let empty: typeof queries = queries;
    for (let round = 0; empty.length > 0 && round < 10; round++) {
      if (round > 0) await sleep(1000);
      const next: typeof queries = [];
      for (const q of empty) {
        const r = await query(q.expr);
        if (r.status !== 'success') failures.push(`${q.name}: ${r.error}`);
        else if (r.data.result.length === 0) next.push(q);
      }
      empty = next;
    }
    expect(failures).toEqual([]);
    expect(
      empty
        .filter((q) => !usesMetricsNotYetExported(q.expr))
        .map((q) => `${q.name}: no series for ${q.expr}`),
    ).toEqual([]);
    expect(queries.length - empty.length).toBeGreaterThanOrEqual(20);
  });

  it('evaluates every alert expression, over metrics Prometheus has scraped', async () => {
    const failures: string[] = [];
    for (const q of alertQueries()) {
      const r = await query(q.expr);
      if (r.status !== 'success') failures.push(`${q.name}: ${r.error}`);
      for (const name of metricNames(q.expr)) {
        if (usesMetricsNotYetExported(name)) continue;
        const present = await query(`group(${name})`);
        if (present.status !== 'success' || present.data.result.length === 0)
          failures.push(`${q.name}: no series of ${name}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('has loaded every alert rule, and evaluates them without errors', async () => {
    const expected = alertGroups()
      .flatMap((g) => g.rules.map((r) => r.alert))
      .sort();
    type Rule = { name: string; type: string; health: string; lastError?: string; lastEvaluation: string };
    let rules: Rule[] = [];
    await waitFor(
      'every rule evaluated',
      async () => {
        const r = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as PromResponse<{
          groups: { rules: Rule[] }[];
        }>;
        rules = r.data.groups.flatMap((g) => g.rules);
        return rules.length > 0 && rules.every((x) => !x.lastEvaluation.startsWith('0001'));
      },
      30_000,
      500,
    );
    expect(rules.map((r) => r.name).sort()).toEqual(expected);
    expect(
      rules
        .filter((r) => r.type !== 'alerting' || r.health !== 'ok')
        .map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`),
    ).toEqual([]);
  });
});
