import { createKafkaClient } from './kafka-client';
import type { KafkaClientConfig } from './kafka-config';

/** Thrown by {@link probeKafka}; the message names the broker list. */
export class KafkaUnreachableError extends Error {
  constructor(
    readonly brokers: readonly string[],
    readonly deadlineMs: number,
    readonly causeMessage: string,
  ) {
    super(`Kafka is not reachable at ${brokers.join(',')} within ${deadlineMs} ms: ${causeMessage}`);
    this.name = 'KafkaUnreachableError';
  }
}

/** What a successful {@link probeKafka} saw. */
export interface KafkaProbeResult {
  readonly clusterId: string;
  readonly brokers: number;
  readonly tookMs: number;
}

/**
 * Connects an admin client and describes the cluster, or fails within `deadlineMs` with a
 * {@link KafkaUnreachableError} naming the broker list. For boot checks: an app that cannot reach
 * Kafka says so and exits instead of retrying silently.
 */
export async function probeKafka(config: KafkaClientConfig, deadlineMs: number): Promise<KafkaProbeResult> {
  const started = Date.now();
  // The client retries internally; its error log lines are what explains a timeout.
  let lastError = 'no answer';
  const remember = (line: string): void => {
    const m = /^\[kafkajs[^\]]*\] (.*?)(?: (\{.*\}))?$/s.exec(line);
    if (!m) return;
    let detail = '';
    try {
      const extra = m[2] ? (JSON.parse(m[2]) as { error?: unknown; broker?: unknown }) : {};
      detail = [extra.broker, extra.error].filter((x) => typeof x === 'string').join(': ');
    } catch {
      // Not JSON: the message alone says enough.
    }
    lastError = detail ? `${m[1]} (${detail})` : m[1];
  };
  const kafka = createKafkaClient({
    ...config,
    clientId: `${config.clientId}-probe`,
    connectionTimeoutMs: Math.min(config.connectionTimeoutMs ?? 3000, deadlineMs),
    requestTimeoutMs: Math.min(config.requestTimeoutMs ?? 30000, deadlineMs),
    // Keep retrying until the deadline; the race below decides.
    retry: { retries: 1000, initialRetryTimeMs: 250, maxRetryTimeMs: 2000 },
    logLevel: 'error',
    logger: { error: remember, warn: remember, log: () => undefined },
  });
  const admin = kafka.admin();
  let timer: NodeJS.Timeout | undefined;
  const attempt = (async () => {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return { clusterId: cluster.clusterId, brokers: cluster.brokers.length, tookMs: Date.now() - started };
  })();
  attempt.catch((err: unknown) => {
    lastError = describe(err);
  });
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new KafkaUnreachableError(config.brokers, deadlineMs, lastError)), deadlineMs);
  });
  try {
    return await Promise.race([
      attempt.catch((err: unknown) => {
        throw new KafkaUnreachableError(config.brokers, deadlineMs, describe(err));
      }),
      deadline,
    ]);
  } finally {
    clearTimeout(timer);
    void admin.disconnect().catch(() => undefined);
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: unknown }).cause;
    return cause instanceof Error ? `${err.message} (${cause.message})` : err.message;
  }
  return String(err);
}
