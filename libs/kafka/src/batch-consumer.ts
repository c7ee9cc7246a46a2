import type { Consumer, ConsumerConfig, ConsumerRunConfig, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
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

/** What a handler may do while it works on a batch or a unit. */
export interface BatchContext {
  /** Tells the group coordinator this member is alive; call it during long batches. */
  heartbeat(): Promise<void>;
  /**
   * False once the consumer is stopping or a partition of the work was revoked: the handler may
   * stop early; what was revoked is then not committed.
   */
  isActive(): boolean;
}

/**
 * Processes a whole partition batch. Return when every message is durably handled: the batch's
 * offsets are then resolved and committed. Throw to have the same batch delivered again after a
 * backoff (nothing is skipped, nothing is committed).
 */
export type BatchHandler = (batch: PartitionBatch, ctx: BatchContext) => Promise<void>;

/** A batch of a unit that could not be handled now, with why. */
export interface FailedBatch {
  readonly batch: PartitionBatch;
  readonly error: unknown;
}

/**
 * What a unit handler returns: the batches that must be delivered again after a backoff, and —
 * for a handler that makes its work durable after returning — a promise of that.
 */
export interface UnitOutcome {
  readonly failed?: readonly FailedBatch[];
  /**
   * Settles once the unit's other batches are durably handled. While it is pending the next unit
   * may already be fetched and handled (the offsets are resolved, not committed); the commit waits
   * for it. A rejection fails those batches (as a thrown error would).
   */
  readonly durable?: Promise<void>;
  /**
   * Called once the unit's offsets are committed, with when that commit request started and
   * ended (performance.now() ms); not called when they are not (revoked, or carried by a later
   * commit after this one failed).
   */
  readonly committed?: (startMs: number, endMs: number) => void;
}

/**
 * Processes the partition batches that arrived together (one fetch) as one unit of work. Return
 * when every batch is durably handled (or with {@link UnitOutcome.durable} pending), listing in
 * `failed` those that must be delivered again after a backoff; the rest are committed, all in one
 * request. A thrown error fails every batch of the unit.
 */
export type UnitHandler = (batches: readonly PartitionBatch[], ctx: BatchContext) => Promise<UnitOutcome | void>;

/**
 * Timed parts of a unit's life that happen in the consumer (for stage histograms): `fetch_wait`
 * from the later of the previous unit's release and the start of the fetch request that brought
 * the unit's batches, to their arrival; `commit` the offset commit request.
 */
export type ConsumerStage = 'fetch_wait' | 'commit';

/** A partition whose batch keeps failing, since its first failure in a row. */
export interface StuckPartition {
  readonly topic: string;
  readonly partition: number;
  /** Failed attempts in a row. */
  readonly attempts: number;
  /** Epoch ms of the first failure in a row. */
  readonly sinceMs: number;
  /** The last error's kind as returned by {@link BatchConsumerOptions.onError} (or null). */
  readonly kind: string | null;
}

/** What the group's committed offset and the partition's end were when last known here. */
export interface PartitionProgress {
  readonly topic: string;
  readonly partition: number;
  /** Next offset to read as committed by this member (or the fetch position before its first commit). */
  readonly committed: bigint;
  /** High watermark at the last fetch. */
  readonly highWatermark: bigint;
}

/** Options of {@link BatchConsumer}: exactly one of `handler` and `unitHandler`. */
export interface BatchConsumerOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  /** Per partition batch; the batches of a unit are handled one after the other. */
  readonly handler?: BatchHandler;
  /** Per unit of work (every partition batch of one fetch). */
  readonly unitHandler?: UnitHandler;
  /** Where a group without committed offsets starts (default: earliest). */
  readonly fromBeginning?: boolean;
  /** First retry delay after a handler error, ms (default 500); doubles up to `maxRetryDelayMs`. */
  readonly retryDelayMs?: number;
  /** Retry delay cap, ms (default 10000). */
  readonly maxRetryDelayMs?: number;
  /**
   * Called on each failed batch before the retry (logging, metrics), with the attempt number
   * (1 for the first failure) and the delay before the partition is fetched again. May return a
   * short kind of the error (a string), kept in {@link StuckPartition.kind}.
   */
  readonly onError?: (error: unknown, batch: PartitionBatch, attempt: number, retryInMs: number) => unknown;
  /**
   * True for an error (thrown by the handler or of {@link UnitOutcome.durable}) that only says the
   * unit was handled on top of an earlier unit that failed: its batches are delivered again at
   * once, not counted as failures.
   */
  readonly isSuperseded?: (error: unknown) => boolean;
  /**
   * Whether a batch that failed with this error is retried in a unit of its own until it succeeds
   * (default: always). Say no for failures that are not the partition's own (a shared store being
   * away): its partitions then retry together, one attempt for all of them.
   */
  readonly isolateAfter?: (error: unknown) => boolean;
  /**
   * Least time between two offset commits, ms (default 0: each unit commits as soon as it is
   * durable). Offsets of units made durable meanwhile go out together in the next commit, at the
   * latest this long after the previous one. A commit shares the consumer's connection with the
   * fetches, and the broker answers a connection's requests one at a time: fewer commits keep
   * them off the fetch path (docs/hot-path.md, Commits). Replays after a crash or a rebalance
   * start at the last commit; what they re-read was durable and is skipped by the handler.
   */
  readonly commitIntervalMs?: number;
  /** A commit failed; its offsets go out with the next unit's commit. */
  readonly onCommitError?: (error: unknown) => void;
  /** Durations of the consumer's own stages, seconds. */
  readonly onStage?: (stage: ConsumerStage, seconds: number) => void;
  /** Extra kafkajs consumer options (session timeout, fetch sizes, rebalance timeout...). */
  readonly consumerConfig?: Omit<ConsumerConfig, 'groupId'>;
  /** Backoff and reporting of restarts after crashes kafkajs does not restart itself ({@link restartOnCrash}). */
  readonly restart?: CrashRestartOptions;
}

/**
 * How many partition batches kafkajs may hand over at once. The fetcher waits for every batch of
 * a fetch before fetching again, and a unit waits for the batches that arrive with it, so this
 * must exceed the partitions one member can be assigned; the workers are plain closures.
 */
const MAX_CONCURRENT_BATCHES = 1024;

interface Arrival {
  readonly view: PartitionBatch;
  readonly payload: EachBatchPayload;
  readonly done: () => void;
}

const tpKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/**
 * A consumer-group member that hands the partition batches of each fetch to one handler call (a
 * unit of work) and commits after it returns, every partition in one request: kafkajs `eachBatch`
 * with `eachBatchAutoResolve: false` and `autoCommit` off. The batches kafkajs delivers in the
 * same turn of the event loop form a unit; a failed batch pauses its partition, rewinds it to the
 * batch start and retries later, alone (a partition that failed is handled in a unit of its own
 * until it succeeds, so one bad partition never holds the others back). A crash kafkajs does not
 * recover from (the broker gone for a while) is restarted here, so the member resumes by itself
 * when the broker is back.
 */
export class BatchConsumer {
  /** The underlying kafkajs consumer (events such as `consumer.events.GROUP_JOIN`). */
  readonly consumer: Consumer;
  private readonly failures = new Map<
    string,
    { attempts: number; sinceMs: number; kind: string | null; topic: string; partition: number; isolated: boolean }
  >();
  private readonly progress = new Map<string, { topic: string; partition: number; committed: bigint; highWatermark: bigint }>();
  private pending: Arrival[] = [];
  /** Resolved, durable, not committed yet (a commit that failed is carried by the next one). */
  private readonly uncommitted = new Map<string, { topic: string; partition: number; offset: bigint }>();
  private flushScheduled = false;
  /** Units are handled one after another... */
  private handleLane: Promise<void> = Promise.resolve();
  /** ...and made durable and committed one after another, overlapping the next unit's handling. */
  private durableLane: Promise<void> = Promise.resolve();
  /** Partitions sought back to re-deliver failed work: the earliest offset wins until re-delivered. */
  private readonly rewinds = new Map<string, bigint>();
  private idleSince = 0;
  /** When the last commit request went out (performance.now()), and the one scheduled, if any. */
  private lastCommitAt = -Infinity;
  private commitTimer: NodeJS.Timeout | null = null;
  private committing: Promise<void> = Promise.resolve();
  /** `committed` callbacks of durable units whose offsets are not committed yet. */
  private awaitingCommit: ((startMs: number, endMs: number) => void)[] = [];
  /** When the last fetch request went out (kafkajs FETCH_START). */
  private fetchStartedAt = 0;
  private running = false;
  private detachRestart: (() => void) | null = null;
  private readonly unitHandler: UnitHandler;

  constructor(
    kafka: Kafka,
    private readonly options: BatchConsumerOptions,
  ) {
    if ((options.handler === undefined) === (options.unitHandler === undefined)) {
      throw new Error('BatchConsumer needs exactly one of handler and unitHandler');
    }
    this.unitHandler = options.unitHandler ?? perBatch(options.handler!);
    this.consumer = kafka.consumer({
      allowAutoTopicCreation: false,
      ...options.consumerConfig,
      groupId: options.groupId,
    });
    this.consumer.on(this.consumer.events.FETCH_START, () => {
      this.fetchStartedAt = performance.now();
    });
    // What is no longer assigned here is no longer ours to report.
    this.consumer.on(this.consumer.events.GROUP_JOIN, (e) => {
      const assigned = new Set<string>();
      for (const [topic, partitions] of Object.entries(e.payload.memberAssignment)) {
        for (const p of partitions) assigned.add(tpKey(topic, p));
      }
      for (const k of [...this.failures.keys()]) if (!assigned.has(k)) this.failures.delete(k);
      for (const k of [...this.progress.keys()]) if (!assigned.has(k)) this.progress.delete(k);
      for (const k of [...this.uncommitted.keys()]) if (!assigned.has(k)) this.uncommitted.delete(k);
      for (const k of [...this.rewinds.keys()]) if (!assigned.has(k)) this.rewinds.delete(k);
    });
  }

  /** Connects, subscribes and starts the fetch loop; resolves once the loop runs (not when joined). */
  async start(): Promise<void> {
    const o = this.options;
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [...o.topics], fromBeginning: o.fromBeginning ?? true });
    this.running = true;
    this.idleSince = performance.now();
    const runConfig: ConsumerRunConfig = {
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: MAX_CONCURRENT_BATCHES,
      eachBatch: async (payload) => {
        const { batch } = payload;
        if (!this.running || batch.messages.length === 0 || !payload.isRunning() || payload.isStale()) return;
        const view: PartitionBatch = {
          topic: batch.topic,
          partition: batch.partition,
          messages: batch.messages,
          firstOffset: batch.firstOffset() ?? batch.messages[0].offset,
          lastOffset: batch.lastOffset(),
          highWatermark: batch.highWatermark,
        };
        await new Promise<void>((done) => {
          this.pending.push({ view, payload, done });
          if (!this.flushScheduled) {
            this.flushScheduled = true;
            // kafkajs starts the handlers of one fetch in the same turn: gather them first.
            setImmediate(() => this.flush());
          }
        });
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

  /** Leaves the group and disconnects; in-flight units finish (and commit) first. */
  async stop(): Promise<void> {
    this.running = false;
    this.detachRestart?.();
    await this.handleLane;
    await this.durableLane;
    // What is durable is committed before leaving, whatever the interval.
    if (this.commitTimer !== null) clearTimeout(this.commitTimer);
    this.commitTimer = null;
    await this.committing;
    await this.commitNow();
    await this.consumer.disconnect();
  }

  /** Partitions whose last attempt failed, oldest first. */
  stuckPartitions(): StuckPartition[] {
    return [...this.failures.values()]
      .map((f) => ({ topic: f.topic, partition: f.partition, attempts: f.attempts, sinceMs: f.sinceMs, kind: f.kind }))
      .sort((a, b) => a.sinceMs - b.sinceMs);
  }

  /** Committed offset and high watermark of every assigned partition this member has fetched. */
  partitionProgress(): PartitionProgress[] {
    return [...this.progress.values()].map((p) => ({ ...p }));
  }

  private flush(): void {
    this.flushScheduled = false;
    const arrivals = this.pending;
    this.pending = [];
    // From the later of "ready for more" and "the fetch that brought these went out": the time
    // spent waiting for records, not the idle polls before them.
    const fetchWait = (performance.now() - Math.max(this.idleSince, this.fetchStartedAt)) / 1000;
    // Partitions whose own batch failed last time go alone, so they cannot fail the others again.
    const together: Arrival[] = [];
    const units: Arrival[][] = [];
    for (const a of arrivals) {
      this.noteFetched(a.view);
      if (this.failures.get(tpKey(a.view.topic, a.view.partition))?.isolated === true) units.push([a]);
      else together.push(a);
    }
    if (together.length > 0) units.unshift(together);
    this.options.onStage?.('fetch_wait', fetchWait);
    this.handleLane = this.handleLane.then(async () => {
      for (const unit of units) await this.runUnit(unit);
    });
  }

  private noteFetched(view: PartitionBatch): void {
    const k = tpKey(view.topic, view.partition);
    const p = this.progress.get(k);
    const hw = BigInt(view.highWatermark);
    if (p === undefined) {
      this.progress.set(k, { topic: view.topic, partition: view.partition, committed: BigInt(view.firstOffset), highWatermark: hw });
    } else {
      p.highWatermark = hw;
    }
  }

  private async runUnit(arrivals: readonly Arrival[]): Promise<void> {
    const live = (a: Arrival): boolean => this.running && a.payload.isRunning() && !a.payload.isStale();
    // A batch fetched before its partition was sought back (stale) is dropped unresolved: the
    // next fetch starts at the seek.
    const unit = arrivals.filter(live);
    let outcome: UnitOutcome = {};
    if (unit.length > 0) {
      try {
        const ctx: BatchContext = {
          heartbeat: () => unit[0].payload.heartbeat(),
          isActive: () => unit.every(live),
        };
        outcome =
          (await this.unitHandler(
            unit.map((a) => a.view),
            ctx,
          )) ?? {};
      } catch (err) {
        if (this.options.isSuperseded?.(err) === true) {
          for (const a of unit) this.rewind(a.view);
          for (const a of arrivals) a.done();
          this.idleSince = performance.now();
          return;
        }
        outcome = { failed: unit.map((a) => ({ batch: a.view, error: err })) };
      }
    }
    const failed = new Set<PartitionBatch>();
    for (const f of outcome.failed ?? []) {
      const a = unit.find((x) => x.view === f.batch);
      if (a === undefined) continue;
      failed.add(a.view);
      this.retryLater(a, f.error);
    }
    // A batch whose partition was revoked (or the consumer stopping) is not committed; not
    // committing is always safe, the next owner re-reads it.
    const accepted = unit.filter((a) => !failed.has(a.view) && live(a));
    for (const a of accepted) {
      this.rewinds.delete(tpKey(a.view.topic, a.view.partition));
      // The fetch position moves past the batch; a failure later seeks it back.
      a.payload.resolveOffset(a.view.lastOffset);
    }
    // kafkajs may fetch the next unit now, while this one is made durable and committed.
    for (const a of arrivals) a.done();
    this.idleSince = performance.now();
    if (accepted.length === 0) return;
    const durable = outcome.durable ?? Promise.resolve();
    // Awaited in turn below; until then a rejection is not an unhandled one.
    durable.catch(() => undefined);
    this.durableLane = this.durableLane.then(() => this.finishUnit(accepted, durable, outcome.committed));
  }

  /** Waits for a unit's work to be durable, then commits it (or has it delivered again). */
  private async finishUnit(
    accepted: readonly Arrival[],
    durable: Promise<void>,
    committed?: (startMs: number, endMs: number) => void,
  ): Promise<void> {
    try {
      await durable;
    } catch (err) {
      const superseded = this.options.isSuperseded?.(err) ?? false;
      for (const a of accepted) {
        if (superseded) this.rewind(a.view);
        else this.retryLater(a, err);
      }
      return;
    }
    for (const a of accepted) {
      const k = tpKey(a.view.topic, a.view.partition);
      this.failures.delete(k);
      // With autoCommit off, kafkajs commits only offsets passed explicitly: the next one to read.
      if (!a.payload.isStale()) {
        this.uncommitted.set(k, { topic: a.view.topic, partition: a.view.partition, offset: BigInt(a.view.lastOffset) + 1n });
      }
    }
    if (committed !== undefined) this.awaitingCommit.push(committed);
    const interval = this.options.commitIntervalMs ?? 0;
    if (interval <= 0) {
      await this.commitNow();
      return;
    }
    // Coalesced: one commit at most every `interval` ms, off the durable lane.
    if (this.commitTimer !== null) return;
    const delay = Math.max(0, this.lastCommitAt + interval - performance.now());
    this.commitTimer = setTimeout(() => {
      this.commitTimer = null;
      this.committing = this.committing.then(() => this.commitNow());
    }, delay);
  }

  /** Commits every durable offset not committed yet and tells the units it covered. */
  private async commitNow(): Promise<void> {
    const callbacks = this.awaitingCommit;
    this.awaitingCommit = [];
    this.lastCommitAt = performance.now();
    const timing = await this.commit();
    if (timing !== null) for (const cb of callbacks) cb(timing.startMs, timing.endMs);
  }

  /** Seeks a partition back to a batch's start, unless it is already sought back further. */
  private rewind(view: PartitionBatch): void {
    const k = tpKey(view.topic, view.partition);
    const offset = BigInt(view.firstOffset);
    const pending = this.rewinds.get(k);
    if (pending !== undefined && pending <= offset) return;
    this.rewinds.set(k, offset);
    this.consumer.seek({ topic: view.topic, partition: view.partition, offset: view.firstOffset });
  }

  /** One commit request with every resolved offset not committed yet; its timing, or null when none was made or it failed. */
  private async commit(): Promise<{ startMs: number; endMs: number } | null> {
    if (this.uncommitted.size === 0) return null;
    const offsets = [...this.uncommitted.values()];
    const t0 = performance.now();
    try {
      // The consumer's own API: the batch handlers of these offsets may have returned long ago.
      await this.consumer.commitOffsets(offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset.toString() })));
    } catch (err) {
      // The offsets stay where they were (a rebalance, the broker away): the work is durable and
      // its replay is skipped by the state offsets; the next unit's commit carries them again.
      this.options.onCommitError?.(err);
      return null;
    }
    const t1 = performance.now();
    this.options.onStage?.('commit', (t1 - t0) / 1000);
    for (const o of offsets) {
      const k = tpKey(o.topic, o.partition);
      if (this.uncommitted.get(k) === o) this.uncommitted.delete(k);
      const p = this.progress.get(k);
      if (p !== undefined && p.committed < o.offset) p.committed = o.offset;
    }
    return { startMs: t0, endMs: t1 };
  }

  /** Delay before retrying a partition's batch after its `attempt`-th failure: doubling, capped. */
  private retryDelay(attempt: number): number {
    const base = this.options.retryDelayMs ?? 500;
    const cap = this.options.maxRetryDelayMs ?? 10000;
    return Math.min(cap, base * 2 ** Math.min(attempt - 1, 16));
  }

  private retryLater(a: Arrival, error: unknown): void {
    const { view } = a;
    const k = tpKey(view.topic, view.partition);
    const prev = this.failures.get(k);
    const attempts = (prev?.attempts ?? 0) + 1;
    const retryInMs = this.retryDelay(attempts);
    const returned = this.options.onError?.(error, view, attempts, retryInMs);
    const kind = typeof returned === 'string' ? returned : null;
    this.failures.set(k, {
      topic: view.topic,
      partition: view.partition,
      attempts,
      sinceMs: prev?.sinceMs ?? Date.now(),
      kind,
      isolated: this.options.isolateAfter?.(error) ?? true,
    });
    // Rewind first: the next fetch of this partition must start at the failed batch again.
    this.rewind(view);
    const tp = [{ topic: view.topic, partitions: [view.partition] }];
    this.consumer.pause(tp);
    setTimeout(() => {
      if (this.running) this.consumer.resume(tp);
    }, retryInMs).unref();
  }
}

/** A unit handler running a per-batch handler on each batch of the unit, one after the other. */
function perBatch(handler: BatchHandler): UnitHandler {
  return async (batches, ctx) => {
    const failed: FailedBatch[] = [];
    for (const batch of batches) {
      try {
        await handler(batch, ctx);
      } catch (error) {
        failed.push({ batch, error });
      }
    }
    return { failed };
  };
}
