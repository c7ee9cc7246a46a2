/**
 * Pure, framework-free planning of one model's events of a unit of work (stage 3, plan).
 *
 * Input: the batch's valid events for one model (any key order, offsets ascending within a key)
 * plus what the loaded state records say about each key. Output: a time-major step schedule in
 * which step t advances every key that has a t-th step, with the head evaluations and state
 * resets placed at the boundaries between steps.
 *
 * Why time-major with slots sorted by step count: the keys active at step t are then always a
 * prefix of the slot order, so one engine call per step runs over a contiguous block of rows and
 * needs no gather/scatter (the mask the engine accepts stays all-ones).
 */

/** One decoded, valid event as the planner sees it. */
export interface PlannerEvent {
  /** Caller's index for this event (unique within the plan). */
  readonly index: number;
  readonly key: string;
  /** Source partition (every event of a key in one plan comes from the same partition). */
  readonly partition: number;
  /** Source offset in that partition. */
  readonly offset: bigint;
  /** Event time in epoch milliseconds. */
  readonly timeMs: number;
  /** The event asks for its key's sequence to start afresh. */
  readonly reset: boolean;
  /** Recurrent steps this event advances (1 for a reading, its token count for a text; may be 0). */
  readonly steps: number;
  /**
   * A control record resetting its key (docs/state-reset.md): applied at its offset like an event
   * (skipped on replay, advances the key's offset) but never late, no step, no head; the key's
   * next event then starts a sequence as a new key's first event does.
   */
  readonly control?: boolean;
  /** A label control record (docs/accuracy.md): applied at its offset like a reset, but resets nothing. */
  readonly label?: boolean;
}

/** What the loaded state record of a key says; absent when the key has no record. */
export interface KeyHistory {
  /** Partition of the last applied event (offsets compare only within the same partition). */
  readonly partition: number;
  readonly offset: bigint;
  /** Event time of the last applied event, epoch ms. */
  readonly lastTimeMs: number;
}

/** How the processor prepares a key's state row before the first planned step. */
export interface KeyStart {
  readonly history: KeyHistory | null;
  /**
   * True when the row starts from the initial state (no record, or the model-swap policy reset
   * it): the key's first applied event then starts a sequence (time delta 0).
   */
  readonly fresh: boolean;
  /** Steps replayed before the batch's events (model-swap rewarm); 0 otherwise. */
  readonly warmSteps: number;
}

/** Planner knobs (from the worker configuration). */
export interface PlanOptions {
  /** A gap in event time above this resets the key's state; 0 disables. */
  readonly maxGapMs: number;
  /** Events older than the key's last event time minus this are late; negative disables. */
  readonly allowedLatenessMs: number;
}

/** Why an applied event starts its key's sequence afresh. */
export type SequenceStart = 'none' | 'initial' | 'flag' | 'gap';

/** An event that will be applied. */
export interface PlannedEvent {
  readonly index: number;
  readonly offset: bigint;
  readonly timeMs: number;
  /** Slot (row) of the event's key in the step buffers. */
  readonly slot: number;
  /** Key-local step at which the event's first step runs (after warm steps and earlier events). */
  readonly firstStep: number;
  readonly steps: number;
  /** Milliseconds since the key's previous applied event; 0 when the event starts a sequence. */
  readonly deltaMs: number;
  readonly start: SequenceStart;
  /** Row of this event's head evaluation in the batch's head buffer; -1 for a control record. */
  readonly headRow: number;
  /** A control record (see {@link PlannerEvent.control}): no input, no prediction. */
  readonly control: boolean;
}

/** One key's row in the step buffers. */
export interface KeySlot {
  readonly key: string;
  readonly slot: number;
  readonly warmSteps: number;
  /** warmSteps + the steps of every applied event. */
  readonly totalSteps: number;
  /** Applied events in offset order. */
  readonly events: readonly PlannedEvent[];
  /** Offset and event time of the last applied event (what the state write records; NaN: none). */
  readonly lastOffset: bigint;
  readonly lastTimeMs: number;
}

/**
 * Something to do to one row between steps: snapshot it for a head evaluation, or reset it to the
 * initial state. Actions of one boundary are listed key by key in event order.
 */
export type BoundaryAction =
  | { readonly kind: 'head'; readonly slot: number; readonly row: number; readonly event: PlannedEvent }
  | { readonly kind: 'reset'; readonly slot: number; readonly event: PlannedEvent };

/** Events left out of the plan. */
export interface PlanRejects {
  /** At or below the key's last applied offset: already applied, emit nothing. */
  readonly skipped: readonly number[];
  /** Older than the key's last event time beyond the allowed lateness: DLQ `late_event`. */
  readonly late: readonly { readonly index: number; readonly lastTimeMs: number }[];
}

/** The whole schedule of one batch for one model. */
export interface BatchPlan {
  /** Slots sorted by totalSteps descending (ties: first applied offset ascending). */
  readonly slots: readonly KeySlot[];
  /** Number of steps (the longest key's totalSteps). */
  readonly stepCount: number;
  /** stepBatch[t]: how many leading slots step t advances. */
  readonly stepBatch: Int32Array;
  /** boundaries[b]: actions before step b (b = stepCount: after the last step). */
  readonly boundaries: readonly (readonly BoundaryAction[])[];
  /** Number of head evaluations (one per applied event but control records, key by key in slot order). */
  readonly headCount: number;
  readonly rejects: PlanRejects;
}

interface MutableEvent {
  index: number;
  offset: bigint;
  timeMs: number;
  slot: number;
  firstStep: number;
  steps: number;
  deltaMs: number;
  start: SequenceStart;
  headRow: number;
  control: boolean;
}

/**
 * Plans one model's events of a unit of work (any number of partitions, each key from one).
 *
 * @param events valid events (offsets ascending within each key; other order free)
 * @param starts per key: loaded history and how its row starts; keys missing here start fresh
 */
export function planBatch(
  events: readonly PlannerEvent[],
  starts: ReadonlyMap<string, KeyStart>,
  options: PlanOptions,
): BatchPlan {
  const byKey = new Map<string, PlannerEvent[]>();
  for (const e of events) {
    let list = byKey.get(e.key);
    if (list === undefined) {
      list = [];
      byKey.set(e.key, list);
    }
    list.push(e);
  }

  const skipped: number[] = [];
  const late: { index: number; lastTimeMs: number }[] = [];
  interface Draft {
    key: string;
    warmSteps: number;
    totalSteps: number;
    events: MutableEvent[];
    lastOffset: bigint;
    lastTimeMs: number;
  }
  const drafts: Draft[] = [];

  for (const [key, list] of byKey) {
    // Offsets ascend within a key in a partition batch; sort defensively (stable, cheap).
    list.sort((a, b) => (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0));
    const start = starts.get(key) ?? { history: null, fresh: true, warmSteps: 0 };
    const history = start.history;
    const appliedUpTo = history !== null && history.partition === list[0].partition ? history.offset : null;
    let lastTimeMs: number | null = history !== null ? history.lastTimeMs : null;
    let fresh = start.fresh;
    let step = start.warmSteps;
    const applied: MutableEvent[] = [];
    let lastOffset = -1n;

    for (const e of list) {
      if (appliedUpTo !== null && e.offset <= appliedUpTo) {
        skipped.push(e.index);
        continue;
      }
      if (e.control === true) {
        // Event time is left alone: a reset neither reopens the lateness window nor starts a gap.
        const reset = e.label !== true;
        applied.push({ index: e.index, offset: e.offset, timeMs: e.timeMs, slot: -1, firstStep: step, steps: 0, deltaMs: 0, start: reset ? 'flag' : 'none', headRow: -1, control: true });
        fresh ||= reset;
        lastOffset = e.offset;
        continue;
      }
      if (lastTimeMs !== null && options.allowedLatenessMs >= 0 && e.timeMs < lastTimeMs - options.allowedLatenessMs) {
        late.push({ index: e.index, lastTimeMs });
        continue;
      }
      let startKind: SequenceStart = 'none';
      if (e.reset) startKind = 'flag';
      else if (fresh) startKind = 'initial';
      else if (options.maxGapMs > 0 && lastTimeMs !== null && e.timeMs - lastTimeMs > options.maxGapMs) startKind = 'gap';
      const deltaMs = startKind === 'none' && lastTimeMs !== null ? e.timeMs - lastTimeMs : 0;
      applied.push({
        index: e.index,
        offset: e.offset,
        timeMs: e.timeMs,
        slot: -1,
        firstStep: step,
        steps: e.steps,
        deltaMs,
        start: startKind,
        headRow: -1,
        control: false,
      });
      step += e.steps;
      fresh = false;
      lastTimeMs = e.timeMs;
      lastOffset = e.offset;
    }
    if (applied.length === 0) continue;
    drafts.push({
      key,
      warmSteps: start.warmSteps,
      totalSteps: step,
      events: applied,
      lastOffset,
      lastTimeMs: lastTimeMs ?? Number.NaN,
    });
  }

  drafts.sort((a, b) => {
    if (a.totalSteps !== b.totalSteps) return b.totalSteps - a.totalSteps;
    const oa = a.events[0].offset;
    const ob = b.events[0].offset;
    return oa < ob ? -1 : oa > ob ? 1 : 0;
  });

  const stepCount = drafts.length > 0 ? drafts[0].totalSteps : 0;
  const stepBatch = new Int32Array(stepCount);
  const boundaries: BoundaryAction[][] = [];
  for (let b = 0; b <= stepCount; b++) boundaries.push([]);
  const slots: KeySlot[] = [];
  let headRow = 0;

  drafts.forEach((d, slot) => {
    for (let t = 0; t < d.totalSteps; t++) stepBatch[t] = slot + 1;
    for (const e of d.events) {
      e.slot = slot;
      // Rows of fresh keys are initialised by the caller; an explicit reset is only needed for
      // flag and gap starts (and a flag on a fresh key is harmless but kept for uniformity).
      if (e.start === 'flag' || e.start === 'gap') boundaries[e.firstStep].push({ kind: 'reset', slot, event: e });
      if (e.control) continue;
      e.headRow = headRow++;
      boundaries[e.firstStep + e.steps].push({ kind: 'head', slot, row: e.headRow, event: e });
    }
    slots.push({
      key: d.key,
      slot,
      warmSteps: d.warmSteps,
      totalSteps: d.totalSteps,
      events: d.events,
      lastOffset: d.lastOffset,
      lastTimeMs: d.lastTimeMs,
    });
  });

  return {
    slots,
    stepCount,
    stepBatch,
    boundaries,
    headCount: headRow,
    rejects: { skipped, late },
  };
}

/** The planner's view of decoded events (`index` = position in `events`). */
export function plannerEventsOf(
  events: readonly {
    readonly key: string;
    readonly partition: number;
    readonly offset: bigint;
    readonly timeMs: number;
    readonly reset: boolean;
    readonly control: boolean;
    readonly label: 0 | 1 | null;
    readonly tokens: Int32Array | null;
  }[],
): PlannerEvent[] {
  return events.map((e, i) => ({
    index: i,
    key: e.key,
    partition: e.partition,
    offset: e.offset,
    timeMs: e.timeMs,
    reset: e.reset,
    steps: e.control ? 0 : e.tokens !== null ? e.tokens.length : 1,
    control: e.control,
    label: e.label !== null,
  }));
}
