import type { Consumer, ConsumerConfig, ConsumerRunConfig, Kafka, KafkaMessage } from 'kafkajs';
import { restartOnCrash, type CrashRestartOptions } from './crash-restart';

/** One partition's fetched batch, in offset order. */
export interface PartitionBatch {
  readonly topic: string;
  readonly partition: number;
  readonly messages: readonly KafkaMessage[];
  /** Offset of the first message (string, 64-bit). */
  readonly firstOffset: string;
  /** Offset of the last message. */
  readonly lastOffset: string;
  /** Partition high watermark at fetch time. */
  readonly highWatermark: string;
}

/** What a handler may do while it works on a batch. */
export interface BatchContext {
  /** Tells the group coordinator this member is alive; call it during long batches. */
  heartbeat(): Promise<void>;
  /**
   * False once the consumer is stopping or the partition was revoked: the handler may stop early;
   * the batch is then not committed.
   */
  isActive(): boolean;
}

/**
 * Processes a whole partition batch. Return when every message is durably handled: the batch's
 * offsets are then resolved and committed. Throw to have the same batch delivered again after a
 * backoff (nothing is skipped, nothing is committed).
 */
export type BatchHandler = (batch: PartitionBatch, ctx: BatchContext) => Promise<void>;

/** Options of {@link BatchConsumer}. */
export interface BatchConsumerOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  readonly handler: BatchHandler;
  /** Where a group without committed offsets starts (default: earliest). */
  readonly fromBeginning?: boolean;
  /** How many partitions are handled concurrently (default 1). */
  readonly partitionsConsumedConcurrently?: number;
  /** First retry delay after a handler error, ms (default 500); doubles up to `maxRetryDelayMs`. */
  readonly retryDelayMs?: number;
  /** Retry delay cap, ms (default 10000). */
  readonly maxRetryDelayMs?: number;
  /**
   * Called on each handler error before the retry (logging, metrics), with the attempt number
   * (1 for the first failure) and the delay before the partition is fetched again.
   */
  readonly onError?: (error: unknown, batch: PartitionBatch, attempt: number, retryInMs: number) => void;
  /** Extra kafkajs consumer options (session timeout, fetch sizes, rebalance timeout...). */
  readonly consumerConfig?: Omit<ConsumerConfig, 'groupId'>;
  /** Backoff and reporting of restarts after crashes kafkajs does not restart itself ({@link restartOnCrash}). */
  readonly restart?: CrashRestartOptions;
}

/**
 * A consumer-group member that hands each fetched partition batch to one handler call and commits
 * only after it returns: kafkajs `eachBatch` with `eachBatchAutoResolve: false` and `autoCommit`
 * off; after the handler, the last offset is resolved, offsets are committed and a heartbeat is
 * sent. A failing handler pauses the partition, rewinds it to the batch start and retries later.
 * A crash kafkajs does not recover from (the broker gone for a while) is restarted here, so the
 * member resumes by itself when the broker is back.
 */
export class BatchConsumer {
  /** The underlying kafkajs consumer (events such as `consumer.events.GROUP_JOIN`). */
  readonly consumer: Consumer;
  private readonly failures = new Map<string, number>();
  private running = false;
  private detachRestart: (() => void) | null = null;

  constructor(
    kafka: Kafka,
    private readonly options: BatchConsumerOptions,
  ) {
    this.consumer = kafka.consumer({
      allowAutoTopicCreation: false,
      ...options.consumerConfig,
      groupId: options.groupId,
    });
  }

  /** Connects, subscribes and starts the fetch loop; resolves once the loop runs (not when joined). */
  async start(): Promise<void> {
    const o = this.options;
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [...o.topics], fromBeginning: o.fromBeginning ?? true });
    this.running = true;
    const runConfig: ConsumerRunConfig = {
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: o.partitionsConsumedConcurrently ?? 1,
      // kafkajs hands out closures here, not methods: destructuring them is safe.
      /* eslint-disable @typescript-eslint/unbound-method */
      eachBatch: async ({ batch, resolveOffset, commitOffsetsIfNecessary, heartbeat, isRunning, isStale, pause }) => {
        /* eslint-enable @typescript-eslint/unbound-method */
        if (batch.messages.length === 0 || !isRunning() || isStale()) return;
        const view: PartitionBatch = {
          topic: batch.topic,
          partition: batch.partition,
          messages: batch.messages,
          firstOffset: batch.firstOffset() ?? batch.messages[0].offset,
          lastOffset: batch.lastOffset(),
          highWatermark: batch.highWatermark,
        };
        const ctx: BatchContext = { heartbeat, isActive: () => this.running && isRunning() && !isStale() };
        const tp = `${batch.topic}\u0000${batch.partition}`;
        try {
          await o.handler(view, ctx);
        } catch (err) {
          const attempt = (this.failures.get(tp) ?? 0) + 1;
          this.failures.set(tp, attempt);
          const retryInMs = this.retryDelay(attempt);
          o.onError?.(err, view, attempt, retryInMs);
          this.retryLater(view, retryInMs, pause);
          return;
        }
        this.failures.delete(tp);
        // A handler that stopped early (revoked partition, shutdown) must not have its batch
        // committed; not committing is always safe, the next owner re-reads it.
        if (!isRunning() || isStale()) return;
        const last = view.messages[view.messages.length - 1].offset;
        resolveOffset(last);
        // With autoCommit off, kafkajs commits only offsets passed explicitly: the next one to read.
        const next = (BigInt(last) + 1n).toString();
        await commitOffsetsIfNecessary({
          topics: [{ topic: view.topic, partitions: [{ partition: view.partition, offset: next }] }],
        });
        await heartbeat();
      },
    };
    this.detachRestart = restartOnCrash(
      this.consumer,
      () => this.consumer.run(runConfig),
      () => this.running,
      o.restart,
    );
    await this.consumer.run(runConfig);
  }

  /** Leaves the group and disconnects; in-flight handlers finish first (kafkajs semantics). */
  async stop(): Promise<void> {
    this.running = false;
    this.detachRestart?.();
    await this.consumer.disconnect();
  }

  /** Delay before retrying a partition's batch after its `attempt`-th failure: doubling, capped. */
  private retryDelay(attempt: number): number {
    const base = this.options.retryDelayMs ?? 500;
    const cap = this.options.maxRetryDelayMs ?? 10000;
    return Math.min(cap, base * 2 ** Math.min(attempt - 1, 16));
  }

  private retryLater(batch: PartitionBatch, delay: number, pause: () => () => void): void {
    // Rewind first: the next fetch of this partition must start at the failed batch again.
    this.consumer.seek({ topic: batch.topic, partition: batch.partition, offset: batch.messages[0].offset });
    const resume = pause();
    setTimeout(() => {
      if (this.running) resume();
    }, delay).unref();
  }
}
