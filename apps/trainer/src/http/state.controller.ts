import { Controller, Get, Inject, NotFoundException, Param, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiQuery, ApiTags } from '@nestjs/swagger';
import { ModelRegistry } from '@app/registry';
import { TRAINER_INFRA } from '../app.tokens';
import type { TrainerInfra } from '../infra';
import { StateNotFoundError, StateService } from '../services/state.service';
import { BearerAuthGuard } from './bearer-auth.guard';
import { singleParams } from './query-params';

/** Read side of the per-key state: one key's state, and a cursor scan of a model's keys. */
@ApiTags('state')
@ApiBearerAuth()
@UseGuards(BearerAuthGuard)
@Controller('v1/models/:name/keys')
export class StateController {
  private readonly state: StateService;

  constructor(registry: ModelRegistry, @Inject(TRAINER_INFRA) infra: TrainerInfra) {
    this.state = new StateService(infra.redis, registry);
  }

  @Get()
  @ApiQuery({ name: 'cursor', required: false, description: 'cursor of the previous page; 0 (default) starts' })
  @ApiQuery({ name: 'count', required: false, description: 'SCAN COUNT hint, 1..1000 (default 100)' })
  async list(@Param('name') name: string, @Query() query: Record<string, unknown>) {
    const { cursor, count } = singleParams(query, ['cursor', 'count']);
    return this.state.scanKeys(name, cursor, count);
  }

  @Get(':key/state')
  async keyState(@Param('name') name: string, @Param('key') key: string) {
    try {
      return await this.state.keyState(name, key);
    } catch (err) {
      if (err instanceof StateNotFoundError) throw new NotFoundException({ statusCode: 404, error: 'key_not_found', message: err.message, key });
      throw err;
    }
  }
}
