/** Log levels in increasing severity. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/**
 * One JSON line per log record on stdout (errors on stderr): machine-readable for log shippers,
 * greppable for tests (`streamcell worker ready`). Cheap enough for per-batch debug lines.
 */
export class WorkerLogger {
  constructor(
    private readonly level: LogLevel = 'info',
    private readonly context = 'stream-worker',
  ) {}

  child(context: string): WorkerLogger {
    return new WorkerLogger(this.level, context);
  }

  debug(msg: string, fields?: Record<string, unknown>): void {
    this.write('debug', msg, fields);
  }
  log(msg: string, fields?: Record<string, unknown>): void {
    this.write('info', msg, fields);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.write('info', msg, fields);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.write('warn', msg, fields);
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.write('error', msg, fields);
  }

  private write(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
    if (RANK[level] < RANK[this.level]) return;
    const line = JSON.stringify({ time: new Date().toISOString(), level, context: this.context, msg, ...fields });
    if (level === 'error') process.stderr.write(line + '\n');
    else process.stdout.write(line + '\n');
  }
}
