import { UnitSupersededError, type PartitionBatch } from './ports';

/** A unit admitted for preparation: the generation it was prepared in and its place in preparation order. */
export interface UnitTicket {
  readonly generation: number;
  readonly seq: number;
}

/**
 * The order and failure rules of prepared units' writes (docs/hot-path.md, Write lanes). Two
 * lanes, each in preparation order: a unit's produce follows the previous unit's produce; its
 * state write follows its own produce and the previous unit's state write. When a produce or a
 * state write fails:
 * - every unit prepared after it (in its generation) is superseded: not written, prepared again;
 * - the partitions of the failed unit and of those are fenced at their first offsets: a batch
 *   that starts past a fence was fetched before the consumer sought back and is superseded too;
 *   the replay lifts the fence, and so does a rejoin of the group;
 * - `discardPending` runs once the state writes already under way have settled, and units are
 *   admitted again only then (they must not read a store an earlier write is still reaching).
 */
export class WriteLanes {
  /** Bumped by a failed write: a unit whose preparation spans a failure is superseded. */
  private generation = 0;
  private seq = 0;
  /** By generation: the first unit that failed to write; the generation's units after it are superseded. */
  private readonly failedAt = new Map<number, number>();
  /** Prepared units not written (durable or failed) yet: where each of their partition batches starts. */
  private readonly inflight = new Map<number, { generation: number; starts: Map<string, bigint> }>();
  /** Partitions with superseded or failed work, at the offset its replay starts. */
  private readonly fences = new Map<string, bigint>();
  private produceLane: Promise<unknown> = Promise.resolve();
  private stateLane: Promise<unknown> = Promise.resolve();
  /** After a failure: settles once the state writes under way have settled and the pending states are gone. */
  private recovery: Promise<void> | null = null;

  /** @param discardPending forgets the states computed by units not written yet */
  constructor(private readonly discardPending: () => void) {}

  /** Waits out a recovery, then admits a unit's preparation; throws {@link UnitSupersededError} for a batch past a fence. */
  async admit(batches: readonly PartitionBatch[]): Promise<UnitTicket> {
    while (this.recovery !== null) await this.recovery;
    let ahead = false;
    for (const b of batches) {
      const k = tpKey(b.topic, b.partition);
      const fence = this.fences.get(k);
      if (fence === undefined || b.messages.length === 0) continue;
      if (firstOffset(b) <= fence) this.fences.delete(k);
      else ahead = true;
    }
    if (ahead) throw new UnitSupersededError();
    return { generation: this.generation, seq: ++this.seq };
  }

  /** True once a write failed after `ticket` was admitted: what it read may be gone. */
  spansFailure(ticket: UnitTicket): boolean {
    return ticket.generation !== this.generation;
  }

  /** The unit is prepared: its writes are queued with {@link write} (call it once). */
  prepared(ticket: UnitTicket, batches: readonly PartitionBatch[]): void {
    const starts = new Map(batches.filter((b) => b.messages.length > 0).map((b) => [tpKey(b.topic, b.partition), firstOffset(b)]));
    this.inflight.set(ticket.seq, { generation: ticket.generation, starts });
  }

  /**
   * Queues a prepared unit's produce and state write in their lanes; settles with the state
   * write. `produce` resolves with when the records were acknowledged; `writeStates` gets it.
   */
  write(ticket: UnitTicket, produce: () => Promise<number>, writeStates: (emittedAtMs: number) => Promise<void>): Promise<void> {
    const produced = this.produceLane.then(() => this.guarded(ticket, produce));
    this.produceLane = produced.catch(() => undefined);
    const run = async (): Promise<void> => {
      const emittedAtMs = await produced;
      await this.guarded(ticket, () => writeStates(emittedAtMs));
    };
    const done = this.stateLane.then(run, run).finally(() => this.inflight.delete(ticket.seq));
    this.stateLane = done.catch(() => undefined);
    return done;
  }

  /** The group was (re)joined: every partition is fetched again from its committed offset, so no fence is needed. */
  assignmentChanged(): void {
    this.fences.clear();
  }

  private async guarded<T>(ticket: UnitTicket, step: () => Promise<T>): Promise<T> {
    const first = this.failedAt.get(ticket.generation);
    if (first !== undefined && ticket.seq > first) throw new UnitSupersededError();
    try {
      return await step();
    } catch (err) {
      this.failed(ticket);
      throw err;
    }
  }

  private failed(ticket: UnitTicket): void {
    const first = Math.min(this.failedAt.get(ticket.generation) ?? Infinity, ticket.seq);
    this.failedAt.set(ticket.generation, first);
    for (const [seq, u] of this.inflight) {
      if (u.generation !== ticket.generation || seq < first) continue;
      for (const [tp, offset] of u.starts) {
        const fence = this.fences.get(tp);
        if (fence === undefined || offset < fence) this.fences.set(tp, offset);
      }
    }
    this.generation++;
    const recovery = this.stateLane.then(() => {
      this.discardPending();
      // Generations with nothing in flight any more need no record of their failure.
      const live = new Set([...this.inflight.values()].map((u) => u.generation));
      for (const g of [...this.failedAt.keys()]) if (!live.has(g)) this.failedAt.delete(g);
      if (this.recovery === recovery) this.recovery = null;
    });
    this.recovery = recovery;
  }
}

const tpKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;
const firstOffset = (b: PartitionBatch): bigint => BigInt(b.messages[0].offset);
