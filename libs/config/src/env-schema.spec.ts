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

  it('runs cross-variable checks once every variable parsed', () => {
    const guarded = { ...spec, OPEN: env.boolean('no auth', false, true) };
    const check = (v: { TOKEN: string | undefined; OPEN: boolean }) =>
      v.TOKEN === undefined && !v.OPEN ? [{ variable: 'TOKEN', message: 'is required unless OPEN=true' }] : [];
    expect(() => validateEnv(guarded, { KAFKA_BROKERS: 'k:1' }, check)).toThrow('TOKEN: is required unless OPEN=true');
    expect(validateEnv(guarded, { KAFKA_BROKERS: 'k:1', OPEN: 'true' }, check).OPEN).toBe(true);
    // A variable's own problem is reported first; the check does not run on half-parsed values.
    const calls: unknown[] = [];
    expect(() => validateEnv(guarded, { KAFKA_BROKERS: 'nope' }, (v) => (calls.push(v), []))).toThrow(/KAFKA_BROKERS/);
    expect(calls).toEqual([]);
  });

  it('refuses short secrets without echoing them, and keeps optional values undefined', () => {
    const s = { TOKEN: env.secret('token', 16), DIR: env.optional(env.string('dir', '/ignored')) };
    expect(validateEnv(s, {})).toEqual({ TOKEN: undefined, DIR: undefined });
    expect(validateEnv(s, { TOKEN: ' '.repeat(2) + 'x'.repeat(16), DIR: '/d' })).toEqual({ TOKEN: 'x'.repeat(16), DIR: '/d' });
    expect(() => validateEnv(s, { TOKEN: 'm' })).toThrow('TOKEN: must be at least 16 characters');
    const echoing = { TOKEN: { ...env.secret('token'), parse: (raw: string): string => { throw new Error(`"${raw}" is bad, ${raw}`); } } };
    expect(() => validateEnv(echoing, { TOKEN: 'hunter2-long' })).toThrow('TOKEN: "***" is bad, ***');
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
