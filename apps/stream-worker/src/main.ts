import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { createLogger, nestLogger, runBoot } from '@app/config';
import { loadWorkerConfig } from './config/worker-config';
import { WorkerLogger } from './observability/worker-logger';
import { WorkerModule } from './worker.module';

/** SIGTERM must end the process within 10 s (docs/architecture.md, Process contract); leave margin for exit itself. */
const SHUTDOWN_GRACE_MS = 9_000;

// Exit codes and the failure line are @app/config's boot contract: 2 invalid configuration
// (validated here, before Nest starts), 3 Kafka or Redis unreachable within BOOT_PROBE_TIMEOUT
// (probed by the runtime when the context starts), 1 anything else.
runBoot('stream-worker', async () => {
  const cfg = loadWorkerConfig(process.env);
  const log = new WorkerLogger(cfg.logLevel, 'stream-worker');
  const app = await NestFactory.createApplicationContext(WorkerModule, {
    logger: nestLogger(createLogger('warn')),
    abortOnError: false,
  });
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    setTimeout(() => {
      log.error(`shutdown exceeded ${SHUTDOWN_GRACE_MS} ms; exiting`, { signal });
      process.exit(0);
    }, SHUTDOWN_GRACE_MS).unref();
    app.close().then(
      () => process.exit(0),
      (e: Error) => {
        log.error('shutdown failed', { error: e.message });
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
});
