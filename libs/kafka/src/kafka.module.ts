import { Global, Inject, Injectable, Logger, Module, type DynamicModule, type FactoryProvider, type ModuleMetadata, type OnApplicationShutdown } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import { BatchProducer } from './batch-producer';
import { createKafkaClient } from './kafka-client';
import type { KafkaClientConfig } from './kafka-config';

/** Injection token of the {@link KafkaClientConfig}. */
export const KAFKA_CONFIG = Symbol('streamcell.kafka.config');
/** Injection token of the kafkajs client. */
export const KAFKA_CLIENT = Symbol('streamcell.kafka.client');

/** Options of {@link KafkaModule.forRootAsync}. */
export interface KafkaModuleAsyncOptions {
  /** Builds the client config, e.g. from `ConfigService` (`kafka` namespace of `@app/config`). */
  useFactory: (...args: never[]) => KafkaClientConfig | Promise<KafkaClientConfig>;
  inject?: FactoryProvider['inject'];
  imports?: ModuleMetadata['imports'];
}

/**
 * The application's producer: one idempotent {@link BatchProducer}, connected at boot and
 * disconnected at shutdown.
 */
@Injectable()
export class KafkaProducerService extends BatchProducer implements OnApplicationShutdown {
  constructor(@Inject(KAFKA_CLIENT) kafka: Kafka) {
    super(kafka);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.disconnect();
  }
}

/**
 * Thin Nest wrapper: provides the Kafka client ({@link KAFKA_CLIENT}), its config
 * ({@link KAFKA_CONFIG}) and a shared {@link KafkaProducerService}. Consumers are created by the
 * app with `new BatchConsumer(kafka, ...)` because their lifecycle is the app's business.
 */
@Global()
@Module({})
export class KafkaModule {
  static forRootAsync(options: KafkaModuleAsyncOptions): DynamicModule {
    return {
      module: KafkaModule,
      imports: options.imports ?? [],
      providers: [
        { provide: KAFKA_CONFIG, useFactory: options.useFactory, inject: options.inject ?? [] },
        {
          provide: KAFKA_CLIENT,
          useFactory: (config: KafkaClientConfig) =>
            createKafkaClient({ ...config, logger: config.logger ?? new Logger('Kafka') }),
          inject: [KAFKA_CONFIG],
        },
        KafkaProducerService,
      ],
      exports: [KAFKA_CONFIG, KAFKA_CLIENT, KafkaProducerService],
    };
  }
}
