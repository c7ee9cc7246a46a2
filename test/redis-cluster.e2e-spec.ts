/**
 * Per-key state on a real three-master Redis Cluster (the project's Redis image, cluster mode):
 * the state store's pipelined loads and compare-and-set writes spread over every master through
 * the (model, key) hash tags, and stale writes lose on every node; the model registry keeps each
 * model's keys in one slot and works across models on different nodes.
 */
import { InMemoryModelEventPublisher, ModelRegistry } from '@app/registry';
import {
  accuracyKey,
  clusterKeySlot,
  createRedisClient,
  readAccuracy,
  stateKey,
  StateStore,
  type RedisLike,
  type StateRecord,
} from '@app/state';
import { Cluster } from 'ioredis';
import { startRedisCluster, type TestRedisCluster } from './support/redis-cluster';

const MASTERS = 3;
const H = 64;

function recordAt(key: string, offset: bigint): StateRecord {
  const state = new Float32Array(2 * H);
  for (let i = 0; i < state.length; i++) state[i] = Math.sin(key.length * 31 + i + Number(offset));
  return {
    modelVersion: '7',
    partition: 2,
    offset,
    steps: Number(offset) + 1,
    lastEventTs: 1795000000000 + Number(offset),
    state,
    extras: new Float32Array([0.5, -1]),
    ring: null,
  };
}

describe('StateStore on a Redis Cluster', () => {
  let cluster: TestRedisCluster;
  let redis: RedisLike;
  let store: StateStore;

  beforeAll(async () => {
    cluster = await startRedisCluster(MASTERS);
    redis = createRedisClient(cluster.url, {
      cluster: true,
      connectionName: 'cluster-e2e',
    });
    store = new StateStore(redis, { idleTtlMs: 3_600_000 });
  }, 180_000);

  afterAll(async () => {
    await redis?.quit().catch(() => undefined);
    await cluster?.stop();
  }, 120_000);

  it('writes and loads 600 keys in single calls, spread over every master', async () => {
    const model = 'cluster-forecaster';
    const keys = Array.from({ length: 600 }, (_, i) => `sensor-${i}`);
    const outcomes = await store.writeMany(model, keys.map((key) => ({ key, record: recordAt(key, 10n) })));
    expect(outcomes).toEqual(keys.map(() => 'applied'));

    const loaded = await store.loadMany(model, keys);
    loaded.forEach((rec, i) => {
      expect(rec?.offset).toBe(10n);
      expect(Buffer.from(rec!.state.buffer, rec!.state.byteOffset, rec!.state.byteLength))
        .toEqual(Buffer.from(recordAt(keys[i], 10n).state.buffer));
    });

    // Every master holds a share of the keys (the hash tag is per (model, key), not per model).
    const masters = (redis as Cluster).nodes('master');
    expect(masters).toHaveLength(MASTERS);
    const sizes = await Promise.all(masters.map((n) => n.dbsize()));
    for (const size of sizes) expect(size).toBeGreaterThan(100);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(600);

    const ttls = await store.ttlMany(model, keys.slice(0, 50));
    for (const ttl of ttls) {
      expect(ttl).toBeGreaterThan(3_500_000);
      expect(ttl).toBeLessThanOrEqual(3_600_000);
    }
  });

  it('compare-and-set: an older position loses on every node, a newer one wins', async () => {
    const model = 'cluster-cas';
    const keys = Array.from({ length: 300 }, (_, i) => `k-${i}`);
    await store.writeMany(model, keys.map((key) => ({ key, record: recordAt(key, 50n) })));

    // Half the keys get a replayed (older) write, half a newer one, in one mixed call.
    const mixed = keys.map((key, i) => ({ key, record: recordAt(key, i % 2 === 0 ? 40n : 60n) }));
    const outcomes = await store.writeMany(model, mixed);
    expect(outcomes).toEqual(keys.map((_, i) => (i % 2 === 0 ? 'stale' : 'applied')));

    const loaded = await store.loadMany(model, keys);
    expect(loaded.map((r) => r?.offset)).toEqual(keys.map((_, i) => (i % 2 === 0 ? 50n : 60n)));

    // The same key on the stored node, read directly: the bytes are the store's.
    const direct = await (redis as Cluster).getBuffer(stateKey(model, keys[1]));
    expect(direct).not.toBeNull();
  });

  it('live accuracy: the accumulator (one slot per model) is counted once with the state writes', async () => {
    const model = 'cluster-accuracy';
    const keys = Array.from({ length: 40 }, (_, i) => `a-${i}`);
    const writes = keys.map((key) => ({ key, record: recordAt(key, 20n) }));
    const readings = keys.map((_, i) => ({ offset: BigInt(i), n: 1, sumErr: 2_000_000_000n, sumAbs: 2_000_000_000n, sumSq: 4_000_000_000n }));
    const accuracy = [{ version: '7', partitions: [{ topic: 'sensor.readings', partition: 2, readings }] }];
    expect(await store.writeMany(model, writes, accuracy)).toEqual(keys.map(() => 'applied'));
    // A replay of the same unit: the states are stale and the fence refuses every reading.
    expect(await store.writeMany(model, writes, accuracy)).toEqual(keys.map(() => 'stale'));
    expect(await readAccuracy(redis, model, 7)).toEqual({
      events: 40,
      errors: 40,
      mae: 2,
      rmse: 2,
      bias: 2,
      sumErr: 80,
      sumAbs: 80,
      sumSq: 160,
      fences: { 'sensor.readings:2': '39' },
      labels: null,
    });
    expect(clusterKeySlot(accuracyKey(model, '7'))).toBe(clusterKeySlot(accuracyKey(model, '8')));
  });

  it('model registry: versions, files and active pointers of models on different nodes', async () => {
    const events = new InMemoryModelEventPublisher();
    const registry = new ModelRegistry(redis, events, { verifySidecar: false });
    const names = Array.from({ length: 12 }, (_, i) => `cluster-model-${i}`);
    for (const [i, name] of names.entries()) {
      const files = new Map([
        ['model.json', Buffer.from(JSON.stringify({ name, i }))],
        ['group1-shard1of1.bin', Buffer.alloc(4096, i)],
      ]);
      expect(await registry.createVersion(name, files, { task: 'forecast' })).toBe(1);
      expect(await registry.createVersion(name, files, { task: 'forecast', parentVersion: 1 })).toBe(2);
      await registry.activate(name, 2, 'keep');
    }
    const listed = (await registry.listModels()).map((m) => m.name).filter((n) => names.includes(n));
    expect(listed.sort()).toEqual([...names].sort());
    for (const [i, name] of names.entries()) {
      expect((await registry.getActive(name))?.version).toBe(2);
      const files = await registry.loadVersionFiles(name, 1);
      expect(files.get('group1-shard1of1.bin')).toEqual(Buffer.alloc(4096, i));
    }
    // The models' hash tags landed on more than one master.
    const owners = new Set(names.map((n) => (redis as Cluster).slots[clusterKeySlot(`reg:{${n}}:versions`)][0]));
    expect(owners.size).toBeGreaterThan(1);
  });
});
