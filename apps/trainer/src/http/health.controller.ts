import { Controller, Get, Header, HttpException, Inject } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { TRAINER_INFRA } from '../app.tokens';
import type { TrainerInfra } from '../infra';
import { TrainerMetrics } from './trainer-metrics';

/** Liveness/readiness and Prometheus metrics (no auth, as probes and scrapers expect). */
@ApiTags('ops')
@Controller()
export class HealthController {
  constructor(
    @Inject(TRAINER_INFRA) private readonly infra: TrainerInfra,
    private readonly metrics: TrainerMetrics,
  ) {}

  @Get('health')
  async health() {
    try {
      await this.infra.redis.ping();
    } catch (err) {
      throw new HttpException({ status: 'error', redis: (err as Error).message }, 503);
    }
    return { status: 'ok', redis: 'up' };
  }

  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4')
  async metricsText(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
