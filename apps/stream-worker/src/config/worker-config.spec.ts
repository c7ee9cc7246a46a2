import { ConfigError, loadWorkerConfig } from './worker-config';

const base = { KAFKA_BROKERS: '127.0.0.1:9092', REDIS_URL: 'redis://127.0.0.1:6379' };

describe('loadWorkerConfig', () => {
  it('applies the contract defaults', () => {
    const c = loadWorkerConfig(base);
    expect(c).toMatchObject({
      kafkaBrokers: ['127.0.0.1:9092'],
      kafkaGroupId: 'streamcell-worker',
      sensorTopic: 'sensor.readings',
      textTopic: 'text.events',
      forecastTopic: 'predictions.forecasts',
      classificationTopic: 'predictions.classifications',
      dlqTopic: 'streamcell.dlq',
      modelsTopic: 'streamcell.models',
      forecastModel: 'forecaster',
      classifyModel: 'classifier',
      httpPort: 9464,
      stateTtlMs: 604_800_000,
      maxEventGapMs: 0,
      allowedLatenessMs: 0,
      maxTextLength: 10_000,
      maxPayloadBytes: 65_536,
      dlqMaxBytes: 262_144,
      rewarmSteps: 16,
      logLevel: 'info',
      redisCluster: false,
      redisSentinelMaster: null,
      redisWaitReplicas: 0,
      redisWaitTimeoutMs: 1000,
      batchLingerMs: 0,
      stuckPartitionReadyMs: 60_000,
    });
  });

  it('tracing is off by default; the standard OTEL_* variables turn it on, a bad value names its variable', () => {
    expect(loadWorkerConfig(base).tracing).toEqual({ exporter: 'none', protocol: 'http/protobuf', serviceName: 'streamcell-worker' });
    const on = { ...base, OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_SERVICE_NAME: 'w1' };
    expect(loadWorkerConfig(on).tracing).toEqual({ exporter: 'otlp', protocol: 'http/json', serviceName: 'w1' });
    expect(loadWorkerConfig({ ...on, OTEL_SDK_DISABLED: 'true' }).tracing.exporter).toBe('none');
    for (const [variable, value] of [
      ['OTEL_TRACES_EXPORTER', 'jaeger'],
      ['OTEL_EXPORTER_OTLP_PROTOCOL', 'grpc'],
      ['OTEL_EXPORTER_OTLP_ENDPOINT', 'collector:4318'],
      ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'ftp://x/v1/traces'],
      ['OTEL_TRACES_SAMPLER', 'sometimes'],
      ['OTEL_TRACES_SAMPLER_ARG', '1.5'],
      ['OTEL_SDK_DISABLED', 'yes'],
    ]) {
      let err: unknown;
      try {
        loadWorkerConfig({ ...base, [variable]: value });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).variable).toBe(variable);
    }
  });

  it('reads the fetch linger and the stuck-partition readiness limit, naming a bad value', () => {
    expect(loadWorkerConfig({ ...base, BATCH_LINGER_MS: '5ms', STUCK_PARTITION_READY_MS: '2m' })).toMatchObject({
      batchLingerMs: 5,
      stuckPartitionReadyMs: 120_000,
    });
    expect(() => loadWorkerConfig({ ...base, BATCH_LINGER_MS: '5s' })).toThrow(/BATCH_LINGER_MS/);
    expect(() => loadWorkerConfig({ ...base, BATCH_LINGER_MS: 'soon' })).toThrow(/BATCH_LINGER_MS/);
    expect(() => loadWorkerConfig({ ...base, STUCK_PARTITION_READY_MS: '10ms' })).toThrow(/STUCK_PARTITION_READY_MS/);
  });

  it('reads the Redis topology and replica acknowledgement, refusing contradictions by name', () => {
    const sentinels = 'redis://10.0.0.1:26379,redis://10.0.0.2:26379';
    expect(
      loadWorkerConfig({
        ...base,
        REDIS_URL: sentinels,
        REDIS_SENTINEL_MASTER: 'streamcell',
        REDIS_WAIT_REPLICAS: '1',
        REDIS_WAIT_TIMEOUT_MS: '2s',
      }),
    ).toMatchObject({
      redisUrl: sentinels,
      redisSentinelMaster: 'streamcell',
      redisWaitReplicas: 1,
      redisWaitTimeoutMs: 2000,
    });
    const problem = (env: Record<string, string>) => {
      try {
        loadWorkerConfig({ ...base, ...env });
      } catch (e) {
        return (e as Error).message;
      }
      return 'accepted';
    };
    expect(problem({ REDIS_CLUSTER: 'true', REDIS_SENTINEL_MASTER: 'm' })).toMatch(
      /REDIS_SENTINEL_MASTER.*REDIS_CLUSTER=true/,
    );
    expect(problem({ REDIS_SENTINEL_MASTER: 'bad name' })).toMatch(/REDIS_SENTINEL_MASTER/);
    expect(problem({ REDIS_WAIT_REPLICAS: '-1' })).toMatch(/REDIS_WAIT_REPLICAS/);
    expect(problem({ REDIS_WAIT_TIMEOUT_MS: '0' })).toMatch(/REDIS_WAIT_TIMEOUT_MS/);
  });

  it('reads a Kafka SASL login given whole, and names what is missing from a partial one', () => {
    expect(loadWorkerConfig(base).kafkaSasl).toBeNull();
    const login = {
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'streamcell-worker',
      KAFKA_SASL_PASSWORD: 'pw-from-secret',
    };
    expect(loadWorkerConfig({ ...base, ...login }).kafkaSasl).toEqual({
      mechanism: 'scram-sha-512',
      username: 'streamcell-worker',
      password: 'pw-from-secret',
    });
    expect(() => loadWorkerConfig({ ...base, KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' })).toThrow(
      /KAFKA_SASL_MECHANISM: is required with KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD/,
    );
    expect(() => loadWorkerConfig({ ...base, ...login, KAFKA_SASL_MECHANISM: 'gssapi' })).toThrow(
      /KAFKA_SASL_MECHANISM/,
    );
    // The password never appears in an error.
    expect(() => loadWorkerConfig({ ...base, KAFKA_SASL_PASSWORD: 'pw-from-secret' })).toThrow(
      /^(?![\s\S]*pw-from-secret)/,
    );
  });

  it('bounds DLQ_MAX_BYTES so a dead letter fits under the broker default message.max.bytes', () => {
    expect(loadWorkerConfig({ ...base, DLQ_MAX_BYTES: '1000000' }).dlqMaxBytes).toBe(1_000_000);
    expect(loadWorkerConfig({ ...base, DLQ_MAX_BYTES: '8192' }).dlqMaxBytes).toBe(8192);
    for (const bad of ['1048576', '8191', '0', 'lots', '2e5']) {
      expect(() => loadWorkerConfig({ ...base, DLQ_MAX_BYTES: bad })).toThrow(/DLQ_MAX_BYTES/);
    }
  });

  it('accepts overrides (port 0, lateness -1, durations)', () => {
    const c = loadWorkerConfig({
      ...base,
      HTTP_PORT: '0',
      ALLOWED_LATENESS_MS: '-1',
      MAX_EVENT_GAP_MS: '5m',
      REWARM_STEPS: '0',
    });
    expect(c.httpPort).toBe(0);
    expect(c.allowedLatenessMs).toBe(-1);
    expect(c.maxEventGapMs).toBe(300_000);
    expect(c.rewarmSteps).toBe(0);
  });

  it.each([
    [{ KAFKA_BROKERS: undefined }, 'KAFKA_BROKERS'],
    [{ KAFKA_BROKERS: 'nohost' }, 'KAFKA_BROKERS'],
    [{ REDIS_URL: 'http://x:1' }, 'REDIS_URL'],
    [{ HTTP_PORT: '70000' }, 'HTTP_PORT'],
    [{ ALLOWED_LATENESS_MS: '-5' }, 'ALLOWED_LATENESS_MS'],
    [{ MAX_TEXT_LENGTH: '0' }, 'MAX_TEXT_LENGTH'],
    [{ SENSOR_TOPIC: 'bad topic' }, 'SENSOR_TOPIC'],
    [{ FORECAST_MODEL: '-x' }, 'FORECAST_MODEL'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
  ])('names the bad variable %#', (override, variable) => {
    let err: unknown;
    try {
      loadWorkerConfig({ ...base, ...override });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).variable).toBe(variable);
    expect((err as Error).message).toContain(variable);
  });
});
