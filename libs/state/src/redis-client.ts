import Redis, { Cluster, type ClusterOptions, type RedisOptions } from 'ioredis';

/** A standalone client or a Cluster client; the state store works with both. */
export type RedisLike = Redis | Cluster;

/** Options of {@link createRedisClient}. */
export interface RedisClientOptions {
  /**
   * Connect to a Redis Cluster: `url` is then a comma-separated list of seed node URLs
   * (`redis://host:port,redis://host2:port`). Plain ioredis Cluster, no natMap: nodes must be
   * reachable at the addresses they announce (as in Kubernetes with a headless service).
   */
  readonly cluster?: boolean;
  /**
   * Connect through Redis Sentinel to the master of this name: `url` is then a comma-separated
   * list of Sentinel URLs (`redis://[user:pass@]sentinel1:26379,redis://sentinel2:26379[/db]`);
   * the first URL's credentials authenticate to the master and to the Sentinels, its path picks
   * the database. The client follows failovers (+switch-master) by itself.
   */
  readonly sentinelMaster?: string | null;
  /** CLIENT SETNAME, visible in `CLIENT LIST` (e.g. `stream-worker-<pid>`). */
  readonly connectionName?: string;
  /** Do not connect before the first command or `connect()`. Default false. */
  readonly lazyConnect?: boolean;
  /**
   * How many reconnects a queued command waits through before it fails (default 2). Kept low:
   * the worker pauses the partition and retries the whole batch itself, which is safe because
   * writes are compare-and-set.
   */
  readonly maxRetriesPerRequest?: number | null;
  /** Extra ioredis options, merged last. */
  readonly redisOptions?: RedisOptions;
  /** Extra Cluster options, merged last (cluster mode only). */
  readonly clusterOptions?: ClusterOptions;
}

/** Reconnect backoff: 100 ms, 200 ms, … capped at 2 s; never gives up (the worker waits). */
export function reconnectDelay(times: number): number {
  return Math.min(times * 100, 2000);
}

function seedNode(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: u.port ? Number(u.port) : 6379 };
}

/**
 * Creates an ioredis client for `url` (`redis://[user:pass@]host:port[/db]`, `rediss://` for TLS),
 * or a Cluster client when `options.cluster` is set. The caller owns it and calls `quit()`.
 */
export function createRedisClient(url: string, options: RedisClientOptions = {}): RedisLike {
  const base: RedisOptions = {
    connectionName: options.connectionName,
    lazyConnect: options.lazyConnect ?? false,
    maxRetriesPerRequest: options.maxRetriesPerRequest === undefined ? 2 : options.maxRetriesPerRequest,
    retryStrategy: reconnectDelay,
    connectTimeout: 5000,
    enableReadyCheck: true,
  };
  if (options.cluster && options.sentinelMaster) {
    throw new Error('createRedisClient: cluster and sentinelMaster exclude each other');
  }
  if (options.sentinelMaster) return sentinelClient(url, options.sentinelMaster, { ...base, ...options.redisOptions });
  if (!options.cluster) return new Redis(url, { ...base, ...options.redisOptions });

  const urls = splitUrls(url);
  if (urls.length === 0) throw new Error('createRedisClient: cluster mode needs at least one seed node URL');
  const first = new URL(urls[0]);
  const auth: RedisOptions = {
    username: first.username ? decodeURIComponent(first.username) : undefined,
    password: first.password ? decodeURIComponent(first.password) : undefined,
    tls: first.protocol === 'rediss:' ? {} : undefined,
  };
  return new Cluster(urls.map(seedNode), {
    // Commands issued in one tick are sent as one pipeline per node: the Cluster form of the
    // store's single round trip (explicit pipelines must stay within one slot there).
    enableAutoPipelining: true,
    lazyConnect: base.lazyConnect,
    clusterRetryStrategy: reconnectDelay,
    scaleReads: 'master',
    // Topology changes (failover, resharding) are picked up within seconds even by a client
    // that sent nothing to the moved slots (one CLUSTER SLOTS per interval).
    slotsRefreshInterval: 5000,
    redisOptions: { ...base, ...auth, lazyConnect: undefined, ...options.redisOptions },
    ...options.clusterOptions,
  });
}

function splitUrls(url: string): string[] {
  return url
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** A client of the master Sentinel knows as `name`; `url` lists the Sentinels. */
function sentinelClient(url: string, name: string, base: RedisOptions): Redis {
  const urls = splitUrls(url);
  if (urls.length === 0) throw new Error('createRedisClient: Sentinel mode needs at least one Sentinel URL');
  const first = new URL(urls[0]);
  const username = first.username ? decodeURIComponent(first.username) : undefined;
  const password = first.password ? decodeURIComponent(first.password) : undefined;
  const db = first.pathname.length > 1 ? Number(first.pathname.slice(1)) : 0;
  return new Redis({
    ...base,
    sentinels: urls.map((u) => {
      const s = new URL(u);
      return { host: s.hostname, port: s.port ? Number(s.port) : 26379 };
    }),
    name,
    role: 'master',
    username,
    password,
    sentinelUsername: username,
    sentinelPassword: password,
    db,
    tls: first.protocol === 'rediss:' ? {} : undefined,
    enableTLSForSentinelMode: first.protocol === 'rediss:',
    sentinelRetryStrategy: reconnectDelay,
    // Subscribe to +switch-master: reconnect to a promoted master at once, not at the next error.
    failoverDetector: true,
  });
}

/** True when `client` is an ioredis Cluster. */
export function isClusterClient(client: RedisLike): client is Cluster {
  return (client as { isCluster?: boolean }).isCluster === true;
}
