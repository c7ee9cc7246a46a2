import { DEFAULT_TOPICS, encodeModelActivated, encodeModelShadow, shadowEventKey, type ModelShadowEvent } from '@app/contracts';
import type { ModelTask, SwapPolicy } from './registry.types';

/**
 * Event published on the compacted models topic (key = model name) whenever a version becomes
 * active. Compaction keeps the latest activation per model, so a worker that starts late reads
 * the current state of every model from the topic; `epoch` orders activations of one model.
 */
export interface ModelActivatedEvent {
  readonly type: 'model.activated';
  readonly model: string;
  readonly version: number;
  readonly previousVersion: number | null;
  readonly task: ModelTask;
  readonly policy: SwapPolicy;
  readonly epoch: number;
  readonly activatedAt: string;
  /** sha256 of every file of the version, so a consumer can verify what it loads. */
  readonly files: Readonly<Record<string, string>>;
  /** sha256 of the version's streamcell.json sidecar (also in `files`). */
  readonly checksum?: string;
}

/** Where activation events go. The registry core depends on this, never on a Kafka client. */
export interface ModelEventPublisher {
  /** Publishes one activation; resolves once the event is durable (acknowledged). */
  publishActivated(event: ModelActivatedEvent): Promise<void>;
  /** Publishes one shadow change (key `<model>#shadow`); resolves once durable. */
  publishShadow(event: ModelShadowEvent): Promise<void>;
}

export type { ModelShadowEvent };

/**
 * The part of a Kafka producer the publisher needs; a kafkajs `Producer` satisfies it, so this
 * file needs no Kafka import.
 */
export interface ProducerLike {
  send(record: {
    topic: string;
    acks?: number;
    messages: { key: string; value: string; headers?: Record<string, string> }[];
  }): Promise<unknown>;
}

/** Publishes activation events as JSON (@app/contracts encoding), key = model name, on the (compacted) models topic. */
export class KafkaModelEventPublisher implements ModelEventPublisher {
  constructor(
    private readonly producer: ProducerLike,
    private readonly topic: string = DEFAULT_TOPICS.models,
  ) {}

  async publishActivated(event: ModelActivatedEvent): Promise<void> {
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: [
        {
          key: event.model,
          value: encodeModelActivated(event),
          headers: { 'content-type': 'application/json', 'event-type': event.type },
        },
      ],
    });
  }

  async publishShadow(event: ModelShadowEvent): Promise<void> {
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: [
        {
          key: shadowEventKey(event.model),
          value: encodeModelShadow(event),
          headers: { 'content-type': 'application/json', 'event-type': event.type },
        },
      ],
    });
  }
}

/** Keeps events in memory; for tests and for running the registry without Kafka (CLI dry runs). */
export class InMemoryModelEventPublisher implements ModelEventPublisher {
  readonly events: ModelActivatedEvent[] = [];
  readonly shadowEvents: ModelShadowEvent[] = [];
  async publishActivated(event: ModelActivatedEvent): Promise<void> {
    this.events.push(event);
  }
  async publishShadow(event: ModelShadowEvent): Promise<void> {
    this.shadowEvents.push(event);
  }
}
