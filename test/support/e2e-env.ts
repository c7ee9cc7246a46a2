/**
 * What every e2e suite needs from its surroundings: the addresses of the stack test/global-setup.ts
 * started, names no other suite uses, and polling.
 */
import { randomBytes } from 'crypto';
import * as path from 'path';
import { createRedisClient, type RedisLike } from '@app/state';

/** Repository root (test/support/../..). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** Kafka and Redis addresses of a stack. */
export interface E2EStack {
  /** Broker list, `host:port[,host:port]` (as KAFKA_BROKERS takes it). */
  readonly brokers: string;
  /** `redis://127.0.0.1:<port>`, or a Redis Cluster's seed list when `redisCluster`. */
  readonly redisUrl: string;
  /** `redisUrl` lists Redis Cluster seed nodes (REDIS_CLUSTER=true). */
  readonly redisCluster?: boolean;
  /** `redisUrl` lists Sentinels of the master of this name (REDIS_SENTINEL_MASTER). */
  readonly redisSentinelMaster?: string;
}

/** Where a test client finds Redis: a plain URL, or a stack's URL and topology. */
export type RedisTarget = string | Pick<E2EStack, 'redisUrl' | 'redisCluster' | 'redisSentinelMaster'>;

/**
 * A test-side client of `target` (standalone, Cluster or Sentinel, as the workers connect).
 * Connection errors while a node is down (failover suites) are the client's to retry, and a
 * command that fails rejects on its own; without a listener they would crash the suite.
 */
export function testRedisClient(target: RedisTarget): RedisLike {
  const t = typeof target === 'string' ? { redisUrl: target } : target;
  const client = createRedisClient(t.redisUrl, {
    maxRetriesPerRequest: 3,
    cluster: t.redisCluster,
    sentinelMaster: t.redisSentinelMaster,
  });
  client.on('error', () => undefined);
  return client;
}

/**
 * The shared stack: STREAMCELL_TEST_KAFKA_BROKERS / STREAMCELL_TEST_REDIS_URL exported by the
 * global setup. Throws when the suite did not run through test/jest-e2e.config.js.
 */
export function e2eStack(): E2EStack {
  const brokers = process.env.STREAMCELL_TEST_KAFKA_BROKERS;
  const redisUrl = process.env.STREAMCELL_TEST_REDIS_URL;
  if (!brokers || !redisUrl) {
    throw new Error(
      'STREAMCELL_TEST_KAFKA_BROKERS / STREAMCELL_TEST_REDIS_URL are not set: run e2e suites through test/jest-e2e.config.js (its global setup starts the stack)',
    );
  }
  return { brokers, redisUrl };
}

/** A short unique suffix so suites never share topics, groups or model names. */
export function uniqueSuffix(): string {
  return `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

/** `prefix-<suffix>`: unique per call, legal as topic, group, key and model name. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${uniqueSuffix()}`;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every `everyMs` until it is true; throws naming `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
  everyMs = 200,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
