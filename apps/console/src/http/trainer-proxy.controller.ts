import { All, BadRequestException, Controller, Req, Res, UseGuards } from '@nestjs/common';
import type { Response } from 'express';
import { SessionGuard, type AuthedRequest } from './session.guard';
import { TrainerClient } from './trainer-client';

const PREFIX = '/api/trainer';
/** The admin API routes the console uses. */
const ALLOWED = /^\/(models|jobs)(\/|$|\?)/;

/** /api/trainer/<path> → the trainer's /v1/<path>, with the session's bearer token. */
@UseGuards(SessionGuard)
@Controller('api/trainer')
export class TrainerProxyController {
  constructor(private readonly trainer: TrainerClient) {}

  @All('*path')
  async proxy(@Req() req: AuthedRequest, @Res() res: Response): Promise<void> {
    const path = req.originalUrl.slice(PREFIX.length);
    if (!ALLOWED.test(path) || path.includes('..')) throw new BadRequestException([`path must be under /models or /jobs, got ${path.slice(0, 100)}`]);
    await this.trainer.forward(req.adminToken, req.method, path, req.body, res);
  }
}
