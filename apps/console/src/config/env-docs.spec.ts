import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { envDocProblems, parseEnvTables } from '@app/config';
import { CONSOLE_ENV, loadConsoleConfig } from './console-config';

const ROOT = join(__dirname, '..', '..', '..', '..');

describe('the console environment', () => {
  it('apps/console/README.md documents every variable, both ways, with its default', () => {
    const rows = parseEnvTables(readFileSync(join(ROOT, 'apps/console/README.md'), 'utf8'));
    expect(rows.length).toBeGreaterThan(10);
    expect(envDocProblems(CONSOLE_ENV, rows)).toEqual([]);
  });

  it('refuses bad values naming the variable', () => {
    expect(() => loadConsoleConfig({ KAFKA_BROKERS: '127.0.0.1:9092' })).toThrow(/TRAINER_URL/);
    expect(() => loadConsoleConfig({ KAFKA_BROKERS: '127.0.0.1:9092', TRAINER_URL: 'ftp://x' })).toThrow(/TRAINER_URL.*http/);
    expect(() => loadConsoleConfig({ KAFKA_BROKERS: '127.0.0.1:9092', TRAINER_URL: 'http://t:3001', CONSOLE_ANOMALY_THRESHOLD: 'x' })).toThrow(/CONSOLE_ANOMALY_THRESHOLD/);
    expect(() => loadConsoleConfig({ KAFKA_BROKERS: '127.0.0.1:9092', TRAINER_URL: 'http://u:p@t:3001' })).toThrow(/TRAINER_URL.*credentials/);
  });

  it('reads the documented defaults', () => {
    const c = loadConsoleConfig({ KAFKA_BROKERS: '127.0.0.1:9092', TRAINER_URL: 'http://trainer:3001/', WORKER_METRICS_URLS: 'http://w1:9464, http://w2:9464/' });
    expect(c).toMatchObject({ port: 3002, trainerUrl: 'http://trainer:3001', workerUrls: ['http://w1:9464', 'http://w2:9464'], anomalyThreshold: 3, maxKeys: 5000 });
    expect(c.topics.sensor).toBe('sensor.readings');
  });
});
