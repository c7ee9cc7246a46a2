/**
 * The trainer as e2e suites run it: `node dist/apps/trainer/src/main.js`, as production does, in
 * a child process of its own on a free port (training jobs are its children).
 *
 *   const t = await TrainerProcess.launch('abuse', { REDIS_URL, KAFKA_BROKERS, ADMIN_TOKEN, ... });
 *   await fetch(`${t.base}/health`);
 *   await t.stop();                   // SIGTERM by pid; SIGKILL after the timeout
 *
 * Output goes to .cache/e2e-logs/<name>.log.
 */
import { spawn, type ChildProcess } from 'child_process';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, type WriteStream } from 'fs';
import * as path from 'path';
import { REPO_ROOT, sleep, uniqueName, type E2EStack } from './e2e-env';
import { freePort } from './e2e-stack';
import { WORKER_LOG_DIR } from './worker-process';

/** The production entry point of the trainer (`npm run build` creates it). */
export const TRAINER_MAIN = path.join(REPO_ROOT, 'dist', 'apps', 'trainer', 'src', 'main.js');

/**
 * Trainer environment for a stack: its Kafka and Redis, the admin token, the models topic and a
 * unique instance id, plus overrides (source topics, limits, loop periods...).
 */
export function trainerEnv(stack: E2EStack, adminToken: string, modelsTopic: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    REDIS_URL: stack.redisUrl,
    KAFKA_BROKERS: stack.brokers,
    ADMIN_TOKEN: adminToken,
    MODELS_TOPIC: modelsTopic,
    TRAINER_INSTANCE_ID: uniqueName('trainer'),
    ...extra,
  };
}

export class TrainerProcess {
  private output = '';
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private readonly exited: Promise<void>;

  private constructor(
    readonly name: string,
    readonly base: string,
    private readonly child: ChildProcess,
    private readonly log: WriteStream,
  ) {
    const onData = (chunk: Buffer): void => {
      this.output += chunk.toString('utf8');
      if (this.output.length > 4_000_000) this.output = this.output.slice(-2_000_000);
      this.log.write(chunk);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    this.exited = new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve();
      }),
    );
  }

  /** Starts a trainer on a free port with `env` (plus PATH and TRAINER_PORT/HOST) and waits until it listens. */
  static async launch(name: string, env: Record<string, string>, readyTimeoutMs = 90_000): Promise<TrainerProcess> {
    if (!existsSync(TRAINER_MAIN)) throw new Error(`${TRAINER_MAIN} is missing: run npm run build first`);
    mkdirSync(WORKER_LOG_DIR, { recursive: true });
    const port = await freePort();
    const log = createWriteStream(path.join(WORKER_LOG_DIR, `${name}.log`), { flags: 'a' });
    log.write(`\n===== start ${new Date().toISOString()} =====\n`);
    const child = spawn(process.execPath, [TRAINER_MAIN], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', ...env, TRAINER_PORT: String(port), TRAINER_HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const t = new TrainerProcess(name, `http://127.0.0.1:${port}`, child, log);
    const deadline = Date.now() + readyTimeoutMs;
    while (!t.output.includes('admin API on http://')) {
      if (t.exitInfo) throw new Error(`${name} exited ${JSON.stringify(t.exitInfo)} before listening:\n${t.output.slice(-4000)}`);
      if (Date.now() > deadline) throw new Error(`${name} not listening after ${readyTimeoutMs} ms:\n${t.output.slice(-4000)}`);
      await sleep(100);
    }
    return t;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** True while the process runs. */
  get running(): boolean {
    return this.exitInfo === null;
  }

  /** How it ended (null while it runs). */
  get exit(): { code: number | null; signal: NodeJS.Signals | null } | null {
    return this.exitInfo;
  }

  /** Everything it printed. */
  get logs(): string {
    return this.output;
  }

  /** /proc/<pid>/stat fields after the command name (index 0 = state, 1 = ppid, 16 = nice) of the trainer's children. */
  private children(): { pid: string; fields: string[] }[] {
    const out: { pid: string; fields: string[] }[] = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        if (Number(fields[1]) === this.pid) out.push({ pid: entry, fields });
      } catch {
        // The process ended while we looked.
      }
    }
    return out;
  }

  /** Command lines of the trainer's child processes (its training jobs), from /proc. */
  childCommandLines(): string[][] {
    return this.children().flatMap((c) => {
      try {
        return [readFileSync(`/proc/${c.pid}/cmdline`, 'utf8').split('\0').filter(Boolean)];
      } catch {
        return [];
      }
    });
  }

  /** Niceness of the main thread of each child process. */
  childNiceness(): number[] {
    return this.children().map((c) => Number(c.fields[16]));
  }

  /** SIGTERM by pid, SIGKILL after `timeoutMs`; closes the log. */
  async stop(timeoutMs = 20_000): Promise<void> {
    if (this.running) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
      await this.exited;
      clearTimeout(timer);
    }
    await new Promise<void>((resolve) => this.log.end(resolve));
  }
}
