/**
 * @packageDocumentation
 * Boot configuration of streamcell apps: typed, cached environment validation that names the
 * variable, shared value parsers, `failBoot`, the Redis boot probe, and the Nest `ConfigModule`
 * wiring with `kafka` and `redis` namespaces. See libs/config/README.md for the boot contract.
 */

/** Exit helper for boot failures. */
export { failBoot, BootFailure } from './boot-failure';
/** Value parsers shared by both apps. */
export {
  parseBrokerList,
  parseRedisUrl,
  redactUrl,
  parsePort,
  parsePositiveInt,
  parseNonNegativeInt,
  parseIntInRange,
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
/** Redis boot probe. */
export { probeRedis, RedisUnreachableError } from './redis-probe';
/** Nest integration. */
export { streamcellConfigModule, kafkaConfig, redisConfig, type KafkaNamespace, type RedisNamespace } from './config.module';
