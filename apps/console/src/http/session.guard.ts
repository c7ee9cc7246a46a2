import { ForbiddenException, Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { SESSION_COOKIE, SessionStore, readCookie } from './session-store';

/** Header every state-changing request of the page carries; a cross-site form cannot set it. */
export const CSRF_HEADER = 'x-streamcell-console';

/** A request that passed {@link SessionGuard}: the admin token of its session. */
export type AuthedRequest = Request & { adminToken: string };

/**
 * Every /api route but the login needs a live session (401 otherwise); requests that change
 * something must also carry {@link CSRF_HEADER} (403 otherwise).
 */
@Injectable()
export class SessionGuard implements CanActivate {
  constructor(private readonly sessions: SessionStore) {}

  canActivate(ctx: ExecutionContext): boolean {
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    const token = this.sessions.token(readCookie(req.headers.cookie, SESSION_COOKIE));
    if (token === null) throw new UnauthorizedException('not logged in (POST /api/session with the admin token)');
    if (req.method !== 'GET' && req.method !== 'HEAD' && req.headers[CSRF_HEADER] !== '1') {
      throw new ForbiddenException(`state-changing requests need the header ${CSRF_HEADER}: 1`);
    }
    req.adminToken = token;
    return true;
  }
}
