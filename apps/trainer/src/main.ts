import { Logger } from '@nestjs/common';
import { ConfigError, loadTrainerConfig } from './config/trainer-config';
import { ProbeError } from './infra';
import { createTrainerApp } from './trainer-app';

async function main(): Promise<void> {
  const log = new Logger('trainer');
  let config;
  try {
    config = loadTrainerConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`trainer: invalid configuration: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  if (config.adminToken === null) log.warn('ADMIN_AUTH_DISABLED=true: the admin API accepts unauthenticated requests');
  try {
    const { app } = await createTrainerApp(config);
    await app.listen(config.port, config.host);
    log.log(`admin API on http://${config.host}:${config.port} (OpenAPI at /docs), instance ${config.instanceId}`);
  } catch (err) {
    if (err instanceof ProbeError) {
      console.error(`trainer: dependency unreachable: ${err.message}`);
      process.exit(3);
    }
    throw err;
  }
}

void main().catch((err: Error) => {
  console.error(`trainer: failed to start: ${err.stack ?? err.message}`);
  process.exit(1);
});
