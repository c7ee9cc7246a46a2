import Redis from 'ioredis';
import { redactUrl } from './env-parsers';

/** Thrown by {@link probeRedis}; the message names the URL (password redacted). */
export class RedisUnreachableError extends Error {
  constructor(
    readonly url: string,
    readonly deadlineMs: number,
    readonly causeMessage: string,
  ) {
    super(`Redis is not reachable at ${redactUrl(url)} within ${deadlineMs} ms: ${causeMessage}`);
    this.name = 'RedisUnreachableError';
  }
}

/**
 * Connects to Redis and sends PING, retrying every 250 ms (a Redis that starts a little later
 * than the app is fine), or fails within `deadlineMs` with a {@link RedisUnreachableError}
 * naming the URL and the last cause. Takes the first URL of a Cluster seed list or Sentinel list;
 * with `sentinelMaster` that Sentinel must also know a master of that name.
 * Resolves to the time it took in ms.
 */
export async function probeRedis(url: string, deadlineMs: number, sentinelMaster?: string | null): Promise<number> {
  const first = url.split(',')[0].trim();
  const started = Date.now();
  const left = (): number => deadlineMs - (Date.now() - started);
  let lastError = 'no answer';
  while (left() > 0) {
    const client = new Redis(first, {
      lazyConnect: true,
      connectTimeout: Math.max(100, Math.min(left(), 3000)),
      commandTimeout: Math.max(100, Math.min(left(), 3000)),
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      enableOfflineQueue: false,
    });
    // The socket error (ECONNREFUSED, ENOTFOUND...) says more than connect()'s "Connection is closed".
    let socketError: string | undefined;
    client.on('error', (err: Error) => {
      socketError = err.message;
    });
    try {
      await client.connect();
      await client.ping();
      if (sentinelMaster == null) return Date.now() - started;
      const addr = await client.call('SENTINEL', 'get-master-addr-by-name', sentinelMaster);
      if (Array.isArray(addr) && addr.length === 2) return Date.now() - started;
      lastError = `the Sentinel knows no master named "${sentinelMaster}"`;
    } catch (err) {
      lastError = socketError ?? ((err as Error).message || lastError);
    } finally {
      // After a failed connect the client has already ended; disconnecting it again would arm a
      // 2 s destroy timer on the closed socket that nothing clears (it keeps a process alive).
      if (client.status !== 'end') client.disconnect();
    }
    const pause = Math.min(250, left());
    if (pause > 0) await new Promise((r) => setTimeout(r, pause));
  }
  throw new RedisUnreachableError(first, deadlineMs, lastError);
}
