import { Controller, Get, Inject, Query, Sse, UseGuards, type MessageEvent } from '@nestjs/common';
import { Observable } from 'rxjs';
import { CONSOLE_CONFIG, type ConsoleConfig } from '../config/console-config';
import { FleetMonitor } from '../fleet/fleet-monitor';
import { LiveHub } from '../live/live-hub';
import { SessionGuard } from './session.guard';
import { TrainerClient } from './trainer-client';

/** Longest key accepted in a query (message keys are at most 256 UTF-8 bytes). */
const MAX_KEY_CHARS = 256;

/** What the console itself knows from the topics and the workers. */
@UseGuards(SessionGuard)
@Controller('api')
export class LiveController {
  constructor(
    private readonly hub: LiveHub,
    private readonly fleet: FleetMonitor,
    private readonly trainer: TrainerClient,
    @Inject(CONSOLE_CONFIG) private readonly config: ConsoleConfig,
  ) {}

  /**
   * Server-sent events: the selected key's points, the busiest keys, text messages, dead letters
   * and activations (event names and payloads: live-types.ts StreamEvents).
   */
  @Sse('stream')
  stream(@Query('key') key?: string): Observable<MessageEvent> {
    const selected = typeof key === 'string' && key.length > 0 ? key.slice(0, MAX_KEY_CHARS) : null;
    return new Observable<MessageEvent>((sub) => {
      const off = this.hub.subscribe(selected, (type, data) => sub.next({ type, data }), { ...this.config.topics });
      // A comment line every 15 s keeps proxies from closing an idle stream.
      const ping = setInterval(() => sub.next({ type: 'ping', data: '' }), 15_000);
      return () => {
        clearInterval(ping);
        off();
      };
    });
  }

  /** Keys containing `q` (case-insensitive), or the busiest keys without `q`. */
  @Get('keys')
  keys(@Query('q') q?: string) {
    const query = typeof q === 'string' ? q.slice(0, MAX_KEY_CHARS) : '';
    return { keys: query ? this.hub.keys.search(query, 50) : this.hub.keys.top(50), totalKeys: this.hub.keys.size };
  }

  @Get('dead-letters')
  deadLetters() {
    return { latest: this.hub.deadLetters.recent(), counts: this.hub.deadLetters.counts(), topic: this.config.topics.dlq };
  }

  /** Activation events read from the models topic, oldest first. */
  @Get('activations')
  activations(@Query('model') model?: string) {
    return { activations: this.hub.activationHistory(typeof model === 'string' && model ? model : undefined) };
  }

  @Get('fleet')
  fleetView() {
    return this.fleet.current();
  }

  /** Jobs started through this console (the trainer has no job list). */
  @Get('jobs')
  jobs() {
    return { jobs: this.trainer.startedJobs() };
  }
}
