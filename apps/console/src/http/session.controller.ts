import { BadGatewayException, BadRequestException, Body, Controller, Delete, Get, HttpCode, Inject, Post, Req, Res, UnauthorizedException } from '@nestjs/common';
import type { Request, Response } from 'express';
import { CONSOLE_CONFIG, type ConsoleConfig } from '../config/console-config';
import { SESSION_COOKIE, SessionStore, readCookie } from './session-store';
import { TrainerClient } from './trainer-client';

/**
 * Login: the token typed on the login page is checked against the trainer (the same check the
 * admin API makes) and kept server-side; the browser gets only an httpOnly session cookie.
 */
@Controller('api/session')
export class SessionController {
  constructor(
    private readonly sessions: SessionStore,
    private readonly trainer: TrainerClient,
    @Inject(CONSOLE_CONFIG) private readonly config: ConsoleConfig,
  ) {}

  /** Whether the browser has a live session (200 either way: the page asks before it logs in). */
  @Get()
  status(@Req() req: Request) {
    return { loggedIn: this.sessions.token(readCookie(req.headers.cookie, SESSION_COOKIE)) !== null };
  }

  @Post()
  @HttpCode(204)
  async login(@Body() body: { token?: unknown } | undefined, @Res({ passthrough: true }) res: Response): Promise<void> {
    const token = typeof body?.token === 'string' ? body.token.trim() : '';
    if (token.length === 0) throw new BadRequestException(['token must be a non-empty string']);
    let verdict: 'ok' | 'refused';
    try {
      verdict = await this.trainer.verify(token);
    } catch (err) {
      throw new BadGatewayException(`cannot check the token: trainer at ${this.config.trainerUrl} unreachable (${(err as Error).message})`);
    }
    if (verdict === 'refused') throw new UnauthorizedException('the trainer refused this token');
    const id = this.sessions.open(token);
    res.cookie(SESSION_COOKIE, id, { httpOnly: true, sameSite: 'strict', secure: this.config.cookieSecure, path: '/', maxAge: this.config.sessionTtlMs });
  }

  @Delete()
  @HttpCode(204)
  logout(@Req() req: Request, @Res({ passthrough: true }) res: Response): void {
    this.sessions.close(readCookie(req.headers.cookie, SESSION_COOKIE));
    res.clearCookie(SESSION_COOKIE, { path: '/' });
  }
}
