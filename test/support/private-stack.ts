/**
 * A Kafka + Redis stack owned by one suite, for faults that must not touch the run's shared stack
 * (stopping, pausing or restarting a dependency). Same images and configuration as the global
 * setup's (stackContainers), on fresh loopback ports; Redis keeps its data across a restart
 * (append-only, fsync per write) and so does Kafka (the container is stopped and started, never
 * removed). The container ids join the run's state file, so the global teardown and
 * scripts/test.sh's trap remove them even when the suite dies; dispose() removes them at once.
 */
import { docker, freePorts, removeContainers, stackContainers, track, untrack } from './e2e-stack';

/** Which dependency of a {@link PrivateStack}. */
export type StackService = 'kafka' | 'redis';

/** Log line each service prints once it serves (matches the startup wait strategies). */
const READY_LINE: Record<StackService, RegExp> = {
  kafka: /Kafka Server started/,
  redis: /Ready to accept connections/,
};

export class PrivateStack {
  private constructor(
    readonly brokers: string,
    readonly redisUrl: string,
    private readonly ids: Record<StackService, string>,
  ) {}

  /** Starts both containers (in parallel) and waits until they serve. */
  static async start(): Promise<PrivateStack> {
    if (process.env.TESTCONTAINERS_RYUK_DISABLED === undefined)
      process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
    const testcontainers = await import('testcontainers');
    const [kafkaPort, controllerPort, redisPort] = await freePorts(3);
    const { kafka, redis } = stackContainers(
      testcontainers,
      { kafka: kafkaPort, controller: controllerPort, redis: redisPort },
      { redisAppendOnly: true },
    );
    const started = await Promise.allSettled([
      kafka.start().then((c) => (track(c.getId()), c)),
      redis.start().then((c) => (track(c.getId()), c)),
    ]);
    const ids = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value.getId()] : []));
    const failed = started.find((r) => r.status === 'rejected');
    if (failed && failed.status === 'rejected') {
      removeContainers(ids);
      untrack(ids);
      throw failed.reason;
    }
    const [k, r] = started.map((s) => (s as PromiseFulfilledResult<{ getId(): string }>).value.getId());
    return new PrivateStack(`127.0.0.1:${kafkaPort}`, `redis://127.0.0.1:${redisPort}`, {
      kafka: k,
      redis: r,
    });
  }

  /** Container id of one service. */
  id(service: StackService): string {
    return this.ids[service];
  }

  /** Stops a service's container (SIGTERM, SIGKILL after `graceSeconds`); its data stays. */
  async stop(service: StackService, graceSeconds = 10): Promise<void> {
    await docker(['stop', '-t', String(graceSeconds), this.ids[service]], 60_000);
  }

  /** Starts a stopped service again and waits until it logs that it serves. */
  async restart(service: StackService, timeoutMs = 120_000): Promise<number> {
    const t0 = Date.now();
    // Only lines from this start on (the first start logged the same line minutes earlier).
    const since = String(Math.floor(t0 / 1000));
    await docker(['start', this.ids[service]], 60_000);
    for (;;) {
      const out = await docker(['logs', '--since', since, this.ids[service]], 30_000);
      if (READY_LINE[service].test(out)) return Date.now() - t0;
      if (Date.now() - t0 > timeoutMs) {
        throw new Error(`${service} not serving ${timeoutMs} ms after docker start:\n${out.slice(-2000)}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Starts (or thaws) a service that a failed step left stopped (or paused). */
  async ensureRunning(service: StackService): Promise<void> {
    const status = (await docker(['inspect', '-f', '{{.State.Status}}', this.ids[service]], 30_000)).trim();
    if (status === 'paused') await this.unpause(service);
    else if (status !== 'running') await this.restart(service);
  }

  /** Freezes / thaws a service's processes (connections stay open, nothing answers). */
  async pause(service: StackService): Promise<void> {
    await docker(['pause', this.ids[service]], 30_000);
  }

  async unpause(service: StackService): Promise<void> {
    await docker(['unpause', this.ids[service]], 30_000);
  }

  /** Removes both containers (by id) and drops them from the run's state file. */
  dispose(): void {
    const ids = Object.values(this.ids);
    removeContainers(ids);
    untrack(ids);
  }
}
