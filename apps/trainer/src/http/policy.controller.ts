import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Put, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiQuery, ApiTags } from '@nestjs/swagger';
import { ModelRegistry, PolicyStore } from '@app/registry';
import { TRAINER_CONFIG, type TrainerConfig } from '../config/trainer-config';
import { operatorName, PolicyService } from '../services/policy.service';
import { BearerAuthGuard } from './bearer-auth.guard';
import { PolicyActorDto, PolicyDto } from './policy.dto';
import { singleParams } from './query-params';

/**
 * A model's automatic-control policy (auto-promotion of a winning shadow, drift-triggered
 * retraining), its pause switch, and the log of every automatic action (docs/closed-loop.md).
 */
@ApiTags('policy')
@ApiBearerAuth()
@UseGuards(BearerAuthGuard)
@Controller('v1/models/:name')
export class PolicyController {
  private readonly policies: PolicyService;

  constructor(registry: ModelRegistry, store: PolicyStore, @Inject(TRAINER_CONFIG) config: TrainerConfig) {
    this.policies = new PolicyService(registry, store, config);
  }

  @Get('policy')
  async get(@Param('name') name: string) {
    return this.policies.get(name);
  }

  @Put('policy')
  async set(@Param('name') name: string, @Body() body: PolicyDto) {
    const { by, reason, ...request } = body;
    return this.policies.set(name, request, operatorName(by), reason);
  }

  @Delete('policy')
  @HttpCode(204)
  async remove(@Param('name') name: string) {
    await this.policies.delete(name, operatorName(undefined));
  }

  @Post('policy/pause')
  @HttpCode(200)
  async pause(@Param('name') name: string, @Body() body: PolicyActorDto) {
    return this.policies.setPaused(name, true, operatorName(body?.by), body?.reason);
  }

  @Post('policy/resume')
  @HttpCode(200)
  async resume(@Param('name') name: string, @Body() body: PolicyActorDto) {
    return this.policies.setPaused(name, false, operatorName(body?.by), body?.reason);
  }

  @Get('actions')
  @ApiQuery({ name: 'limit', required: false, description: 'entries per page, 1..500 (default 50)' })
  @ApiQuery({ name: 'before', required: false, description: 'the `next` of the previous page: older entries' })
  async actions(@Param('name') name: string, @Query() query: Record<string, unknown>) {
    const { limit, before } = singleParams(query, ['limit', 'before']);
    return this.policies.actions(name, limit, before);
  }
}
