import { timingSafeEqual } from 'node:crypto';
import { ForbiddenException, Inject, Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { TRAINER_CONFIG, type TrainerConfig } from '../config/trainer-config';

/** Bearer-token auth for every /v1 route: 401 without a token, 403 with a wrong one. */
@Injectable()
export class BearerAuthGuard implements CanActivate {
  private readonly token: Buffer | null;

  constructor(@Inject(TRAINER_CONFIG) config: TrainerConfig) {
    this.token = config.adminToken === null ? null : Buffer.from(config.adminToken);
  }

  canActivate(ctx: ExecutionContext): boolean {
    if (this.token === null) return true; // ADMIN_AUTH_DISABLED=true
    const req = ctx.switchToHttp().getRequest<{ headers: Record<string, string | string[] | undefined> }>();
    const header = req.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!m) throw new UnauthorizedException('missing bearer token (Authorization: Bearer <ADMIN_TOKEN>)');
    const given = Buffer.from(m[1]);
    if (given.length !== this.token.length || !timingSafeEqual(given, this.token)) {
      throw new ForbiddenException('invalid bearer token');
    }
    return true;
  }
}
