import { randomBytes } from 'crypto';
import * as path from 'path';

/** Repository root (test/support/.. /..). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** Where the production build of the worker lives (`npm run build`). */
export const WORKER_MAIN = path.join(REPO_ROOT, 'dist', 'apps', 'stream-worker', 'src', 'main.js');

/** Kafka and Redis addresses exported by test/global-setup.ts. */
export interface FaultStack {
  readonly brokers: string;
  readonly redisUrl: string;
}

/** Reads the harness's addresses; fails loudly when the global setup did not run. */
export function faultStack(): FaultStack {
  const brokers = process.env.STREAMCELL_TEST_KAFKA_BROKERS;
  const redisUrl = process.env.STREAMCELL_TEST_REDIS_URL;
  if (!brokers || !redisUrl) {
    throw new Error(
      'STREAMCELL_TEST_KAFKA_BROKERS / STREAMCELL_TEST_REDIS_URL are not set (run through test/jest-e2e.config.js)',
    );
  }
  return { brokers, redisUrl };
}

/** A short unique suffix so suites never share topics, groups or model names. */
export function uniqueSuffix(): string {
  return `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

import { seededRandom } from '@app/lstm';

/** The project's seeded PRNG (mulberry32), shared with the engine's random specs. */
export { seededRandom };

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns true or `timeoutMs` passes; throws with `what` on timeout. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs = 200,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
