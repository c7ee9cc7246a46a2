import type { DlqEnvelope, ModelActivatedEvent } from '@app/contracts';
import { DeadLetterLog } from './dead-letter-log';
import { KeyStore, type KeyChange } from './key-store';
import type { ActivationView, DeadLetterView, SeriesPoint, StreamEvents, TextMessage, VersionMarker } from './live-types';

/** Sends one server-sent event to one browser. */
export type StreamSink = <E extends keyof StreamEvents>(event: E, data: StreamEvents[E]) => void;

interface Subscriber {
  readonly key: string | null;
  readonly send: StreamSink;
  points: Set<SeriesPoint>;
  markers: VersionMarker[];
}

/** Busiest keys pushed to every browser each second. */
const TOP_N = 12;
/** Latest text messages kept for the Live page. */
const MESSAGES_KEPT = 100;
/** Activation events kept. */
const ACTIVATIONS_KEPT = 500;

/** Options of {@link LiveHub}. */
export interface LiveHubOptions {
  readonly maxKeys: number;
  readonly pointsPerKey: number;
  readonly anomalyThreshold: number;
}

/**
 * Fans the topics out to the browsers: the key store takes every message, and each browser gets
 * only what it looks at: the points of its selected key (batched every 250 ms), the busiest-keys
 * summary and new dead letters (each second), text messages and activations. With thousands of
 * keys a browser still receives one key's points and a dozen summary lines.
 */
export class LiveHub {
  readonly keys: KeyStore;
  readonly deadLetters = new DeadLetterLog();
  private readonly activations: ActivationView[] = [];
  private readonly messages: TextMessage[] = [];
  private readonly subscribers = new Set<Subscriber>();
  private newMessages = new Set<TextMessage>();
  private newDeadLetters: DeadLetterView[] = [];
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(private readonly opts: LiveHubOptions) {
    this.keys = new KeyStore(opts);
  }

  /** Starts the push timers. */
  start(): void {
    this.timers.push(setInterval(() => this.flushPoints(), 250));
    this.timers.push(setInterval(() => this.flushSummary(), 1000));
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
  }

  /** Registers a browser looking at `key` (or none); sends it the current picture at once. */
  subscribe(key: string | null, send: StreamSink, topics: Record<string, string>): () => void {
    const sub: Subscriber = { key, send, points: new Set(), markers: [] };
    this.subscribers.add(sub);
    send('hello', { anomalyThreshold: this.opts.anomalyThreshold, topics, key });
    if (key !== null) {
      const e = this.keys.get(key);
      send('series', {
        key,
        kind: e?.kind ?? 'sensor',
        points: e ? [...e.points] : [],
        markers: e ? [...e.markers] : [],
        messages: e ? [...e.messages] : [],
      });
    }
    send('top', { keys: this.keys.top(TOP_N), totalKeys: this.keys.size });
    send('messages', { messages: this.messages.slice(-20) });
    send('deadLetters', { latest: this.deadLetters.recent(50), counts: this.deadLetters.counts() });
    return () => this.subscribers.delete(sub);
  }

  /** Activation events seen (oldest first), optionally of one model. */
  activationHistory(model?: string): ActivationView[] {
    return model ? this.activations.filter((a) => a.model === model) : [...this.activations];
  }

  reading(key: string, ts: number, values: ArrayLike<number>, partition: number, offset: string): void {
    this.route(this.keys.reading(key, ts, values, partition, offset));
  }

  forecast(key: string, ts: number, forecast: readonly (number | null)[], score: number | null, version: string, partition: number, offset: string): void {
    this.route(this.keys.forecast(key, ts, forecast, score, version, partition, offset));
  }

  textEvent(key: string, ts: number, text: string, partition: number, offset: string): void {
    this.route(this.keys.textEvent(key, ts, text, partition, offset));
  }

  classification(key: string, ts: number, label: string, scores: Record<string, number | null>, version: string, partition: number, offset: string): void {
    this.route(this.keys.classification(key, ts, label, scores, version, partition, offset));
  }

  deadLetter(env: DlqEnvelope, partition: number, offset: string): void {
    const view = this.deadLetters.add(env, partition, offset);
    if (!view) return;
    this.newDeadLetters.push(view);
    if (this.newDeadLetters.length > 50) this.newDeadLetters.shift();
  }

  activation(ev: ModelActivatedEvent): void {
    const view: ActivationView = {
      model: ev.model,
      version: String(ev.version),
      previousVersion: ev.previousVersion === null || ev.previousVersion === undefined ? null : String(ev.previousVersion),
      policy: ev.policy,
      activatedAt: ev.activatedAt,
      epoch: typeof ev.epoch === 'number' ? ev.epoch : null,
    };
    if (this.activations.some((a) => a.model === view.model && a.activatedAt === view.activatedAt && a.version === view.version)) return;
    this.activations.push(view);
    if (this.activations.length > ACTIVATIONS_KEPT) this.activations.shift();
    for (const s of this.subscribers) s.send('activation', view);
  }

  private route(change: KeyChange): void {
    if (change.kind === 'message') {
      const m = change.message;
      if (!this.newMessages.has(m) && !this.messages.includes(m)) {
        this.messages.push(m);
        if (this.messages.length > MESSAGES_KEPT) this.messages.shift();
      }
      this.newMessages.add(m);
      return;
    }
    for (const s of this.subscribers) {
      if (s.key !== change.key) continue;
      s.points.add(change.point);
      if (change.marker) s.markers.push(change.marker);
    }
  }

  private flushPoints(): void {
    for (const s of this.subscribers) {
      if (s.key === null || (s.points.size === 0 && s.markers.length === 0)) continue;
      const points = [...s.points];
      const markers = s.markers;
      s.points.clear();
      s.markers = [];
      s.send('points', { key: s.key, points, markers });
    }
  }

  private flushSummary(): void {
    const top = { keys: this.keys.top(TOP_N), totalKeys: this.keys.size };
    const messages = [...this.newMessages].slice(-20);
    const dead = this.newDeadLetters;
    this.newMessages.clear();
    this.newDeadLetters = [];
    const counts = dead.length > 0 ? this.deadLetters.counts() : null;
    for (const s of this.subscribers) {
      s.send('top', top);
      if (messages.length > 0) s.send('messages', { messages });
      if (counts) s.send('deadLetters', { latest: [...dead].reverse(), counts });
    }
  }
}
