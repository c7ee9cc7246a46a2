import { hostname } from 'node:os';
import { EnvValidationError } from '@app/config';
import { loadTrainerConfig, topicAllowed } from './trainer-config';

const base = { REDIS_URL: 'redis://127.0.0.1:6379', KAFKA_BROKERS: 'k1:9092,k2:9092', ADMIN_TOKEN: 'a'.repeat(32) };

function problemOf(env: Record<string, string | undefined>): EnvValidationError {
  try {
    loadTrainerConfig(env);
  } catch (err) {
    if (err instanceof EnvValidationError) return err;
    throw err;
  }
  throw new Error('the environment was accepted');
}

describe('loadTrainerConfig', () => {
  it('parses a valid environment with the documented defaults', () => {
    expect(loadTrainerConfig(base)).toEqual({
      port: 3001,
      host: '0.0.0.0',
      redisUrl: 'redis://127.0.0.1:6379',
      redisCluster: false,
      redisSentinelMaster: null,
      kafkaBrokers: ['k1:9092', 'k2:9092'],
      kafkaClientId: 'streamcell-trainer',
      kafkaSasl: null,
      logLevel: 'info',
      modelsTopic: 'streamcell.models',
      inputTopics: { forecast: 'sensor.readings', classify: 'text.events' },
      accuracyTopic: 'streamcell.accuracy',
      accuracyPublishMs: 10_000,
      policyLoopMs: 5_000,
      adminToken: 'a'.repeat(32),
      dataDir: null,
      sourceTopics: ['sensor.readings', 'text.events'],
      instanceId: hostname(),
      maxUploadBytes: 64 * 1024 * 1024,
      maxJobs: 2,
      jobMemoryMb: 2048,
      maxDataBytes: 256 * 1024 * 1024,
      forecastBackend: 'wasm',
      textBackend: 'wasm',
      bootProbeTimeoutMs: 20_000,
    });
  });

  it('reads every variable when set', () => {
    const c = loadTrainerConfig({
      ...base,
      KAFKA_CLIENT_ID: 'trainer-a',
      MODELS_TOPIC: 'models.v2',
      TRAINER_PORT: '0',
      TRAINER_HOST: ' 127.0.0.1 ',
      TRAINER_DATA_DIR: '/data',
      TRAINER_INSTANCE_ID: 'trainer-0',
      TRAINER_MAX_UPLOAD_BYTES: '2048',
      TRAINER_SOURCE_TOPICS: 'sensor.readings, plant.*',
      TRAINER_MAX_JOBS: '4',
      TRAINER_JOB_MEMORY_MB: '512',
      TRAINER_MAX_DATA_BYTES: '4096',
      TRAINER_FORECAST_BACKEND: 'cpu',
      TRAINER_TEXT_BACKEND: 'cpu',
      BOOT_PROBE_TIMEOUT: '5s',
    });
    expect(c).toMatchObject({
      kafkaClientId: 'trainer-a',
      modelsTopic: 'models.v2',
      port: 0,
      host: '127.0.0.1',
      dataDir: '/data',
      instanceId: 'trainer-0',
      maxUploadBytes: 2048,
      sourceTopics: ['sensor.readings', 'plant.*'],
      maxJobs: 4,
      jobMemoryMb: 512,
      maxDataBytes: 4096,
      forecastBackend: 'cpu',
      textBackend: 'cpu',
      bootProbeTimeoutMs: 5000,
    });
  });

  it.each([
    [{ ...base, REDIS_URL: undefined }, 'REDIS_URL', /REDIS_URL: is required/],
    [{ ...base, REDIS_URL: 'localhost:6379' }, 'REDIS_URL', /REDIS_URL: "localhost:6379" must start with redis:\/\/ or rediss:\/\//],
    [{ ...base, KAFKA_BROKERS: 'k1' }, 'KAFKA_BROKERS', /KAFKA_BROKERS: "k1" is not host:port/],
    [{ ...base, ADMIN_TOKEN: undefined }, 'ADMIN_TOKEN', /ADMIN_TOKEN: is required \(set ADMIN_AUTH_DISABLED=true/],
    [{ ...base, ADMIN_TOKEN: 'short' }, 'ADMIN_TOKEN', /ADMIN_TOKEN: must be at least 16 characters/],
    [{ ...base, ADMIN_AUTH_DISABLED: 'yes' }, 'ADMIN_AUTH_DISABLED', /ADMIN_AUTH_DISABLED: "yes" must be "true" or "false"/],
    [{ ...base, TRAINER_PORT: '70000' }, 'TRAINER_PORT', /TRAINER_PORT: "70000" is not a port/],
    [{ ...base, TRAINER_PORT: 'eighty' }, 'TRAINER_PORT', /TRAINER_PORT: "eighty" is not an integer/],
    [{ ...base, TRAINER_MAX_UPLOAD_BYTES: '10' }, 'TRAINER_MAX_UPLOAD_BYTES', /TRAINER_MAX_UPLOAD_BYTES: "10" is not an integer in \[1024, 1073741824\]/],
    [{ ...base, TRAINER_TEXT_BACKEND: 'gpu' }, 'TRAINER_TEXT_BACKEND', /TRAINER_TEXT_BACKEND: "gpu" is not one of wasm, cpu/],
    [{ ...base, MODELS_TOPIC: 'has space' }, 'MODELS_TOPIC', /MODELS_TOPIC: "has space" is not a topic name/],
    [{ ...base, TRAINER_SOURCE_TOPICS: 'ok,bad topic' }, 'TRAINER_SOURCE_TOPICS', /TRAINER_SOURCE_TOPICS: "bad topic" is not a topic name/],
    [{ ...base, TRAINER_SOURCE_TOPICS: ' , ' }, 'TRAINER_SOURCE_TOPICS', /TRAINER_SOURCE_TOPICS: lists no topic/],
    [{ ...base, TRAINER_SOURCE_TOPICS: '*' }, 'TRAINER_SOURCE_TOPICS', /TRAINER_SOURCE_TOPICS: "" is not a topic name/],
    [{ ...base, TRAINER_MAX_JOBS: '0' }, 'TRAINER_MAX_JOBS', /TRAINER_MAX_JOBS: "0" is not an integer in \[1, 64\]/],
    [{ ...base, TRAINER_JOB_MEMORY_MB: '64' }, 'TRAINER_JOB_MEMORY_MB', /TRAINER_JOB_MEMORY_MB: "64" is not an integer in \[128, 65536\]/],
    [{ ...base, BOOT_PROBE_TIMEOUT: 'soon' }, 'BOOT_PROBE_TIMEOUT', /BOOT_PROBE_TIMEOUT: "soon" is not a duration/],
  ])('names the offending variable (%#)', (env, variable, msg) => {
    const err = problemOf(env);
    expect(err.variable).toBe(variable);
    expect(err.message).toMatch(msg);
  });

  it('matches source topics exactly or by a prefix ending in *', () => {
    const { sourceTopics } = loadTrainerConfig({ ...base, TRAINER_SOURCE_TOPICS: 'sensor.readings,plant.*' });
    expect(topicAllowed(sourceTopics, 'sensor.readings')).toBe(true);
    expect(topicAllowed(sourceTopics, 'sensor.readings.x')).toBe(false);
    expect(topicAllowed(sourceTopics, 'plant.a')).toBe(true);
    expect(topicAllowed(sourceTopics, 'plan')).toBe(false);
    expect(topicAllowed(sourceTopics, '__consumer_offsets')).toBe(false);
  });

  it('names every bad variable at once and never echoes the token', () => {
    const err = problemOf({ ...base, KAFKA_BROKERS: 'k1', ADMIN_TOKEN: 'not-long-secret', TRAINER_FORECAST_BACKEND: 'gpu' });
    expect(err.problems.map((p) => p.variable)).toEqual(['KAFKA_BROKERS', 'ADMIN_TOKEN', 'TRAINER_FORECAST_BACKEND']);
    expect(err.message).not.toContain('not-long-secret');
  });

  it('runs without a token only when ADMIN_AUTH_DISABLED=true', () => {
    expect(loadTrainerConfig({ ...base, ADMIN_TOKEN: '', ADMIN_AUTH_DISABLED: 'true' }).adminToken).toBeNull();
    expect(loadTrainerConfig({ ...base, ADMIN_AUTH_DISABLED: 'TRUE' }).adminToken).toBeNull();
    expect(problemOf({ ...base, ADMIN_TOKEN: '', ADMIN_AUTH_DISABLED: 'false' }).variable).toBe('ADMIN_TOKEN');
    expect(problemOf({ ...base, ADMIN_TOKEN: '  ' }).variable).toBe('ADMIN_TOKEN');
    // A switch that weakens security takes only the word, not 1/on/yes.
    for (const loose of ['1', 'on', 'yes']) {
      expect(problemOf({ ...base, ADMIN_TOKEN: undefined, ADMIN_AUTH_DISABLED: loose }).variable).toBe('ADMIN_AUTH_DISABLED');
    }
  });

  it('REDIS_CLUSTER=true takes a list of seed nodes; other values are refused naming the variable', () => {
    const seeds = 'redis://10.0.0.1:7000,redis://10.0.0.2:7000';
    expect(loadTrainerConfig({ ...base, REDIS_URL: seeds, REDIS_CLUSTER: 'true' })).toMatchObject({ redisUrl: seeds, redisCluster: true });
    expect(problemOf({ ...base, REDIS_CLUSTER: 'cluster' }).variable).toBe('REDIS_CLUSTER');
  });

  it('REDIS_SENTINEL_MASTER names the master behind the Sentinels of REDIS_URL; not with REDIS_CLUSTER', () => {
    expect(loadTrainerConfig({ ...base, REDIS_SENTINEL_MASTER: 'streamcell' }).redisSentinelMaster).toBe('streamcell');
    expect(loadTrainerConfig(base).redisSentinelMaster).toBeNull();
    expect(problemOf({ ...base, REDIS_CLUSTER: 'true', REDIS_SENTINEL_MASTER: 'streamcell' }).variable).toBe('REDIS_SENTINEL_MASTER');
  });
});
