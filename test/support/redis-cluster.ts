/**
 * A real Redis Cluster for e2e suites: three masters from the project's Redis image on host
 * networking (cluster mode, no replicas), joined with `redis-cli --cluster create`. Stopped by id.
 */
import * as net from 'node:net';
import { GenericContainer, type StartedTestContainer } from 'testcontainers';
import { E2E_IMAGES } from './e2e-stack';
import { sleep } from './e2e-env';

/** A running cluster: its masters' ports and the seed list REDIS_URL takes with REDIS_CLUSTER=true. */
export interface TestRedisCluster {
  readonly ports: readonly number[];
  /** `redis://127.0.0.1:<p1>,redis://127.0.0.1:<p2>,...` */
  readonly url: string;
  stop(): Promise<void>;
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

/** Starts `masters` Redis nodes and joins them into one cluster covering every slot. */
export async function startRedisCluster(masters = 3): Promise<TestRedisCluster> {
  const taken = new Set<number>();
  const ports: number[] = [];
  for (let i = 0; i < masters; i++) ports.push(await clusterPort(taken));
  const containers: StartedTestContainer[] = [];
  const stop = async () => {
    await Promise.all(containers.map((c) => c.stop({ remove: true, removeVolumes: true }).catch(() => undefined)));
  };
  try {
    for (const port of ports) {
      containers.push(
        await new GenericContainer(E2E_IMAGES.redis)
          .withNetworkMode('host')
          .withCommand([
            'redis-server', '--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes',
            '--cluster-config-file', `nodes-${port}.conf`, '--save', '', '--appendonly', 'no',
          ])
          .start(),
      );
    }
    const create = await containers[0].exec([
      'redis-cli', '--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes',
    ]);
    if (create.exitCode !== 0) throw new Error(`redis-cli --cluster create failed: ${create.output}`);
    for (let i = 0; i < 120; i++) {
      const states = await Promise.all(containers.map((c, j) => c.exec(['redis-cli', '-p', String(ports[j]), 'cluster', 'info'])));
      if (states.every((s) => s.output.includes('cluster_state:ok'))) {
        return { ports, url: ports.map((p) => `redis://127.0.0.1:${p}`).join(','), stop };
      }
      await sleep(500);
    }
    throw new Error('the Redis Cluster did not reach cluster_state:ok');
  } catch (err) {
    await stop();
    throw err;
  }
}
