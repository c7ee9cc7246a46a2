import { Logger } from '@nestjs/common';
import { BootFailure, EnvValidationError, failBoot } from '@app/config';
import { loadTrainerConfig, type TrainerConfig } from './config/trainer-config';
import { DependencyUnreachableError } from './infra';

/** Exit codes (apps/trainer/README.md): 2 invalid configuration, 3 Kafka or Redis unreachable, 1 other. */
const EXIT_INVALID_CONFIG = 2;
const EXIT_UNREACHABLE = 3;
const EXIT_OTHER = 1;

async function main(): Promise<void> {
  const log = new Logger('trainer');
  let config: TrainerConfig;
  try {
    config = loadTrainerConfig();
  } catch (err) {
    if (err instanceof EnvValidationError) failBoot(err.message, EXIT_INVALID_CONFIG);
    throw err;
  }
  if (config.adminToken === null) log.warn('ADMIN_AUTH_DISABLED=true: the admin API accepts unauthenticated requests');
  // Loaded only now: a configuration error is reported before Nest, tfjs and the HTTP stack load.
  const { createTrainerApp } = await import('./trainer-app');
  try {
    const { app } = await createTrainerApp(config);
    await app.listen(config.port, config.host);
    log.log(`admin API on http://${config.host}:${config.port} (OpenAPI at /docs), instance ${config.instanceId}`);
  } catch (err) {
    if (err instanceof DependencyUnreachableError) failBoot(err.message, EXIT_UNREACHABLE);
    throw err;
  }
}

void main().catch((err: unknown) => {
  if (err instanceof BootFailure) return; // already reported; the exit is under way
  try {
    failBoot(`trainer failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`, EXIT_OTHER);
  } catch {
    // failBoot throws BootFailure once the exit is scheduled; nothing is left to do here.
  }
});
