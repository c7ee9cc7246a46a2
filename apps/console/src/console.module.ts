import { Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { CONSOLE_CONFIG, type ConsoleConfig } from './config/console-config';
import { FleetMonitor } from './fleet/fleet-monitor';
import { LiveController } from './http/live.controller';
import { SessionController } from './http/session.controller';
import { SessionGuard } from './http/session.guard';
import { SessionStore } from './http/session-store';
import { TrainerClient } from './http/trainer-client';
import { TrainerProxyController } from './http/trainer-proxy.controller';
import { LiveHub } from './live/live-hub';
import { TopicTail } from './live/topic-tail';

/** The console's running parts, built before Nest so boot can fail on Kafka first. */
export interface ConsoleParts {
  readonly hub: LiveHub;
  readonly tail: TopicTail;
  readonly fleet: FleetMonitor;
}

/** Stops the Kafka tail and the fleet scrapes when the app closes. */
class ConsoleShutdown implements OnApplicationShutdown {
  constructor(private readonly parts: ConsoleParts) {}

  async onApplicationShutdown(): Promise<void> {
    this.parts.hub.stop();
    await this.parts.fleet.stop();
    await this.parts.tail.stop();
  }
}

/** Root module of the console. */
@Module({})
export class ConsoleModule {
  static forRoot(config: ConsoleConfig, parts: ConsoleParts): DynamicModule {
    return {
      module: ConsoleModule,
      controllers: [SessionController, LiveController, TrainerProxyController],
      providers: [
        { provide: CONSOLE_CONFIG, useValue: config },
        { provide: LiveHub, useValue: parts.hub },
        { provide: FleetMonitor, useValue: parts.fleet },
        { provide: SessionStore, useValue: new SessionStore(config.sessionTtlMs) },
        { provide: TrainerClient, useValue: new TrainerClient(config.trainerUrl) },
        { provide: ConsoleShutdown, useValue: new ConsoleShutdown(parts) },
        SessionGuard,
      ],
    };
  }
}
