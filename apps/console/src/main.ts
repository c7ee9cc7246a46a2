import { createLogger, probeDependencies, runBoot } from '@app/config';
import { probeKafka } from '@app/kafka';
import { loadConsoleConfig } from './config/console-config';

// Exit codes and the failure line are @app/config's boot contract: 2 invalid configuration,
// 3 Kafka unreachable within BOOT_PROBE_TIMEOUT, 1 anything else.
runBoot('console', async () => {
  const config = loadConsoleConfig();
  const root = createLogger(config.logLevel);
  await probeDependencies(
    [{ name: 'Kafka', variable: 'KAFKA_BROKERS', probe: (ms) => probeKafka({ brokers: config.kafkaBrokers, clientId: config.kafkaClientId, sasl: config.kafkaSasl, logLevel: 'error' }, ms) }],
    config.bootProbeTimeoutMs,
  );
  const { createConsoleApp } = await import('./console-app');
  const { app } = await createConsoleApp(config, root);
  await app.listen(config.port, config.host);
  const addr = (app.getHttpServer() as { address(): { port: number } }).address();
  root
    .child({ context: 'console' })
    .info(`console on http://${config.host}:${addr.port} (trainer ${config.trainerUrl}, ${config.workerUrls.length} worker(s) scraped)`);
});
