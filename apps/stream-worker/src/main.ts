import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { ConfigError, loadWorkerConfig } from './config/worker-config';
import { WorkerModule } from './worker.module';

/** SIGTERM must end the process within 10 s (docs/architecture.md, Process contract); leave margin for exit itself. */
const SHUTDOWN_GRACE_MS = 9_000;

function fatal(msg: string, extra: Record<string, unknown> = {}): never {
  process.stderr.write(JSON.stringify({ time: new Date().toISOString(), level: 'error', context: 'stream-worker', msg, ...extra }) + '\n');
  process.exit(1);
}

async function main(): Promise<void> {
  // Validate before Nest starts so the message is exactly the variable's problem.
  try {
    loadWorkerConfig(process.env);
  } catch (e) {
    if (e instanceof ConfigError) fatal(`invalid configuration: ${e.message}`, { variable: e.variable });
    throw e;
  }
  const app = await NestFactory.createApplicationContext(WorkerModule, { logger: ['error', 'warn'], abortOnError: false });
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    setTimeout(() => {
      process.stderr.write(JSON.stringify({ level: 'error', msg: `shutdown exceeded ${SHUTDOWN_GRACE_MS} ms; exiting`, signal }) + '\n');
      process.exit(0);
    }, SHUTDOWN_GRACE_MS).unref();
    app.close().then(
      () => process.exit(0),
      (e: Error) => fatal('shutdown failed', { error: e.message }),
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((e: Error) => fatal(`worker failed to start: ${e.message}`, { error: e.name }));
