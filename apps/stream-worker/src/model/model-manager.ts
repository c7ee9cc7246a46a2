import { Subject, type Subscription, concatMap, from, map, tap } from 'rxjs';
import { sidecarChecksum, type ModelActivatedEvent, type ModelEvent, type ModelShadowEvent } from '@app/contracts';
import { RegistryError, SIDECAR_FILE, type ActivePointer, type ModelRegistry, type ModelSummary, type ShadowPointer } from '@app/registry';
import type { ModelSource } from '../pipeline/ports';
import type { ServingModel, SwapPolicy } from './serving-model';

/** The registry calls the manager makes. */
export type RegistryReader = Pick<ModelRegistry, 'getActive' | 'getShadow' | 'getVersion' | 'listModels' | 'loadVersionFiles'>;

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
  /** An activation event that does not match the registry's active pointer was not applied. */
  activationIgnored?(model: string, reason: ActivationIgnoredReason): void;
  /** A failed activation is tried again. */
  activationRetry?(model: string): void;
  /** The model's shadow version now stepped here (null: none any more). */
  shadowServed?(model: string, version: number | null): void;
  /** A shadow version failed to load: the active version goes on, the shadow is retried. */
  shadowLoadFailed?(model: string): void;
}

/** Why an activation event was not applied (label of `streamcell_model_activations_ignored_total`). */
export type ActivationIgnoredReason = 'stale' | 'no_active_version' | 'mismatch';

/**
 * The registry could not be read (Redis unreachable, timing out): not the same as "no active
 * version". The batch that needed the answer fails and is retried with backoff.
 */
export class RegistryUnavailableError extends Error {
  constructor(
    readonly model: string,
    cause: unknown,
  ) {
    super(`registry unavailable (redis) while resolving model '${model}': ${(cause as Error)?.message ?? String(cause)}`);
    this.name = 'RegistryUnavailableError';
  }
}

/** How long a name without an active version is not asked again (poison events name bogus models). */
const NEGATIVE_TTL_MS = 2000;
/**
 * Names without an active version remembered at most: events choose the names, so the cache is
 * pruned (expired entries first, then the oldest) instead of growing with every bogus name.
 */
export const NEGATIVE_CACHE_MAX = 1024;
/** Backoff of a failed activation: doubles from `retryFirstMs` up to `retryMaxMs`. */
export interface ModelManagerOptions {
  readonly retryFirstMs?: number;
  readonly retryMaxMs?: number;
}
const ACTIVATION_RETRY_MS = { first: 500, max: 30_000 };

/**
 * True for a failure to reach Redis (connection refused or closed, retries exhausted, timeouts,
 * Cluster resharding), as opposed to an answer (a missing version, a bad artifact).
 */
export function isRegistryUnavailable(e: unknown): boolean {
  if (e instanceof RegistryError) return false;
  const name = (e as Error | undefined)?.name ?? '';
  const msg = (e as Error | undefined)?.message ?? '';
  return (
    name === 'MaxRetriesPerRequestError' ||
    /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|Connection is closed|Stream isn't writeable|MaxRetriesPerRequest|CLUSTERDOWN|TRYAGAIN|LOADING|Command timed out/i.test(msg)
  );
}

type Activation = { readonly ev: ModelEvent; readonly seq: number; readonly attempt: number };

/** Queue key of an event: activations and shadow changes of a model are ordered separately. */
const eventKey = (ev: ModelEvent): string => (ev.type === 'model.shadow' ? `${ev.model}#shadow` : ev.model);

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
  /** Shadow versions stepped next to the active ones, by model. */
  private readonly shadows = new Map<string, ServingModel>();
  private readonly shadowEpochs = new Map<string, number>();
  /** Per model, a verified shadow whose load failed and is retried. */
  private readonly shadowPending = new Map<string, number>();
  /** Models-topic events (activations and shadow changes) in arrival order; loads run one at a time. */
  readonly activations = new Subject<ModelEvent>();
  /** Failed activations tried again (after their backoff), in the same queue as new ones. */
  private readonly retries = new Subject<Activation>();
  private readonly subscription: Subscription;
  private readonly retrySubscription: Subscription;
  /** Activations queued or being applied, and who waits for that to reach 0 ({@link settled}). */
  private queued = 0;
  private drainWaiters: (() => void)[] = [];
  /** Per model, the sequence number of the latest activation event received. */
  private readonly received = new Map<string, number>();
  /** Per model, the sequence number of the latest activation that matched the registry. */
  private readonly verified = new Map<string, number>();
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  /** Per model, a verified activation whose load failed and is retried. */
  private readonly pending = new Map<string, number>();
  private closed = false;

  constructor(
    private readonly registry: RegistryReader,
    private readonly loader: ServingModelLoader,
    private readonly logger: ManagerLogger,
    private readonly observer: ModelManagerObserver = {},
    private readonly options: ModelManagerOptions = {},
  ) {
    const queue = new Subject<Activation>();
    this.subscription = queue
      .pipe(
        tap(() => this.queued++),
        concatMap((a) => from(this.applyActivation(a))),
      )
      .subscribe({ error: (e: unknown) => this.logger.error('model activation stream failed', { error: String(e) }) });
    this.activations
      .pipe(
        map((ev): Activation => {
          const seq = (this.received.get(eventKey(ev)) ?? 0) + 1;
          this.received.set(eventKey(ev), seq);
          return { ev, seq, attempt: 0 };
        }),
      )
      .subscribe(queue);
    this.retrySubscription = this.retries.subscribe((a) => queue.next(a));
  }

  get(name: string): ServingModel | undefined {
    return this.served.get(name);
  }

  /** The shadow version of `name` stepped here, if any (never the active version). */
  shadow(name: string): ServingModel | undefined {
    return this.shadows.get(name);
  }

  /** Shadow versions served, and shadow versions verified but not loaded (their load is retried). */
  shadowSnapshot(): { model: string; version: number; loaded: boolean }[] {
    const out = [...this.shadows.values()].map((m) => ({ model: m.name, version: m.version, loaded: true }));
    for (const [model, version] of this.shadowPending) out.push({ model, version, loaded: false });
    return out;
  }

  pendingVersion(name: string): string | null {
    const v = this.pending.get(name);
    return v === undefined ? null : String(v);
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
      if ((await this.install(name, pointer)) === null) await this.bootShadow(name);
    }
  }

  /**
   * Loads the model's shadow version before events flow (a shadow that missed events would
   * restart its keys); one that fails to load is retried in the background while the active
   * version serves.
   */
  private async bootShadow(name: string): Promise<void> {
    const pointer = await this.registry.getShadow(name);
    if (pointer === null) return;
    if ((await this.installShadow(name, pointer)) !== null) {
      this.activations.next({ type: 'model.shadow', model: name, version: pointer.version, at: pointer.at, epoch: pointer.epoch });
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
      let pointer: ActivePointer | null;
      try {
        pointer = await this.registry.getActive(name);
      } catch (e) {
        // An invalid name is an answer (no such model); an unreachable registry is not.
        if (isRegistryUnavailable(e) || !(e instanceof RegistryError)) throw new RegistryUnavailableError(name, e);
        pointer = null;
      }
      if (pointer === null) {
        this.rememberMissing(name, now);
        continue;
      }
      const failure = await this.install(name, pointer);
      if (failure !== null && isRegistryUnavailable(failure)) throw new RegistryUnavailableError(name, failure);
      if (failure !== null) this.rememberMissing(name, now);
      else await this.bootShadow(name).catch((e: unknown) => this.logger.warn('shadow lookup failed', { model: name, error: String(e) }));
    }
  }

  /** Names remembered as having no (loadable) active version; for tests and metrics. */
  get missingCount(): number {
    return this.negative.size;
  }

  private rememberMissing(name: string, now: number): void {
    if (this.negative.size >= NEGATIVE_CACHE_MAX) {
      for (const [n, until] of this.negative) if (until <= now) this.negative.delete(n);
      // Map order is insertion order: drop the oldest until there is room.
      for (const n of this.negative.keys()) {
        if (this.negative.size < NEGATIVE_CACHE_MAX) break;
        this.negative.delete(n);
      }
    }
    this.negative.delete(name);
    this.negative.set(name, now + NEGATIVE_TTL_MS);
  }

  /**
   * Resolves once every activation received so far has been applied (or, when it failed, its
   * retry scheduled): the queue of activations is empty.
   */
  async settled(): Promise<void> {
    if (this.queued === 0) return;
    await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
  }

  close(): void {
    this.closed = true;
    for (const t of this.retryTimers) clearTimeout(t);
    this.retryTimers.clear();
    this.retrySubscription.unsubscribe();
    this.subscription.unsubscribe();
    this.activations.complete();
  }

  private async applyActivation(a: Activation): Promise<void> {
    try {
      if (!(await this.tryActivation(a))) this.scheduleRetry(a);
    } finally {
      if (--this.queued === 0) for (const resolve of this.drainWaiters.splice(0)) resolve();
    }
  }

  /**
   * Applies one activation event once it matches the registry's active pointer (version, epoch,
   * policy, and the file checksums it carries against the version's recorded ones): the topic
   * is writable by more than the trainer, and a stale or forged event must neither roll the
   * fleet back nor, with a high epoch, block later activations. False when it should be tried
   * again (the registry or the load failed).
   */
  private async tryActivation(a: Activation): Promise<boolean> {
    if (a.ev.type === 'model.shadow') return this.tryShadow(a, a.ev);
    const ev = a.ev;
    const version = Number(ev.version);
    const epoch = ev.epoch ?? -1;
    const seenEpoch = this.epochs.get(ev.model) ?? -1;
    if (epoch >= 0 && epoch <= seenEpoch) return true;
    let pointer: ActivePointer | null;
    try {
      pointer = await this.registry.getActive(ev.model);
      const problem = pointer === null ? 'no_active_version' : await this.mismatch(ev, version, epoch, pointer);
      if (problem !== null) {
        this.observer.activationIgnored?.(ev.model, problem);
        this.logger.warn('ignoring a model activation event that does not match the registry', {
          model: ev.model,
          version,
          epoch,
          policy: ev.policy,
          reason: problem,
          active: pointer === null ? null : { version: pointer.version, epoch: pointer.epoch, policy: pointer.policy },
        });
        return true;
      }
    } catch (e) {
      if (!isRegistryUnavailable(e) && e instanceof RegistryError) {
        this.observer.activationIgnored?.(ev.model, 'mismatch');
        this.logger.warn('ignoring a model activation event the registry refuses', { model: ev.model, error: (e as Error).message });
        return true;
      }
      this.logger.warn('model activation: registry unavailable; will retry', { model: ev.model, version, error: (e as Error).message });
      return false;
    }
    // Only a verified activation supersedes the retries of an earlier one.
    this.verified.set(eventKey(ev), a.seq);
    const failure = await this.install(ev.model, pointer!);
    if (failure === null) return true;
    this.pending.set(ev.model, pointer!.version);
    return false;
  }

  /**
   * Applies a shadow change once it matches the registry's shadow pointer (version, epoch and
   * file checksums, as for activations). A promotion's activation may travel on another
   * partition of the models topic than the shadow's stop: the active pointer is read too, and a
   * newer one installed first, so the shadow is never stopped before its version is active.
   */
  private async tryShadow(a: Activation, ev: ModelShadowEvent): Promise<boolean> {
    if (ev.epoch <= (this.shadowEpochs.get(ev.model) ?? -1) && !this.shadowPending.has(ev.model)) return true;
    let pointer: ShadowPointer | null;
    let problem: ActivationIgnoredReason | null = null;
    try {
      const active = await this.registry.getActive(ev.model);
      if (active !== null && this.served.has(ev.model) && active.epoch > (this.epochs.get(ev.model) ?? -1)) {
        if ((await this.install(ev.model, active)) !== null) return false;
      }
      pointer = await this.registry.getShadow(ev.model);
      if (ev.epoch < (pointer?.epoch ?? -1)) problem = 'stale';
      else if ((pointer?.version ?? null) !== ev.version || (pointer !== null && pointer.epoch !== ev.epoch)) problem = 'mismatch';
      else if (pointer !== null) problem = await this.filesMismatch(ev, pointer.version);
    } catch (e) {
      if (!isRegistryUnavailable(e) && e instanceof RegistryError) {
        this.observer.activationIgnored?.(ev.model, 'mismatch');
        return true;
      }
      this.logger.warn('model shadow: registry unavailable; will retry', { model: ev.model, error: (e as Error).message });
      return false;
    }
    if (problem !== null) {
      this.observer.activationIgnored?.(ev.model, problem);
      this.logger.warn('ignoring a model shadow event that does not match the registry', { model: ev.model, version: ev.version, epoch: ev.epoch, reason: problem });
      return true;
    }
    this.verified.set(eventKey(ev), a.seq);
    if (pointer === null) {
      this.shadowEpochs.set(ev.model, ev.epoch);
      this.shadowPending.delete(ev.model);
      this.dropShadow(ev.model);
      return true;
    }
    return (await this.installShadow(ev.model, pointer)) === null;
  }

  /** Loads and steps `pointer`'s version as the model's shadow; the error when it could not. */
  private async installShadow(name: string, pointer: ShadowPointer): Promise<unknown> {
    this.shadowEpochs.set(name, Math.max(this.shadowEpochs.get(name) ?? -1, pointer.epoch));
    if (this.served.get(name)?.version === pointer.version) return null;
    if (this.shadows.get(name)?.version === pointer.version) {
      this.shadowPending.delete(name);
      return null;
    }
    try {
      const model = await this.loader(name, pointer.version, 'warm');
      this.shadows.set(name, model);
      this.shadowPending.delete(name);
      this.observer.shadowServed?.(name, pointer.version);
      this.logger.log('model shadow version stepped', { model: name, version: pointer.version, active: this.served.get(name)?.version ?? null });
      const active = this.served.get(name);
      const width = (m: ServingModel): number | null => (m.task.kind === 'forecast' ? m.task.valueCount : null);
      if (active && (active.task.kind !== model.task.kind || width(active) !== width(model))) {
        this.logger.warn('the shadow version reads other inputs than the active one (task or value count): it is not stepped', {
          model: name,
          version: pointer.version,
        });
      }
      return null;
    } catch (e) {
      // The active version goes on serving; the shadow's keys restart where they missed events.
      this.dropShadow(name);
      this.shadowPending.set(name, pointer.version);
      this.observer.shadowLoadFailed?.(name);
      this.logger.error('model shadow version failed to load; the active version is unaffected, the shadow is retried', {
        model: name,
        version: pointer.version,
        error: (e as Error).message,
      });
      return e ?? new Error('load failed');
    }
  }

  private dropShadow(name: string): void {
    const had = this.shadows.get(name);
    if (!had) return;
    this.shadows.delete(name);
    this.observer.shadowServed?.(name, null);
    this.logger.log('model shadow version no longer stepped', { model: name, version: had.version });
  }

  /** Null when the event describes the active pointer; else why not. */
  private async mismatch(
    ev: ModelActivatedEvent,
    version: number,
    epoch: number,
    pointer: ActivePointer,
  ): Promise<ActivationIgnoredReason | null> {
    if (epoch >= 0 && epoch < pointer.epoch) return 'stale';
    if (pointer.version !== version || pointer.policy !== ev.policy || (epoch >= 0 && epoch !== pointer.epoch)) return 'mismatch';
    return this.filesMismatch(ev, version);
  }

  /** Null when the checksums an event claims are the version's recorded ones. */
  private async filesMismatch(ev: ModelEvent, version: number): Promise<ActivationIgnoredReason | null> {
    const claimed = { ...(ev.files ?? {}) } as Record<string, string>;
    const sidecar = ev.checksum ?? (ev.type === 'model.shadow' ? null : sidecarChecksum(ev));
    if (sidecar !== null) claimed[SIDECAR_FILE] = sidecar;
    if (Object.keys(claimed).length === 0) return null;
    const meta = await this.registry.getVersion(ev.model, version);
    if (meta === null) return 'mismatch';
    for (const [file, sha] of Object.entries(claimed)) if (meta.files[file]?.sha256 !== sha) return 'mismatch';
    return null;
  }

  private scheduleRetry(a: Activation): void {
    if (this.closed) return;
    const first = this.options.retryFirstMs ?? ACTIVATION_RETRY_MS.first;
    const delay = Math.min(this.options.retryMaxMs ?? ACTIVATION_RETRY_MS.max, first * 2 ** Math.min(a.attempt, 16));
    this.observer.activationRetry?.(a.ev.model);
    this.logger.warn('model activation failed; retrying with backoff until it succeeds or a newer one arrives', {
      model: a.ev.model,
      version: Number(a.ev.version),
      attempt: a.attempt + 1,
      retryInMs: delay,
    });
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer);
      // A newer verified activation of the model arrived meanwhile: it supersedes this one (a
      // retry after a registry failure was never verified, and goes on until it is).
      const latest = this.verified.get(eventKey(a.ev));
      if (this.closed || (latest !== undefined && latest > a.seq)) return;
      this.retries.next({ ...a, attempt: a.attempt + 1 });
    }, delay);
    timer.unref();
    this.retryTimers.add(timer);
  }

  /** Loads and serves `pointer`'s version; the error when it could not (the served one stays). */
  private async install(name: string, pointer: ActivePointer): Promise<unknown> {
    const current = this.served.get(name);
    if (current && current.version === pointer.version && current.policy === pointer.policy) {
      if (pointer.epoch >= 0) this.epochs.set(name, Math.max(this.epochs.get(name) ?? -1, pointer.epoch));
      return null;
    }
    try {
      const model = await this.loader(name, pointer.version, pointer.policy);
      this.served.set(name, model);
      // A promoted shadow stops being stepped in the same swap (between units of work).
      if (this.shadows.get(name)?.version === pointer.version) this.dropShadow(name);
      this.pending.delete(name);
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
      return null;
    } catch (e) {
      this.observer.loadFailed?.(name);
      this.logger.error('model version failed to load; keeping the served one', {
        model: name,
        version: pointer.version,
        error: (e as Error).message,
      });
      return e ?? new Error('load failed');
    }
  }
}
