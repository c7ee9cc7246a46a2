import { Controller, Get, Inject, NotFoundException, Param, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { TRAINER_INFRA } from '../app.tokens';
import type { TrainerInfra } from '../infra';
import { ModelRegistry } from '@app/registry';
import { AccuracyService, ModelNotFoundError } from '../services/accuracy.service';
import { BearerAuthGuard } from './bearer-auth.guard';

/** Live accuracy of a model's versions (docs/accuracy.md). */
@ApiTags('models')
@ApiBearerAuth()
@UseGuards(BearerAuthGuard)
@Controller('v1/models')
export class AccuracyController {
  private readonly accuracy: AccuracyService;

  constructor(registry: ModelRegistry, @Inject(TRAINER_INFRA) infra: TrainerInfra) {
    this.accuracy = new AccuracyService(infra.redis, registry);
  }

  /**
   * Per version: readings scored, errors scored, MAE, RMSE and bias (actual − forecast); for
   * classifiers, labels scored, log loss, accuracy at 0.5 and Brier score.
   */
  @Get(':name/accuracy')
  async modelAccuracy(@Param('name') name: string) {
    try {
      return await this.accuracy.modelAccuracy(name);
    } catch (err) {
      if (err instanceof ModelNotFoundError) throw new NotFoundException({ statusCode: 404, error: 'model_not_found', message: err.message, model: name });
      throw err;
    }
  }
}
