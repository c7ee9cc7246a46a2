import { Logger } from '@nestjs/common';
import { BootFailure, EnvValidationError, failBoot } from '@app/config';
import { KafkaUnreachableError, probeKafka } from '@app/kafka';
import { loadConsoleConfig, type ConsoleConfig } from './config/console-config';

/** Exit codes (apps/console/README.md): 2 invalid configuration, 3 Kafka unreachable, 1 other. */
const EXIT_INVALID_CONFIG = 2;
const EXIT_UNREACHABLE = 3;
const EXIT_OTHER = 1;

async function main(): Promise<void> {
  const log = new Logger('console');
  let config: ConsoleConfig;
  try {
    config = loadConsoleConfig();
  } catch (err) {
    if (err instanceof EnvValidationError) failBoot(err.message, EXIT_INVALID_CONFIG);
    throw err;
  }
  try {
    await probeKafka({ brokers: config.kafkaBrokers, clientId: config.kafkaClientId }, config.bootProbeTimeoutMs);
  } catch (err) {
    if (err instanceof KafkaUnreachableError) failBoot(err.message, EXIT_UNREACHABLE);
    throw err;
  }
  const { createConsoleApp } = await import('./console-app');
  const { app } = await createConsoleApp(config);
  await app.listen(config.port, config.host);
  const addr = (app.getHttpServer() as { address(): { port: number } }).address();
  log.log(`console on http://${config.host}:${addr.port} (trainer ${config.trainerUrl}, ${config.workerUrls.length} worker(s) scraped)`);
}

void main().catch((err: unknown) => {
  if (err instanceof BootFailure) return;
  try {
    failBoot(`console failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`, EXIT_OTHER);
  } catch {
    // failBoot throws BootFailure once the exit is scheduled; nothing is left to do here.
  }
});
