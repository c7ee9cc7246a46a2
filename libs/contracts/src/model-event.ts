import { describeErrors, validators } from './schema-validators';

/** What a model does; decides the head, the input topic and the training metrics. */
export type ModelTask = 'forecast' | 'classify';

/**
 * How workers treat a key whose state was computed by an older version when a new one becomes
 * active (docs/architecture.md, Model swap): start from zeros, replay the key's last stored
 * inputs through the new version, or keep the state as it is.
 */
export type SwapPolicy = 'reset' | 'rewarm' | 'keep';

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

/** Parses and validates a `streamcell.models` message value. Never throws. */
export function decodeModelActivated(value: Buffer | string | null): ModelEventDecodeResult {
  if (value === null || value.length === 0)
    return { ok: false, reason: 'invalid_json', detail: 'message value is empty' };
  let body: unknown;
  try {
    body = JSON.parse(typeof value === 'string' ? value : value.toString('utf8'));
  } catch (e) {
    return { ok: false, reason: 'invalid_json', detail: (e as Error).message };
  }
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
      const files = v as Record<string, string>;
      out.files = Object.fromEntries(
        Object.keys(files)
          .sort()
          .map((k) => [k, files[k]]),
      );
    } else {
      out[f] = v;
    }
  }
  return JSON.stringify(out);
}
