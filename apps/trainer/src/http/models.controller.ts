import {
  BadRequestException,
  Body,
  ConflictException,
  Controller,
  Get,
  HttpCode,
  HttpException,
  Inject,
  NotFoundException,
  Param,
  Post,
  UploadedFiles,
  UseGuards,
  type PipeTransform,
} from '@nestjs/common';
import { ApiBearerAuth, ApiConsumes, ApiTags } from '@nestjs/swagger';
import { ModelRegistry, assertModelName } from '@app/registry';
import { TRAINER_CONFIG, topicAllowed, type TrainerConfig } from '../config/trainer-config';
import { JobCapacityError, JobConflictError, JobRunner } from '../jobs/job-runner';
import { DataFileError, resolveDataFile } from '../training/data-file';
import { ImportError, prepareImport } from '../training/import-artifact';
import type { TrainSource } from '../training/train-job';
import { BearerAuthGuard } from './bearer-auth.guard';
import { ActivateDto, ImportVersionDto, RetrainDto } from './retrain.dto';
import { TrainerMetrics } from './trainer-metrics';

function modelName(name: string): string {
  try {
    assertModelName(name);
  } catch (err) {
    throw new BadRequestException([`name: ${(err as Error).message}`]);
  }
  return name;
}

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

/** A version path parameter: a decimal integer >= 1 (no signs, hex, exponents or spaces). */
class VersionPipe implements PipeTransform<string, number> {
  transform(value: string): number {
    if (!/^[1-9][0-9]{0,8}$/.test(value)) throw new BadRequestException([`version must be a decimal integer >= 1 (got ${JSON.stringify(value.slice(0, 32))})`]);
    return Number(value);
  }
}

/** Models, versions, activation and retraining. */
@ApiTags('models')
@ApiBearerAuth()
@UseGuards(BearerAuthGuard)
@Controller('v1/models')
export class ModelsController {
  constructor(
    private readonly registry: ModelRegistry,
    private readonly jobs: JobRunner,
    private readonly metrics: TrainerMetrics,
    @Inject(TRAINER_CONFIG) private readonly config: TrainerConfig,
  ) {}

  @Get()
  async list() {
    return { models: await this.registry.listModels() };
  }

  @Get(':name')
  async get(@Param('name') name: string) {
    const m = await this.registry.getModel(modelName(name));
    if (!m) throw new NotFoundException(`model ${name} not found`);
    return m;
  }

  @Post(':name/retrain')
  @HttpCode(202)
  async retrain(@Param('name') name: string, @Body() body: RetrainDto) {
    modelName(name);
    const existing = await this.registry.getModel(name);
    const latestTask = existing?.versions[existing.versions.length - 1]?.task;
    const task = body.task ?? latestTask ?? (body.source.labelsTopic ? 'classify' : undefined);
    if (!task) throw new BadRequestException(['task must be one of forecast, classify (the model has no versions yet)']);
    if (latestTask && task !== latestTask) throw new BadRequestException([`task must be ${latestTask} (the model's task)`]);
    const s = body.source;
    let source: TrainSource;
    switch (s.kind) {
      case 'kafka':
        for (const [field, topic] of [['topic', s.topic], ['labelsTopic', s.labelsTopic]] as const) {
          if (topic !== undefined && !topicAllowed(this.config.sourceTopics, topic)) {
            throw new BadRequestException([`source.${field} ${topic} is not a training source topic (TRAINER_SOURCE_TOPICS: ${this.config.sourceTopics.join(', ')})`]);
          }
        }
        source = {
          kind: 'kafka',
          topic: s.topic!,
          ...(s.labelsTopic ? { labelsTopic: s.labelsTopic } : {}),
          ...(s.fromTime !== undefined ? { fromTime: s.fromTime } : {}),
          ...(s.toTime !== undefined ? { toTime: s.toTime } : {}),
          ...(s.fromOffsets ? { fromOffsets: s.fromOffsets } : {}),
          ...(s.toOffsets ? { toOffsets: s.toOffsets } : {}),
        };
        for (const t of [s.fromTime, s.toTime]) {
          if (t !== undefined && !Number.isFinite(Number(t)) && !Number.isFinite(Date.parse(t))) {
            throw new BadRequestException(['source.fromTime/source.toTime must be ISO-8601 or epoch milliseconds']);
          }
        }
        for (const [field, offs] of [['fromOffsets', s.fromOffsets], ['toOffsets', s.toOffsets]] as const) {
          for (const [p, o] of Object.entries(offs ?? {})) {
            if (!/^\d+$/.test(p) || !/^\d+$/.test(String(o))) throw new BadRequestException([`source.${field} must map partition numbers to offset strings`]);
          }
        }
        break;
      case 'file': {
        let path: string;
        try {
          path = await resolveDataFile(this.config.dataDir, s.path!, this.config.maxDataBytes);
        } catch (err) {
          if (err instanceof DataFileError) throw new BadRequestException([err.message]);
          throw err;
        }
        source = { kind: 'file', path, ...(s.format ? { format: s.format } : {}) };
        break;
      }
      case 'upload':
        if (Buffer.byteLength(s.content!) > this.config.maxDataBytes) {
          throw new BadRequestException([`source.content is over TRAINER_MAX_DATA_BYTES (${this.config.maxDataBytes} bytes)`]);
        }
        source = { kind: 'upload', content: s.content!, format: s.format ?? 'csv' };
        break;
    }
    try {
      const job = await this.jobs.start({
        model: name,
        task,
        source,
        params: {
          ...(body.hiddenUnits !== undefined ? { hiddenUnits: body.hiddenUnits } : {}),
          ...(body.layers !== undefined ? { layers: body.layers } : {}),
          ...(body.epochs !== undefined ? { epochs: body.epochs } : {}),
          ...(body.batchSize !== undefined ? { batchSize: body.batchSize } : {}),
          ...(body.learningRate !== undefined ? { learningRate: body.learningRate } : {}),
          ...(body.validationSplit !== undefined ? { validationSplit: body.validationSplit } : {}),
          ...(body.seed !== undefined ? { seed: body.seed } : {}),
          ...(body.window !== undefined ? { window: body.window } : {}),
          ...(body.horizon !== undefined ? { horizon: body.horizon } : {}),
          ...(body.embeddingDim !== undefined ? { embeddingDim: body.embeddingDim } : {}),
          ...(body.vocabSize !== undefined ? { vocabSize: body.vocabSize } : {}),
          ...(body.maxlen !== undefined ? { maxlen: body.maxlen } : {}),
        },
        activate: body.activate ?? 'if-better',
        ...(body.policy ? { policy: body.policy } : {}),
      });
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
    modelName(name);
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
    const { labels, scaler, maxlen, window } = body;
    let prepared;
    try {
      prepared = await prepareImport(files, {
        name,
        ...(body.task ? { task: body.task } : {}),
        ...(labels ? { labels } : {}),
        ...(maxlen ? { maxlen } : {}),
        ...(scaler ? { scaler } : {}),
        ...(window ? { window } : {}),
      });
    } catch (err) {
      if (err instanceof ImportError) throw new BadRequestException([err.message]);
      throw err;
    }
    const existing = await this.registry.getModel(name);
    const latestTask = existing?.versions[existing.versions.length - 1]?.task;
    if (latestTask && latestTask !== prepared.task) throw new BadRequestException([`task must be ${latestTask} (the model's task)`]);
    const version = await this.registry.createVersion(name, prepared.files, {
      task: prepared.task,
      parentVersion: null,
      dataRange: { kind: 'import' },
      source: 'imported',
      policy: body.policy ?? 'reset',
      params: body.note ? { note: body.note } : {},
    });
    const activate = body.activate === true;
    const active = activate ? await this.registry.activate(name, version) : null;
    if (active) this.metrics.activations.inc();
    return { model: name, version, task: prepared.task, active, meta: await this.registry.getVersion(name, version) };
  }

  @Post(':name/versions/:version/activate')
  @HttpCode(200)
  async activate(@Param('name') name: string, @Param('version', VersionPipe) version: number, @Body() body: ActivateDto) {
    modelName(name);
    const pointer = await this.registry.activate(name, version, body?.policy);
    this.metrics.activations.inc();
    return { model: name, active: pointer };
  }
}
