import type { StreamEvents } from '../src/live/live-types';

type Handler<E extends keyof StreamEvents> = (data: StreamEvents[E]) => void;

/**
 * The page's one live connection (/api/stream, server-sent events). Pages register handlers while
 * they are shown; choosing a key on the Live page reconnects with that key.
 */
export class LiveStream {
  private src: EventSource | null = null;
  private key: string | null = null;
  private handlers = new Map<string, Set<(data: unknown) => void>>();

  /**
   * `onState` follows the connection; `onClosed` runs when the browser gave up on it (the server
   * refused it, e.g. the session ended with a restart of the console).
   */
  constructor(
    private readonly onState: (up: boolean) => void,
    private readonly onClosed: () => void = () => undefined,
  ) {}

  /** Connects selecting `key` (or none); an open stream with that key is kept unless `fresh`. */
  open(key: string | null, fresh = false): void {
    if (this.src && key === this.key && !fresh) return;
    this.close();
    this.key = key;
    const src = new EventSource(key ? `/api/stream?key=${encodeURIComponent(key)}` : '/api/stream');
    this.src = src;
    src.onopen = () => this.onState(true);
    src.onerror = () => {
      this.onState(false);
      if (src.readyState === EventSource.CLOSED && this.src === src) this.onClosed();
    };
    for (const name of ['hello', 'series', 'points', 'top', 'messages', 'deadLetters', 'activation']) {
      src.addEventListener(name, (ev) => {
        const data = JSON.parse((ev as MessageEvent<string>).data) as unknown;
        for (const f of this.handlers.get(name) ?? []) f(data);
      });
    }
  }

  close(): void {
    this.src?.close();
    this.src = null;
    this.onState(false);
  }

  get selected(): string | null {
    return this.key;
  }

  on<E extends keyof StreamEvents>(event: E, f: Handler<E>): void {
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, (set = new Set()));
    set.add(f as (data: unknown) => void);
  }

  /** Drops every handler (a page is being left). */
  clearHandlers(): void {
    this.handlers.clear();
  }
}
