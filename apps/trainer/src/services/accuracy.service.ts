import type { Producer } from '@app/kafka';
import { ModelRegistry } from '@app/registry';
import { readAccuracy, type AccuracyTotals, type RedisLike } from '@app/state';

/** Live accuracy of one version (docs/accuracy.md); totals are zero/null before its first scored reading. */
export interface VersionAccuracy {
  readonly model: string;
  readonly version: number;
  readonly active: boolean;
  readonly events: number;
  readonly errors: number;
  readonly mae: number | null;
  readonly rmse: number | null;
  readonly bias: number | null;
  /** Classifiers: labels scored against the key's classification, exactly once. */
  readonly labels: number;
  /** Mean log loss, share right at 0.5 and mean Brier score of the labels; null before any. */
  readonly logLoss: number | null;
  readonly labelAccuracy: number | null;
  readonly brier: number | null;
}

/** A model's versions and their live accuracy. */
export interface ModelAccuracy {
  readonly model: string;
  readonly activeVersion: number | null;
  readonly versions: readonly VersionAccuracy[];
}

/** Where the export writes (prom-client gauges in the app). */
export interface AccuracySink {
  set(a: VersionAccuracy): void;
}

/** The model has no versions. */
export class ModelNotFoundError extends Error {
  constructor(readonly model: string) {
    super(`model ${JSON.stringify(model)} has no versions`);
    this.name = 'ModelNotFoundError';
  }
}

function view(model: string, version: number, active: boolean, t: AccuracyTotals | null): VersionAccuracy {
  return {
    model,
    version,
    active,
    events: t?.events ?? 0,
    errors: t?.errors ?? 0,
    mae: t?.mae ?? null,
    rmse: t?.rmse ?? null,
    bias: t?.bias ?? null,
    labels: t?.labels?.events ?? 0,
    logLoss: t?.labels?.logLoss ?? null,
    labelAccuracy: t?.labels?.accuracy ?? null,
    brier: t?.labels?.brier ?? null,
  };
}

/**
 * Read side of live accuracy: a model's per-version totals from the workers' Redis accumulators,
 * and the periodic export (gauges, compacted topic keyed `<model>@<version>`).
 */
export class AccuracyService {
  /** Last value published per topic key (a version is published again only when it changed). */
  private readonly published = new Map<string, string>();

  constructor(
    private readonly redis: RedisLike,
    private readonly registry: ModelRegistry,
  ) {}

  /** Every version of `name` with its live accuracy; throws {@link ModelNotFoundError}. */
  async modelAccuracy(name: string): Promise<ModelAccuracy> {
    const details = await this.registry.getModel(name);
    if (!details) throw new ModelNotFoundError(name);
    const active = details.active?.version ?? null;
    const totals = await Promise.all(details.versions.map((v) => readAccuracy(this.redis, name, v.version)));
    return {
      model: name,
      activeVersion: active,
      versions: details.versions.map((v, i) => view(name, v.version, v.version === active, totals[i])),
    };
  }

  /** One export pass: every model's versions into `sink`; changed ones to `topic`. */
  async exportOnce(sink: AccuracySink, producer: Producer | null, topic: string): Promise<number> {
    const messages: { key: string; value: string }[] = [];
    for (const m of await this.registry.listModels()) {
      const acc = await this.modelAccuracy(m.name).catch((e: unknown) => {
        if (e instanceof ModelNotFoundError) return null;
        throw e;
      });
      if (!acc) continue;
      for (const v of acc.versions) {
        if (v.events === 0 && v.labels === 0) continue;
        sink.set(v);
        const key = `${v.model}@${v.version}`;
        const value = JSON.stringify(v);
        if (this.published.get(key) !== value) messages.push({ key, value });
      }
    }
    if (producer && messages.length > 0) {
      await producer.send({ topic, messages });
      for (const m of messages) this.published.set(m.key, m.value);
    }
    return messages.length;
  }
}
