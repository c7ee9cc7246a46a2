import { Body, Controller, Get, HttpCode, Inject, NotFoundException, Param, Post, Query, UseGuards, type OnModuleDestroy } from '@nestjs/common';
import { ApiBearerAuth, ApiQuery, ApiTags } from '@nestjs/swagger';
import { ModelRegistry } from '@app/registry';
import { TRAINER_INFRA } from '../app.tokens';
import { TRAINER_CONFIG, type TrainerConfig } from '../config/trainer-config';
import { KeyResetService } from '../services/key-reset.service';
import type { TrainerInfra } from '../infra';
import { StateNotFoundError, StateService } from '../services/state.service';
import { BearerAuthGuard } from './bearer-auth.guard';
import { ResetKeysDto } from './key-reset.dto';
import { singleParams } from './query-params';

/**
 * Per-key state: one key's state, a cursor scan of a model's keys, and ordered resets (a control
 * record through the key's input partition, docs/state-reset.md).
 */
@ApiTags('state')
@ApiBearerAuth()
@UseGuards(BearerAuthGuard)
@Controller('v1/models/:name/keys')
export class StateController implements OnModuleDestroy {
  private readonly state: StateService;
  private readonly resets: KeyResetService;

  constructor(registry: ModelRegistry, @Inject(TRAINER_INFRA) infra: TrainerInfra, @Inject(TRAINER_CONFIG) config: TrainerConfig) {
    this.state = new StateService(infra.redis, registry);
    this.resets = new KeyResetService(infra.kafka, registry, config.inputTopics);
  }

  async onModuleDestroy(): Promise<void> {
    await this.resets.close();
  }

  /** Resets a set of keys (202: applied when the workers reach each returned offset). */
  @Post('reset')
  @HttpCode(202)
  async resetKeys(@Param('name') name: string, @Body() body: ResetKeysDto) {
    return this.resets.reset(name, body.keys);
  }

  /** Resets one key (202: applied when the workers reach the returned offset). */
  @Post(':key/reset')
  @HttpCode(202)
  async resetKey(@Param('name') name: string, @Param('key') key: string) {
    return this.resets.reset(name, [key], 'key');
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
