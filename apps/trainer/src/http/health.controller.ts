import { Controller, Get, Header, HttpException, Inject } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { TRAINER_INFRA } from '../app.tokens';
import type { TrainerInfra } from '../infra';
import { TrainerMetrics } from './trainer-metrics';

const HEALTH_REDIS_TIMEOUT_MS = 2000;

/** Liveness/readiness and Prometheus metrics (no auth, as probes and scrapers expect). */
@ApiTags('ops')
@Controller()
export class HealthController {
  constructor(
    @Inject(TRAINER_INFRA) private readonly infra: TrainerInfra,
    private readonly metrics: TrainerMetrics,
  ) {}

  /** 200 when Redis answers a PING within {@link HEALTH_REDIS_TIMEOUT_MS}, else 503 (a paused Redis never answers). */
  @Get('health')
  async health() {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.infra.redis.ping(),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${HEALTH_REDIS_TIMEOUT_MS} ms`)), HEALTH_REDIS_TIMEOUT_MS))),
      ]);
    } catch (err) {
      throw new HttpException({ status: 'error', redis: (err as Error).message }, 503);
    } finally {
      clearTimeout(timer);
    }
    return { status: 'ok', redis: 'up' };
  }

  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4')
  async metricsText(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
