import type { ModelRegistry } from '@app/registry';
import type { RedisLike } from '@app/state';
import { BacktestRunner, type BacktestRecord } from './backtest-runner';

/** The two Redis calls the runner makes, on a Map. */
function fakeRedis() {
  const data = new Map<string, string>();
  const redis = {
    get: async (k: string) => data.get(k) ?? null,
    set: async (k: string, v: string) => {
      data.set(k, v);
      return 'OK';
    },
  };
  return { data, redis: redis as unknown as RedisLike };
}

const config = { kafkaBrokers: [], kafkaSasl: null, inputTopics: { forecast: 's', classify: 't' }, maxDataBytes: 1024, maxJobs: 1, instanceId: 'me' };

function record(owner: string, updatedAgoMs: number): BacktestRecord {
  return {
    id: 'id',
    kind: 'backtest',
    model: 'm',
    version: 1,
    versions: [1],
    task: 'forecast',
    topic: 's',
    status: 'running',
    phase: 'replaying',
    owner,
    createdAt: new Date(0).toISOString(),
    updatedAt: new Date(Date.now() - updatedAgoMs).toISOString(),
    finishedAt: null,
    request: {},
    range: null,
    progress: { read: 0, replayed: 0 },
    result: null,
    error: null,
  };
}

describe('BacktestRunner records', () => {
  it('answers a running record no process runs as failed: its own after a restart, or one not saved for a minute', async () => {
    for (const [owner, ago, status] of [
      ['me', 1000, 'failed'],
      ['other', 1000, 'running'],
      ['other', 120_000, 'failed'],
    ] as const) {
      const { data, redis } = fakeRedis();
      data.set('trainer:{jobs}:backtest:id', JSON.stringify(record(owner, ago)));
      const got = await new BacktestRunner(redis, {} as ModelRegistry, config).get('id');
      expect(got!.status).toBe(status);
      if (status === 'failed') {
        expect(got!.error).toMatch(/^interrupted: /);
        expect((JSON.parse(data.get('trainer:{jobs}:backtest:id')!) as BacktestRecord).status).toBe('failed');
      }
    }
    expect(await new BacktestRunner(fakeRedis().redis, {} as ModelRegistry, config).get('none')).toBeNull();
  });

  it('refuses a request naming the field before it reads anything', async () => {
    const runner = new BacktestRunner(fakeRedis().redis, {} as ModelRegistry, config);
    await expect(runner.start('m', 1, { fromOffsets: { '0': '-1' } })).rejects.toThrow(/fromOffsets/);
    await expect(runner.start('m', 1, { toTime: 'soon' })).rejects.toThrow(/toTime/);
    await expect(runner.start('m', 1, { keys: ['a', 'a'] })).rejects.toThrow(/keys/);
    await expect(runner.start('bad name!', 1, {})).rejects.toThrow(/name/);
  });
});
