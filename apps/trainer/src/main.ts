import { createLogger, runBoot } from '@app/config';
import { loadTrainerConfig } from './config/trainer-config';
import { probeInfra } from './infra';

// Exit codes and the failure line are @app/config's boot contract: 2 invalid configuration
// (validated here, before anything connects), 3 Kafka or Redis unreachable within
// BOOT_PROBE_TIMEOUT, 1 anything else.
runBoot('trainer', async () => {
  const config = loadTrainerConfig();
  const root = createLogger(config.logLevel);
  const log = root.child({ context: 'trainer' });
  if (config.adminToken === null) log.warn('ADMIN_AUTH_DISABLED=true: the admin API accepts unauthenticated requests');
  // Probed before Nest, tfjs and the HTTP stack load, so an unreachable dependency is reported
  // BOOT_PROBE_TIMEOUT after the start, not after the module loading too.
  await probeInfra(config);
  const { createTrainerApp } = await import('./trainer-app');
  const { app } = await createTrainerApp(config, undefined, root);
  await app.listen(config.port, config.host);
  log.info(`admin API on http://${config.host}:${config.port} (OpenAPI at /docs), instance ${config.instanceId}`);
});
