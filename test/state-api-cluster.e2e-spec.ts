/**
 * The state API's key scan on a real Redis Cluster (three masters): the service the
 * `GET /v1/models/{name}/keys` route calls walks every master with its `<master>.<cursor>` cursor
 * and lists exactly the keys stored for the model (written with libs/state's StateStore, as the
 * worker writes them), none of another model's; a key's state reads back from its slot.
 */
import { createRedisClient, StateStore, type RedisLike } from '@app/state';
import { StateService } from '../apps/trainer/src/services/state.service';
import { startRedisCluster, type TestRedisCluster } from './support/redis-cluster';

const MASTERS = 3;
const KEYS = 90;

const record = (steps: number) => ({
  modelVersion: '2',
  partition: 1,
  offset: BigInt(steps),
  steps,
  lastEventTs: 1_795_000_000_000 + steps,
  state: new Float32Array(4).fill(steps / 10),
  extras: new Float32Array(0),
  ring: null,
});

describe('state API key scan on a Redis Cluster', () => {
  let cluster: TestRedisCluster;
  let redis: RedisLike;

  beforeAll(async () => {
    cluster = await startRedisCluster(MASTERS);
    redis = createRedisClient(cluster.url, { cluster: true, connectionName: 'state-api-cluster-e2e' });
  }, 180_000);

  afterAll(async () => {
    await redis?.quit().catch(() => undefined);
    await cluster?.stop();
  }, 120_000);

  it('pages over every master and lists exactly the model keys', async () => {
    const store = new StateStore(redis, { idleTtlMs: 3_600_000 });
    const keys = Array.from({ length: KEYS }, (_, i) => `sensor-${i}`);
    expect(await store.writeMany('scanned', keys.map((key, i) => ({ key, record: record(i + 1) })))).toEqual(keys.map(() => 'applied'));
    await store.writeMany('scanned-other', [{ key: 'sensor-0', record: record(1) }]);

    // No registry: layers are null, the rest of the state answers.
    const service = new StateService(redis, { loadVersionFiles: () => Promise.reject(new Error('no registry')) });
    const seen: string[] = [];
    const mastersVisited = new Set<string>();
    let cursor = '0';
    let pages = 0;
    do {
      mastersVisited.add(cursor.includes('.') ? cursor.split('.')[0] : '0');
      const page = await service.scanKeys('scanned', cursor, '10');
      seen.push(...page.keys);
      cursor = page.cursor;
      pages++;
    } while (cursor !== '0' && pages < 1000);
    expect([...new Set(seen)].sort()).toEqual([...keys].sort());
    expect(mastersVisited.size).toBe(MASTERS);

    const state = await service.keyState('scanned', 'sensor-41');
    expect(state.steps).toBe(42);
    expect(state.last).toEqual({ partition: 1, offset: '42', eventTime: new Date(1_795_000_000_042).toISOString() });
    expect(state.layers).toBeNull();
    expect(state.state).toEqual(Array.from(new Float32Array(4).fill(4.2)));

    await expect(service.scanKeys('scanned', '7.0', '10')).rejects.toThrow(/cursor names node 7/);
    await expect(service.scanKeys('scanned', 'x', '10')).rejects.toThrow(/cursor must be/);
  });
});
