import { EnvValidationError, clearEnvCache, env, loadEnv, validateEnv } from './env-schema';
import { SHARED_ENV } from './shared-env';

describe('validateEnv', () => {
  const spec = {
    KAFKA_BROKERS: env.brokers('brokers'),
    HTTP_PORT: env.port('port', 8080),
    TIMEOUT: env.durationMs('timeout', '5s'),
    TOKEN: env.secret('admin token'),
  };

  it('returns typed values with defaults applied', () => {
    const v = validateEnv(spec, { KAFKA_BROKERS: 'k:9092' });
    expect(v).toEqual({ KAFKA_BROKERS: ['k:9092'], HTTP_PORT: 8080, TIMEOUT: 5000, TOKEN: undefined });
  });

  it('names a missing variable', () => {
    expect(() => validateEnv(spec, {})).toThrow('KAFKA_BROKERS: is required (brokers)');
  });

  it('names every invalid variable at once', () => {
    let error: EnvValidationError | undefined;
    try {
      validateEnv(spec, { KAFKA_BROKERS: 'nope', HTTP_PORT: '99999' });
    } catch (e) {
      error = e as EnvValidationError;
    }
    expect(error).toBeInstanceOf(EnvValidationError);
    expect(error!.problems.map((p) => p.variable)).toEqual(['KAFKA_BROKERS', 'HTTP_PORT']);
    expect(error!.variable).toBe('KAFKA_BROKERS');
    expect(error!.message).toContain('KAFKA_BROKERS: "nope" is not host:port');
    expect(error!.message).toContain('HTTP_PORT: "99999" is not a port');
  });

  it('treats empty strings as unset', () => {
    expect(validateEnv(spec, { KAFKA_BROKERS: 'k:1', HTTP_PORT: '  ' }).HTTP_PORT).toBe(8080);
  });

  it('caches per spec until cleared', () => {
    const saved = { ...process.env };
    try {
      process.env.KAFKA_BROKERS = 'one:1';
      process.env.REDIS_URL = 'redis://r:6379';
      clearEnvCache(SHARED_ENV);
      const first = loadEnv(SHARED_ENV);
      process.env.KAFKA_BROKERS = 'two:2';
      expect(loadEnv(SHARED_ENV)).toBe(first);
      expect(first.KAFKA_BROKERS).toEqual(['one:1']);
      expect(Object.isFrozen(first)).toBe(true);
      clearEnvCache(SHARED_ENV);
      expect(loadEnv(SHARED_ENV).KAFKA_BROKERS).toEqual(['two:2']);
    } finally {
      process.env = saved;
      clearEnvCache(SHARED_ENV);
    }
  });
});
