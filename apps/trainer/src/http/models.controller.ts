import {
  BadRequestException,
  Body,
  ConflictException,
  Controller,
  Get,
  HttpCode,
  Inject,
  NotFoundException,
  Param,
  ParseIntPipe,
  Post,
  UploadedFiles,
  UseGuards,
  UseInterceptors,
} from '@nestjs/common';
import { AnyFilesInterceptor } from '@nestjs/platform-express';
import { ApiBearerAuth, ApiConsumes, ApiTags } from '@nestjs/swagger';
import { isAbsolute, relative, resolve } from 'node:path';
import { ModelRegistry, assertModelName } from '@app/registry';
import { TRAINER_CONFIG, type TrainerConfig } from '../config/trainer-config';
import { JobConflictError, JobRunner } from '../jobs/job-runner';
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
        const path = resolve(s.path!);
        if (this.config.dataDir) {
          const rel = relative(resolve(this.config.dataDir), path);
          if (rel.startsWith('..') || isAbsolute(rel)) throw new BadRequestException([`source.path must be under TRAINER_DATA_DIR`]);
        }
        source = { kind: 'file', path, ...(s.format ? { format: s.format } : {}) };
        break;
      }
      case 'upload':
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
          ...(body.textMode !== undefined ? { textMode: body.textMode } : {}),
        },
        activate: body.activate ?? 'if-better',
        ...(body.policy ? { policy: body.policy } : {}),
      });
      this.metrics.running.inc();
      return { jobId: job.id, status: job.status, model: name, task, links: { job: `/v1/jobs/${job.id}`, events: `/v1/jobs/${job.id}/events` } };
    } catch (err) {
      if (err instanceof JobConflictError) throw new ConflictException({ statusCode: 409, error: 'job_running', message: err.message, runningJobId: err.runningJobId });
      throw err;
    }
  }

  @Post(':name/versions')
  @ApiConsumes('application/json', 'multipart/form-data')
  @UseInterceptors(AnyFilesInterceptor({ limits: { fileSize: 512 * 1024 * 1024 } }))
  async importVersion(
    @Param('name') name: string,
    @Body() body: ImportVersionDto,
    @UploadedFiles() uploaded: { originalname: string; fieldname: string; buffer: Buffer }[] | undefined,
  ) {
    modelName(name);
    const files = new Map<string, Buffer>();
    for (const f of uploaded ?? []) files.set(f.originalname || f.fieldname, f.buffer);
    for (const [file, b64] of Object.entries(body.files ?? {})) {
      if (typeof b64 !== 'string' || !/^[A-Za-z0-9+/=\s]*$/.test(b64)) throw new BadRequestException([`files.${file} must be base64`]);
      files.set(file, Buffer.from(b64, 'base64'));
    }
    if (files.size === 0) throw new BadRequestException(['files must contain model.json, weights and a sidecar or tokenizer.json']);
    const { labels, scaler, maxlen, window, padding, textMode } = body;
    let prepared;
    try {
      prepared = await prepareImport(files, {
        name,
        ...(body.task ? { task: body.task } : {}),
        ...(labels ? { labels } : {}),
        ...(maxlen ? { maxlen } : {}),
        ...(scaler ? { scaler } : {}),
        ...(window ? { window } : {}),
        ...(padding ? { padding } : {}),
        ...(textMode ? { mode: textMode } : {}),
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
  async activate(@Param('name') name: string, @Param('version', ParseIntPipe) version: number, @Body() body: ActivateDto) {
    modelName(name);
    const pointer = await this.registry.activate(name, version, body?.policy);
    this.metrics.activations.inc();
    return { model: name, active: pointer };
  }
}
