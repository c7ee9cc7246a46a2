import { planBatch, type PlannerEvent } from './batch-planner';
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
  type ProcessorConfig,
  type ProcessorObserver,
  type StatePort,
  type StateWrite,
} from './ports';
import { runPlan } from './step-stage';
import { writeUnit } from './write-stage';

/** What one unit of work gave; `waiting` batches (by position) were left untouched. */
export interface UnitResult extends BatchResult {
  readonly waiting: ReadonlyMap<number, Error>;
}

/**
 * The worker's hot path for one unit of work — the partition batches of one fetch
 * (docs/hot-path.md): decode → load → plan → step → encode → write, each stage a file of this
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

  /** One partition batch as a unit of its own; throws while its topic's model is not served. */
  async process(batch: PartitionBatch): Promise<BatchResult & { lastOffset: string | null }> {
    const res = await this.processUnit([batch]);
    const waiting = res.waiting.get(0);
    if (waiting !== undefined) throw waiting;
    const { messages } = batch;
    return { ...res, lastOffset: messages.length > 0 ? messages[messages.length - 1].offset : null };
  }

  async processUnit(batches: readonly PartitionBatch[]): Promise<UnitResult> {
    const t0 = performance.now();
    let decoded = decodeUnit(this.cfg, this.models, batches, false);
    if (decoded.missing.size > 0) {
      // Rare (first event naming a model, or the topic's model not active yet): load, then decode again.
      await this.models.resolve!([...decoded.missing]);
      decoded = decodeUnit(this.cfg, this.models, batches, true);
    }
    this.observer.stageSeconds?.('decode', (performance.now() - t0) / 1000);
    let events = 0;
    batches.forEach((b, i) => {
      if (decoded.waiting.has(i)) return;
      events += b.messages.length;
      this.observer.eventsIn?.(b.topic, b.messages.length);
      this.observer.batchSize?.(b.messages.length);
    });
    let predictions = 0;
    let skipped = 0;
    let deadLetters = 0;
    for (const round of rounds(batches.length, decoded)) {
      const r = await this.runRound(batches, decoded, round);
      predictions += r.predictions;
      skipped += r.skipped;
      deadLetters += r.deadLetters;
    }
    return { events, predictions, deadLetters, skipped, waiting: decoded.waiting };
  }

  /** Load → plan → step → encode → write for the unit's batches in `round`. */
  private async runRound(
    batches: readonly PartitionBatch[],
    decoded: DecodedUnit,
    round: ReadonlySet<number>,
  ): Promise<{ predictions: number; skipped: number; deadLetters: number }> {
    const rejections: Rejection[] = decoded.rejections.filter((r) => round.has(r.batch));
    const groups = [...decoded.groups]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, g]) => {
        const events = g.events.filter((e) => round.has(e.batch));
        return { name, model: g.model, events, keys: distinctKeys(events) };
      })
      .filter((g) => g.events.length > 0);

    const tLoad = performance.now();
    const loaded = await Promise.all(groups.map((g) => this.store.loadMany(g.name, g.keys)));
    if (groups.length > 0) this.observer.stageSeconds?.('state_load', (performance.now() - tLoad) / 1000);

    const tStep = performance.now();
    const outputs: PlacedOutput[] = [];
    const eventTimesMs: number[] = [];
    const writes = new Map<string, StateWrite[]>();
    const predictedTopics: [string, number][] = [];
    let skipped = 0;
    groups.forEach((g, gi) => {
      this.observer.stateOps?.('load', g.keys.length);
      const { starts, prepared } = prepareKeys(g.model, g.keys, loaded[gi], this.cfg.rewarmSteps, this.observer, this.logger);
      const plannerEvents: PlannerEvent[] = g.events.map((e, i) => ({
        index: i,
        key: e.key,
        partition: e.partition,
        offset: e.offset,
        timeMs: e.timeMs,
        reset: e.reset,
        steps: e.tokens !== null ? e.tokens.length : 1,
      }));
      const plan = planBatch(plannerEvents, starts, {
        maxGapMs: this.cfg.maxGapMs,
        allowedLatenessMs: this.cfg.allowedLatenessMs,
      });
      skipped += plan.rejects.skipped.length;
      for (const l of plan.rejects.late) rejections.push(lateRejection(g.events[l.index], l.lastTimeMs, this.cfg.allowedLatenessMs));
      if (plan.slots.length === 0) return;
      const out = runPlan(g.model, plan, prepared, g.events, this.observer);
      const enc = encodeGroup(this.cfg, batches, g.model, plan, prepared, g.events, out);
      outputs.push(...enc.predictions);
      eventTimesMs.push(...enc.eventTimesMs);
      writes.set(g.name, enc.writes);
      const topic = g.model.task.kind === 'forecast' ? this.cfg.forecastTopic : this.cfg.classificationTopic;
      predictedTopics.push([topic, enc.predictions.length]);
    });
    if (groups.length > 0) this.observer.stageSeconds?.('step', (performance.now() - tStep) / 1000);
    // Dead letters ride in the same producer call as the predictions.
    for (const rej of rejections) outputs.push({ batch: rej.batch, index: rej.index, record: deadLetter(this.cfg, batches[rej.batch], rej) });

    const { emittedAtMs } = await writeUnit(this.sink, this.store, outputs, writes, this.observer);
    // Events skipped as already applied may have been written by an earlier attempt of this unit
    // whose replica acknowledgement fell short: committing past them needs that acknowledgement.
    if (skipped > 0) await this.store.confirmDurable?.();
    for (const rej of rejections) this.observer.deadLettered?.(rej.reason, 1);
    if (skipped > 0) this.observer.skipped?.(skipped);
    for (const [topic, n] of predictedTopics) this.observer.predictionsOut?.(topic, n);
    if (eventTimesMs.length > 0) this.observer.emitted?.(eventTimesMs, emittedAtMs);
    return { predictions: eventTimesMs.length, skipped, deadLetters: rejections.length };
  }
}

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
