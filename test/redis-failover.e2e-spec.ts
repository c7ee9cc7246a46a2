/**
 * Redis failover under a running worker, on the two ways Redis fails over by itself: a Redis
 * Cluster (three masters with a replica each, cluster-node-timeout 2 s; REDIS_CLUSTER=true) and
 * Sentinel (a master, a replica and one Sentinel with down-after 1 s; REDIS_SENTINEL_MASTER).
 * The workers run with REDIS_WAIT_REPLICAS=1. Mid-stream a master is SIGKILLed (a crashed host):
 * its replica takes over, and while it has no replica of its own every batch fails WAIT and is
 * retried, committing nothing. The killed node is started again, rejoins as the new master's
 * replica, and the worker carries on by itself in the same process. Afterwards the dual-run
 * checks hold (every offset predicted, duplicates identical, predictions and every key's final
 * state equal to an uninterrupted reference run bit for bit) and every key stepped exactly once
 * per event: no write acknowledged by the dead master was lost behind a committed offset.
 */
import { StateStore, type StateRecord } from '@app/state';
import { e2eStack, sleep, testRedisClient, waitFor, type E2EStack } from './support/e2e-env';
import { DualRun } from './support/dual-run';
import { sensorEvents, textEvents } from './support/event-streams';
import { startRedisCluster } from './support/redis-cluster';
import { RETRY_LOG_LINE } from './support/worker-process';
import { SENTINEL_MASTER, startRedisSentinel } from './support/redis-sentinel';

/** A Redis that fails over by itself, as the suite drives it. */
interface FailoverRedis {
  /** Where the workers and the test clients connect (brokers: the run's Kafka). */
  readonly stack: E2EStack;
  /** The node the WAIT shortfall message names (`host:port` of a master, or `redis`). */
  readonly waitWhere: RegExp;
  /** A master and the replica that is to replace it. */
  pick(): Promise<{ master: number; replica: number }>;
  promoted(replica: number): Promise<boolean>;
  /** `old` replicates `successor`, link up. */
  rejoined(old: number, successor: number): Promise<boolean>;
  kill(port: number): Promise<void>;
  start(port: number): Promise<void>;
  stop(): Promise<void>;
}

async function clusterRedis(): Promise<FailoverRedis> {
  const cluster = await startRedisCluster(3, { replicas: 1, nodeTimeoutMs: 2000 });
  return {
    stack: { brokers: e2eStack().brokers, redisUrl: cluster.url, redisCluster: true },
    waitWhere: /127\.0\.0\.1:\d+/,
    pick: async () => {
      const nodes = await cluster.topology();
      const master = nodes.find((n) => n.role === 'master' && nodes.some((r) => r.masterPort === n.port))!;
      return { master: master.port, replica: nodes.find((n) => n.masterPort === master.port)!.port };
    },
    promoted: async (replica) => (await cluster.topology(replica)).find((n) => n.port === replica)?.role === 'master',
    rejoined: async (old, successor) => {
      const node = (await cluster.topology(successor)).find((n) => n.port === old);
      return node?.role === 'replica' && node.masterPort === successor && node.healthy;
    },
    kill: (port) => cluster.kill(port),
    start: (port) => cluster.start(port),
    stop: () => cluster.stop(),
  };
}

async function sentinelRedis(): Promise<FailoverRedis> {
  const s = await startRedisSentinel();
  return {
    stack: { brokers: e2eStack().brokers, redisUrl: s.url, redisSentinelMaster: SENTINEL_MASTER },
    waitWhere: /redis/,
    pick: async () => {
      const master = await s.masterPort();
      return { master, replica: s.dataPorts.find((p) => p !== master)! };
    },
    promoted: async (replica) => (await s.masterPort()) === replica,
    rejoined: async (old, successor) => {
      const r = await s.replication(old).catch(() => null);
      return r?.role === 'slave' && r.masterPort === successor && r.linkUp;
    },
    kill: (port) => s.kill(port),
    start: (port) => s.start(port),
    stop: () => s.stop(),
  };
}

const PARTITIONS = 4;
const WAIT_ENV = { REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '500' };

describe.each([
  ['Redis Cluster', 'rfoc', clusterRedis],
  ['Redis Sentinel', 'rfos', sentinelRedis],
] as const)('%s failover: a master dies mid-stream', (_name, tag, startRedis) => {
  let redis: FailoverRedis;
  let run: DualRun;
  const seed = Number.parseInt(process.env.FAULT_SEED ?? String(Date.now() % 1e9), 10);

  beforeAll(async () => {
    redis = await startRedis();
    run = new DualRun(tag, PARTITIONS, redis.stack);
    await run.setUp();
  }, 240_000);

  afterAll(async () => {
    await run?.tearDown();
    await redis?.stop();
  }, 120_000);

  it('a batch of state writes is acknowledged by a replica of every master, or fails naming the shortfall', async () => {
    const client = testRedisClient(redis.stack);
    try {
      const record = (offset: bigint): StateRecord => ({
        modelVersion: '1',
        partition: 0,
        offset,
        steps: 1,
        lastEventTs: 0,
        state: new Float32Array(8),
        extras: new Float32Array(0),
        ring: null,
      });
      const keys = Array.from({ length: 200 }, (_, i) => `wait-${i}`);
      const one = new StateStore(client, { waitReplicas: 1, waitTimeoutMs: 2000 });
      expect(await one.writeMany(`${tag}-wait`, keys.map((key) => ({ key, record: record(1n) })))).toEqual(keys.map(() => 'applied'));
      // Each master has one replica: asking for two cannot be met.
      const two = new StateStore(client, { waitReplicas: 2, waitTimeoutMs: 200 });
      const err = await two.writeMany(`${tag}-wait`, keys.map((key) => ({ key, record: record(2n) }))).catch((e: Error) => e);
      expect(String(err)).toMatch(/state write reached 1 of 2 replicas of .+ within 200 ms/);
      expect(String(err)).toMatch(redis.waitWhere);
    } finally {
      client.disconnect();
    }
  });

  it('loses no state: the replica takes over, batches wait for a replica, the worker resumes by itself', async () => {
    const sensors = sensorEvents(`${tag}-sensor-${run.s}`, 80, 30, PARTITIONS, seed);
    const texts = textEvents(`${tag}-text-${run.s}`, 20, 30, PARTITIONS, seed + 1);
    const cut = (f: number) => [Math.floor(sensors.length * f), Math.floor(texts.length * f)] as const;
    const [sA, tA] = cut(0.4);
    const [sB, tB] = cut(0.7);

    await run.produceReference(sensors, texts);
    const ref = run.worker('ref', true, WAIT_ENV).start();
    const victim = run.worker('victim', false, WAIT_ENV).start();
    await Promise.all([ref.ready(), victim.ready()]);
    const pid = victim.pid;

    // Phase A with every node up; the reference run completes before anything fails.
    await run.feed(sensors.slice(0, sA), texts.slice(0, tA), 4, 100);
    await run.drain(120_000, [true, false]);
    expect((await ref.stop('SIGTERM')).code).toBe(0);
    expect(victim.logLines(RETRY_LOG_LINE)).toEqual([]);

    // A master with a replica dies; phase B arrives right after.
    const { master, replica } = await redis.pick();
    const killedAt = Date.now();
    await redis.kill(master);
    const feeding = run.feed(sensors.slice(sA, sB), texts.slice(tA, tB), 6, 250);
    await waitFor(`replica ${replica} promoted`, () => redis.promoted(replica), 60_000, 250);
    const promotedMs = Date.now() - killedAt;
    await feeding;
    // The promoted master has no replica yet: WAIT cannot be satisfied, nothing is committed.
    await sleep(3_000);
    const failing = victim.logLines(RETRY_LOG_LINE).filter((l) => Date.parse(String(l.time)) >= killedAt);
    expect(failing.length).toBeGreaterThan(0);
    expect(victim.running).toBe(true);

    // The dead node comes back and rejoins as the replica of the one that replaced it.
    await redis.start(master);
    await waitFor(`node ${master} replicating ${replica}`, () => redis.rejoined(master, replica), 90_000, 250);
    const rejoinedMs = Date.now() - killedAt;

    // Phase C; the same process finishes everything.
    await run.feed(sensors.slice(sB), texts.slice(tB), 3, 100);
    await run.drain(180_000, [false]);
    expect(victim.running).toBe(true);
    expect(victim.pid).toBe(pid);
    const report = await run.verify(sensors, texts);

    // One state transition per event: forecast keys step once per reading, text keys once per token.
    expect((await run.stepCountDiffs(sensors, texts)).slice(0, 10)).toEqual([]);

    console.log(
      JSON.stringify({
        suite: 'redis-failover',
        topology: _name,
        seed,
        events: sensors.length + texts.length,
        killed: master,
        promoted: replica,
        promotedMs,
        rejoinedMs,
        failedBatchesWhileDown: failing.length,
        waitShortfalls: failing.filter((l) => l.kind === 'redis_replicas').length,
        ...report,
      }),
    );
    const exit = await victim.stop('SIGTERM');
    expect(exit.code).toBe(0);
  });
});

describe('REDIS_WAIT_REPLICAS higher than the replicas Redis has', () => {
  const run = new DualRun('rfow', 2);

  beforeAll(() => run.setUp(), 120_000);
  afterAll(() => run.tearDown());

  it('retries every batch, commits nothing, and /health/ready says why; the process stays up', async () => {
    // The run's Redis has no replica: WAIT 1 can never be met.
    const worker = run.worker('w', false, { REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '100' }).start();
    await worker.ready();
    const ready = await worker.http('/health/ready', 3000);
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body).redis).toEqual({ ok: true, waitReplicas: 1, lastShortfallAt: null });

    await run.feed(sensorEvents(`rfow-sensor-${run.s}`, 5, 4, 2, 7), [], 1, 0);
    await waitFor('a write short of its replica', () => worker.logLines(RETRY_LOG_LINE).some((l) => l.kind === 'redis_replicas'), 60_000, 100);
    await waitFor('not ready', async () => (await worker.http('/health/ready', 3000)).status === 503, 30_000, 200);
    const body = JSON.parse((await worker.http('/health/ready', 3000)).body) as { redis: Record<string, unknown> };
    expect(body.redis).toMatchObject({ ok: false, waitReplicas: 1 });
    expect(typeof body.redis.lastShortfallAt).toBe('string');
    expect((await worker.http('/health', 3000)).status).toBe(200);
    // Nothing is committed: the states are written, but not known to be durable.
    await sleep(1_000);
    const committed = await run.kafka.committed(run.group(false), run.side.sensor);
    expect([...committed.values()].filter((o) => o > 0n)).toEqual([]);
    expect(worker.running).toBe(true);
    const exit = await worker.stop('SIGTERM');
    expect(exit.code).toBe(0);
  });
});
