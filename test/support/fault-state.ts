import Redis from 'ioredis';

/** One key's decoded state record, as far as the suites compare it. */
export interface ComparableState {
  readonly raw: Buffer;
}

/** Reads state records of (model, key) from Redis. */
export class FaultStateReader {
  readonly redis: Redis;

  constructor(redisUrl: string) {
    this.redis = new Redis(redisUrl, { maxRetriesPerRequest: 3 });
  }

  /** The record of (model, key), or null. */
  async read(_model: string, _key: string): Promise<ComparableState | null> {
    throw new Error('state codec (@app/state) not available yet');
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}

/** Differences between the states of `a` and `b` for every key (empty when identical). */
export async function compareStates(
  reader: FaultStateReader,
  a: string,
  b: string,
  keys: readonly string[],
): Promise<string[]> {
  const out: string[] = [];
  for (const key of keys) {
    const [sa, sb] = await Promise.all([reader.read(a, key), reader.read(b, key)]);
    if (!sa || !sb) out.push(`${key}: missing state (${a}: ${!!sa}, ${b}: ${!!sb})`);
    else if (!sa.raw.equals(sb.raw)) out.push(`${key}: states differ`);
  }
  return out;
}
