import type { DynamicModule } from '@nestjs/common';
import { ConfigModule, registerAs, type ConfigFactory, type ConfigType } from '@nestjs/config';
import { loadEnv, validateEnv, type EnvSpec } from './env-schema';
import { SHARED_ENV } from './shared-env';

/** `kafka` config namespace: the fields `createKafkaClient` of `@app/kafka` takes. */
export const kafkaConfig = registerAs('kafka', () => {
  const e = loadEnv(SHARED_ENV);
  return {
    brokers: e.KAFKA_BROKERS,
    clientId: e.KAFKA_CLIENT_ID,
    connectionTimeoutMs: e.KAFKA_CONNECTION_TIMEOUT,
    requestTimeoutMs: e.KAFKA_REQUEST_TIMEOUT,
    logLevel: e.KAFKA_LOG_LEVEL,
  };
});

/** `redis` config namespace. */
export const redisConfig = registerAs('redis', () => ({ url: loadEnv(SHARED_ENV).REDIS_URL }));

/** Typed values of the `kafka` namespace (inject with `@Inject(kafkaConfig.KEY)`). */
export type KafkaNamespace = ConfigType<typeof kafkaConfig>;
/** Typed values of the `redis` namespace. */
export type RedisNamespace = ConfigType<typeof redisConfig>;

/**
 * Global, cached `ConfigModule` that validates the shared variables plus `appSpec` once (its
 * `validate` hook throws `EnvValidationError` naming the variable) and loads the `kafka` and
 * `redis` namespaces plus `extraNamespaces`. Apps should still call `loadEnv` + `failBoot` in
 * main.ts before Nest starts, for a clean one-line exit (see libs/config/README.md).
 */
export function streamcellConfigModule(appSpec: EnvSpec = {}, extraNamespaces: ConfigFactory[] = []): Promise<DynamicModule> {
  const spec: EnvSpec = { ...SHARED_ENV, ...appSpec };
  return ConfigModule.forRoot({
    isGlobal: true,
    cache: true,
    ignoreEnvFile: true,
    load: [kafkaConfig, redisConfig, ...extraNamespaces],
    validate: (config: Record<string, unknown>) => {
      const strings: Record<string, string | undefined> = {};
      for (const [k, v] of Object.entries(config)) if (typeof v === 'string') strings[k] = v;
      return { ...config, ...validateEnv(spec, strings) };
    },
  });
}
