import { Inject, Logger, Module, type DynamicModule, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { KafkaModelEventPublisher, ModelRegistry, PolicyStore, RegistryModule } from '@app/registry';
import { TRAINER_INFRA } from './app.tokens';
import { BacktestRunner } from './backtest/backtest-runner';
import { TRAINER_CONFIG, type TrainerConfig } from './config/trainer-config';
import { AccuracyController } from './http/accuracy.controller';
import { HealthController } from './http/health.controller';
import { JobsController } from './http/jobs.controller';
import { ModelsController } from './http/models.controller';
import { PolicyController } from './http/policy.controller';
import { StateController } from './http/state.controller';
import { TrainerMetrics } from './http/trainer-metrics';
import type { TrainerInfra } from './infra';
import { JobRunner } from './jobs/job-runner';
import { JobStore } from './jobs/job-store';
import { LoopRunner } from './policy/loop-runner';
import { AccuracyService } from './services/accuracy.service';
import { JobsService } from './services/jobs.service';

const CLOSE_INFRA = Symbol('CLOSE_INFRA');

/**
 * Every ACCURACY_PUBLISH_MS: live accuracy of every model version into the gauges and, when it
 * changed, to the compacted accuracy topic (docs/accuracy.md). A failed pass is retried next period.
 */
class AccuracyExport implements OnModuleInit, OnApplicationShutdown {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;

  constructor(
    @Inject(ModelRegistry) private readonly registry: ModelRegistry,
    @Inject(TrainerMetrics) private readonly metrics: TrainerMetrics,
    @Inject(TRAINER_INFRA) private readonly infra: TrainerInfra,
    @Inject(TRAINER_CONFIG) private readonly config: TrainerConfig,
  ) {}
  onModuleInit(): void {
    const service = new AccuracyService(this.infra.redis, this.registry);
    const sink = { set: (a: Parameters<TrainerMetrics['setAccuracy']>[0]) => this.metrics.setAccuracy(a) };
    this.timer = setInterval(() => {
      if (this.running) return; // the previous pass is still on it
      this.running = service
        .exportOnce(sink, this.infra.producer, this.config.accuracyTopic)
        .catch((err: Error) => new Logger('accuracy').warn(`live accuracy export failed (retried in ${this.config.accuracyPublishMs} ms): ${err.message}`))
        .finally(() => (this.running = null));
    }, this.config.accuracyPublishMs);
    this.timer.unref();
  }
  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}

/**
 * Every POLICY_LOOP_MS: the control loop over every model with a policy (docs/closed-loop.md).
 * A pass still running when the next is due is not doubled; a failed model is retried next period.
 */
class ControlLoop implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('ControlLoop');
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  private loop: LoopRunner | null = null;

  constructor(
    @Inject(ModelRegistry) private readonly registry: ModelRegistry,
    @Inject(PolicyStore) private readonly policies: PolicyStore,
    @Inject(JobRunner) private readonly runner: JobRunner,
    @Inject(TRAINER_INFRA) private readonly infra: TrainerInfra,
    @Inject(TRAINER_CONFIG) private readonly config: TrainerConfig,
  ) {}
  onModuleInit(): void {
    const loop = new LoopRunner({
      redis: this.infra.redis,
      registry: this.registry,
      policies: this.policies,
      jobs: new JobsService(this.registry, this.config),
      runner: this.runner,
      instanceId: this.config.instanceId,
      leaseMs: 3 * this.config.policyLoopMs,
      onError: (model, err) => this.logger.warn(`control loop of ${model}: ${err instanceof Error ? err.message : String(err)}`),
    });
    this.loop = loop;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = loop
        .tick()
        .catch((err: unknown) => this.logger.warn(`control loop: ${err instanceof Error ? err.message : String(err)}`))
        .finally(() => (this.running = null));
    }, this.config.policyLoopMs);
    this.timer.unref();
  }
  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
    const models = await this.registry.listModels().catch(() => []);
    await this.loop?.release(models.map((m) => m.name)).catch(() => undefined);
  }
}

/** Marks interrupted jobs failed at boot; kills running children at shutdown. */
class JobLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(JobRunner) private readonly runner: JobRunner,
    @Inject(TRAINER_INFRA) private readonly infra: TrainerInfra,
    @Inject(CLOSE_INFRA) private readonly closeInfra: boolean,
  ) {}
  async onModuleInit(): Promise<void> {
    await this.runner.startSweeping();
  }
  async onApplicationShutdown(): Promise<void> {
    await this.runner.shutdown();
    if (this.closeInfra) await this.infra.close();
  }
}

/** Root module of the trainer: admin HTTP, registry, job runner. */
@Module({})
export class TrainerModule {
  static forRoot(config: TrainerConfig, infra: TrainerInfra, opts: { closeInfra: boolean } = { closeInfra: true }): DynamicModule {
    return {
      module: TrainerModule,
      global: true,
      imports: [
        RegistryModule.registerAsync({
          useFactory: () => ({ redis: infra.redis, publisher: new KafkaModelEventPublisher(infra.producer, config.modelsTopic) }),
        }),
      ],
      controllers: [ModelsController, StateController, AccuracyController, PolicyController, JobsController, HealthController],
      providers: [
        { provide: TRAINER_CONFIG, useValue: config },
        { provide: TRAINER_INFRA, useValue: infra },
        { provide: CLOSE_INFRA, useValue: opts.closeInfra },
        TrainerMetrics,
        { provide: PolicyStore, useFactory: () => new PolicyStore(infra.redis) },
        {
          provide: JobRunner,
          inject: [ModelRegistry, TrainerMetrics],
          useFactory: (registry: ModelRegistry, metrics: TrainerMetrics) =>
            new JobRunner(new JobStore(infra.redis), registry, config, {
              onEpoch: (j) => metrics.onEpoch(j),
              onFinished: (j) => metrics.onFinished(j),
            }),
        },
        {
          provide: BacktestRunner,
          inject: [ModelRegistry],
          useFactory: (registry: ModelRegistry) => new BacktestRunner(infra.redis, registry, config),
        },
        JobLifecycle,
        AccuracyExport,
        ControlLoop,
      ],
      exports: [TRAINER_CONFIG],
    };
  }
}
