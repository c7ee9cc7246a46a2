import { describeErrors, validators } from './schema-validators';

/** What a model does; decides the head, the input topic and the training metrics. */
export type ModelTask = 'forecast' | 'classify';

/**
 * How workers treat a key whose state was computed by an older version when a new one becomes
 * active (docs/architecture.md, Model swap): start from zeros, replay the key's last stored
 * inputs through the new version, keep the state as it is, or (`warm`, set by promoting a
 * shadow) take the state the new version computed for the key while it ran in shadow.
 */
export type SwapPolicy = 'reset' | 'rewarm' | 'keep' | 'warm';

/**
 * `streamcell.models` event (compacted topic, key = model name): a version became active.
 * Compatible with what libs/registry publishes (`type`, `epoch`, `files`, `previousVersion`).
 */
export interface ModelActivatedEvent {
  readonly type?: 'model.activated';
  readonly model: string;
  /** Registry versions are integers; strings are accepted for imported naming schemes. */
  readonly version: number | string;
  readonly previousVersion?: number | string | null;
  readonly task: ModelTask;
  /** sha256 (hex) of the version's streamcell.json sidecar. */
  readonly checksum?: string;
  /** sha256 (hex) of every artifact file by name. */
  readonly files?: Readonly<Record<string, string>>;
  /** ISO-8601. */
  readonly activatedAt: string;
  readonly policy: SwapPolicy;
  /** rewarm: how many stored inputs to replay (default: all stored). */
  readonly rewarmSteps?: number;
  /** Increments on every activation of the model; lets consumers drop stale events. */
  readonly epoch?: number;
}

/** Result of {@link decodeModelActivated}. */
export type ModelEventDecodeResult =
  | { readonly ok: true; readonly event: ModelActivatedEvent }
  | { readonly ok: false; readonly reason: 'invalid_json' | 'schema_violation'; readonly detail: string };

/**
 * sha256 of the sidecar: `checksum` when present, else `files['streamcell.json']`, else null.
 */
export function sidecarChecksum(e: ModelActivatedEvent): string | null {
  return e.checksum ?? e.files?.['streamcell.json'] ?? null;
}

/**
 * `streamcell.models` event (key = `<model>#shadow`, see {@link shadowEventKey}): the model's
 * shadow version changed. `version` null: no shadow any more. Workers step a shadow version on
 * every event of the model's topic with its own per-key state and publish none of its outputs
 * to the prediction topics (docs/architecture.md, Shadow versions).
 */
export interface ModelShadowEvent {
  readonly type: 'model.shadow';
  readonly model: string;
  readonly version: number | null;
  readonly task?: ModelTask;
  /** sha256 (hex) of the version's streamcell.json sidecar. */
  readonly checksum?: string;
  /** sha256 (hex) of every artifact file by name. */
  readonly files?: Readonly<Record<string, string>>;
  /** ISO-8601. */
  readonly at: string;
  /** Increments on every shadow change of the model; lets consumers drop stale events. */
  readonly epoch: number;
}

/** Kafka key of a model's shadow events on the models topic (`#` never occurs in a model name). */
export function shadowEventKey(model: string): string {
  return `${model}#shadow`;
}

/** Any event of the models topic. */
export type ModelEvent = ModelActivatedEvent | ModelShadowEvent;

/** Result of {@link decodeModelEvent}. */
export type AnyModelEventDecodeResult =
  | { readonly ok: true; readonly event: ModelEvent }
  | { readonly ok: false; readonly reason: 'invalid_json' | 'schema_violation'; readonly detail: string };

/**
 * Parses and validates any `streamcell.models` message value: a shadow event when its `type`
 * is `model.shadow`, otherwise an activation. Never throws.
 */
export function decodeModelEvent(value: Buffer | string | null): AnyModelEventDecodeResult {
  const parsed = parseJson(value);
  if (!parsed.ok) return parsed;
  const body = parsed.body;
  if (body !== null && typeof body === 'object' && (body as { type?: unknown }).type === 'model.shadow') {
    if (!validators.modelShadow(body)) {
      return { ok: false, reason: 'schema_violation', detail: describeErrors(validators.modelShadow.errors) };
    }
    return { ok: true, event: body as ModelShadowEvent };
  }
  if (!validators.modelActivated(body)) {
    return { ok: false, reason: 'schema_violation', detail: describeErrors(validators.modelActivated.errors) };
  }
  return { ok: true, event: body as ModelActivatedEvent };
}

const SHADOW_FIELD_ORDER = ['type', 'model', 'version', 'task', 'checksum', 'files', 'at', 'epoch'] as const;

/** Encodes a shadow event as JSON with a fixed field order (absent fields omitted, files sorted). */
export function encodeModelShadow(e: ModelShadowEvent): string {
  const out: Record<string, unknown> = {};
  for (const f of SHADOW_FIELD_ORDER) {
    const v = e[f];
    if (v === undefined) continue;
    out[f] = f === 'files' ? sortedFiles(v as Record<string, string>) : v;
  }
  return JSON.stringify(out);
}

function parseJson(
  value: Buffer | string | null,
): { readonly ok: true; readonly body: unknown } | { readonly ok: false; readonly reason: 'invalid_json'; readonly detail: string } {
  if (value === null || value.length === 0) return { ok: false, reason: 'invalid_json', detail: 'message value is empty' };
  try {
    return { ok: true, body: JSON.parse(typeof value === 'string' ? value : value.toString('utf8')) as unknown };
  } catch (e) {
    return { ok: false, reason: 'invalid_json', detail: (e as Error).message };
  }
}

function sortedFiles(files: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(
    Object.keys(files)
      .sort()
      .map((k) => [k, files[k]]),
  );
}

/** Parses and validates a `streamcell.models` message value. Never throws. */
export function decodeModelActivated(value: Buffer | string | null): ModelEventDecodeResult {
  const parsed = parseJson(value);
  if (!parsed.ok) return parsed;
  const body = parsed.body;
  if (!validators.modelActivated(body)) {
    return {
      ok: false,
      reason: 'schema_violation',
      detail: describeErrors(validators.modelActivated.errors),
    };
  }
  return { ok: true, event: body as ModelActivatedEvent };
}

const FIELD_ORDER = [
  'type',
  'model',
  'version',
  'previousVersion',
  'task',
  'checksum',
  'files',
  'activatedAt',
  'policy',
  'rewarmSteps',
  'epoch',
] as const;

/** Encodes an activation event as JSON with a fixed field order (absent fields omitted). */
export function encodeModelActivated(e: ModelActivatedEvent): string {
  const out: Record<string, unknown> = {};
  for (const f of FIELD_ORDER) {
    const v = e[f];
    if (v === undefined) continue;
    if (f === 'files' && v !== null && typeof v === 'object') {
      out.files = sortedFiles(v);
    } else {
      out[f] = v;
    }
  }
  return JSON.stringify(out);
}
