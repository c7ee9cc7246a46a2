import type { StateRecord } from '@app/state';
import { planBatch, plannerEventsOf, type BatchPlan, type PlannerEvent } from './batch-planner';
import { deadLetter, decodeUnit, type DecodedUnit, type Rejection, type ValidEvent } from './decode-stage';
import { encodeGroup, type PlacedOutput } from './encode-stage';
import { distinctKeys, prepareKeys } from './load-stage';
import {
  SILENT_LOGGER,
  type BatchResult,
  type ModelSource,
  type OutputSink,
  type PartitionBatch,
  type PipelineLogger,
  type PipelineStage,
  type ProcessorConfig,
  type ProcessorObserver,
  type StatePort,
  type StateWrite,
  type UnitTrace,
  ModelNotReadyError,
  UnitSupersededError,
} from './ports';
import { nonFinite } from './finite-guard';
import { AccuracyTally } from './forecast-scoring';
import { shadowGroupsOf, stepShadow, warmTakeover } from './shadow-stage';
import { runGroupPlan, type StepOutput } from './step-stage';
import { attachTraceHeaders, UNTRACED } from './trace-headers';
import { WriteLanes, type UnitTicket } from './write-lanes';
import { produceUnit, writeStates } from './write-stage';
import type { ServingModel } from '../model/serving-model';

/** What one unit of work gave; `waiting` batches (by position) were left untouched. */
export interface UnitResult extends BatchResult {
  readonly waiting: ReadonlyMap<number, Error>;
}

/** A unit whose outputs are computed; `write()` makes them durable. */
export interface PreparedUnit {
  readonly result: UnitResult;
  /**
   * One producer call, then the CAS state writes (and, when events were skipped, the replica
   * acknowledgement of earlier writes); settles with the state writes. Rejects with
   * {@link UnitSupersededError} when a unit prepared before this one failed to write: this one
   * was computed from its states.
   */
  write(): Promise<void>;
}

/**
 * The worker's hot path for one unit of work — the partition batches of one fetch
 * (docs/hot-path.md; docs/architecture.md, Data path): decode → load → plan → step → encode → write, each stage a file of this
 * folder. One decode pass, one pipelined state load per model, one time-major kernel pass across
 * every key of the unit, one producer call, one pipelined compare-and-set write per model; the
 * consumer then commits every partition's offset in one request. A thrown error means nothing of
 * the unit may be committed (retry it).
 *
 * Deterministic: the same messages and stored states give byte-identical output records and
 * state records whatever the unit boundaries (no clock, no randomness; the only wall-clock value
 * is the DLQ `at`).
 */
export class BatchProcessor {
  constructor(
    private readonly cfg: ProcessorConfig,
    private readonly models: ModelSource,
    private readonly store: StatePort,
    private readonly sink: OutputSink,
    private readonly observer: ProcessorObserver = {},
    private readonly logger: PipelineLogger = SILENT_LOGGER,
  ) {}

  /** States computed by prepared units whose write has not succeeded yet, by model and key. */
  private readonly pending = new Map<string, StateRecord>();
  /** The order and failure rules of the prepared units' writes (write-lanes.ts). */
  private readonly lanes = new WriteLanes(() => this.pending.clear());

  /**
   * The consumer group was (re)joined: every assigned partition is fetched again from its
   * committed offset, so the write lanes' partition fences are lifted.
   */
  assignmentChanged(): void {
    this.lanes.assignmentChanged();
  }

  /** One partition batch as a unit of its own; throws while its topic's model is not served. */
  async process(batch: PartitionBatch): Promise<BatchResult & { lastOffset: string | null }> {
    const res = await this.processUnit([batch]);
    const waiting = res.waiting.get(0);
    if (waiting !== undefined) throw waiting;
    const { messages } = batch;
    return { ...res, lastOffset: messages.length > 0 ? messages[messages.length - 1].offset : null };
  }

  /** Prepares a unit and writes it. */
  async processUnit(batches: readonly PartitionBatch[]): Promise<UnitResult> {
    const unit = await this.prepareUnit(batches);
    await unit.write();
    return unit.result;
  }

  /**
   * Decode → load → plan → step → encode for a unit: everything but the writes. The next unit may
   * be prepared while this one writes: it reads the states this one computed (pending until its
   * write succeeds), so a key's events chain across units before they are durable. Call
   * `write()` of each prepared unit in preparation order (it is chained in that order anyway).
   */
  async prepareUnit(batches: readonly PartitionBatch[], trace: UnitTrace = UNTRACED): Promise<PreparedUnit> {
    const ticket = await this.lanes.admit(batches);
    const t0 = performance.now();
    let decoded = decodeUnit(this.cfg, this.models, batches, false);
    if (decoded.missing.size > 0) {
      // Rare (first event naming a model, or the topic's model not active yet): load, then decode again.
      await this.models.resolve!([...decoded.missing]);
      decoded = decodeUnit(this.cfg, this.models, batches, true);
    }
    const decodeSeconds = (performance.now() - t0) / 1000;
    this.observer.stageSeconds?.('decode', decodeSeconds);
    trace.stage('decode', decodeSeconds);
    let events = 0;
    batches.forEach((b, i) => {
      if (decoded.waiting.has(i)) return;
      events += b.messages.length;
      this.observer.eventsIn?.(b.topic, b.messages.length);
      this.observer.batchSize?.(b.messages.length);
    });
    const acc: UnitOutputs = {
      outputs: [],
      eventTimesMs: [],
      writes: new Map(),
      predicted: new Map(),
      rejections: [],
      skipped: 0,
      shadowSkipped: 0,
      pending: new Map(),
      replaced: new Map(),
      trace,
      accuracy: new Map(),
    };
    try {
      for (const round of rounds(batches.length, decoded)) await this.prepareRound(batches, decoded, round, acc, ticket);
    } catch (err) {
      // Nothing of this unit may be seen by the next one: put back what it replaced.
      for (const [k, before] of acc.replaced) {
        if (this.pending.get(k) !== acc.pending.get(k)) continue;
        if (before === undefined) this.pending.delete(k);
        else this.pending.set(k, before);
      }
      throw err;
    }
    const predictions = acc.eventTimesMs.length;
    const result: UnitResult = {
      events,
      predictions,
      deadLetters: acc.rejections.length,
      skipped: acc.skipped,
      waiting: decoded.waiting,
    };
    // Two lanes (write-lanes.ts): this unit's produce follows the previous unit's produce, not
    // its state write; `write()` settles with its state write.
    this.lanes.prepared(ticket, batches);
    const write = (): Promise<void> =>
      this.lanes.write(
        ticket,
        () => this.producePrepared(batches, acc),
        (emittedAtMs) => this.writePrepared(acc, emittedAtMs),
      );
    return { result, write };
  }

  /** The produce of a prepared unit (predictions and dead letters); when it was acknowledged. */
  private async producePrepared(batches: readonly PartitionBatch[], acc: UnitOutputs): Promise<number> {
    for (const rej of acc.rejections) {
      acc.outputs.push({ batch: rej.batch, index: rej.index, record: deadLetter(this.cfg, batches[rej.batch], rej) });
    }
    attachTraceHeaders(acc.outputs, batches, acc.trace);
    return produceUnit(this.sink, acc.outputs, this.observer, acc.trace);
  }

  /** The CAS state writes of a prepared unit whose produce succeeded; then its counters. */
  private async writePrepared(acc: UnitOutputs, emittedAtMs: number): Promise<void> {
    const writes = new Map([...acc.writes].map(([model, byKey]) => [model, [...byKey.values()]]));
    const accuracy = new Map(
      [...acc.accuracy].map(([namespace, a]) => [namespace, [{ version: a.version, model: a.model, kind: a.kind, partitions: a.tally.partitions() }]]),
    );
    await writeStates(this.store, writes, this.observer, acc.trace, accuracy);
    // Events skipped as already applied may have been written by an earlier attempt of this
    // unit whose replica acknowledgement fell short: committing past them needs it.
    if (acc.skipped + acc.shadowSkipped > 0) await this.store.confirmDurable?.();
    for (const [k, record] of acc.pending) if (this.pending.get(k) === record) this.pending.delete(k);
    for (const rej of acc.rejections) this.observer.deadLettered?.(rej.reason, 1);
    if (acc.skipped > 0) this.observer.skipped?.(acc.skipped);
    for (const [topic, n] of acc.predicted) this.observer.predictionsOut?.(topic, n);
    if (acc.eventTimesMs.length > 0) this.observer.emitted?.(acc.eventTimesMs, emittedAtMs);
  }

  /** Load → plan → step → encode for the unit's batches in `round`, into `acc`. */
  private async prepareRound(
    batches: readonly PartitionBatch[],
    decoded: DecodedUnit,
    round: ReadonlySet<number>,
    acc: UnitOutputs,
    ticket: UnitTicket,
  ): Promise<void> {
    for (const r of decoded.rejections) if (round.has(r.batch)) acc.rejections.push(r);
    const groups = [...decoded.groups]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, g]) => {
        const events = g.events.filter((e) => round.has(e.batch));
        return { name, model: g.model, events, keys: distinctKeys(events) };
      })
      .filter((g) => g.events.length > 0);

    const shadows = shadowGroupsOf(this.models, groups);
    const tLoad = performance.now();
    const loaded = await Promise.all([...groups, ...shadows].map((g) => this.loadKeys('namespace' in g ? g.namespace : g.name, g.keys)));
    const shadowLoaded = loaded.splice(groups.length);
    const load = (namespace: string, keys: readonly string[]) => this.loadKeys(namespace, keys);
    await Promise.all(groups.map((g, gi) => warmTakeover(g.model, g.keys, loaded[gi], load, this.observer)));
    if (groups.length > 0) stageDone(this.observer, acc.trace, 'state_load', tLoad);
    // A unit that failed to write while this one loaded may have given it some of its states.
    if (this.lanes.spansFailure(ticket)) throw new UnitSupersededError();
    groups.forEach((g, gi) => {
      const pending = this.models.pendingVersion?.(g.name) ?? null;
      if (pending !== null && loaded[gi].some((r) => r !== null && r.modelVersion === pending)) {
        throw new ModelNotReadyError(g.name, `v${pending} is active and holds keys of this unit, but is not loaded here yet`);
      }
    });

    const tStep = performance.now();
    groups.forEach((g, gi) => {
      this.observer.stateOps?.('load', g.keys.length);
      const partitionOf = new Map(g.events.map((e) => [e.key, e.partition]));
      const { starts, prepared } = prepareKeys(g.model, g.keys, loaded[gi], partitionOf, this.cfg.rewarmSteps, this.observer, this.logger);
      let plannerEvents = plannerEventsOf(g.events);
      const planOf = (list: PlannerEvent[]): BatchPlan =>
        planBatch(list, starts, { maxGapMs: this.cfg.maxGapMs, allowedLatenessMs: this.cfg.allowedLatenessMs });
      const runOf = (p: BatchPlan): StepOutput | null => runGroupPlan(g.model, p, prepared, g.events, this.observer);
      let plan = planOf(plannerEvents);
      let out = runOf(plan);
      // An event whose step is non-finite is dead-lettered and the key's later events are stepped
      // again without it, so its key keeps the state before it (finite-guard.ts).
      for (let bad = nonFinite(g.model, plan, out); bad.length > 0; bad = nonFinite(g.model, plan, out)) {
        const culprits = new Set(bad.map((b) => b.index));
        for (const b of bad) {
          const e = g.events[b.index];
          acc.rejections.push({
            batch: e.batch,
            index: e.index,
            reason: 'non_finite',
            detail: `model ${g.model.name} v${g.model.version} gave a non-finite ${b.what} for this event; the key keeps its previous state`,
          });
          this.logger.warn(
            `non-finite ${b.what}: ${g.model.name} v${g.model.version}, key ${b.key}, ${batches[e.batch].topic}/${e.partition}@${e.offset} dead-lettered`,
          );
        }
        plannerEvents = plannerEvents.filter((e) => !culprits.has(e.index));
        plan = planOf(plannerEvents);
        out = runOf(plan);
      }
      acc.skipped += plan.rejects.skipped.length;
      for (const l of plan.rejects.late) acc.rejections.push(lateRejection(g.events[l.index], l.lastTimeMs, this.cfg.allowedLatenessMs));
      if (out === null) return;
      const enc = encodeGroup(this.cfg, batches, g.model, plan, prepared, g.events, out);
      acc.outputs.push(...enc.predictions);
      tallyAccuracy(acc, g.name, g.name, g.model, enc.accuracy);
      acc.eventTimesMs.push(...enc.eventTimesMs);
      this.stageWrites(acc, g.name, enc.writes);
      const topic = g.model.task.kind === 'forecast' ? this.cfg.forecastTopic : this.cfg.classificationTopic;
      acc.predicted.set(topic, (acc.predicted.get(topic) ?? 0) + enc.predictions.length);
    });
    // Shadows step after the active versions, from the records loaded before them (shadow-stage.ts).
    shadows.forEach((sg, si) => {
      const stepped = stepShadow(this.cfg, batches, sg, shadowLoaded[si], loaded[groups.findIndex((g) => g.name === sg.name)], this.logger);
      acc.outputs.push(...stepped.outputs);
      acc.shadowSkipped += stepped.skipped;
      this.stageWrites(acc, sg.namespace, stepped.writes);
      // The shadow's errors ride with its own state write, into the (model, shadow version) accumulator.
      tallyAccuracy(acc, sg.namespace, sg.name, sg.model, stepped.accuracy);
      this.observer.shadowStepped?.(sg.name, stepped.events, stepped.restarts);
    });
    if (groups.length > 0) stageDone(this.observer, acc.trace, 'step', tStep);
  }

  /** Queues a state namespace's CAS writes in the unit and publishes them as pending to later units. */
  private stageWrites(acc: UnitOutputs, namespace: string, writes: readonly StateWrite[]): void {
    let byKey = acc.writes.get(namespace);
    if (byKey === undefined) acc.writes.set(namespace, (byKey = new Map()));
    for (const w of writes) {
      // A later round's record of the same key includes the earlier one's events.
      byKey.set(w.key, w);
      const k = pendingKey(namespace, w.key);
      if (!acc.replaced.has(k)) acc.replaced.set(k, this.pending.get(k));
      this.pending.set(k, w.record);
      acc.pending.set(k, w.record);
    }
  }

  /** Records of `keys`: pending ones (computed by a unit not written yet) first, the rest from the store. */
  private async loadKeys(model: string, keys: readonly string[]): Promise<(StateRecord | null)[]> {
    const out: (StateRecord | null)[] = new Array<StateRecord | null>(keys.length).fill(null);
    const missing: string[] = [];
    const at: number[] = [];
    keys.forEach((key, i) => {
      const p = this.pending.get(pendingKey(model, key));
      if (p !== undefined) out[i] = p;
      else {
        missing.push(key);
        at.push(i);
      }
    });
    if (missing.length > 0) {
      const loaded = await this.store.loadMany(model, missing);
      at.forEach((i, j) => (out[i] = loaded[j]));
    }
    return out;
  }
}

/** What a prepared unit will produce and write. */
interface UnitOutputs {
  readonly outputs: PlacedOutput[];
  readonly eventTimesMs: number[];
  /** CAS writes by state namespace (a model, or a shadow's), by key (the last round's record of a key wins). */
  readonly writes: Map<string, Map<string, StateWrite>>;
  readonly predicted: Map<string, number>;
  readonly rejections: Rejection[];
  skipped: number;
  /** Events the unit's shadows had applied already (not counted as the unit's skipped events). */
  shadowSkipped: number;
  /** Pending records this unit published for the units prepared after it. */
  readonly pending: Map<string, StateRecord>;
  /** What those replaced (undefined: nothing was pending), to undo a failed preparation. */
  readonly replaced: Map<string, StateRecord | undefined>;
  /** Forecast errors or labels scored, by state namespace (docs/accuracy.md), written before its states. */
  readonly accuracy: Map<string, { readonly model: string; readonly version: string; readonly kind: 'forecast' | 'label'; readonly tally: AccuracyTally }>;
  readonly trace: UnitTrace;
}

/** Adds a namespace's scored errors or labels (the active version's, or a shadow's) to the unit's tallies. */
function tallyAccuracy(acc: UnitOutputs, namespace: string, model: string, served: ServingModel, scored: AccuracyTally | null): void {
  if (scored === null || scored.empty) return;
  let a = acc.accuracy.get(namespace);
  const kind = served.task.kind === 'forecast' ? 'forecast' : 'label';
  if (a === undefined) acc.accuracy.set(namespace, (a = { model, version: served.versionLabel, kind, tally: new AccuracyTally() }));
  a.tally.merge(scored);
}

/** A stage that started at `t0` (performance.now()) ended: its histogram and its span. */
function stageDone(observer: ProcessorObserver, trace: UnitTrace, stage: PipelineStage, t0: number): void {
  const seconds = (performance.now() - t0) / 1000;
  observer.stageSeconds?.(stage, seconds);
  trace.stage(stage, seconds);
}

const pendingKey = (model: string, key: string): string => `${model}\u0000${key}`;
function lateRejection(e: ValidEvent, lastTimeMs: number, allowedLatenessMs: number): Rejection {
  return {
    batch: e.batch,
    index: e.index,
    reason: 'late_event',
    detail: `event time ${new Date(e.timeMs).toISOString()} is before the key's last event time ${new Date(lastTimeMs).toISOString()} beyond the allowed lateness ${allowedLatenessMs} ms`,
  };
}

/**
 * Splits a unit into rounds run one after the other so that no key of a model is in two
 * partitions of one round (a producer that spreads a key over partitions): each round then plans
 * every key from one partition, and a later round sees the earlier one's states. Normally one
 * round with every batch that does not wait.
 */
function rounds(count: number, decoded: DecodedUnit): Set<number>[] {
  const roundOf = new Int32Array(count);
  const lastRound = new Map<string, { batch: number; round: number }>();
  const keysOf: Set<string>[] = Array.from({ length: count }, () => new Set());
  for (const [name, g] of decoded.groups) for (const e of g.events) keysOf[e.batch].add(`${name}\u0000${e.key}`);
  let max = 0;
  for (let b = 0; b < count; b++) {
    let r = 0;
    for (const k of keysOf[b]) {
      const prev = lastRound.get(k);
      if (prev !== undefined && prev.batch !== b) r = Math.max(r, prev.round + 1);
    }
    roundOf[b] = r;
    max = Math.max(max, r);
    for (const k of keysOf[b]) lastRound.set(k, { batch: b, round: r });
  }
  const out: Set<number>[] = Array.from({ length: max + 1 }, () => new Set());
  for (let b = 0; b < count; b++) if (!decoded.waiting.has(b)) out[roundOf[b]].add(b);
  return out;
}
