import { Kafka, logLevel as KafkaJsLogLevel, type LogEntry, type SASLOptions, type logCreator } from 'kafkajs';
import {
  KAFKA_CLIENT_DEFAULTS,
  type KafkaClientConfig,
  type KafkaLogLevel,
  type KafkaLogSink,
  type KafkaSaslLogin,
} from './kafka-config';

const LEVELS: Record<KafkaLogLevel, KafkaJsLogLevel> = {
  nothing: KafkaJsLogLevel.NOTHING,
  error: KafkaJsLogLevel.ERROR,
  warn: KafkaJsLogLevel.WARN,
  info: KafkaJsLogLevel.INFO,
  debug: KafkaJsLogLevel.DEBUG,
};

/** Maps a level name to the kafkajs numeric level. */
export function toKafkaJsLogLevel(level: KafkaLogLevel): KafkaJsLogLevel {
  return LEVELS[level];
}

const consoleSink: KafkaLogSink = {
  error: (m) => console.error(m),
  warn: (m) => console.warn(m),
  log: (m) => console.log(m),
  debug: (m) => console.debug(m),
};

/** A kafkajs log creator that writes one line per entry to `sink`. */
export function kafkaLogCreator(sink: KafkaLogSink): logCreator {
  return () =>
    ({ namespace, level, log }: LogEntry) => {
      const { message, ...extra } = log;
      const rest = Object.keys(extra).length > 0 ? ` ${safeJson(extra)}` : '';
      const line = `[kafkajs${namespace ? ` ${namespace}` : ''}] ${message}${rest}`;
      switch (level) {
        case KafkaJsLogLevel.ERROR:
          sink.error(line);
          break;
        case KafkaJsLogLevel.WARN:
          sink.warn(line);
          break;
        case KafkaJsLogLevel.INFO:
          sink.log(line);
          break;
        case KafkaJsLogLevel.DEBUG:
          (sink.debug ?? sink.log).call(sink, line);
          break;
        case KafkaJsLogLevel.NOTHING:
          break;
      }
    };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/**
 * Creates a kafkajs client from a typed config. The caller creates producers, consumers and
 * admins from it and disconnects them; the client itself holds no connection.
 */
export function createKafkaClient(config: KafkaClientConfig): Kafka {
  if (config.brokers.length === 0) throw new Error('createKafkaClient: at least one broker is required');
  const retry = { ...KAFKA_CLIENT_DEFAULTS.retry, ...config.retry };
  return new Kafka({
    clientId: config.clientId,
    brokers: [...config.brokers],
    connectionTimeout: config.connectionTimeoutMs ?? KAFKA_CLIENT_DEFAULTS.connectionTimeoutMs,
    requestTimeout: config.requestTimeoutMs ?? KAFKA_CLIENT_DEFAULTS.requestTimeoutMs,
    retry: {
      retries: retry.retries,
      initialRetryTime: retry.initialRetryTimeMs,
      maxRetryTime: retry.maxRetryTimeMs,
    },
    logLevel: toKafkaJsLogLevel(config.logLevel ?? KAFKA_CLIENT_DEFAULTS.logLevel),
    logCreator: kafkaLogCreator(config.logger ?? consoleSink),
    ...kafkaJsSasl(config.sasl),
  });
}

/** The `sasl` option of a kafkajs client for a login (none for null or absent). */
export function kafkaJsSasl(login: KafkaSaslLogin | null | undefined): { sasl?: SASLOptions } {
  if (!login) return {};
  const sasl: SASLOptions = { mechanism: login.mechanism, username: login.username, password: login.password };
  return { sasl };
}
