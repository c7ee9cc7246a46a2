/**
 * Redis Cluster failover under a running worker: three masters with one replica each (the
 * project's Redis image, cluster-node-timeout 2 s), a worker with REDIS_CLUSTER=true and
 * REDIS_WAIT_REPLICAS=1. Mid-stream one master is SIGKILLed (a crashed host): its replica takes
 * over its slots, and while it has no replica of its own every batch fails WAIT and is retried,
 * committing nothing. The killed node is started again, rejoins as the new master's replica, and
 * the worker carries on by itself in the same process. Afterwards the dual-run checks hold
 * (every offset predicted, duplicates identical, predictions and every key's final state equal
 * to an uninterrupted reference run bit for bit) and every key stepped exactly once per event:
 * no write acknowledged by the dead master was lost behind a committed offset.
 */
import { createRedisClient, StateStore, type StateRecord } from '@app/state';
import { e2eStack, sleep, waitFor } from './support/e2e-env';
import { DualRun } from './support/dual-run';
import { sensorEvents, textEvents } from './support/event-streams';
import { startRedisCluster, type TestRedisCluster } from './support/redis-cluster';

const PARTITIONS = 4;
const RETRY_LINE = 'batch failed; partition paused, retrying with backoff';
const WAIT_ENV = { REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '500' };

describe('Redis Cluster failover: a master dies mid-stream', () => {
  let cluster: TestRedisCluster;
  let run: DualRun;
  const seed = Number.parseInt(process.env.FAULT_SEED ?? String(Date.now() % 1e9), 10);

  beforeAll(async () => {
    cluster = await startRedisCluster(3, { replicas: 1, nodeTimeoutMs: 2000 });
    run = new DualRun('rfo', PARTITIONS, { brokers: e2eStack().brokers, redisUrl: cluster.url, redisCluster: true });
    await run.setUp();
  }, 240_000);

  afterAll(async () => {
    await run?.tearDown();
    await cluster?.stop();
  }, 120_000);

  it('a batch of state writes is acknowledged by a replica of every master, or fails naming the shortfall', async () => {
    const redis = createRedisClient(cluster.url, { cluster: true, maxRetriesPerRequest: 1 });
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
      const one = new StateStore(redis, { waitReplicas: 1, waitTimeoutMs: 2000 });
      expect(await one.writeMany('rfo-wait', keys.map((key) => ({ key, record: record(1n) })))).toEqual(keys.map(() => 'applied'));
      // Each master has one replica: asking for two cannot be met.
      const two = new StateStore(redis, { waitReplicas: 2, waitTimeoutMs: 200 });
      await expect(two.writeMany('rfo-wait', keys.map((key) => ({ key, record: record(2n) })))).rejects.toThrow(
        /state write reached 1 of 2 replicas of 127\.0\.0\.1:\d+ within 200 ms/,
      );
    } finally {
      redis.disconnect();
    }
  });

  it('loses no state: the replica takes over, batches wait for a replica, the worker resumes by itself', async () => {
    const sensors = sensorEvents(`rfo-sensor-${run.s}`, 80, 30, PARTITIONS, seed);
    const texts = textEvents(`rfo-text-${run.s}`, 20, 30, PARTITIONS, seed + 1);
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
    expect(victim.logLines(RETRY_LINE)).toEqual([]);

    // A master with a replica dies; phase B arrives right after.
    const before = await cluster.topology();
    const master = before.find((n) => n.role === 'master' && before.some((r) => r.masterPort === n.port))!;
    const replica = before.find((n) => n.masterPort === master.port)!;
    const killedAt = Date.now();
    await cluster.kill(master.port);
    const feeding = run.feed(sensors.slice(sA, sB), texts.slice(tA, tB), 6, 250);
    await waitFor(
      `replica ${replica.port} promoted`,
      async () => (await cluster.topology(replica.port)).find((n) => n.port === replica.port)?.role === 'master',
      60_000,
      250,
    );
    const promotedMs = Date.now() - killedAt;
    await feeding;
    // The promoted master has no replica yet: WAIT cannot be satisfied, nothing is committed.
    await sleep(3_000);
    const failing = victim.logLines(RETRY_LINE).filter((l) => Date.parse(String(l.time)) >= killedAt);
    expect(failing.length).toBeGreaterThan(0);
    expect(victim.running).toBe(true);

    // The dead node comes back and rejoins as the replica of the one that replaced it.
    await cluster.start(master.port);
    await waitFor(
      `node ${master.port} replicating ${replica.port}`,
      async () => {
        const nodes = await cluster.topology(replica.port);
        const old = nodes.find((n) => n.port === master.port);
        return old?.role === 'replica' && old.masterPort === replica.port && old.healthy;
      },
      60_000,
      250,
    );
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
        seed,
        events: sensors.length + texts.length,
        killed: master.port,
        promoted: replica.port,
        promotedMs,
        rejoinedMs,
        failedBatchesWhileDown: failing.length,
        waitShortfalls: failing.filter((l) => String(l.error).includes('replicas')).length,
        ...report,
      }),
    );
    const exit = await victim.stop('SIGTERM');
    expect(exit.code).toBe(0);
  });
});
