import type { Admin, ITopicConfig, Kafka } from 'kafkajs';

/** A topic the application needs. */
export interface TopicSpec {
  readonly topic: string;
  /** Partitions when created (default 1). An existing topic is never re-partitioned. */
  readonly partitions?: number;
  /** Replication factor when created (default -1: the broker's default.replication.factor). */
  readonly replicationFactor?: number;
  /** Topic configs, e.g. `{ 'cleanup.policy': 'compact' }`. */
  readonly configs?: Readonly<Record<string, string>>;
}

/** What {@link ensureTopics} did. */
export interface TopicBootstrapResult {
  readonly created: string[];
  readonly existing: string[];
}

/**
 * Creates the topics that do not exist yet and waits for their leaders. Idempotent and safe to
 * run from several processes at once (a concurrent creation counts as existing).
 * Accepts a connected admin, or a client (an admin is then connected and disconnected here).
 */
export async function ensureTopics(
  client: Kafka | Admin,
  specs: readonly TopicSpec[],
  options: { timeoutMs?: number } = {},
): Promise<TopicBootstrapResult> {
  const owned = isKafka(client);
  const admin: Admin = owned ? client.admin() : client;
  if (owned) await admin.connect();
  try {
    const present = new Set(await admin.listTopics());
    const missing = specs.filter((s) => !present.has(s.topic));
    const existing = specs.filter((s) => present.has(s.topic)).map((s) => s.topic);
    if (missing.length === 0) return { created: [], existing };
    const topics: ITopicConfig[] = missing.map((s) => ({
      topic: s.topic,
      numPartitions: s.partitions ?? 1,
      replicationFactor: s.replicationFactor ?? -1,
      configEntries: Object.entries(s.configs ?? {}).map(([name, value]) => ({ name, value })),
    }));
    try {
      await admin.createTopics({ topics, waitForLeaders: true, timeout: options.timeoutMs ?? 30000 });
    } catch (err) {
      // Another process may have created some of them in between: re-check before failing.
      const now = new Set(await admin.listTopics());
      if (!missing.every((s) => now.has(s.topic))) throw err;
    }
    const after = new Set(await admin.listTopics());
    const created = missing.map((s) => s.topic).filter((t) => after.has(t));
    return { created, existing };
  } finally {
    if (owned) await admin.disconnect();
  }
}

function isKafka(client: Kafka | Admin): client is Kafka {
  return typeof (client as Kafka).admin === 'function';
}
