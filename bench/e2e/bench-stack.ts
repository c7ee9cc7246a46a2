import { createServer } from 'net';
import { GenericContainer, Wait, type StartedTestContainer } from 'testcontainers';

/** Kafka + Redis addresses for the e2e benchmark, and how to stop what was started. */
export interface BenchStack {
  readonly brokers: string;
  readonly redisUrl: string;
  /** Stops the containers this process started (by id); a no-op for an external stack. */
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Uses STREAMCELL_BENCH_KAFKA_BROKERS / STREAMCELL_BENCH_REDIS_URL when both are set (e.g. the
 * docker-compose stack), else starts the project's own images (streamcell/kafka:4,
 * streamcell/redis:7, built by deploy/images/build.sh) with Testcontainers on host networking,
 * as the e2e harness does, and stops exactly those containers at the end.
 */
export async function acquireBenchStack(): Promise<BenchStack> {
  const brokers = process.env.STREAMCELL_BENCH_KAFKA_BROKERS;
  const redisUrl = process.env.STREAMCELL_BENCH_REDIS_URL;
  if (brokers && redisUrl) return { brokers, redisUrl, stop: async () => undefined };

  process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
  const [kafkaPort, controllerPort, redisPort] = [await freePort(), await freePort(), await freePort()];
  const started: StartedTestContainer[] = [];
  try {
    const redis = await new GenericContainer('streamcell/redis:7')
      .withNetworkMode('host')
      .withCommand([
        'redis-server',
        '--port',
        String(redisPort),
        '--bind',
        '127.0.0.1',
        '--protected-mode',
        'no',
        '--save',
        '',
        '--appendonly',
        'no',
      ])
      .withWaitStrategy(Wait.forLogMessage(/Ready to accept connections/))
      .withStartupTimeout(60_000)
      .start();
    started.push(redis);
    const kafka = await new GenericContainer('streamcell/kafka:4')
      .withNetworkMode('host')
      .withEnvironment({
        KAFKA_PORT: String(kafkaPort),
        KAFKA_CONTROLLER_PORT: String(controllerPort),
        KAFKA_BIND_HOST: '127.0.0.1',
        KAFKA_ADVERTISED_HOST: '127.0.0.1',
      })
      .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
      .withStartupTimeout(120_000)
      .start();
    started.push(kafka);
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
