import { createLogger, type LogLevel, type Logger } from '@app/config';

export type { LogLevel };

/**
 * The worker's logger: the apps' JSON-line format (`@app/config` `createLogger`, pino) with the
 * component as `context`; greppable for tests (`streamcell worker ready`). Cheap enough for
 * per-batch debug lines.
 */
export class WorkerLogger {
  private readonly root: Logger;
  private readonly pino: Logger;

  /** `level` makes a new root logger; a pino logger is used as the root as it is. */
  constructor(level: LogLevel | Logger = 'info', context = 'stream-worker') {
    this.root = typeof level === 'string' ? createLogger(level) : level;
    this.pino = this.root.child({ context });
  }

  child(context: string): WorkerLogger {
    return new WorkerLogger(this.root, context);
  }

  debug(msg: string, fields?: Record<string, unknown>): void {
    this.pino.debug(fields ?? {}, msg);
  }
  log(msg: string, fields?: Record<string, unknown>): void {
    this.pino.info(fields ?? {}, msg);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.pino.info(fields ?? {}, msg);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.pino.warn(fields ?? {}, msg);
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.pino.error(fields ?? {}, msg);
  }
}
