import { loadArtifact, RecurrentModel, type StateLayoutEntry } from '@app/lstm';
import type { ModelRegistry } from '@app/registry';
import {
  DEFAULT_KEY_PREFIX,
  decodeStateRecord,
  isClusterClient,
  NO_PARTITION,
  parseStateKey,
  stateKey,
  stateKeyPattern,
  type RedisLike,
  type StateRecord,
} from '@app/state';
import { InvalidRequestError } from './invalid-request.error';
import { ModelsService } from './models.service';

/** Longest message key (UTF-8 bytes) the state API accepts. */
export const MAX_STATE_KEY_BYTES = 1024;
/** Bounds of a scan page's `count` (the SCAN COUNT hint). */
export const MAX_SCAN_COUNT = 1000;
export const DEFAULT_SCAN_COUNT = 100;
/** Versions whose state layout is kept in memory. */
const LAYOUT_CACHE_SIZE = 16;

/** One recurrent layer's slice of the state: h, and c for an LSTM. */
export interface LayerState {
  readonly kind: 'lstm' | 'gru';
  readonly units: number;
  readonly h: number[];
  readonly c: number[] | null;
}

/** Forecast extras as the worker stores them (apps/stream-worker/src/pipeline/task-extras.ts). */
export interface ForecastExtrasView {
  readonly kind: 'forecast';
  /** First value (first target, first horizon step) of the key's last forecast, as published; null before it. */
  readonly lastForecast0: number | null;
  /** Running residual statistics behind the anomaly score. */
  readonly anomaly: { readonly count: number; readonly mean: number; readonly m2: number; readonly std: number | null };
}

/** What `GET /v1/models/{name}/keys/{key}/state` answers. */
export interface KeyStateView {
  readonly model: string;
  readonly key: string;
  readonly modelVersion: string;
  readonly steps: number;
  /** Last applied event; null when none. */
  readonly last: { readonly partition: number; readonly offset: string; readonly eventTime: string | null } | null;
  readonly stateSize: number;
  /** h/c per recurrent layer; null when the writing version's layout is unknown (see `state`). */
  readonly layers: LayerState[] | null;
  /** The raw state floats (h, c of every layer, concatenated). */
  readonly state: number[];
  readonly extras: ForecastExtrasView | { readonly kind: 'none' } | { readonly kind: 'raw'; readonly words: number[] };
  /** Recent inputs: window-mode text models' tokens, or the rows kept for the rewarm policy. */
  readonly ring: { readonly count: number; readonly dim: number; readonly rows: number[][] } | null;
}

/** A key the state API was asked for holds no state. */
export class StateNotFoundError extends Error {
  constructor(
    readonly model: string,
    readonly key: string,
  ) {
    super(`key ${JSON.stringify(key)} has no state for model ${model}`);
    this.name = 'StateNotFoundError';
  }
}

/** A JSON number for a float: NaN and ±Infinity (JSON has none) become null. */
function num(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

/**
 * Decodes the forecast extras words (four float64: residual count + 1 or 0, lastForecast0,
 * residualMean, residualM2, then the forecasts pending live scoring; legacy records: five float64
 * with hasForecast first, exactly 10 words). The layout is
 * the worker's (task-extras.ts); state.service.spec.ts checks this reader against its encoder.
 */
export function readForecastExtras(words: Float32Array): ForecastExtrasView | null {
  if (words.length < 8 || words.length % 2 !== 0) return null;
  const d = new Float64Array(words.slice().buffer);
  const legacy = words.length === 10;
  const has = legacy ? d[0] === 1 : d[0] > 0;
  const count = legacy ? d[2] : has ? d[0] - 1 : 0;
  const mean = legacy ? d[3] : d[2];
  const m2 = legacy ? d[4] : d[3];
  return {
    kind: 'forecast',
    lastForecast0: has ? d[1] : null,
    anomaly: { count, mean, m2, std: count > 1 ? Math.sqrt(m2 / (count - 1)) : null },
  };
}

/** Splits a state row into h/c per layer; null when the layout does not cover it exactly. */
export function splitLayers(state: Float32Array, layout: readonly StateLayoutEntry[]): LayerState[] | null {
  const size = layout.reduce((s, l) => s + l.units * (l.cOffset >= 0 ? 2 : 1), 0);
  if (size !== state.length) return null;
  return layout.map((l) => ({
    kind: l.kind,
    units: l.units,
    h: Array.from(state.subarray(l.hOffset, l.hOffset + l.units)),
    c: l.cOffset >= 0 ? Array.from(state.subarray(l.cOffset, l.cOffset + l.units)) : null,
  }));
}

/** The JSON view of a decoded record. */
export function viewOf(model: string, key: string, r: StateRecord, layout: readonly StateLayoutEntry[] | null): KeyStateView {
  const forecast = readForecastExtras(r.extras);
  return {
    model,
    key,
    modelVersion: r.modelVersion,
    steps: r.steps,
    last:
      r.partition === NO_PARTITION
        ? null
        : {
            partition: r.partition,
            offset: r.offset.toString(),
            eventTime: Number.isFinite(r.lastEventTs) ? new Date(r.lastEventTs).toISOString() : null,
          },
    stateSize: r.state.length,
    layers: layout ? splitLayers(r.state, layout) : null,
    state: Array.from(r.state),
    extras: forecast ?? (r.extras.length === 0 ? { kind: 'none' } : { kind: 'raw', words: Array.from(r.extras, (x) => num(x) ?? 0) }),
    ring: r.ring
      ? {
          count: r.ring.count,
          dim: r.ring.dim,
          rows: Array.from({ length: r.ring.count }, (_, i) => Array.from(r.ring!.rows.subarray(i * r.ring!.dim, (i + 1) * r.ring!.dim))),
        }
      : null,
  };
}

/** Parses a scan cursor: a decimal SCAN cursor, or `<node>.<cursor>` on a Redis Cluster. */
function parseCursor(raw: string | undefined, cluster: boolean): { node: number; cursor: string } {
  const value = raw ?? '0';
  const m = cluster ? /^(?:(\d{1,4})\.)?(\d{1,20})$/.exec(value) : /^()(\d{1,20})$/.exec(value);
  if (!m) {
    throw new InvalidRequestError(
      `cursor must be ${cluster ? 'a cursor returned by this API (<node>.<cursor>)' : 'a decimal SCAN cursor'} (got ${JSON.stringify(value.slice(0, 32))})`,
    );
  }
  return { node: m[1] ? Number(m[1]) : 0, cursor: m[2] };
}

/** Parses a scan page size: a decimal integer in 1..MAX_SCAN_COUNT. */
function parseCount(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_SCAN_COUNT;
  if (!/^[1-9][0-9]{0,3}$/.test(raw) || Number(raw) > MAX_SCAN_COUNT) {
    throw new InvalidRequestError(`count must be a decimal integer from 1 to ${MAX_SCAN_COUNT} (got ${JSON.stringify(raw.slice(0, 32))})`);
  }
  return Number(raw);
}

/**
 * Read side of the per-key state: a key's state record as the worker stores it (libs/state),
 * and a cursor scan of a model's keys. Never writes.
 */
export class StateService {
  private readonly layouts = new Map<string, readonly StateLayoutEntry[]>();

  constructor(
    private readonly redis: RedisLike,
    private readonly registry: Pick<ModelRegistry, 'loadVersionFiles'>,
    private readonly prefix: string = DEFAULT_KEY_PREFIX,
  ) {}

  /** Checks a message key path parameter. */
  static messageKey(key: string): string {
    if (key.length === 0) throw new InvalidRequestError('key must not be empty');
    if (Buffer.byteLength(key, 'utf8') > MAX_STATE_KEY_BYTES) throw new InvalidRequestError(`key must be at most ${MAX_STATE_KEY_BYTES} bytes`);
    return key;
  }

  /** The state of (`model`, `key`); throws StateNotFoundError when the key has none. */
  async keyState(model: string, key: string): Promise<KeyStateView> {
    ModelsService.modelName(model);
    StateService.messageKey(key);
    const buf = await this.redis.getBuffer(stateKey(model, key, this.prefix));
    if (!buf) throw new StateNotFoundError(model, key);
    const record = decodeStateRecord(buf);
    return viewOf(model, key, record, await this.layoutOf(model, record.modelVersion));
  }

  /**
   * One page of the model's keys: SCAN over its state key pattern. `cursor` "0" starts, a
   * returned cursor "0" ends; like SCAN, a key may appear on two pages, and the page may hold
   * more or fewer keys than `count`. On a Redis Cluster the scan walks the masters in turn
   * (cursor `<node>.<cursor>`; the master list is taken in address order at each call).
   */
  async scanKeys(model: string, rawCursor: string | undefined, rawCount: string | undefined) {
    ModelsService.modelName(model);
    const count = parseCount(rawCount);
    const cluster = isClusterClient(this.redis);
    const { node, cursor } = parseCursor(rawCursor, cluster);
    const pattern = stateKeyPattern(model, this.prefix);
    let next: string;
    let found: string[];
    if (isClusterClient(this.redis)) {
      const masters = this.redis
        .nodes('master')
        .slice()
        .sort((a, b) => `${a.options.host}:${a.options.port}`.localeCompare(`${b.options.host}:${b.options.port}`));
      if (node >= masters.length) throw new InvalidRequestError(`cursor names node ${node}; the cluster has ${masters.length} masters`);
      const [c, keys] = await masters[node].scan(cursor, 'MATCH', pattern, 'COUNT', count);
      found = keys;
      next = c !== '0' ? `${node}.${c}` : node + 1 < masters.length ? `${node + 1}.0` : '0';
    } else {
      [next, found] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', count);
    }
    const keys = [...new Set(found.map((k) => parseStateKey(k, this.prefix)).filter((p) => p?.model === model).map((p) => p!.key))];
    return { model, cursor: next, count, keys };
  }

  /** h/c layout of the version that wrote a record (cached); null when it cannot be loaded. */
  private async layoutOf(model: string, modelVersion: string): Promise<readonly StateLayoutEntry[] | null> {
    if (!/^[1-9][0-9]{0,8}$/.test(modelVersion)) return null;
    const id = `${model}\u0000${modelVersion}`;
    if (this.layouts.has(id)) return this.layouts.get(id)!;
    let layout: readonly StateLayoutEntry[];
    try {
      const artifact = await loadArtifact(await this.registry.loadVersionFiles(model, Number(modelVersion)));
      layout = new RecurrentModel(artifact.spec, { kernel: 'ts' }).layout;
    } catch {
      return null; // version deleted, unreadable or Redis away: the raw `state` still answers
    }
    if (this.layouts.size >= LAYOUT_CACHE_SIZE) this.layouts.delete(this.layouts.keys().next().value!);
    this.layouts.set(id, layout);
    return layout;
  }
}
