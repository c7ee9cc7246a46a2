import * as testcontainers from 'testcontainers';
import type { StartedTestContainer } from 'testcontainers';
import { freePorts, stackContainers } from '../../test/support/e2e-stack';

/** Kafka + Redis addresses for the e2e benchmark, and how to stop what was started. */
export interface BenchStack {
  readonly brokers: string;
  readonly redisUrl: string;
  /** Stops the containers this process started (by id); a no-op for an external stack. */
  stop(): Promise<void>;
}

/**
 * Uses STREAMCELL_BENCH_KAFKA_BROKERS / STREAMCELL_BENCH_REDIS_URL when both are set (e.g. the
 * docker-compose stack), else starts the project's own images (KAFKA_IMAGE / REDIS_IMAGE, by default
 * streamcell/kafka:4 and streamcell/redis:7, built by deploy/images/build.sh) with Testcontainers on host networking,
 * as the e2e harness does, and stops exactly those containers at the end.
 */
export async function acquireBenchStack(): Promise<BenchStack> {
  const brokers = process.env.STREAMCELL_BENCH_KAFKA_BROKERS;
  const redisUrl = process.env.STREAMCELL_BENCH_REDIS_URL;
  if (brokers && redisUrl) return { brokers, redisUrl, stop: async () => undefined };

  process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
  const [kafkaPort, controllerPort, redisPort] = await freePorts(3);
  const { kafka, redis } = stackContainers(testcontainers, {
    kafka: kafkaPort,
    controller: controllerPort,
    redis: redisPort,
  });
  const started: StartedTestContainer[] = [];
  try {
    started.push(await redis.start());
    started.push(await kafka.start());
  } catch (err) {
    for (const c of started) await c.stop().catch(() => undefined);
    throw err;
  }
  return {
    brokers: `127.0.0.1:${kafkaPort}`,
    redisUrl: `redis://127.0.0.1:${redisPort}`,
    stop: async () => {
      for (const c of started.reverse()) await c.stop().catch(() => undefined);
    },
  };
}
