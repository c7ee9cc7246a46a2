import { execFile, execFileSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import type { GenericContainer as GenericContainerType, Wait as WaitType } from 'testcontainers';

/** Images of the e2e stack; names are configuration (see deploy/images/build.sh). */
export const E2E_IMAGES = {
  kafka: process.env.KAFKA_IMAGE ?? 'streamcell/kafka:4',
  redis: process.env.REDIS_IMAGE ?? 'streamcell/redis:7',
  prometheus: process.env.PROMETHEUS_IMAGE ?? 'streamcell/prometheus:2',
};

/** Topics the global setup creates: the contract topics with several partitions, models compacted. */
export const E2E_TOPICS: readonly { topic: string; partitions: number; configs?: Record<string, string> }[] =
  [
    { topic: 'sensor.readings', partitions: 4 },
    { topic: 'text.events', partitions: 4 },
    { topic: 'predictions.forecasts', partitions: 4 },
    { topic: 'predictions.classifications', partitions: 4 },
    { topic: 'streamcell.dlq', partitions: 4 },
    { topic: 'streamcell.models', partitions: 1, configs: { 'cleanup.policy': 'compact' } },
  ];

/** What the global setup leaves for the teardown (and for scripts/test.sh's cleanup trap). */
export interface E2EStackState {
  readonly containerIds: string[];
  readonly kafkaBrokers?: string;
  readonly redisUrl?: string;
}

/**
 * File listing the containers this run started. scripts/test.sh sets it so it can clean up after
 * an interrupted run too; otherwise one per jest process under the OS tmp dir.
 */
export function stackStateFile(): string {
  if (!process.env.STREAMCELL_TEST_STATE_FILE) {
    process.env.STREAMCELL_TEST_STATE_FILE = path.join(os.tmpdir(), `streamcell-e2e-${process.pid}.json`);
  }
  return process.env.STREAMCELL_TEST_STATE_FILE;
}

export function writeStackState(state: E2EStackState): void {
  const file = stackStateFile();
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(state, null, 2));
}

export function readStackState(): E2EStackState | undefined {
  const file = stackStateFile();
  if (!fs.existsSync(file)) return undefined;
  return JSON.parse(fs.readFileSync(file, 'utf8')) as E2EStackState;
}

/** Removes exactly the given containers (by id); absent ones are ignored. */
export function removeContainers(ids: readonly string[]): void {
  for (const id of ids) {
    try {
      execFileSync('docker', ['rm', '-f', '-v', id], { stdio: 'ignore', timeout: 60_000 });
    } catch {
      // Already gone.
    }
  }
}

/** True when the local Docker engine has `image`. */
export function imagePresent(image: string): boolean {
  try {
    execFileSync('docker', ['image', 'inspect', image], { stdio: 'ignore', timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

/** A free TCP port on 127.0.0.1 (bound, read, released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** `n` distinct free ports. */
export async function freePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

/** The parts of the testcontainers module the stack definitions need (loaded lazily by callers). */
export interface TestcontainersApi {
  readonly GenericContainer: typeof GenericContainerType;
  readonly Wait: typeof WaitType;
}

const CLUSTER_ID = 'c3RyZWFtY2VsbC10ZXN0cw';

/**
 * The single-node Kafka (KRaft broker + controller) and the Redis of a local stack, on host
 * networking and the given loopback ports: shared by the e2e global setup, suites that need a
 * stack of their own (private-stack.ts) and the benchmarks.
 * Kafka is configured with the official apache/kafka image's KAFKA_* convention, so KAFKA_IMAGE
 * may point to it.
 */
export function stackContainers(
  tc: TestcontainersApi,
  ports: { kafka: number; controller: number; redis: number },
  options: { redisAppendOnly?: boolean } = {},
): { kafka: GenericContainerType; redis: GenericContainerType } {
  const kafka = new tc.GenericContainer(E2E_IMAGES.kafka)
    .withNetworkMode('host')
    .withEnvironment({
      CLUSTER_ID,
      KAFKA_PORT: String(ports.kafka),
      KAFKA_CONTROLLER_PORT: String(ports.controller),
      KAFKA_HEAP_OPTS: '-Xms256m -Xmx512m',
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_LISTENERS: `PLAINTEXT://127.0.0.1:${ports.kafka},CONTROLLER://127.0.0.1:${ports.controller}`,
      KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${ports.kafka}`,
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_INTER_BROKER_LISTENER_NAME: 'PLAINTEXT',
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      KAFKA_CONTROLLER_QUORUM_VOTERS: `1@127.0.0.1:${ports.controller}`,
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS: '10',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
      KAFKA_LOG_DIRS: '/tmp/kraft-combined-logs',
    })
    .withWaitStrategy(tc.Wait.forLogMessage(/Kafka Server started/))
    .withStartupTimeout(180_000);
  const redis = new tc.GenericContainer(E2E_IMAGES.redis)
    .withNetworkMode('host')
    .withCommand([
      'redis-server',
      '--port',
      String(ports.redis),
      '--bind',
      '127.0.0.1',
      '--protected-mode',
      'no',
      '--save',
      '',
      // Append-only with fsync per write lets a stopped and restarted Redis keep every state (outage suites).
      '--appendonly',
      options.redisAppendOnly ? 'yes' : 'no',
      '--appendfsync',
      options.redisAppendOnly ? 'always' : 'everysec',
    ])
    .withWaitStrategy(tc.Wait.forLogMessage(/Ready to accept connections/))
    .withStartupTimeout(60_000);
  return { kafka, redis };
}

const execFileAsync = promisify(execFile);

/** Runs the docker CLI; resolves to stdout + stderr (container logs come on both streams). */
export async function docker(args: string[], timeout: number): Promise<string> {
  try {
    const { stdout, stderr } = await execFileAsync('docker', args, {
      encoding: 'utf8',
      timeout,
      maxBuffer: 64 << 20,
    });
    return stdout + stderr;
  } catch (e) {
    throw new Error(
      `docker ${args.join(' ')} failed: ${(e as { stderr?: string }).stderr || (e as Error).message}`,
    );
  }
}

/**
 * Adds a suite's own container to the run's state file, so that the global teardown and
 * scripts/test.sh's trap remove it (by id) even when the suite dies.
 */
export function track(id: string): void {
  const state = readStackState() ?? { containerIds: [] };
  writeStackState({ ...state, containerIds: [...state.containerIds, id] });
}

/** Drops containers the suite removed itself from the run's state file. */
export function untrack(ids: readonly string[]): void {
  const state = readStackState();
  if (!state) return;
  writeStackState({ ...state, containerIds: state.containerIds.filter((id) => !ids.includes(id)) });
}
