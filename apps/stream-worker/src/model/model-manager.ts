import { Subject, type Subscription, concatMap, from } from 'rxjs';
import type { ModelActivatedEvent } from '@app/contracts';
import type { ActivePointer, ModelRegistry, ModelSummary } from '@app/registry';
import type { ModelSource } from '../pipeline/batch-processor';
import type { ServingModel, SwapPolicy } from './serving-model';

/** The registry calls the manager makes. */
export type RegistryReader = Pick<ModelRegistry, 'getActive' | 'listModels' | 'loadVersionFiles'>;

/** Builds a serving model from a registry version (model-loader.ts in production). */
export type ServingModelLoader = (name: string, version: number, policy: SwapPolicy) => Promise<ServingModel>;

interface ManagerLogger {
  log(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** Hooks for metrics. */
export interface ModelManagerObserver {
  versionServed?(model: string, version: number): void;
  loadFailed?(model: string): void;
}

/** How long a name without an active version is not asked again (poison events name bogus models). */
const NEGATIVE_TTL_MS = 2000;

/**
 * Keeps the active version of every served model in memory and swaps it when an activation
 * arrives. Swaps replace the map entry atomically once the new version is fully loaded and
 * verified; the batch processor resolves a model once at the start of a batch, so a batch never
 * sees two versions (swap between batches, never mid-batch).
 *
 * Sources of truth: at boot, the registry's active pointers of every model; afterwards the
 * activation events of MODELS_TOPIC (fed to {@link activations}), applied in order per model and
 * dropped when older than what is served (epoch / version); and the registry again, on demand,
 * for a name an event selects that is not loaded yet.
 */
export class ModelManager implements ModelSource {
  private readonly served = new Map<string, ServingModel>();
  private readonly epochs = new Map<string, number>();
  private readonly negative = new Map<string, number>();
  /** Activation events in arrival order; loads run one at a time. */
  readonly activations = new Subject<ModelActivatedEvent>();
  private readonly subscription: Subscription;
  private loading: Promise<void> = Promise.resolve();

  constructor(
    private readonly registry: RegistryReader,
    private readonly loader: ServingModelLoader,
    private readonly logger: ManagerLogger,
    private readonly observer: ModelManagerObserver = {},
  ) {
    this.subscription = this.activations
      .pipe(concatMap((ev) => from(this.applyActivation(ev))))
      .subscribe({ error: (e: unknown) => this.logger.error('model activation stream failed', { error: String(e) }) });
  }

  get(name: string): ServingModel | undefined {
    return this.served.get(name);
  }

  /** Names and versions currently served. */
  snapshot(): { model: string; version: number; task: string }[] {
    return [...this.served.values()].map((m) => ({ model: m.name, version: m.version, task: m.task.kind }));
  }

  /**
   * Loads the active version of the topic models `required` (one may have none yet: its events
   * then wait), and with `all`, of every model in the registry. Other models load on demand
   * ({@link resolve}) or when their activation arrives. A model that fails to load is logged and
   * skipped.
   */
  async loadAllActive(required: readonly string[], all = false): Promise<void> {
    const names = new Set<string>(required);
    if (all) {
      const summaries: ModelSummary[] = await this.registry.listModels();
      for (const s of summaries) if (s.activeVersion !== null) names.add(s.name);
    }
    for (const name of [...names].sort()) {
      const pointer = await this.registry.getActive(name);
      if (pointer === null) {
        this.logger.warn('model has no active version; its events wait until one is activated', { model: name });
        continue;
      }
      await this.install(name, pointer);
    }
  }

  /**
   * Loads models that events name but that are not served yet (asks the registry; names without
   * an active version are remembered for a short while).
   */
  async resolve(names: readonly string[]): Promise<void> {
    const now = Date.now();
    for (const name of names) {
      if (this.served.has(name)) continue;
      const until = this.negative.get(name);
      if (until !== undefined && until > now) continue;
      const pointer = await this.registry.getActive(name).catch(() => null);
      if (pointer === null) {
        this.negative.set(name, now + NEGATIVE_TTL_MS);
        continue;
      }
      await this.install(name, pointer);
    }
  }

  /** Resolves once every activation received so far has been applied. */
  async settled(): Promise<void> {
    await this.loading;
  }

  close(): void {
    this.subscription.unsubscribe();
    this.activations.complete();
  }

  private async applyActivation(ev: ModelActivatedEvent): Promise<void> {
    const version = Number(ev.version);
    const current = this.served.get(ev.model);
    const epoch = ev.epoch ?? -1;
    const seenEpoch = this.epochs.get(ev.model) ?? -1;
    if (epoch >= 0 && epoch <= seenEpoch) return;
    if (current && current.version === version && current.policy === ev.policy) {
      if (epoch >= 0) this.epochs.set(ev.model, epoch);
      return;
    }
    const done = this.install(ev.model, {
      version,
      policy: ev.policy,
      epoch,
      activatedAt: ev.activatedAt,
      previousVersion: null,
    });
    this.loading = done;
    await done;
  }

  private async install(name: string, pointer: ActivePointer): Promise<void> {
    const current = this.served.get(name);
    if (current && current.version === pointer.version && current.policy === pointer.policy) {
      if (pointer.epoch >= 0) this.epochs.set(name, Math.max(this.epochs.get(name) ?? -1, pointer.epoch));
      return;
    }
    try {
      const model = await this.loader(name, pointer.version, pointer.policy);
      this.served.set(name, model);
      this.negative.delete(name);
      if (pointer.epoch >= 0) this.epochs.set(name, Math.max(this.epochs.get(name) ?? -1, pointer.epoch));
      this.observer.versionServed?.(name, pointer.version);
      this.logger.log('model version active', {
        model: name,
        version: pointer.version,
        previous: current?.version ?? null,
        policy: pointer.policy,
        task: model.task.kind,
        stateSize: model.engine.stateSize,
      });
    } catch (e) {
      this.observer.loadFailed?.(name);
      this.logger.error('model version failed to load; keeping the served one', {
        model: name,
        version: pointer.version,
        error: (e as Error).message,
      });
    }
  }
}
