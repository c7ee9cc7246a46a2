import { createRedisClient, type RedisLike } from '@app/state';

/** Thrown when Redis does not answer PING before the deadline; names the address. */
export class RedisUnreachableError extends Error {
  constructor(url: string, deadlineMs: number, cause: string) {
    super(`Redis is not reachable at ${redactUrl(url)} within ${deadlineMs} ms: ${cause}`);
    this.name = 'RedisUnreachableError';
  }
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

/**
 * Connects the worker's Redis client and waits for a PING answer, or fails within `deadlineMs`
 * naming the address. On success the client stays connected and is returned (it reconnects by
 * itself later; batches failing meanwhile are retried by the consumer).
 */
export async function probeRedis(
  url: string,
  deadlineMs: number,
  connectionName: string,
  cluster = false,
): Promise<RedisLike> {
  const client = createRedisClient(url, { connectionName, lazyConnect: true, maxRetriesPerRequest: 1, cluster });
  let last = 'no answer';
  client.on('error', (e: Error) => {
    last = e.message;
  });
  const deadline = Date.now() + deadlineMs;
  client.connect().catch((e: Error) => {
    last = e.message;
  });
  while (Date.now() < deadline) {
    try {
      const pong = await Promise.race([
        client.ping(),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error(last)), 1000).unref()),
      ]);
      if (pong === 'PONG') return client;
    } catch (e) {
      last = (e as Error).message || last;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  client.disconnect();
  throw new RedisUnreachableError(url, deadlineMs, last);
}
