/**
 * Redis with Sentinel for e2e suites: a master, one replica and one Sentinel (quorum 1,
 * down-after 1 s) from the project's Redis image on host networking. The containers join the
 * run's state file (removed by id by the teardown even when the suite dies); stop() removes them.
 * Data nodes can be killed and started again by id, for failover tests.
 */
import { GenericContainer } from 'testcontainers';
import { E2E_IMAGES, freePorts } from './e2e-stack';
import { sleep } from './e2e-env';
import { RedisNodes } from './redis-nodes';

/** The master name the Sentinel monitors. */
export const SENTINEL_MASTER = 'streamcell';

/** A running master + replica + Sentinel. */
export interface TestRedisSentinel {
  /** `redis://127.0.0.1:<sentinel port>`: what REDIS_URL takes with REDIS_SENTINEL_MASTER. */
  readonly url: string;
  /** Ports of the two data nodes, the first started as master. */
  readonly dataPorts: readonly [number, number];
  /** The master's port as the Sentinel reports it. */
  masterPort(): Promise<number>;
  /** INFO replication of a data node: its role, and for a replica its master and link state. */
  replication(port: number): Promise<{ role: string; masterPort: number | null; linkUp: boolean }>;
  /** SIGKILLs a data node's container: a crashed host. */
  kill(port: number): Promise<void>;
  /** Starts a killed data node again; resolves once it answers PING. */
  start(port: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedisSentinel(): Promise<TestRedisSentinel> {
  const [masterPort, replicaPort, sentinelPort] = await freePorts(3);
  const nodes = new RedisNodes();
  const stop = async () => nodes.stop();
  const cli = (port: number, args: string[]) => nodes.cli(port, args);
  const start = async (port: number, command: string[]) => {
    nodes.add(port, await new GenericContainer(E2E_IMAGES.redis).withNetworkMode('host').withCommand(command).start());
  };
  const dataNode = (port: number, extra: string[] = []) => [
    'redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extra,
  ];
  const replication = async (port: number) => {
    const info = await cli(port, ['info', 'replication']);
    const field = (name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
    return {
      role: field('role') ?? 'unknown',
      masterPort: field('master_port') ? Number(field('master_port')) : null,
      linkUp: field('master_link_status') === 'up',
    };
  };
  try {
    await start(masterPort, dataNode(masterPort));
    await start(replicaPort, dataNode(replicaPort, ['--replicaof', '127.0.0.1', String(masterPort)]));
    // The Sentinel rewrites its config file, so it gets a fresh one in the container.
    const conf = [
      `port ${sentinelPort}`,
      'bind 127.0.0.1',
      `sentinel monitor ${SENTINEL_MASTER} 127.0.0.1 ${masterPort} 1`,
      `sentinel down-after-milliseconds ${SENTINEL_MASTER} 1000`,
      `sentinel failover-timeout ${SENTINEL_MASTER} 10000`,
    ].join('\\n');
    await start(sentinelPort, ['sh', '-c', `printf '${conf}\\n' > /data/sentinel.conf && exec redis-server /data/sentinel.conf --sentinel`]);
    for (let i = 0; i < 120; i++) {
      const r = await replication(replicaPort).catch(() => null);
      const sentinel = await cli(sentinelPort, ['sentinel', 'replicas', SENTINEL_MASTER]).catch(() => '');
      if (r?.linkUp && sentinel.includes(String(replicaPort))) {
        return {
          url: `redis://127.0.0.1:${sentinelPort}`,
          dataPorts: [masterPort, replicaPort],
          masterPort: async () => {
            const out = await cli(sentinelPort, ['sentinel', 'get-master-addr-by-name', SENTINEL_MASTER]);
            return Number(out.trim().split('\n')[1]);
          },
          replication,
          kill: (port) => nodes.kill(port),
          start: (port) => nodes.start(port),
          stop,
        };
      }
      await sleep(500);
    }
    throw new Error('the replica did not sync, or the Sentinel did not discover it');
  } catch (err) {
    await stop();
    throw err;
  }
}
