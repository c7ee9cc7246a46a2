/**
 * Redis containers a suite starts for itself (Cluster nodes, Sentinel setups), by port: tracked
 * in the run's state file so the teardown removes them by id even when the suite dies; redis-cli
 * inside a node's own container; kill (SIGKILL, a crashed host) and start again for failovers.
 */
import type { StartedTestContainer } from 'testcontainers';
import { docker, removeContainers, track, untrack } from './e2e-stack';
import { sleep } from './e2e-env';

export class RedisNodes {
  private readonly byPort = new Map<number, StartedTestContainer>();

  /** Adds a started container serving `port`. */
  add(port: number, container: StartedTestContainer): void {
    track(container.getId());
    this.byPort.set(port, container);
  }

  /** `redis-cli -p <port> ...args` in the node's container; throws on a non-zero exit. */
  async cli(port: number, args: string[]): Promise<string> {
    const res = await this.byPort.get(port)!.exec(['redis-cli', '-p', String(port), ...args]);
    if (res.exitCode !== 0) throw new Error(`redis-cli -p ${port} ${args.join(' ')}: ${res.output}`);
    return res.output;
  }

  async ping(port: number): Promise<boolean> {
    return (await this.cli(port, ['ping']).catch(() => '')).includes('PONG');
  }

  /** SIGKILLs the node's container (no shutdown, no save). */
  async kill(port: number): Promise<void> {
    await docker(['kill', this.byPort.get(port)!.getId()], 60_000);
  }

  /** Starts a killed node's container again; resolves once it answers PING. */
  async start(port: number): Promise<void> {
    await docker(['start', this.byPort.get(port)!.getId()], 60_000);
    for (let j = 0; j < 120 && !(await this.ping(port)); j++) await sleep(250);
    if (!(await this.ping(port))) throw new Error(`Redis node ${port} does not answer after docker start`);
  }

  /** Removes every container (by id) and drops them from the run's state file. */
  stop(): void {
    const ids = [...this.byPort.values()].map((c) => c.getId());
    removeContainers(ids);
    untrack(ids);
  }
}
