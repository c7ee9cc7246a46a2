import {
  BadRequestException,
  Body,
  ConflictException,
  Controller,
  Delete,
  Get,
  HttpCode,
  HttpException,
  Inject,
  NotFoundException,
  Param,
  Post,
  UploadedFiles,
  UseGuards,
} from '@nestjs/common';
import { ApiBearerAuth, ApiConsumes, ApiTags } from '@nestjs/swagger';
import { ModelRegistry, PolicyStore } from '@app/registry';
import { BacktestRunner } from '../backtest/backtest-runner';
import { TRAINER_CONFIG, type TrainerConfig } from '../config/trainer-config';
import { JobCapacityError, JobConflictError, JobRunner } from '../jobs/job-runner';
import { JobsService } from '../services/jobs.service';
import { ModelsService } from '../services/models.service';
import { operatorName } from '../services/policy.service';
import { BacktestDto } from './backtest.dto';
import { PolicyActorDto } from './policy.dto';
import { BearerAuthGuard } from './bearer-auth.guard';
import { ActivateDto, ImportVersionDto, RetrainDto } from './retrain.dto';
import { TrainerMetrics } from './trainer-metrics';

/** Most files one import may carry (JSON `files` entries or multipart file parts). */
const MAX_IMPORT_FILES = 64;
/** Seconds a client refused for capacity is asked to wait. */
const CAPACITY_RETRY_AFTER_SECONDS = 30;

/** 429 with Retry-After (set by the exception filter). */
class TooManyJobsException extends HttpException {
  readonly retryAfterSeconds = CAPACITY_RETRY_AFTER_SECONDS;
  constructor(err: JobCapacityError) {
    super({ statusCode: 429, error: 'Too Many Requests', message: err.message, limit: 'TRAINER_MAX_JOBS', max: err.max }, 429);
  }
}

/**
 * A version path parameter: a decimal integer >= 1 (no signs, hex, exponents or spaces). Parsed
 * here from the raw string: the global ValidationPipe would turn a parameter typed `number` into
 * Number(value), which reads `0x1` as 1.
 */
function parseVersion(raw: string): number {
  if (!/^[1-9][0-9]{0,8}$/.test(raw)) throw new BadRequestException([`version must be a decimal integer >= 1 (got ${JSON.stringify(raw.slice(0, 32))})`]);
  return Number(raw);
}

/** Models, versions, activation and retraining. */
@ApiTags('models')
@ApiBearerAuth()
@UseGuards(BearerAuthGuard)
@Controller('v1/models')
export class ModelsController {
  private readonly models: ModelsService;
  private readonly jobsService: JobsService;

  constructor(
    private readonly registry: ModelRegistry,
    private readonly jobs: JobRunner,
    private readonly metrics: TrainerMetrics,
    private readonly backtests: BacktestRunner,
    @Inject(TRAINER_CONFIG) config: TrainerConfig,
    private readonly actions: PolicyStore,
  ) {
    this.models = new ModelsService(registry);
    this.jobsService = new JobsService(registry, config);
  }

  @Get()
  async list() {
    return { models: await this.registry.listModels() };
  }

  @Get(':name')
  async get(@Param('name') name: string) {
    const m = await this.registry.getModel(ModelsService.modelName(name));
    if (!m) throw new NotFoundException(`model ${name} not found`);
    return m;
  }

  @Post(':name/retrain')
  @HttpCode(202)
  async retrain(@Param('name') name: string, @Body() body: RetrainDto) {
    try {
      const { job, task } = await this.jobsService.retrain(this.jobs, name, body);
      this.metrics.running.inc();
      return { jobId: job.id, status: job.status, model: name, task, links: { job: `/v1/jobs/${job.id}`, events: `/v1/jobs/${job.id}/events` } };
    } catch (err) {
      if (err instanceof JobConflictError) throw new ConflictException({ statusCode: 409, error: 'job_running', message: err.message, runningJobId: err.runningJobId });
      if (err instanceof JobCapacityError) throw new TooManyJobsException(err);
      throw err;
    }
  }

  /** Body read by requestBodyMiddleware: JSON, or multipart with file parts (req.files). */
  @Post(':name/versions')
  @ApiConsumes('application/json', 'multipart/form-data')
  async importVersion(
    @Param('name') name: string,
    @Body() body: ImportVersionDto,
    @UploadedFiles() uploaded: { originalname: string; fieldname: string; buffer: Buffer }[] | undefined,
  ) {
    ModelsService.modelName(name);
    const files = new Map<string, Buffer>();
    if ((uploaded?.length ?? 0) + Object.keys(body.files ?? {}).length > MAX_IMPORT_FILES) {
      throw new BadRequestException([`files: at most ${MAX_IMPORT_FILES} files per import`]);
    }
    for (const f of uploaded ?? []) files.set(f.originalname || f.fieldname, f.buffer);
    for (const [file, b64] of Object.entries(body.files ?? {})) {
      if (typeof b64 !== 'string' || !/^[A-Za-z0-9+/=\s]*$/.test(b64)) throw new BadRequestException([`files.${file} must be base64`]);
      files.set(file, Buffer.from(b64, 'base64'));
    }
    if (files.size === 0) throw new BadRequestException(['files must contain model.json, weights and a sidecar or tokenizer.json']);
    const { task, labels, scaler, maxlen, window, padding, textMode, policy, activate, note } = body;
    const imported = await this.models.importVersion(name, files, {
      ...(task ? { task } : {}),
      ...(labels ? { labels } : {}),
      ...(maxlen ? { maxlen } : {}),
      ...(scaler ? { scaler } : {}),
      ...(window ? { window } : {}),
      ...(padding ? { padding } : {}),
      ...(textMode ? { mode: textMode } : {}),
      ...(policy ? { policy } : {}),
      ...(note ? { note } : {}),
      activate: activate === true,
    });
    if (imported.active) this.metrics.activations.inc();
    return { ...imported, meta: await this.registry.getVersion(name, imported.version) };
  }

  /** Starts a backtest job (docs/backtest.md); its result is the job's (GET /v1/jobs/{id}). */
  @Post(':name/versions/:version/backtest')
  @HttpCode(202)
  async backtest(@Param('name') name: string, @Param('version') rawVersion: string, @Body() body: BacktestDto) {
    ModelsService.modelName(name);
    const version = parseVersion(rawVersion);
    try {
      const job = await this.backtests.start(name, version, body ?? {});
      return { jobId: job.id, status: job.status, model: name, version, versions: job.versions, links: { job: `/v1/jobs/${job.id}` } };
    } catch (err) {
      if (err instanceof JobCapacityError) throw new TooManyJobsException(err);
      throw err;
    }
  }

  @Post(':name/versions/:version/activate')
  @HttpCode(200)
  async activate(@Param('name') name: string, @Param('version') rawVersion: string, @Body() body: ActivateDto) {
    ModelsService.modelName(name);
    const version = parseVersion(rawVersion);
    const pointer = await this.registry.activate(name, version, body?.policy);
    this.metrics.activations.inc();
    return { model: name, active: pointer };
  }

  /**
   * Puts a version in shadow: stepped next to the active one, its outputs kept off the prediction
   * topics. Recorded in the model's action log (`shadowed`, who and why from the body).
   */
  @Post(':name/versions/:version/shadow')
  @HttpCode(200)
  async shadow(@Param('name') name: string, @Param('version') rawVersion: string, @Body() body: PolicyActorDto) {
    ModelsService.modelName(name);
    const version = parseVersion(rawVersion);
    const shadow = await this.registry.setShadow(name, version);
    await this.actions.append(name, { action: 'shadowed', by: operatorName(body?.by), reason: body?.reason ?? `v${version} put in shadow through the admin API`, version });
    return { model: name, shadow };
  }

  /** Stops the model's shadow version (its per-key states stay in their namespace); logged as `rejected`. */
  @Delete(':name/shadow')
  @HttpCode(200)
  async stopShadow(@Param('name') name: string) {
    ModelsService.modelName(name);
    const stopped = await this.registry.clearShadow(name);
    if (stopped === null) throw new NotFoundException(`model ${name} has no shadow version`);
    await this.actions.append(name, { action: 'rejected', by: operatorName(undefined), reason: `shadow v${stopped.version} stopped through the admin API`, version: stopped.version });
    return { model: name, stopped };
  }

  /**
   * Makes the shadow version active with the `warm` swap policy (keys continue from the shadow's
   * own states); logged as `promoted`.
   */
  @Post(':name/versions/:version/promote')
  @HttpCode(200)
  async promote(@Param('name') name: string, @Param('version') rawVersion: string, @Body() body: PolicyActorDto) {
    ModelsService.modelName(name);
    const version = parseVersion(rawVersion);
    const pointer = await this.registry.promoteShadow(name, version);
    this.metrics.activations.inc();
    await this.actions.append(name, { action: 'promoted', by: operatorName(body?.by), reason: body?.reason ?? `shadow v${version} promoted (warm) through the admin API`, version });
    return { model: name, active: pointer };
  }
}
