import { Catch, HttpException, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { RegistryError } from '@app/registry';
import { InvalidRequestError } from '../services/invalid-request.error';
import { requestIdOf, type TrainerRequest } from './request-body';

/** A dependency (Redis, Kafka) failed while serving the request: 503, the client may retry. */
function dependencyDown(err: unknown): string | null {
  if (!(err instanceof Error)) return null;
  if (err.name === 'MaxRetriesPerRequestError' || /Connection is closed|ECONNREFUSED|ECONNRESET|ETIMEDOUT|Stream isn't writeable|Command timed out/.test(err.message)) {
    return 'Redis';
  }
  if (err.name.startsWith('KafkaJS')) return 'Kafka';
  return null;
}

/**
 * The one exception filter of the trainer: HTTP exceptions keep their status and body, the
 * services' InvalidRequestError maps to 400, registry errors to 400/404, a dependency that is down gives 503, anything else 500. Every answer
 * carries the request id (also in `X-Request-Id`); 5xx are logged with it and the cause, so a
 * client's report can be matched with the log.
 */
@Catch()
export class HttpErrorsFilter implements ExceptionFilter {
  private readonly log = new Logger('http');

  catch(err: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const req = http.getRequest<TrainerRequest & { method?: string; url?: string }>();
    const res = http.getResponse<ServerResponse>();
    const requestId = requestIdOf(req);
    let status: number;
    let body: Record<string, unknown>;
    if (err instanceof HttpException) {
      status = err.getStatus();
      const r = err.getResponse();
      body = typeof r === 'string' ? { statusCode: status, message: r } : { ...(r as Record<string, unknown>) };
      const retryAfter = (err as { retryAfterSeconds?: number }).retryAfterSeconds;
      if (retryAfter !== undefined && !res.headersSent) res.setHeader('retry-after', String(retryAfter));
    } else if (err instanceof InvalidRequestError) {
      // The services' refusals, shaped as the validation pipe's 400s (message: the field's problems).
      status = 400;
      body = { message: [err.message], error: 'Bad Request', statusCode: 400 };
    } else if (err instanceof RegistryError) {
      status = err.code === 'not_found' ? 404 : err.code === 'conflict' ? 409 : 400;
      body = { statusCode: status, error: err.code, message: err.message };
    } else {
      const dep = dependencyDown(err);
      status = dep ? 503 : 500;
      body = dep
        ? { statusCode: 503, error: 'Service Unavailable', message: `${dep} is unavailable; retry later` }
        : { statusCode: 500, error: 'Internal Server Error', message: 'internal error; quote the requestId when reporting it' };
    }
    // A deliberate HttpException (a 503 from /health) says all there is; a dependency that is
    // down is one line; anything else is a defect and gets its stack.
    if (status >= 500 && !(err instanceof HttpException)) {
      const line = `request ${requestId} ${req.method ?? ''} ${req.url ?? ''} -> ${status}`;
      if (status === 503) this.log.warn(`${line}: ${(err as Error).message}`);
      else this.log.error(`${line}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.statusCode = status;
    res.setHeader('content-type', 'application/json; charset=utf-8');
    res.setHeader('x-request-id', requestId);
    res.end(JSON.stringify({ ...body, requestId }));
  }
}
