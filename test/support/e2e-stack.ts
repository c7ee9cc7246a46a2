import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';

/** Images of the e2e stack; names are configuration (see deploy/images/build.sh). */
export const E2E_IMAGES = {
  kafka: process.env.KAFKA_IMAGE ?? 'streamcell/kafka:4',
  redis: process.env.REDIS_IMAGE ?? 'streamcell/redis:7',
};

/** Topics the global setup creates: the contract topics with several partitions, models compacted. */
export const E2E_TOPICS: readonly { topic: string; partitions: number; configs?: Record<string, string> }[] = [
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
