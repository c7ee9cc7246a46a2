/**
 * The stream-worker as e2e suites run it: `node dist/apps/stream-worker/src/main.js`, exactly as
 * production does (docs/architecture.md, Process contract), one child process per instance, restartable.
 *
 *   const w = await WorkerProcess.launch('forecast', workerEnv(stack, { SENSOR_TOPIC: ... }));
 *   ...                               // w.logs, w.logLines(msg), await w.http('/health/ready')
 *   const exit = await w.stop();      // SIGTERM by pid; SIGKILL after the timeout
 *
 * Output goes to .cache/e2e-logs/<name>.log for post-mortems (and to stderr with
 * STREAMCELL_TEST_WORKER_ECHO=1).
 */
import { spawn, type ChildProcess } from 'child_process';
import { createWriteStream, existsSync, mkdirSync, type WriteStream } from 'fs';
import * as path from 'path';
import { REPO_ROOT, sleep, type E2EStack } from './e2e-env';

/** The worker's log message for a failed batch it pauses and retries (fields: topic, partition, attempt, retryInMs, kind, error). */
export const RETRY_LOG_LINE = 'batch failed; partition paused, retrying with backoff';

/** The production entry point of the worker (`npm run build` creates it). */
export const WORKER_MAIN = path.join(REPO_ROOT, 'dist', 'apps', 'stream-worker', 'src', 'main.js');

/** Directory where worker logs of e2e runs are kept. */
export const WORKER_LOG_DIR = path.join(REPO_ROOT, '.cache', 'e2e-logs');

/** A suite's own topics (unique names per run). */
export interface SuiteTopics {
  readonly sensor: string;
  readonly text: string;
  readonly forecasts: string;
  readonly classes: string;
  readonly dlq: string;
  readonly models: string;
}

/** A suite's topics under one unique prefix: `<prefix>.sensor`, `<prefix>.text`, ... `<prefix>.models`. */
export function suiteTopics(prefix: string): SuiteTopics {
  return {
    sensor: `${prefix}.sensor`,
    text: `${prefix}.text`,
    forecasts: `${prefix}.forecasts`,
    classes: `${prefix}.classifications`,
    dlq: `${prefix}.dlq`,
    models: `${prefix}.models`,
  };
}

/** The worker variables naming a suite's topics. */
export function topicEnv(t: SuiteTopics): Record<string, string> {
  return {
    SENSOR_TOPIC: t.sensor,
    TEXT_TOPIC: t.text,
    FORECAST_TOPIC: t.forecasts,
    CLASSIFICATION_TOPIC: t.classes,
    DLQ_TOPIC: t.dlq,
    MODELS_TOPIC: t.models,
  };
}

/** Worker environment for a stack, plus overrides (topic names, models, limits...). */
export function workerEnv(stack: E2EStack, extra: Record<string, string> = {}): Record<string, string> {
  return {
    KAFKA_BROKERS: stack.brokers,
    REDIS_URL: stack.redisUrl,
    ...(stack.redisCluster ? { REDIS_CLUSTER: 'true' } : {}),
    ...(stack.redisSentinelMaster ? { REDIS_SENTINEL_MASTER: stack.redisSentinelMaster } : {}),
    ...extra,
  };
}

/** How a worker process ended. */
export interface WorkerExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Milliseconds from the signal {@link WorkerProcess.stop} sent to the exit; null if none was sent or it had to be SIGKILLed. */
  readonly afterSignalMs: number | null;
}

/** One worker child process; `start()` again after it exited runs a new incarnation. */
export class WorkerProcess {
  readonly logFile: string;
  private child: ChildProcess | null = null;
  private output = '';
  private exitInfo: WorkerExit | null = null;
  private exitPromise: Promise<WorkerExit> | null = null;
  private signalledAt: number | null = null;
  private log: WriteStream | null = null;
  private startedAt = 0;

  /** `env` is the worker's whole environment besides PATH, NODE_ENV=production, HTTP_PORT=0 and LOG_LEVEL=info (overridable). */
  constructor(
    readonly name: string,
    private readonly env: Record<string, string>,
  ) {
    mkdirSync(WORKER_LOG_DIR, { recursive: true });
    this.logFile = path.join(WORKER_LOG_DIR, `${name}.log`);
  }

  /** Spawns a worker without waiting for it (boot-failure cases). */
  static spawn(name: string, env: Record<string, string>): WorkerProcess {
    return new WorkerProcess(name, env).start();
  }

  /** Spawns a worker and waits for its ready line. */
  static async launch(
    name: string,
    env: Record<string, string>,
    readyTimeoutMs = 90_000,
  ): Promise<WorkerProcess> {
    const w = WorkerProcess.spawn(name, env);
    await w.ready(readyTimeoutMs);
    return w;
  }

  /** Spawns the process (a previous incarnation must have exited). */
  start(): this {
    if (!existsSync(WORKER_MAIN)) throw new Error(`${WORKER_MAIN} is missing: run npm run build first`);
    if (this.child && !this.exitInfo) throw new Error(`${this.name} is still running`);
    this.output = '';
    this.exitInfo = null;
    this.signalledAt = null;
    this.startedAt = Date.now();
    this.log ??= createWriteStream(this.logFile, { flags: 'a' });
    this.log.write(`\n===== start ${new Date().toISOString()} =====\n`);
    // Profiling a spawned worker, e.g. WORKER_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof'.
    const nodeArgs = (process.env.WORKER_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
    const child = spawn(process.execPath, [...nodeArgs, WORKER_MAIN], {
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
      if (this.output.length > 8_000_000) this.output = this.output.slice(-4_000_000);
      this.log?.write(chunk);
      if (process.env.STREAMCELL_TEST_WORKER_ECHO) process.stderr.write(`[${this.name}] ${s}`);
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

  /** True while the current incarnation runs. */
  get running(): boolean {
    return this.child !== null && this.exitInfo === null;
  }

  /** Everything the current incarnation printed. */
  get logs(): string {
    return this.output;
  }

  /** How the current incarnation ended (null while it runs). */
  get exit(): WorkerExit | null {
    return this.exitInfo;
  }

  /** Waits for the contract's `streamcell worker ready` line; resolves with the ms since start. */
  async ready(timeoutMs = 90_000): Promise<number> {
    await this.waitForLog('streamcell worker ready', timeoutMs);
    return Date.now() - this.startedAt;
  }

  /** Waits until the output contains `text`; throws with the log tail on exit or timeout. */
  async waitForLog(text: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.output.includes(text)) {
      if (this.exitInfo) {
        throw new Error(
          `${this.name} exited ${JSON.stringify(this.exitInfo)} before '${text}':\n${this.output.slice(-4000)}`,
        );
      }
      if (Date.now() > deadline)
        throw new Error(`${this.name}: no '${text}' after ${timeoutMs} ms:\n${this.output.slice(-4000)}`);
      await sleep(50);
    }
  }

  /** Parsed JSON log lines whose `msg` equals `msg`. */
  logLines(msg: string): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const line of this.output.split('\n')) {
      if (!line.startsWith('{') || !line.includes(`"msg":${JSON.stringify(msg)}`)) continue;
      try {
        out.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // A line still being written.
      }
    }
    return out;
  }

  /** The port the health server bound (from the `http listening` log line). */
  get httpPort(): number {
    const port = this.logLines('http listening')[0]?.port;
    if (typeof port !== 'number') throw new Error(`${this.name}: no http port logged yet`);
    return port;
  }

  /** GET a path of the worker's HTTP server. */
  async http(pathname: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
    const res = await fetch(`http://127.0.0.1:${this.httpPort}${pathname}`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: res.status, body: await res.text() };
  }

  /** Waits for the current incarnation to exit (null after `timeoutMs`). */
  async waitForExit(timeoutMs: number): Promise<WorkerExit | null> {
    if (!this.exitPromise) throw new Error(`${this.name} was never started`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), timeoutMs)));
    try {
      return await Promise.race([this.exitPromise, timeout]);
    } finally {
      // A pending timer would keep jest alive for the whole timeout after the last suite.
      clearTimeout(timer);
    }
  }

  /** Signals this child only (by pid) and waits for it to exit; SIGKILL after `timeoutMs`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 30_000): Promise<WorkerExit> {
    if (!this.child || !this.exitPromise) throw new Error(`${this.name} was never started`);
    if (this.exitInfo) return this.exitInfo;
    this.signalledAt = Date.now();
    this.child.kill(signal);
    const res = await this.waitForExit(timeoutMs);
    if (res) return res;
    this.child.kill('SIGKILL');
    const forced = await this.exitPromise;
    return { ...forced, afterSignalMs: null };
  }

  /** Kills a still-running child (SIGKILL) and closes the log; safe to call twice. */
  async dispose(): Promise<void> {
    if (this.running) await this.stop('SIGKILL', 5000);
    await new Promise<void>((resolve) => (this.log ? this.log.end(resolve) : resolve()));
    this.log = null;
  }
}
