import type { LoggerService } from '@nestjs/common';
import { Logger as NestPinoLogger, PinoLogger } from 'nestjs-pino';
import pino, { type DestinationStream, type Logger } from 'pino';

/** Log levels the apps accept (`LOG_LEVEL`), in increasing severity. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * The one log format of both apps: pino JSON lines on stdout,
 * `{"level":"info","time":"<ISO-8601>","context":"<component>",...fields,"msg":"<text>"}`.
 * Levels are names, times ISO-8601 (log shippers and tests parse both without a pino-specific
 * mapping). Writes are synchronous, so nothing logged before an exit is lost. Components get
 * their `context` with `logger.child({ context })`; the root logger carries none.
 */
export function createLogger(level: LogLevel = 'info', destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: null,
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Request logs of the trainer's HTTP API carry the headers: never the bearer token.
      redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '***' },
    },
    destination ?? pino.destination({ fd: 1, sync: true }),
  );
}

/**
 * Nest's logger interface over `logger` (nestjs-pino's mapping): Nest's own messages come out
 * in the same JSON lines, with Nest's context (`InstanceLoader`, `RoutesResolver`...) as
 * `context`. Give it a root logger (no `context` binding of its own).
 */
export function nestLogger(logger: Logger): LoggerService {
  return new NestPinoLogger(new PinoLogger({ pinoHttp: { logger } }), {});
}

export type { Logger };
