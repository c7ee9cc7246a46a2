import type { Consumer } from 'kafkajs';

/** Options of {@link restartOnCrash}. */
export interface CrashRestartOptions {
  /** First delay before re-running a crashed consumer, ms (default 1000); doubles per failed attempt. */
  readonly initialDelayMs?: number;
  /** Delay cap, ms (default 10000). */
  readonly maxDelayMs?: number;
  /** Called when a restart is scheduled (logging, metrics). */
  readonly onRestart?: (attempt: number, delayMs: number, cause: unknown) => void;
}

/**
 * Keeps a consumer running across crashes kafkajs gives up on. kafkajs restarts a crashed consumer
 * only when it deems the error retriable; others, such as `Failed to find group coordinator` while
 * a broker restarts, leave it disconnected for good and the process consuming nothing. Such a
 * consumer is connected and run again (`run` repeats `consumer.run` with the same handlers; the
 * subscriptions persist) after a backoff, until it joins its group again, for as long as
 * `wanted()` is true. Returns a function that detaches the listeners and cancels a pending restart.
 */
export function restartOnCrash(
  consumer: Consumer,
  run: () => Promise<void>,
  wanted: () => boolean,
  options: CrashRestartOptions = {},
): () => void {
  const initial = options.initialDelayMs ?? 1000;
  const cap = options.maxDelayMs ?? 10_000;
  let attempt = 0;
  let timer: NodeJS.Timeout | null = null;
  const schedule = (cause: unknown): void => {
    if (timer || !wanted()) return;
    const delay = Math.min(cap, initial * 2 ** Math.min(attempt, 16));
    attempt++;
    options.onRestart?.(attempt, delay, cause);
    timer = setTimeout(() => {
      timer = null;
      if (!wanted()) return;
      // A failure here (broker still away) either throws or crashes again: both schedule the next try.
      consumer
        .connect()
        .then(run)
        .catch((e: unknown) => schedule(e));
    }, delay);
    timer.unref();
  };
  const offCrash = consumer.on(consumer.events.CRASH, (e) => {
    if (!e.payload.restart) schedule(e.payload.error);
  });
  const offJoin = consumer.on(consumer.events.GROUP_JOIN, () => {
    attempt = 0;
  });
  return () => {
    offCrash();
    offJoin();
    if (timer) clearTimeout(timer);
    timer = null;
  };
}
