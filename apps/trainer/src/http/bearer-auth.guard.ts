import { timingSafeEqual } from 'node:crypto';
import { ForbiddenException, Inject, Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { TRAINER_CONFIG, type TrainerConfig } from '../config/trainer-config';

/**
 * Checks an `Authorization` header against the admin token (null: auth disabled): null when it
 * passes, else 401 (no bearer token) or 403 (a wrong one). The scheme is case-insensitive.
 */
export function bearerProblem(header: string | string[] | undefined, token: string | null): { status: 401 | 403; message: string } | null {
  if (token === null) return null; // ADMIN_AUTH_DISABLED=true
  const m = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!m) return { status: 401, message: 'missing bearer token (Authorization: Bearer <ADMIN_TOKEN>)' };
  const given = Buffer.from(m[1]);
  const expected = Buffer.from(token);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { status: 403, message: 'invalid bearer token' };
  return null;
}

/** Bearer-token auth for every /v1 route: 401 without a token, 403 with a wrong one. */
@Injectable()
export class BearerAuthGuard implements CanActivate {
  constructor(@Inject(TRAINER_CONFIG) private readonly config: TrainerConfig) {}

  canActivate(ctx: ExecutionContext): boolean {
    const req = ctx.switchToHttp().getRequest<{ headers: Record<string, string | string[] | undefined> }>();
    const problem = bearerProblem(req.headers.authorization, this.config.adminToken);
    if (problem?.status === 401) throw new UnauthorizedException(problem.message);
    if (problem?.status === 403) throw new ForbiddenException(problem.message);
    return true;
  }
}
