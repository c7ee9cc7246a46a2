/**
 * Boot contract of both apps (libs/config/README.md): a missing or invalid variable, an
 * unreachable Kafka or an unreachable Redis each end the built app (dist/) with a non-zero exit
 * within 30 s and a stderr message naming the variable, the broker list or the Redis URL.
 * The other dependency is the real one from the harness, so each case has exactly one problem.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { freePort } from './support/e2e-stack';
import { e2eStack } from './support/e2e-env';

const ROOT = path.resolve(__dirname, '..');
const APPS = {
  'stream-worker': path.join(ROOT, 'dist/apps/stream-worker/src/main.js'),
  trainer: path.join(ROOT, 'dist/apps/trainer/src/main.js'),
} as const;
type AppName = keyof typeof APPS;
const BOOT_LIMIT_MS = 30_000;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  stdout: string;
  tookMs: number;
}

/** Runs an app with exactly `env` (plus PATH/HOME); kills it if it outlives the boot limit. */
function boot(app: AppName, env: Record<string, string>): Promise<Exit> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [APPS[app]], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), BOOT_LIMIT_MS + 5_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stderr, stdout, tookMs: Date.now() - started });
    });
  });
}

/** Variables each app needs besides Kafka and Redis. */
const APP_ENV: Record<AppName, Record<string, string>> = {
  'stream-worker': { HTTP_PORT: '0', KAFKA_GROUP_ID: 'boot-config-e2e' },
  trainer: { TRAINER_PORT: '0', TRAINER_HOST: '127.0.0.1', ADMIN_TOKEN: 'boot-config-e2e-token-0123456789' },
};

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  return freePort();
}

function expectFailedBoot(exit: Exit): void {
  expect({ signal: exit.signal, failed: exit.code !== null && exit.code !== 0 }).toEqual({ signal: null, failed: true });
  expect(exit.tookMs).toBeLessThan(BOOT_LIMIT_MS);
}

describe.each(Object.keys(APPS) as AppName[])('%s boot checks', (app) => {
  let brokers: string;
  let redisUrl: string;

  beforeAll(() => {
    if (!fs.existsSync(APPS[app])) throw new Error(`${APPS[app]} is missing: run 'npm run build' first`);
    ({ brokers, redisUrl } = e2eStack());
  });

  it('exits non-zero naming the broker list when Kafka is unreachable', async () => {
    const wrong = `127.0.0.1:${await closedPort()}`;
    const exit = await boot(app, { ...APP_ENV[app], KAFKA_BROKERS: wrong, REDIS_URL: redisUrl });
    expectFailedBoot(exit);
    expect(exit.stderr).toContain(wrong);
    expect(exit.stderr).toMatch(/kafka/i);
  });

  it('exits non-zero naming the Redis URL when Redis is unreachable', async () => {
    const wrong = `redis://127.0.0.1:${await closedPort()}`;
    const exit = await boot(app, { ...APP_ENV[app], KAFKA_BROKERS: brokers, REDIS_URL: wrong });
    expectFailedBoot(exit);
    expect(exit.stderr).toContain(wrong);
    expect(exit.stderr).toMatch(/redis/i);
  });

  it('names a missing variable', async () => {
    const exit = await boot(app, { ...APP_ENV[app], REDIS_URL: redisUrl });
    expectFailedBoot(exit);
    expect(exit.stderr).toContain('KAFKA_BROKERS');
  });

  it('names an invalid broker list, Redis URL and port', async () => {
    const badBrokers = await boot(app, { ...APP_ENV[app], KAFKA_BROKERS: 'kafka-without-port', REDIS_URL: redisUrl });
    expectFailedBoot(badBrokers);
    expect(badBrokers.stderr).toContain('KAFKA_BROKERS');

    const badRedis = await boot(app, { ...APP_ENV[app], KAFKA_BROKERS: brokers, REDIS_URL: 'localhost:6379' });
    expectFailedBoot(badRedis);
    expect(badRedis.stderr).toContain('REDIS_URL');

    const portVar = app === 'trainer' ? 'TRAINER_PORT' : 'HTTP_PORT';
    const badPort = await boot(app, { ...APP_ENV[app], [portVar]: 'eighty', KAFKA_BROKERS: brokers, REDIS_URL: redisUrl });
    expectFailedBoot(badPort);
    expect(badPort.stderr).toContain(portVar);
  });
});

/**
 * Trainer-only variable classes: the admin token (a secret, required unless auth is explicitly
 * disabled), the strict auth switch, enumerations, integer ranges, durations and topic names;
 * and the probe deadline BOOT_PROBE_TIMEOUT. Exit codes: 2 invalid configuration, 3 unreachable.
 */
describe('trainer: admin token, value classes and probe deadline', () => {
  let stack: Record<string, string>;

  beforeAll(() => {
    if (!fs.existsSync(APPS.trainer)) throw new Error(`${APPS.trainer} is missing: run 'npm run build' first`);
    // The harness contract (test/global-setup.ts): the shared stack's addresses in the environment.
    const brokers = process.env.STREAMCELL_TEST_KAFKA_BROKERS;
    const redisUrl = process.env.STREAMCELL_TEST_REDIS_URL;
    if (!brokers || !redisUrl) throw new Error('run through test/jest-e2e.config.js (its global setup starts Kafka and Redis)');
    stack = { ...APP_ENV.trainer, KAFKA_BROKERS: brokers, REDIS_URL: redisUrl };
  });

  it('refuses to start without ADMIN_TOKEN, naming it and the local-development switch', async () => {
    const { ADMIN_TOKEN: _omitted, ...noToken } = stack;
    for (const env of [noToken, { ...noToken, ADMIN_AUTH_DISABLED: 'false' }, { ...noToken, ADMIN_TOKEN: '   ' }]) {
      const exit = await boot('trainer', env);
      expectFailedBoot(exit);
      expect(exit.code).toBe(2);
      expect(exit.stderr).toContain('ADMIN_TOKEN');
      expect(exit.stderr).toContain('ADMIN_AUTH_DISABLED=true');
    }
  });

  it.each([
    ['ADMIN_TOKEN', 'short-secret'],
    ['ADMIN_AUTH_DISABLED', 'yes'],
    ['TRAINER_TEXT_BACKEND', 'gpu'],
    ['TRAINER_FORECAST_BACKEND', 'tpu'],
    ['TRAINER_MAX_UPLOAD_BYTES', '10'],
    ['BOOT_PROBE_TIMEOUT', 'soon'],
    ['MODELS_TOPIC', 'has space'],
  ])('names an invalid %s (%s) before connecting to anything', async (variable, value) => {
    const exit = await boot('trainer', { ...stack, [variable]: value });
    expectFailedBoot(exit);
    expect(exit.code).toBe(2);
    expect(exit.stderr).toContain(variable);
    if (variable === 'ADMIN_TOKEN') expect(exit.stderr).not.toContain(value);
    else expect(exit.stderr).toContain(value);
  });

  it('gives up on an unreachable Kafka within BOOT_PROBE_TIMEOUT, naming the broker list and the variable', async () => {
    const wrong = `127.0.0.1:${await closedPort()}`;
    const exit = await boot('trainer', { ...stack, KAFKA_BROKERS: wrong, BOOT_PROBE_TIMEOUT: '2s' });
    expectFailedBoot(exit);
    expect(exit.code).toBe(3);
    expect(exit.stderr).toContain(`Kafka is not reachable at ${wrong} within 2000 ms`);
    expect(exit.stderr).toContain('KAFKA_BROKERS');
    // 2 s of probing plus the process start, far below the 20 s default.
    expect(exit.tookMs).toBeLessThan(10_000);
  });

  it('starts without a token only when ADMIN_AUTH_DISABLED=true, and then serves /v1 unauthenticated', async () => {
    const { ADMIN_TOKEN: _omitted, ...noToken } = stack;
    const port = await freePort();
    const child = spawn(process.execPath, [APPS.trainer], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? '/root',
        ...noToken,
        ADMIN_AUTH_DISABLED: 'true',
        TRAINER_PORT: String(port),
        MODELS_TOPIC: `streamcell.models.boot-config-${port}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      const deadline = Date.now() + BOOT_LIMIT_MS;
      while (!output.includes('admin API on') && child.exitCode === null && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(output).toContain('admin API on');
      expect(output).toContain('ADMIN_AUTH_DISABLED=true');
      const res = await fetch(`http://127.0.0.1:${port}/v1/models`);
      expect(res.status).toBe(200);
      expect(await res.json()).toHaveProperty('models');
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });
});
