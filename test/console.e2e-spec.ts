/**
 * The operator console in a real browser: Debian's Chromium driven through playwright-core against
 * the real stack (the run's Kafka and Redis, a stream-worker process, the trainer's admin API, the
 * console process). It logs in with the admin token, follows a sensor's chart as readings are
 * produced, sees a dead letter of a bad message (its bytes escaped, not rendered), activates a
 * version and sees the swap marked on the sensor's time axis, watches a retrain's loss curve grow,
 * and fails on any error in the page's console. Screenshots: test-output/console/*.png.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { chromium, type Browser, type Page } from 'playwright-core';
import { loadTrainerConfig } from '../apps/trainer/src/config/trainer-config';
import { createTrainerApp } from '../apps/trainer/src/trainer-app';
import { ConsoleProcess } from './support/console-process';
import { DUAL_CLASSIFIER } from './support/dual-run';
import { REPO_ROOT, e2eStack, uniqueSuffix, waitFor } from './support/e2e-env';
import { TestRegistry, type ForecasterDef } from './support/model-fixtures';
import { TestKafka } from './support/test-kafka';
import { suiteTopics, topicEnv, WorkerProcess, workerEnv } from './support/worker-process';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = path.join(REPO_ROOT, 'test-output', 'console');
/** Runs in the page (a script, the suite has no DOM types): records every value data-epochs takes. */
const EPOCH_RECORDER = `
  window.epochCounts = [];
  new MutationObserver((records) => {
    for (const r of records) {
      const v = r.target.getAttribute('data-epochs');
      if (v !== null && window.epochCounts[window.epochCounts.length - 1] !== v) window.epochCounts.push(v);
    }
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ['data-epochs'] });
`;

describe('operator console in Chromium', () => {
  const stack = e2eStack();
  const s = uniqueSuffix();
  const t = suiteTopics(`con-${s}`);
  const token = randomBytes(24).toString('hex');
  const forecaster = `con-pump-${s}`;
  const classifier = `con-text-${s}`;
  const sensor = `con-boiler-${s}`;
  const lateText = `con-${s}.late-text`;
  const others = [0, 1, 2].map((i) => `con-pump-${i}-${s}`);
  const kafka = new TestKafka(stack.brokers, `con-${s}`);
  const v1: ForecasterDef = { task: 'forecast', seed: 31, units: 12, features: 1, includeTimeDelta: false, horizon: 4, mean: [20], std: [5] };
  let registry: TestRegistry;
  let trainer: INestApplication;
  let worker: WorkerProcess;
  let consoleApp: ConsoleProcess;
  let url: string;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  let step = 0;
  let feeding: NodeJS.Timeout | null = null;

  /** One reading per sensor, event time = now (the chart scrolls in real time). */
  async function produceReadings(): Promise<void> {
    step++;
    const ts = Date.now();
    const msgs = [sensor, ...others].map((key, k) => ({
      key,
      value: JSON.stringify({ sensorId: key, ts, value: Math.round((20 + 5 * Math.sin(step / 5 + k) + (step % 17 === 0 ? 9 : 0)) * 1000) / 1000 }),
    }));
    await kafka.produce(t.sensor, msgs);
  }

  const chartPoints = async () => Number(await page.getAttribute('#chart', 'data-points'));
  const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    await kafka.connect();
    await kafka.createSuiteTopics(t, { sensor: 2 });
    registry = new TestRegistry(stack, kafka.producerClient, t.models);
    await registry.seed(forecaster, v1, { window: 8 });
    await registry.seed(forecaster, { ...v1, seed: 32 }, { window: 8, activate: false });
    await registry.seed(classifier, DUAL_CLASSIFIER);
    // History for the retrain (the trainer reads the sensor topic from its beginning).
    for (let i = 0; i < 120; i++) await produceReadings();

    const config = loadTrainerConfig({
      REDIS_URL: stack.redisUrl,
      KAFKA_BROKERS: stack.brokers,
      ADMIN_TOKEN: token,
      MODELS_TOPIC: t.models,
      TRAINER_SOURCE_TOPICS: t.sensor,
      TRAINER_INSTANCE_ID: `con-${s}`,
    });
    ({ app: trainer } = await createTrainerApp(config));
    await trainer.listen(0, '127.0.0.1');
    const trainerUrl = `http://127.0.0.1:${(trainer.getHttpServer().address() as { port: number }).port}`;

    worker = new WorkerProcess(
      `console-${s}`,
      workerEnv(stack, { KAFKA_GROUP_ID: `con-${s}`, ...topicEnv(t), FORECAST_MODEL: forecaster, CLASSIFY_MODEL: classifier }),
    );
    worker.start();
    await worker.ready();

    consoleApp = new ConsoleProcess(`console-app-${s}`, {
      KAFKA_BROKERS: stack.brokers,
      TRAINER_URL: trainerUrl,
      WORKER_METRICS_URLS: `http://127.0.0.1:${worker.httpPort}`,
      WORKER_GROUP_ID: `con-${s}`,
      SENSOR_TOPIC: t.sensor,
      // Created only by the last case: the console must pick up a topic that appears later.
      TEXT_TOPIC: lateText,
      FORECAST_TOPIC: t.forecasts,
      CLASSIFICATION_TOPIC: t.classes,
      DLQ_TOPIC: t.dlq,
      MODELS_TOPIC: t.models,
      CONSOLE_BACKFILL: '100',
    });
    url = await consoleApp.start();

    feeding = setInterval(() => void produceReadings().catch(() => undefined), 400);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    // Every value the loss chart's epoch count takes, recorded by the page itself as it changes.
    await context.addInitScript(EPOCH_RECORDER);
    page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => pageErrors.push(`pageerror: ${e.message}`));
  }, 240_000);

  afterAll(async () => {
    if (feeding) clearInterval(feeding);
    await browser?.close();
    await consoleApp?.stop();
    await worker?.dispose();
    await registry?.close();
    await kafka.disconnect();
    await trainer?.close();
  }, 120_000);

  afterEach(() => {
    expect(pageErrors).toEqual([]);
  });

  it('logs in with the admin token; the token is in no URL and no log', async () => {
    await page.goto(url);
    await page.fill('#token', token);
    await page.click('#login button[type=submit]');
    await page.waitForSelector('#key-search');
    expect(page.url()).not.toContain(token);
    const cookies = await page.context().cookies();
    expect(cookies.map((c) => [c.name, c.httpOnly, c.sameSite])).toEqual([['streamcell_console', true, 'Strict']]);
    expect(cookies[0].value).not.toContain(token);
    expect(consoleApp.logs).not.toContain(token);
  });

  it("Live: a sensor's chart follows its readings, forecast horizon ahead", async () => {
    await page.fill('#key-search', 'boiler');
    await page.click(`#keys li[data-key="${sensor}"]`);
    await waitFor('the chart to show readings', async () => (await chartPoints()) >= 5, 60_000);
    const before = await chartPoints();
    await waitFor('the chart to grow as readings are produced', async () => (await chartPoints()) >= before + 5, 60_000);
    await waitFor('forecasts of v1 on the chart', async () => ((await page.textContent('#live-info')) ?? '').includes('model v1'), 30_000);
    // The forecast horizon is drawn: the uPlot legend lists it with a value on hover-less charts.
    expect(await page.locator('#chart .u-legend').textContent()).toContain('horizon');
    await shot('live');
  });

  it('Dead letters: a bad message appears with its bytes escaped, not rendered', async () => {
    const bad = '<img src=x onerror="alert(1)">\u0000{"sensorId":';
    await kafka.produce(t.sensor, [{ key: sensor, value: bad }]);
    await page.click('#nav a[href="#/dead-letters"]');
    const row = page.locator('#dead-letters tr[data-reason="invalid_json"]').first();
    await row.waitFor({ timeout: 60_000 });
    expect(await row.locator('pre.preview').textContent()).toBe('<img src=x onerror="alert(1)">\\x00{"sensorId":');
    expect(await row.textContent()).toContain(t.sensor);
    expect(await page.locator('#dead-letters img').count()).toBe(0);
    expect(await page.textContent('#dlq-totals')).toContain('invalid_json: 1');
    await shot('dead-letters');
  });

  it('Models: activating v2 (with a confirmation) is marked on the sensor time axis', async () => {
    await page.click('#nav a[href="#/models"]');
    const card = page.locator(`[data-model="${forecaster}"]`);
    await card.locator('button[data-activate="2"]').click();
    await page.selectOption('#swap-policy', 'reset');
    await page.click('#confirm-activate');
    await page.locator(`#active-${forecaster}`).filter({ hasText: 'active v2' }).waitFor({ timeout: 30_000 });
    await shot('models');
    await page.click('#nav a[href="#/live"]');
    await page.locator('#chart[data-markers="1"]').waitFor({ timeout: 60_000 });
    expect(await page.textContent('#markers')).toContain('v1 → v2');
    await waitFor('forecasts of v2 on the chart', async () => ((await page.textContent('#live-info')) ?? '').includes('model v2'), 60_000);
    expect(await page.textContent('#activations')).toContain('v2');
    await shot('live-swap');
  });

  it("Jobs: a retrain started from the form draws its loss curve epoch by epoch", async () => {
    const epochs = 40;
    await page.click('#nav a[href="#/models"]');
    await page.click(`#retrain-open-${forecaster}`);
    // The registry is shared by the run's suites: every model has a retrain form; use this one's.
    const form = `#retrain-${forecaster}`;
    await page.fill(`${form} [name="topic"]`, t.sensor);
    await page.fill(`${form} [name="epochs"]`, String(epochs));
    await page.fill(`${form} [name="hiddenUnits"]`, '16');
    await page.fill(`${form} [name="window"]`, '8');
    await page.selectOption(`${form} [name="activate"]`, 'never');
    await page.click(`${form} button[type="submit"]`);
    await page.waitForURL(/#\/jobs\/.+/);
    await page.locator('#loss-chart[data-status="succeeded"]').waitFor({ timeout: 180_000 });
    const counts = (await page.evaluate<string[]>('window.epochCounts')).map(Number);
    // The curve grew while the job ran: several intermediate epoch counts, increasing, ending at all epochs.
    expect(counts[counts.length - 1]).toBe(epochs);
    expect(counts.filter((c) => c > 0 && c < epochs).length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < counts.length; i++) expect(counts[i]).toBeGreaterThanOrEqual(counts[i - 1]);
    expect(await page.textContent('#job-facts')).toContain('simd');
    await shot('jobs');
  });

  it('Fleet: the worker is ready, with throughput and lag per partition', async () => {
    await page.click('#nav a[href="#/fleet"]');
    await page.locator('#workers tr[data-ready="true"]').waitFor({ timeout: 30_000 });
    await page.locator('#lag tr').first().waitFor({ timeout: 30_000 });
    expect(await page.locator('#workers').textContent()).toContain(`${forecaster} v2`);
    // The lag table's committed offsets are the group's, as the broker has them (they only grow).
    const rows = (await page.locator('#lag tr').allInnerTexts()).map((r) => r.split('\t').map((c) => c.trim()));
    const sensorRows = rows.filter((r) => r[0] === t.sensor);
    expect(sensorRows.map((r) => r[1])).toEqual(['0', '1']);
    const committed = await kafka.committed(`con-${s}`, t.sensor);
    const withCommits = sensorRows.filter((r) => r[2] !== '—');
    expect(withCommits.length).toBeGreaterThan(0);
    for (const [, partition, shown, end, lag] of withCommits) {
      expect(BigInt(shown)).toBeGreaterThan(0n);
      expect(BigInt(shown)).toBeLessThanOrEqual(committed.get(Number(partition))!);
      expect(BigInt(lag)).toBe(BigInt(end) - BigInt(shown));
    }
    await shot('fleet');
  });

  it('a topic created after the console started is followed once it exists', async () => {
    await kafka.createTopics([{ topic: lateText, partitions: 1 }]);
    const stream = `con-ticket-${s}`;
    await kafka.produce(lateText, [{ key: stream, value: JSON.stringify({ streamId: stream, ts: Date.now(), text: 'created later <b>bold</b>' }) }]);
    await page.click('#nav a[href="#/live"]');
    await page.locator('#messages tr', { hasText: 'created later <b>bold</b>' }).waitFor({ timeout: 60_000 });
    await page.fill('#key-search', 'ticket');
    await page.locator(`#keys li[data-key="${stream}"]`).waitFor({ timeout: 10_000 });
  });
});
