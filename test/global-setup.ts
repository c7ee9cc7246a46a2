/**
 * Starts ONE Kafka (KRaft, single node) and ONE Redis for the whole e2e run with Testcontainers,
 * on host networking and free ports, creates the contract topics, and hands the addresses to the
 * test workers through the environment:
 *   STREAMCELL_TEST_KAFKA_BROKERS  127.0.0.1:<port>
 *   STREAMCELL_TEST_REDIS_URL      redis://127.0.0.1:<port>
 * The container ids go to a state file; test/global-teardown.ts removes exactly those.
 * Images are built beforehand by scripts/test.sh (deploy/images/build.sh); this only checks them.
 */
// Jest loads the global setup outside the test module system (no `@app/*` mapping), so topic
// creation here talks kafkajs directly; tests use libs/kafka.
import { execFileSync } from 'child_process';
import { Kafka, logLevel } from 'kafkajs';
import {
  E2E_IMAGES,
  E2E_TOPICS,
  freePorts,
  imagePresent,
  removeContainers,
  stackContainers,
  stackStateFile,
  writeStackState,
} from './support/e2e-stack';

export default async function globalSetup(): Promise<void> {
  const t0 = Date.now();
  if (process.env.STREAMCELL_TEST_KAFKA_BROKERS && process.env.STREAMCELL_TEST_REDIS_URL) {
    // An explicitly provided stack (debugging against a running one): nothing to start or stop.
    log(
      `using provided Kafka ${process.env.STREAMCELL_TEST_KAFKA_BROKERS} and Redis ${process.env.STREAMCELL_TEST_REDIS_URL}`,
    );
    writeStackState({ containerIds: [] });
    return;
  }
  for (const image of [E2E_IMAGES.kafka, E2E_IMAGES.redis]) {
    if (!imagePresent(image)) {
      throw new Error(
        `e2e image ${image} is missing: build the images first with 'npm run images' (or run 'npm test', which does everything)`,
      );
    }
  }
  // The reaper image cannot be pulled without a registry; the teardown stops our containers itself.
  if (process.env.TESTCONTAINERS_RYUK_DISABLED === undefined && !ryukPresent()) {
    process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
  }
  const testcontainers = await import('testcontainers');

  const [kafkaPort, controllerPort, redisPort] = await freePorts(3);
  const ids: string[] = [];
  writeStackState({ containerIds: ids });
  const track = (id: string): void => {
    ids.push(id);
    writeStackState({ containerIds: ids });
  };

  try {
    const { kafka, redis } = stackContainers(testcontainers, {
      kafka: kafkaPort,
      controller: controllerPort,
      redis: redisPort,
    });

    // Start both at once; record each id as soon as it exists so a failure still cleans up.
    const started = await Promise.allSettled([
      kafka.start().then((c) => (track(c.getId()), c)),
      redis.start().then((c) => (track(c.getId()), c)),
    ]);
    const failed = started.find((r) => r.status === 'rejected');
    if (failed && failed.status === 'rejected') throw failed.reason;

    const brokers = `127.0.0.1:${kafkaPort}`;
    const redisUrl = `redis://127.0.0.1:${redisPort}`;
    await createTopics(brokers);

    process.env.STREAMCELL_TEST_KAFKA_BROKERS = brokers;
    process.env.STREAMCELL_TEST_REDIS_URL = redisUrl;
    writeStackState({ containerIds: ids, kafkaBrokers: brokers, redisUrl });
    log(
      `Kafka ${brokers} (${E2E_IMAGES.kafka}) and Redis ${redisUrl} (${E2E_IMAGES.redis}) up in ${Date.now() - t0} ms; ` +
        `containers ${ids.map((id) => id.slice(0, 12)).join(', ')}; state ${stackStateFile()}`,
    );
  } catch (err) {
    removeContainers(ids);
    writeStackState({ containerIds: [] });
    throw err;
  }
}

async function createTopics(brokers: string): Promise<void> {
  const admin = new Kafka({ clientId: 'e2e-setup', brokers: [brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: E2E_TOPICS.map((t) => ({
        topic: t.topic,
        numPartitions: t.partitions,
        replicationFactor: 1,
        configEntries: Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value })),
      })),
    });
  } finally {
    await admin.disconnect();
  }
}

function ryukPresent(): boolean {
  try {
    const out = execFileSync('docker', ['images', '-q', 'testcontainers/ryuk'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    return out.trim().length > 0;
  } catch {
    return false;
  }
}

function log(message: string): void {
  process.stderr.write(`\n[e2e] ${message}\n`);
}
