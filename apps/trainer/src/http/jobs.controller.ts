import { BadRequestException, ConflictException, Controller, Get, HttpCode, NotFoundException, Param, Post, Sse, UseGuards, type MessageEvent, type PipeTransform } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { Observable } from 'rxjs';
import { BacktestRunner, type BacktestRecord } from '../backtest/backtest-runner';
import { isTerminal, type JobRecord } from '../jobs/job-record';
import { JobActivatingError, JobRunner } from '../jobs/job-runner';
import { BearerAuthGuard } from './bearer-auth.guard';

/** A job id path parameter: the UUID the retrain returned. */
class JobIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)) throw new BadRequestException(['id must be a job id (a UUID)']);
    return value.toLowerCase();
  }
}

/** Training jobs: status, live progress (SSE), cancel. */
@ApiTags('jobs')
@ApiBearerAuth()
@UseGuards(BearerAuthGuard)
@Controller('v1/jobs')
export class JobsController {
  constructor(
    private readonly jobs: JobRunner,
    private readonly backtests: BacktestRunner,
  ) {}

  /** A training job, or a backtest (`kind: "backtest"`). */
  @Get(':id')
  async get(@Param('id', JobIdPipe) id: string): Promise<JobRecord | BacktestRecord> {
    const job = (await this.jobs.get(id)) ?? (await this.backtests.get(id));
    if (!job) throw new NotFoundException(`job ${id} not found`);
    return job;
  }

  /**
   * Server-sent events: `job` with the full record on every change (epoch, phase), the last one
   * terminal; then the stream ends. Jobs of other replicas are followed by polling Redis.
   */
  @Sse(':id/events')
  async events(@Param('id', JobIdPipe) id: string): Promise<Observable<MessageEvent>> {
    const first = await this.jobs.get(id);
    if (!first) throw new NotFoundException(`job ${id} not found`);
    return new Observable<MessageEvent>((sub) => {
      const emit = (j: JobRecord) => sub.next({ type: 'job', id: `${j.epochs.length}-${j.phase}`, data: j });
      emit(first);
      if (isTerminal(first.status)) {
        sub.complete();
        return;
      }
      const live = this.jobs.updates(id);
      if (live) {
        const s = live.subscribe({ next: emit, complete: () => sub.complete() });
        return () => s.unsubscribe();
      }
      let last = JSON.stringify(first);
      const timer = setInterval(() => {
        this.jobs.get(id).then(
          (j) => {
            if (!j) return sub.complete();
            const now = JSON.stringify(j);
            if (now !== last) {
              last = now;
              emit(j);
            }
            if (isTerminal(j.status)) sub.complete();
          },
          () => undefined, // Redis hiccup: the next tick polls again
        );
      }, 1000);
      return () => clearInterval(timer);
    });
  }

  @Post(':id/cancel')
  @HttpCode(200)
  async cancel(@Param('id', JobIdPipe) id: string): Promise<JobRecord> {
    let job: JobRecord | null;
    try {
      job = await this.jobs.cancel(id);
    } catch (err) {
      if (err instanceof JobActivatingError) throw new ConflictException({ statusCode: 409, error: 'job_activating', message: err.message, version: err.version });
      throw err;
    }
    if (!job) throw new NotFoundException(`job ${id} not found`);
    return job;
  }
}
