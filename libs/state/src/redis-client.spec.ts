import Redis, { Cluster } from 'ioredis';
import { createRedisClient, isClusterClient, reconnectDelay } from './redis-client';

describe('createRedisClient', () => {
  it('creates a standalone client from a URL', () => {
    const client = createRedisClient('redis://127.0.0.1:6399/2', { lazyConnect: true, connectionName: 'w1' });
    expect(isClusterClient(client)).toBe(false);
    expect(client).toBeInstanceOf(Redis);
    const c = client as Redis;
    expect(c.options.port).toBe(6399);
    expect(c.options.db).toBe(2);
    expect(c.options.connectionName).toBe('w1');
    expect(c.options.maxRetriesPerRequest).toBe(2);
    c.disconnect();
  });

  it('creates a Cluster client from seed URLs with auto-pipelining and no natMap', () => {
    const c = createRedisClient('redis://:s3cret@10.0.0.1:7000, redis://10.0.0.2:7001', {
      cluster: true,
      lazyConnect: true,
    });
    expect(c).toBeInstanceOf(Cluster);
    expect(isClusterClient(c)).toBe(true);
    const cluster = c as Cluster;
    expect(cluster.options.enableAutoPipelining).toBe(true);
    expect(cluster.options.natMap).toBeUndefined();
    expect(cluster.options.redisOptions?.password).toBe('s3cret');
    expect((cluster as unknown as { startupNodes: unknown }).startupNodes).toEqual([
      { host: '10.0.0.1', port: 7000 },
      { host: '10.0.0.2', port: 7001 },
    ]);
    c.disconnect();
  });

  it('creates a Sentinel client of the named master from Sentinel URLs', () => {
    const c = createRedisClient('redis://app:s3cret@10.0.0.5:26380/3, redis://10.0.0.6', {
      sentinelMaster: 'streamcell',
      lazyConnect: true,
      connectionName: 'w2',
    }) as Redis;
    expect(isClusterClient(c)).toBe(false);
    expect(c.options.sentinels).toEqual([
      { host: '10.0.0.5', port: 26380 },
      { host: '10.0.0.6', port: 26379 },
    ]);
    expect(c.options.name).toBe('streamcell');
    expect(c.options.role).toBe('master');
    expect([c.options.username, c.options.password, c.options.sentinelPassword, c.options.db]).toEqual(['app', 's3cret', 's3cret', 3]);
    expect(c.options.failoverDetector).toBe(true);
    expect(c.options.connectionName).toBe('w2');
    c.disconnect();
    expect(() => createRedisClient('redis://h:1', { cluster: true, sentinelMaster: 'm' })).toThrow(/exclude each other/);
  });

  it('backs off up to 2 s and keeps retrying', () => {
    expect([1, 5, 20, 1000].map(reconnectDelay)).toEqual([100, 500, 2000, 2000]);
  });
});
