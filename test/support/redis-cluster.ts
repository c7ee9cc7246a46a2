/**
 * A real Redis Cluster for e2e suites: masters (and optionally replicas) from the project's Redis
 * image on host networking, joined with `redis-cli --cluster create`. The containers join the
 * run's state file (removed by id by the teardown even when the suite dies); stop() removes them.
 * Nodes can be killed and started again by id (their cluster config survives in the container),
 * for failover tests.
 */
import * as net from 'node:net';
import { GenericContainer } from 'testcontainers';
import { E2E_IMAGES } from './e2e-stack';
import { sleep } from './e2e-env';
import { RedisNodes } from './redis-nodes';

/** One node as CLUSTER NODES reports it. */
export interface ClusterNode {
  readonly port: number;
  readonly role: 'master' | 'replica';
  /** A replica's master (its port); null for masters. */
  readonly masterPort: number | null;
  /** Connected, not flagged fail / pfail. */
  readonly healthy: boolean;
}

/** A running cluster: its nodes' ports and the seed list REDIS_URL takes with REDIS_CLUSTER=true. */
export interface TestRedisCluster {
  readonly ports: readonly number[];
  /** `redis://127.0.0.1:<p1>,redis://127.0.0.1:<p2>,...` (every node, masters and replicas). */
  readonly url: string;
  /** The topology as the node at `askPort` (default: the first healthy one) sees it. */
  topology(askPort?: number): Promise<ClusterNode[]>;
  /** SIGKILLs a node's container (no shutdown, no save): a crashed host. */
  kill(port: number): Promise<void>;
  /** Starts a killed node again; resolves once it answers PING. */
  start(port: number): Promise<void>;
  stop(): Promise<void>;
}

/** Options of {@link startRedisCluster}. */
export interface RedisClusterOptions {
  /** Replicas per master (default 0). */
  readonly replicas?: number;
  /** cluster-node-timeout, ms: how long a silent master stays a master (default 15000, Redis'). */
  readonly nodeTimeoutMs?: number;
}

/** A loopback port p with p + 10000 (the cluster bus port) free too. */
async function clusterPort(taken: Set<number>): Promise<number> {
  const free = (port: number) =>
    new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
  for (;;) {
    const p = 20000 + Math.floor(Math.random() * 35000);
    if (!taken.has(p) && (await free(p)) && (await free(p + 10000))) {
      taken.add(p);
      return p;
    }
  }
}

/** Parses CLUSTER NODES output. */
function parseNodes(text: string): ClusterNode[] {
  const lines = text.split('\n').filter((l) => /^[0-9a-f]{40} /.test(l.trim()));
  const idToPort = new Map<string, number>();
  for (const l of lines) {
    const [id, addr] = l.trim().split(' ');
    idToPort.set(id, Number(/:(\d+)@/.exec(addr)?.[1]));
  }
  return lines.map((l) => {
    const [, addr, flags, master, , , , link] = l.trim().split(' ');
    const f = flags.split(',');
    return {
      port: Number(/:(\d+)@/.exec(addr)?.[1]),
      role: f.includes('master') ? 'master' : 'replica',
      masterPort: master === '-' ? null : (idToPort.get(master) ?? null),
      healthy: link === 'connected' && !f.includes('fail') && !f.includes('fail?'),
    };
  });
}

/** Starts `masters` masters with `replicas` replicas each and joins them into one cluster covering every slot. */
export async function startRedisCluster(masters = 3, options: RedisClusterOptions = {}): Promise<TestRedisCluster> {
  const replicas = options.replicas ?? 0;
  const taken = new Set<number>();
  const ports: number[] = [];
  for (let i = 0; i < masters * (1 + replicas); i++) ports.push(await clusterPort(taken));
  const nodes = new RedisNodes();
  const stop = async () => nodes.stop();
  const cli = (port: number, args: string[]) => nodes.cli(port, args);
  const topology = async (askPort?: number): Promise<ClusterNode[]> => {
    const order = askPort ? [askPort] : ports;
    let last: unknown = null;
    for (const p of order) {
      try {
        return parseNodes(await cli(p, ['cluster', 'nodes']));
      } catch (e) {
        last = e;
      }
    }
    throw new Error(`no cluster node answered CLUSTER NODES: ${String(last)}`);
  };
  try {
    const started = await Promise.all(
      ports.map((port) =>
        new GenericContainer(E2E_IMAGES.redis)
          .withNetworkMode('host')
          .withCommand([
            'redis-server', '--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes',
            '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', String(options.nodeTimeoutMs ?? 15000),
            '--save', '', '--appendonly', 'no',
          ])
          .start()
          .then((c) => (nodes.add(port, c), c)),
      ),
    );
    const create = await started[0].exec([
      'redis-cli', '--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas', String(replicas), '--cluster-yes',
    ]);
    if (create.exitCode !== 0) throw new Error(`redis-cli --cluster create failed: ${create.output}`);
    // Every node sees the whole cluster as ok, and every replica is in sync with its master.
    for (let i = 0; i < 240; i++) {
      const infos = await Promise.all(ports.map((p) => cli(p, ['cluster', 'info']).catch(() => '')));
      const repl = await Promise.all(ports.map((p) => cli(p, ['info', 'replication']).catch(() => '')));
      const synced = repl.every((r) => r.includes('role:master') || r.includes('master_link_status:up'));
      const seen = await topology().catch(() => []);
      if (
        infos.every((s) => s.includes('cluster_state:ok')) &&
        synced &&
        seen.length === ports.length &&
        seen.filter((n) => n.role === 'replica').length === masters * replicas
      ) {
        return {
          ports,
          url: ports.map((p) => `redis://127.0.0.1:${p}`).join(','),
          topology,
          kill: (port) => nodes.kill(port),
          start: (port) => nodes.start(port),
          stop,
        };
      }
      await sleep(500);
    }
    throw new Error('the Redis Cluster did not reach cluster_state:ok with every replica in sync');
  } catch (err) {
    await stop();
    throw err;
  }
}
