import { Module, type DynamicModule, type InjectionToken, type ModuleMetadata } from '@nestjs/common';
import type { Cluster, Redis } from 'ioredis';
import { ModelRegistry, type ModelRegistryOptions } from './model-registry';
import type { ModelEventPublisher } from './model-event-publisher';

/** What the registry needs: a Redis client, a publisher for activation events, options. */
export interface RegistryModuleConfig {
  readonly redis: Redis | Cluster;
  readonly publisher: ModelEventPublisher;
  readonly options?: ModelRegistryOptions;
}

/** Async wiring: the factory gets the app's Redis client and Kafka publisher from DI. */
export interface RegistryModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  readonly inject?: InjectionToken[];
  readonly useFactory: (...deps: never[]) => RegistryModuleConfig | Promise<RegistryModuleConfig>;
}

/** Thin Nest wrapper exporting a {@link ModelRegistry} provider. */
@Module({})
export class RegistryModule {
  static registerAsync(opts: RegistryModuleAsyncOptions): DynamicModule {
    return {
      module: RegistryModule,
      imports: opts.imports ?? [],
      providers: [
        {
          provide: ModelRegistry,
          inject: opts.inject ?? [],
          useFactory: async (...deps: unknown[]) => {
            const cfg = await opts.useFactory(...(deps as never[]));
            return new ModelRegistry(cfg.redis, cfg.publisher, cfg.options);
          },
        },
      ],
      exports: [ModelRegistry],
    };
  }
}
