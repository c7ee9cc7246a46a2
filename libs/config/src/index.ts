/**
 * @packageDocumentation
 * Boot configuration of streamcell apps: typed, cached environment validation that names the
 * variable, shared value parsers, the boot helper (exit codes, probes with a deadline), the Redis
 * boot probe and the apps' log format. See libs/config/README.md for the boot contract.
 */

/** Boot: exit codes, dependency probes with a deadline, the failure line. */
export { BOOT_EXIT, failBoot, runBoot, probeDependencies, DependencyUnreachableError, type BootDependency } from './boot';
/** The apps' one log format (pino JSON lines). */
export { createLogger, nestLogger, LOG_LEVELS, type LogLevel, type Logger } from './logging';
/** Value parsers shared by both apps. */
export {
  parseBrokerList,
  parseRedisUrl,
  redactUrl,
  parsePort,
  parsePositiveInt,
  parseNonNegativeInt,
  parseIntInRange,
  durationBetween,
  parseDurationMs,
  parseTopicName,
  parseBoolean,
  oneOf,
} from './env-parsers';
/** Environment specs, validation and the cached loader. */
export {
  env,
  validateEnv,
  loadEnv,
  clearEnvCache,
  EnvValidationError,
  type EnvSpec,
  type EnvVarSpec,
  type EnvValues,
  type EnvProblem,
  type EnvCheck,
} from './env-schema';
/** Variables shared by every app. */
export { KAFKA_ENV, REDIS_ENV, BOOT_ENV, SHARED_ENV, redisEnvProblems, type SharedEnv } from './shared-env';
/** Kafka SASL login variables (all or none) and the login they describe. */
export { KAFKA_SASL_ENV, KAFKA_SASL_MECHANISMS, kafkaSasl, kafkaSaslProblems, type KafkaSasl } from './shared-env';
/** Checks that documentation tables of environment variables agree with a spec. */
export { parseEnvTables, envDocProblems, type EnvDocRow } from './env-docs';
/** Standard OpenTelemetry variables the apps validate at boot. */
export { otelEnv, OTEL_TRACES_EXPORTERS, OTEL_OTLP_PROTOCOLS, OTEL_SAMPLERS } from './otel-env';
/** Redis boot probe. */
export { probeRedis, RedisUnreachableError } from './redis-probe';
