/** Minimal logger the Kafka client reports to; Nest's `Logger` and `console` both fit. */
export interface KafkaLogSink {
  error(message: string): void;
  warn(message: string): void;
  log(message: string): void;
  debug?(message: string): void;
}

/** Client log levels, from quietest to noisiest. */
export type KafkaLogLevel = 'nothing' | 'error' | 'warn' | 'info' | 'debug';

/** Retry policy of the client's own requests (kafkajs `retry`). */
export interface KafkaRetryConfig {
  /** Attempts after the first one. */
  readonly retries: number;
  /** First backoff, ms. */
  readonly initialRetryTimeMs: number;
  /** Backoff cap, ms. */
  readonly maxRetryTimeMs: number;
}

/** Typed configuration of a Kafka client; see {@link createKafkaClient}. */
export interface KafkaClientConfig {
  /** Bootstrap brokers, `host:port` each. */
  readonly brokers: readonly string[];
  /** Client id shown in broker logs and quotas. */
  readonly clientId: string;
  /** TCP connect timeout per broker, ms (default 3000). */
  readonly connectionTimeoutMs?: number;
  /** Request timeout, ms (default 30000). */
  readonly requestTimeoutMs?: number;
  /** Request retry policy (default 8 retries, 300 ms doubling to 10 s). */
  readonly retry?: Partial<KafkaRetryConfig>;
  /** Client log level (default `warn`). */
  readonly logLevel?: KafkaLogLevel;
  /** Where client logs go (default: console). */
  readonly logger?: KafkaLogSink;
  /** SASL login (KAFKA_SASL_* of `@app/config`); none when absent or null. */
  readonly sasl?: KafkaSaslLogin | null;
}

/** A SASL/PLAIN or SASL/SCRAM login. */
export interface KafkaSaslLogin {
  readonly mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  readonly username: string;
  readonly password: string;
}

/** Defaults applied by {@link createKafkaClient}. */
export const KAFKA_CLIENT_DEFAULTS = {
  connectionTimeoutMs: 3000,
  requestTimeoutMs: 30000,
  retry: { retries: 8, initialRetryTimeMs: 300, maxRetryTimeMs: 10000 } satisfies KafkaRetryConfig,
  logLevel: 'warn' as KafkaLogLevel,
};
