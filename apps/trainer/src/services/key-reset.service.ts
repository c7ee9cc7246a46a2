import { encodeResetControl, MAX_KEY_BYTES } from '@app/contracts';
import type { Kafka, Producer } from '@app/kafka';
import { ModelNotFoundError, type ModelRegistry, type ModelTask } from '@app/registry';
import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { InvalidRequestError } from './invalid-request.error';
import { ModelsService } from './models.service';

/** Most keys one reset request may name. */
export const MAX_RESET_KEYS = 1000;

/** Where one key's reset control record landed: the worker applies it at this offset. */
export interface KeyResetPlacement {
  readonly key: string;
  readonly partition: number;
  readonly offset: string;
}

/** What a reset request answers. */
export interface KeyResetResult {
  readonly model: string;
  readonly task: ModelTask;
  readonly topic: string;
  readonly resets: KeyResetPlacement[];
}

/**
 * Ordered per-key state reset (docs/state-reset.md): a control record `{"<id>": key, "ts",
 * "model", "control": "reset"}` is produced to the model's input topic with the message key =
 * the key, in the partition the Java client's partitioner (kafkajs' default) picks for that key,
 * which is where the users' producers put the key's events. The worker applies it in order with
 * them, at its offset, and writes the key's state with the same compare-and-set as any event, so
 * a replay neither loses nor repeats it.
 *
 * The producer is idempotent: a retried produce does not write a second control record (a
 * duplicate landing after newer events would reset the key again).
 */
export class KeyResetService {
  private producer: Producer | null = null;
  private connecting: Promise<Producer> | null = null;
  private readonly partitioner = Partitioners.DefaultPartitioner();

  constructor(
    private readonly kafka: Kafka,
    private readonly registry: ModelRegistry,
    private readonly topics: { readonly forecast: string; readonly classify: string },
    private readonly now: () => number = Date.now,
  ) {}

  /** Checks the keys (a 400 names the field) and produces one control record per key, in order. */
  async reset(name: string, keys: unknown, field = 'keys'): Promise<KeyResetResult> {
    ModelsService.modelName(name);
    const list = checkKeys(keys, field);
    const details = await this.registry.getModel(name);
    if (!details) throw new ModelNotFoundError(`model ${name} not found`);
    const task = details.versions[details.versions.length - 1].task;
    const topic = this.topics[task];
    const producer = await this.connected();
    const admin = this.kafka.admin();
    await admin.connect();
    let partitions: PartitionMetadata[];
    try {
      const meta = await admin.fetchTopicMetadata({ topics: [topic] });
      partitions = meta.topics[0].partitions;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    const ts = this.now();
    const messages = list.map((key) => {
      const value = encodeResetControl(task, key, name, ts);
      const partition = this.partitioner({ topic, partitionMetadata: partitions, message: { key, value } });
      return { key, value, partition };
    });
    const acks = await producer.send({ topic, acks: -1, messages });
    // One acknowledgement per partition with the offset of its first record; the records of a
    // partition are written in the order they were given.
    const base = new Map(acks.map((a) => [a.partition, BigInt(a.baseOffset ?? '-1')]));
    const seen = new Map<number, bigint>();
    const resets = messages.map((m) => {
      const i = seen.get(m.partition) ?? 0n;
      seen.set(m.partition, i + 1n);
      return { key: m.key, partition: m.partition, offset: String(base.get(m.partition)! + i) };
    });
    return { model: name, task, topic, resets };
  }

  async close(): Promise<void> {
    const p = this.producer;
    this.producer = null;
    this.connecting = null;
    await p?.disconnect().catch(() => undefined);
  }

  private connected(): Promise<Producer> {
    if (this.producer) return Promise.resolve(this.producer);
    this.connecting ??= (async () => {
      const p = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
      try {
        await p.connect();
      } catch (err) {
        this.connecting = null;
        throw err;
      }
      this.producer = p;
      return p;
    })();
    return this.connecting;
  }
}

/** The request's keys: 1..MAX_RESET_KEYS distinct non-empty strings of at most MAX_KEY_BYTES UTF-8 bytes. */
function checkKeys(keys: unknown, field: string): string[] {
  if (!Array.isArray(keys) || keys.length === 0) throw new InvalidRequestError(`${field} must be a non-empty array of keys`);
  if (keys.length > MAX_RESET_KEYS) throw new InvalidRequestError(`${field} has ${keys.length} keys, at most ${MAX_RESET_KEYS} per request`);
  const seen = new Set<string>();
  const at = (i: number): string => (field === 'key' ? 'key' : `${field}/${i}`);
  keys.forEach((k, i) => {
    if (typeof k !== 'string' || k.length === 0) throw new InvalidRequestError(`${at(i)} must be a non-empty string`);
    const bytes = Buffer.byteLength(k, 'utf8');
    if (bytes > MAX_KEY_BYTES) throw new InvalidRequestError(`${at(i)} is ${bytes} bytes UTF-8, at most ${MAX_KEY_BYTES} (the input contract's key limit)`);
    if (seen.has(k)) throw new InvalidRequestError(`${at(i)} repeats key ${JSON.stringify(k)}`);
    seen.add(k);
  });
  return keys as string[];
}
