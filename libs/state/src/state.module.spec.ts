import { Test } from '@nestjs/testing';
import { STATE_REDIS, StateModule } from './state.module';
import { StateStore } from './state-store';
import type { RedisLike } from './redis-client';

describe('StateModule', () => {
  it('provides a StateStore over its Redis client and closes it on shutdown', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        StateModule.forRoot({
          url: 'redis://127.0.0.1:6399',
          lazyConnect: true,
          idleTtlMs: 1234,
          keyPrefix: 'x',
        }),
      ],
    }).compile();
    const app = moduleRef.createNestApplication();
    await app.init();
    const store = app.get(StateStore);
    const redis = app.get<RedisLike>(STATE_REDIS);
    expect(store.redis).toBe(redis);
    expect(store.idleTtlMs).toBe(1234);
    expect(store.redisKey('m', 'k')).toBe('x:{m:k}:st');
    expect(redis.status).toBe('wait'); // lazy: nothing connected yet
    await app.close();
    expect(redis.status).toBe('end');
  });

  it('builds options from a factory', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        StateModule.forRootAsync({
          useFactory: () => ({ url: 'redis://127.0.0.1:6399', lazyConnect: true, idleTtlMs: 0 }),
        }),
      ],
    }).compile();
    const store = moduleRef.get(StateStore);
    expect(store.idleTtlMs).toBe(0);
    expect(store.keyPrefix).toBe('sc');
    await moduleRef.close();
  });
});
