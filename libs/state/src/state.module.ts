import {
  Inject,
  Injectable,
  Module,
  type DynamicModule,
  type ModuleMetadata,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { createRedisClient, type RedisClientOptions, type RedisLike } from './redis-client';
import { StateStore, type StateStoreOptions } from './state-store';

/** Injection token of the module's ioredis client (standalone or Cluster). */
export const STATE_REDIS = Symbol('STATE_REDIS');
/** Injection token of the resolved {@link StateModuleOptions}. */
export const STATE_MODULE_OPTIONS = Symbol('STATE_MODULE_OPTIONS');

/** Options of {@link StateModule}: the Redis URL plus client and store options. */
export interface StateModuleOptions extends RedisClientOptions, StateStoreOptions {
  /** `redis://host:port` (standalone) or comma-separated seed URLs with `cluster: true`. */
  readonly url: string;
}

/** Async form of {@link StateModule.forRoot}, e.g. from @nestjs/config. */
export interface StateModuleAsyncOptions {
  readonly imports?: ModuleMetadata['imports'];
  readonly inject?: (string | symbol | (abstract new (...args: never[]) => unknown))[];
  readonly useFactory: (...args: never[]) => StateModuleOptions | Promise<StateModuleOptions>;
  /** Register the module globally. */
  readonly isGlobal?: boolean;
}

/** Closes the module's Redis client when the application shuts down. */
@Injectable()
export class StateRedisLifecycle implements OnApplicationShutdown {
  constructor(@Inject(STATE_REDIS) private readonly redis: RedisLike) {}

  async onApplicationShutdown(): Promise<void> {
    // QUIT waits for pending replies; a client that never connected just drops its timers.
    if (this.redis.status === 'ready' || this.redis.status === 'connect') {
      await this.redis.quit().catch(() => this.redis.disconnect());
    } else {
      this.redis.disconnect();
    }
  }
}

const sharedProviders = [
  {
    provide: STATE_REDIS,
    useFactory: (o: StateModuleOptions): RedisLike => createRedisClient(o.url, o),
    inject: [STATE_MODULE_OPTIONS],
  },
  {
    provide: StateStore,
    useFactory: (redis: RedisLike, o: StateModuleOptions): StateStore => new StateStore(redis, o),
    inject: [STATE_REDIS, STATE_MODULE_OPTIONS],
  },
  StateRedisLifecycle,
];

/**
 * Thin Nest wrapper: provides {@link StateStore} and the Redis client ({@link STATE_REDIS}),
 * and closes the client on shutdown. All behaviour lives in the framework-free classes.
 */
@Module({})
export class StateModule {
  /** Static configuration. */
  static forRoot(options: StateModuleOptions & { isGlobal?: boolean }): DynamicModule {
    return {
      module: StateModule,
      global: options.isGlobal ?? false,
      providers: [{ provide: STATE_MODULE_OPTIONS, useValue: options }, ...sharedProviders],
      exports: [StateStore, STATE_REDIS],
    };
  }

  /** Configuration from a factory (typically the validated app config). */
  static forRootAsync(options: StateModuleAsyncOptions): DynamicModule {
    return {
      module: StateModule,
      global: options.isGlobal ?? false,
      imports: options.imports ?? [],
      providers: [
        { provide: STATE_MODULE_OPTIONS, useFactory: options.useFactory, inject: options.inject ?? [] },
        ...sharedProviders,
      ],
      exports: [StateStore, STATE_REDIS],
    };
  }
}
