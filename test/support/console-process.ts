/**
 * The operator console as e2e suites run it: `node dist/apps/console/src/main.js`, as production
 * does, one child process on a free port (CONSOLE_PORT=0; the port comes from its ready line).
 * Output goes to .cache/e2e-logs/<name>.log.
 */
import { spawn, type ChildProcess } from 'child_process';
import { createWriteStream, existsSync, mkdirSync } from 'fs';
import * as path from 'path';
import { REPO_ROOT, sleep } from './e2e-env';
import { WORKER_LOG_DIR } from './worker-process';

/** The production entry point of the console (`npm run build` creates it). */
export const CONSOLE_MAIN = path.join(REPO_ROOT, 'dist', 'apps', 'console', 'src', 'main.js');

/** One console child process. */
export class ConsoleProcess {
  private child: ChildProcess | null = null;
  private output = '';
  private exited = false;

  constructor(
    readonly name: string,
    private readonly env: Record<string, string>,
  ) {}

  /** Starts the console and resolves with its base URL once it listens. */
  async start(timeoutMs = 60_000): Promise<string> {
    if (!existsSync(CONSOLE_MAIN)) throw new Error(`${CONSOLE_MAIN} is missing: run npm run build first`);
    mkdirSync(WORKER_LOG_DIR, { recursive: true });
    const log = createWriteStream(path.join(WORKER_LOG_DIR, `${this.name}.log`));
    const child = spawn(process.execPath, [CONSOLE_MAIN], {
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', CONSOLE_PORT: '0', CONSOLE_HOST: '127.0.0.1', ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const take = (b: Buffer) => {
      this.output += b.toString();
      log.write(b);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('exit', () => {
      this.exited = true;
      log.end();
    });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = /console on http:\/\/127\.0\.0\.1:(\d+)/.exec(this.output);
      if (m) return `http://127.0.0.1:${m[1]}`;
      if (this.exited) throw new Error(`${this.name} exited before listening:\n${this.output.slice(-4000)}`);
      if (Date.now() > deadline) throw new Error(`${this.name}: not listening after ${timeoutMs} ms:\n${this.output.slice(-4000)}`);
      await sleep(100);
    }
  }

  /** Everything it printed so far. */
  get logs(): string {
    return this.output;
  }

  /** SIGTERM by pid, SIGKILL after 10 s. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || this.exited) return;
    child.kill('SIGTERM');
    const deadline = Date.now() + 10_000;
    while (!this.exited && Date.now() < deadline) await sleep(50);
    if (!this.exited) child.kill('SIGKILL');
  }
}
