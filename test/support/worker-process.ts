/**
 * Spawning the stream-worker in e2e suites exactly as production runs it:
 * `node dist/apps/stream-worker/src/main.js` with an environment (WORKER-CONTRACT.md).
 *
 * Usage:
 *   const w = await WorkerProcess.start('forecast', workerEnv(stack, { SENSOR_TOPIC: ... }));
 *   ...                   // w.logs, w.httpPort, await w.metrics()
 *   await w.stop();       // SIGTERM by pid, waits for exit (SIGKILL after the timeout)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';

/** Repository root. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');
/** The production entry point of the worker (`npm run build` creates it). */
export const WORKER_ENTRY = path.join(REPO_ROOT, 'dist', 'apps', 'stream-worker', 'src', 'main.js');

/** Kafka and Redis of the e2e harness (test/global-setup.ts). */
export interface TestStack {
  readonly brokers: string;
  readonly redisUrl: string;
}

/** Reads the harness addresses from the environment; throws when the global setup did not run. */
export function testStack(): TestStack {
  const brokers = process.env.STREAMCELL_TEST_KAFKA_BROKERS;
  const redisUrl = process.env.STREAMCELL_TEST_REDIS_URL;
  if (!brokers || !redisUrl) throw new Error('STREAMCELL_TEST_KAFKA_BROKERS / STREAMCELL_TEST_REDIS_URL are not set');
  return { brokers, redisUrl };
}

/** Worker environment for a stack, plus overrides (topic names, models, limits...). */
export function workerEnv(stack: TestStack, extra: Record<string, string> = {}): Record<string, string> {
  return {
    KAFKA_BROKERS: stack.brokers,
    REDIS_URL: stack.redisUrl,
    HTTP_PORT: '0',
    LOG_LEVEL: 'info',
    ...extra,
  };
}

/** How the process ended. */
export interface WorkerExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** One running worker child process. */
export class WorkerProcess {
  private output = '';
  private exitInfo: WorkerExitInfo | null = null;
  private readonly exited: Promise<WorkerExitInfo>;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    const onData = (b: Buffer) => {
      this.output += b.toString('utf8');
      if (this.output.length > 8_000_000) this.output = this.output.slice(-4_000_000);
      if (process.env.STREAMCELL_TEST_WORKER_ECHO) process.stderr.write(`[${name}] ${b.toString('utf8')}`);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    this.exited = new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      }),
    );
  }

  /**
   * Spawns the worker and waits for the contract's `streamcell worker ready` line (or throws with
   * the log tail when it exits first or the timeout passes).
   */
  static async start(name: string, env: Record<string, string>, readyTimeoutMs = 90_000): Promise<WorkerProcess> {
    const w = WorkerProcess.spawn(name, env);
    await w.waitForLog('streamcell worker ready', readyTimeoutMs);
    return w;
  }

  /** Spawns without waiting (for boot-failure tests). */
  static spawn(name: string, env: Record<string, string>): WorkerProcess {
    if (!existsSync(WORKER_ENTRY)) throw new Error(`${WORKER_ENTRY} is missing: run npm run build first`);
    const child = spawn(process.execPath, [WORKER_ENTRY], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new WorkerProcess(name, child);
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Everything printed so far. */
  get logs(): string {
    return this.output;
  }

  get exit(): WorkerExitInfo | null {
    return this.exitInfo;
  }

  /** The port the health server bound (from the `http listening` log line). */
  get httpPort(): number {
    const m = /"msg":"http listening","port":(\d+)/.exec(this.output);
    if (!m) throw new Error(`${this.name}: no http port logged yet`);
    return Number(m[1]);
  }

  /** GET a path of the worker's HTTP server. */
  async http(pathname: string): Promise<{ status: number; body: string }> {
    const res = await fetch(`http://127.0.0.1:${this.httpPort}${pathname}`);
    return { status: res.status, body: await res.text() };
  }

  /** Parsed JSON log lines whose `msg` equals `msg`. */
  logLines(msg: string): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const line of this.output.split('\n')) {
      if (!line.startsWith('{') || !line.includes(`"msg":${JSON.stringify(msg)}`)) continue;
      try {
        out.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // partial line
      }
    }
    return out;
  }

  /** Waits until the output contains `text`. */
  async waitForLog(text: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.output.includes(text)) {
      if (this.exitInfo) throw new Error(`${this.name} exited ${JSON.stringify(this.exitInfo)} before '${text}':\n${this.output.slice(-4000)}`);
      if (Date.now() > deadline) throw new Error(`${this.name}: no '${text}' after ${timeoutMs} ms:\n${this.output.slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Waits for the process to exit (resolves immediately when it already did). */
  waitForExit(timeoutMs: number): Promise<WorkerExitInfo | null> {
    return Promise.race([this.exited, new Promise<null>((r) => setTimeout(() => r(null), timeoutMs).unref())]);
  }

  /** Signals this process only (by pid) and waits for it to exit; SIGKILL after `timeoutMs`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<WorkerExitInfo & { ms: number }> {
    const t0 = Date.now();
    if (!this.exitInfo) this.child.kill(signal);
    let info = await this.waitForExit(timeoutMs);
    if (!info) {
      this.child.kill('SIGKILL');
      info = await this.exited;
    }
    return { ...info, ms: Date.now() - t0 };
  }
}
