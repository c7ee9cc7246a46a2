import { shadowStateModel, type StateRecord } from '@app/state';
import type { ServingModel } from '../model/serving-model';
import { planBatch, plannerEventsOf, type BatchPlan } from './batch-planner';
import type { ValidEvent } from './decode-stage';
import { encodeGroup, type PlacedOutput } from './encode-stage';
import { nonFinite } from './finite-guard';
import type { AccuracyTally } from './forecast-scoring';
import { prepareKeys } from './load-stage';
import type { ModelSource, PartitionBatch, PipelineLogger, ProcessorConfig, ProcessorObserver, StateWrite } from './ports';
import { runGroupPlan } from './step-stage';

/**
 * Shadow versions (docs/architecture.md, Shadow versions): a model's shadow version is stepped on
 * the same events as its active version, in the same unit of work, with per-key state records of
 * its own namespace (`<model>#v<version>`, @app/state shadowStateModel) written in the unit's
 * write stage next to the active ones — so exactly-once holds for it as for the active version,
 * through the same CAS rule and the same offset commit. Its outputs go to no prediction topic
 * (to SHADOW_TOPIC when one is configured). A shadow never dead-letters: an event the shadow
 * cannot step (a non-finite result) is left out of the shadow's state only.
 *
 * The `warm` swap policy hands a key over from the old active version to the promoted shadow:
 * see {@link warmTakeover}.
 */

/** One model's events of a round as its shadow steps them. */
export interface ShadowGroup {
  /** The model's name (its active version's state namespace). */
  readonly name: string;
  /** The shadow's state namespace. */
  readonly namespace: string;
  readonly model: ServingModel;
  readonly events: readonly ValidEvent[];
  readonly keys: readonly string[];
}

/** The shadow of each group whose model has one of the same task (never the active version itself). */
export function shadowGroupsOf(
  models: ModelSource,
  groups: readonly { readonly name: string; readonly model: ServingModel; readonly events: ValidEvent[]; readonly keys: string[] }[],
): ShadowGroup[] {
  const out: ShadowGroup[] = [];
  for (const g of groups) {
    const shadow = models.shadow?.(g.name);
    if (!shadow || shadow.version === g.model.version || !sameInput(shadow, g.model)) continue;
    out.push({ name: g.name, namespace: shadowStateModel(g.name, shadow.version), model: shadow, events: g.events, keys: g.keys });
  }
  return out;
}

/**
 * A shadow reads the events the active version's decoder validated: same task and, for
 * forecasters, the same number of values per reading. Another shadow is not stepped (the model
 * manager logs it when it loads).
 */
function sameInput(shadow: ServingModel, active: ServingModel): boolean {
  if (shadow.task.kind === 'forecast') return active.task.kind === 'forecast' && active.task.valueCount === shadow.task.valueCount;
  return active.task.kind === 'classify';
}

/** What stepping a shadow group gives. */
export interface SteppedShadow {
  /** CAS writes of the shadow's namespace. */
  readonly writes: StateWrite[];
  /** The shadow's outputs, on the shadow topic (none without one). */
  readonly outputs: PlacedOutput[];
  /** Events the shadow applied. */
  readonly events: number;
  /** Keys restarted from the initial state because the shadow missed some of their events. */
  readonly restarts: number;
  /** Forecast errors the shadow's own forecasts scored (its own accumulator; null: none). */
  readonly accuracy: AccuracyTally | null;
  /** Events the shadow had applied already (a replay): committing past them needs their writes durable. */
  readonly skipped: number;
}

/**
 * Steps a shadow group. `loaded` are the shadow's records of `sg.keys`, `active` the active
 * version's (both as loaded for this round). A shadow record behind the active one while the
 * key's first event here comes after the active record's offset means the shadow missed events
 * the active version applied (the shadow was not loaded on some worker for a while): that key's
 * shadow state restarts from the initial state, as a key the shadow had never seen. A shadow
 * record behind while this unit holds the events in between is a replay after a crash between
 * the two writes: it simply applies them.
 */
export function stepShadow(
  cfg: ProcessorConfig,
  batches: readonly PartitionBatch[],
  sg: ShadowGroup,
  loaded: readonly (StateRecord | null)[],
  active: readonly (StateRecord | null)[],
  logger: PipelineLogger,
): SteppedShadow {
  const firstOffset = new Map<string, bigint>();
  for (const e of sg.events) if (!firstOffset.has(e.key)) firstOffset.set(e.key, e.offset);
  let restarts = 0;
  const records = loaded.map((r, k) => {
    const a = active[k];
    if (r === null || a === null || a.partition !== r.partition || r.offset >= a.offset) return r;
    if (firstOffset.get(sg.keys[k])! <= a.offset) return r;
    restarts++;
    return null;
  });
  const partitionOf = new Map(sg.events.map((e) => [e.key, e.partition]));
  const { starts, prepared } = prepareKeys(sg.model, sg.keys, records, partitionOf, cfg.rewarmSteps, {}, logger);
  const planOf = (list: ReturnType<typeof plannerEventsOf>): BatchPlan =>
    planBatch(list, starts, { maxGapMs: cfg.maxGapMs, allowedLatenessMs: cfg.allowedLatenessMs });
  let plannerEvents = plannerEventsOf(sg.events);
  let plan = planOf(plannerEvents);
  let out = runGroupPlan(sg.model, plan, prepared, sg.events, {});
  for (let bad = nonFinite(sg.model, plan, out); bad.length > 0; bad = nonFinite(sg.model, plan, out)) {
    const culprits = new Set(bad.map((b) => b.index));
    logger.warn(`shadow ${sg.model.name} v${sg.model.version}: ${culprits.size} events gave non-finite results; left out of the shadow's state`);
    plannerEvents = plannerEvents.filter((e) => !culprits.has(e.index));
    plan = planOf(plannerEvents);
    out = runGroupPlan(sg.model, plan, prepared, sg.events, {});
  }
  const skipped = plan.rejects.skipped.length;
  if (out === null) return { writes: [], outputs: [], events: 0, restarts, skipped, accuracy: null };
  const topic = cfg.shadowTopic ?? '';
  const enc = encodeGroup({ ...cfg, forecastTopic: topic, classificationTopic: topic }, batches, sg.model, plan, prepared, sg.events, out);
  return { writes: enc.writes, outputs: topic === '' ? [] : enc.predictions, events: enc.predictions.length, restarts, skipped, accuracy: enc.accuracy };
}

/**
 * Swap policy `warm` (a promoted shadow): each key whose record is of another version takes the
 * record the new version computed for it in shadow, when that record is at the same position
 * (partition, offset) — both were written by the same units, so the shadow has applied exactly
 * the events the old version had. Substituted in `loaded` in place (the CAS write then replaces
 * the old version's record); a key whose shadow record is missing or elsewhere keeps its old
 * record, and the load stage resets it (`warm_fallback`).
 */
export async function warmTakeover(
  model: ServingModel,
  keys: readonly string[],
  loaded: (StateRecord | null)[],
  load: (namespace: string, keys: readonly string[]) => Promise<(StateRecord | null)[]>,
  observer: ProcessorObserver,
): Promise<void> {
  if (model.policy !== 'warm') return;
  const at: number[] = [];
  loaded.forEach((r, k) => {
    if (r !== null && r.modelVersion !== model.versionLabel) at.push(k);
  });
  if (at.length === 0) return;
  const shadow = await load(shadowStateModel(model.name, model.version), at.map((k) => keys[k]));
  let taken = 0;
  at.forEach((k, j) => {
    const old = loaded[k]!;
    const s = shadow[j];
    if (s === null || s.modelVersion !== model.versionLabel || s.partition !== old.partition || s.offset !== old.offset) return;
    loaded[k] = s;
    taken++;
  });
  if (taken > 0) observer.policyApplied?.('warm', taken);
}
