import { Inject, Module, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { loadWorkerConfig, type WorkerConfig } from './config/worker-config';
import { WorkerLogger } from './observability/worker-logger';
import { WorkerRuntime } from './runtime/worker-runtime';

/** DI token of the validated worker configuration. */
export const WORKER_CONFIG = Symbol('WORKER_CONFIG');

/** Starts the runtime once the context is built and stops it on shutdown (SIGTERM path). */
class WorkerLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(@Inject(WorkerRuntime) private readonly runtime: WorkerRuntime) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.runtime.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.runtime.stop();
  }
}

/**
 * Root module of the worker: an application context (no HTTP stack; /health and /metrics are a
 * tiny node:http server inside the runtime). The configuration is validated when the module is
 * built, so a bad environment fails before anything connects.
 */
@Module({
  providers: [
    { provide: WORKER_CONFIG, useFactory: (): WorkerConfig => loadWorkerConfig(process.env) },
    {
      provide: WorkerLogger,
      useFactory: (cfg: WorkerConfig) => new WorkerLogger(cfg.logLevel),
      inject: [WORKER_CONFIG],
    },
    {
      provide: WorkerRuntime,
      useFactory: (cfg: WorkerConfig, logger: WorkerLogger) => new WorkerRuntime(cfg, logger),
      inject: [WORKER_CONFIG, WorkerLogger],
    },
    WorkerLifecycle,
  ],
  exports: [WorkerRuntime],
})
export class WorkerModule {}
