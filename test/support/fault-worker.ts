import { spawn, type ChildProcess } from 'child_process';
import { createWriteStream, existsSync, mkdirSync, type WriteStream } from 'fs';
import * as path from 'path';
import { REPO_ROOT, WORKER_MAIN, sleep } from './fault-env';

/** Directory where worker logs of e2e runs are kept for post-mortems. */
export const WORKER_LOG_DIR = path.join(REPO_ROOT, '.cache', 'e2e-logs');

/** How a worker process ended. */
export interface WorkerExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Milliseconds from the signal we sent (if any) to the exit. */
  readonly afterSignalMs: number | null;
}

/**
 * One `node dist/apps/stream-worker/src/main.js` child process, run exactly as production runs
 * it. Output goes to a log file (and is kept in memory for assertions); `ready()` waits for the
 * contract's `streamcell worker ready` line.
 */
export class FaultWorker {
  readonly logFile: string;
  private child: ChildProcess | null = null;
  private output = '';
  private exitInfo: WorkerExit | null = null;
  private exitPromise: Promise<WorkerExit> | null = null;
  private signalledAt: number | null = null;
  private log: WriteStream | null = null;
  private startedAt = 0;

  constructor(
    readonly name: string,
    private readonly env: Record<string, string>,
  ) {
    mkdirSync(WORKER_LOG_DIR, { recursive: true });
    this.logFile = path.join(WORKER_LOG_DIR, `${name}.log`);
  }

  /** Spawns the process (a previous one must have exited). */
  start(): this {
    if (!existsSync(WORKER_MAIN)) throw new Error(`${WORKER_MAIN} is missing: run npm run build first`);
    if (this.child && !this.exitInfo) throw new Error(`${this.name} is still running`);
    this.output = '';
    this.exitInfo = null;
    this.signalledAt = null;
    this.startedAt = Date.now();
    this.log ??= createWriteStream(this.logFile, { flags: 'a' });
    this.log.write(`\n===== start ${new Date().toISOString()} =====\n`);
    const child = spawn(process.execPath, [WORKER_MAIN], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        NODE_ENV: 'production',
        HTTP_PORT: '0',
        LOG_LEVEL: 'info',
        ...this.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const onData = (chunk: Buffer): void => {
      const s = chunk.toString('utf8');
      this.output += s;
      if (this.output.length > 4_000_000) this.output = this.output.slice(-2_000_000);
      this.log?.write(chunk);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    this.exitPromise = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.exitInfo = {
          code,
          signal,
          afterSignalMs: this.signalledAt === null ? null : Date.now() - this.signalledAt,
        };
        this.log?.write(`\n===== exit code=${code} signal=${signal} =====\n`);
        resolve(this.exitInfo);
      });
    });
    return this;
  }

  /** The process id of the running child. */
  get pid(): number {
    if (!this.child?.pid) throw new Error(`${this.name} has no process`);
    return this.child.pid;
  }

  /** True while the child runs. */
  get running(): boolean {
    return this.child !== null && this.exitInfo === null;
  }

  /** Everything the current process printed. */
  get logs(): string {
    return this.output;
  }

  /** Waits for the contract's ready line; throws (with the log tail) on exit or timeout. */
  async ready(timeoutMs = 90_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (!this.output.includes('streamcell worker ready')) {
      if (this.exitInfo) {
        throw new Error(
          `${this.name} exited (${JSON.stringify(this.exitInfo)}) before ready:\n${this.output.slice(-3000)}`,
        );
      }
      if (Date.now() > deadline)
        throw new Error(`${this.name} not ready after ${timeoutMs} ms:\n${this.output.slice(-3000)}`);
      await sleep(50);
    }
    return Date.now() - this.startedAt;
  }

  /** Sends a signal to this child only (by pid) and waits for it to exit. */
  async stop(signal: NodeJS.Signals, timeoutMs = 30_000): Promise<WorkerExit> {
    if (!this.child || !this.exitPromise) throw new Error(`${this.name} was never started`);
    if (this.exitInfo) return this.exitInfo;
    this.signalledAt = Date.now();
    this.child.kill(signal);
    const timer = sleep(timeoutMs).then(() => null);
    const res = await Promise.race([this.exitPromise, timer]);
    if (res) return res;
    this.child.kill('SIGKILL');
    const forced = await this.exitPromise;
    return { ...forced, afterSignalMs: null };
  }

  /** The exit, once it happened (null while running). */
  get exit(): WorkerExit | null {
    return this.exitInfo;
  }

  /** Kills a still-running child (SIGKILL) and closes the log; safe to call twice. */
  async dispose(): Promise<void> {
    if (this.running) await this.stop('SIGKILL', 5000);
    await new Promise<void>((resolve) => (this.log ? this.log.end(resolve) : resolve()));
    this.log = null;
  }
}
