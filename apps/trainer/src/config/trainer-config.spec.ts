import { ConfigError, loadTrainerConfig } from './trainer-config';

const base = { REDIS_URL: 'redis://127.0.0.1:6379', KAFKA_BROKERS: 'k1:9092,k2:9092', ADMIN_TOKEN: 'a'.repeat(32) };

describe('loadTrainerConfig', () => {
  it('parses a valid environment with defaults', () => {
    const c = loadTrainerConfig(base);
    expect(c.kafkaBrokers).toEqual(['k1:9092', 'k2:9092']);
    expect(c.port).toBe(3001);
    expect(c.modelsTopic).toBe('streamcell.models');
    expect(c.adminToken).toBe('a'.repeat(32));
    expect(c.textBackend).toBe('wasm');
  });

  it.each([
    [{ ...base, REDIS_URL: undefined }, /REDIS_URL is required/],
    [{ ...base, REDIS_URL: 'localhost:6379' }, /REDIS_URL must start/],
    [{ ...base, KAFKA_BROKERS: 'k1' }, /KAFKA_BROKERS must be host:port/],
    [{ ...base, ADMIN_TOKEN: undefined }, /ADMIN_TOKEN is required/],
    [{ ...base, ADMIN_TOKEN: 'short' }, /ADMIN_TOKEN must be at least 16/],
    [{ ...base, ADMIN_AUTH_DISABLED: 'yes' }, /ADMIN_AUTH_DISABLED must be/],
    [{ ...base, TRAINER_PORT: '70000' }, /TRAINER_PORT must be an integer/],
    [{ ...base, TRAINER_TEXT_BACKEND: 'gpu' }, /TRAINER_TEXT_BACKEND must be wasm or cpu/],
  ])('names the offending variable (%#)', (env, msg) => {
    expect(() => loadTrainerConfig(env as NodeJS.ProcessEnv)).toThrow(ConfigError);
    expect(() => loadTrainerConfig(env as NodeJS.ProcessEnv)).toThrow(msg);
  });

  it('runs without a token only when ADMIN_AUTH_DISABLED=true', () => {
    expect(loadTrainerConfig({ ...base, ADMIN_TOKEN: '', ADMIN_AUTH_DISABLED: 'true' }).adminToken).toBeNull();
    expect(() => loadTrainerConfig({ ...base, ADMIN_TOKEN: '', ADMIN_AUTH_DISABLED: 'false' })).toThrow(/ADMIN_TOKEN/);
  });
});
