import { StandardScaler, type StandardScalerJson } from '../preprocess/standard-scaler';
import { Tokenizer, type KerasTokenizerJson } from '../preprocess/tokenizer';
import { isRecord, isSafeRelativePath } from './model-json';

/** File name of the sidecar inside an artifact. */
export const SIDECAR_FILE = 'streamcell.json';
/** File name of the tfjs layers-format topology inside an artifact. */
export const MODEL_JSON_FILE = 'model.json';
/**
 * Largest `input.maxTokens` and `input.paddingPrefix`: a worker steps the padding prefix
 * synchronously when it loads a version (at boot and at each activation), so an unbounded one
 * would freeze every worker. Keras models padded to more than this are refused at import and load.
 */
export const MAX_SEQUENCE_TOKENS = 10_000;
/** Largest forecast `input.window` (the rewarm length is bounded apart, by REWARM_STEPS). */
export const MAX_WINDOW = 100_000;
/** Current sidecar schema version. */
export const SIDECAR_SCHEMA_VERSION = 1;

/** Input spec of a forecaster (sensor readings). */
export interface ForecastInputSpec {
  /** Feature names in model input order (`value` or the `values` array's meaning). */
  readonly features: string[];
  /**
   * When true the model's last input feature is the time since the key's previous event in
   * seconds (0 for the first event), scaled by the scaler's last column.
   */
  readonly includeTimeDelta: boolean;
  /** Window length the model was trained on (steps of history; also the rewarm length). */
  readonly window: number;
  /** Features the model forecasts (default: all `features`); outputs are horizon × targets. */
  readonly targets?: string[];
}

/** Input spec of a text classifier. */
export interface ClassifyInputSpec {
  /** maxlen used with pad_sequences in training. */
  readonly maxTokens: number;
  /** Pad tokens (id 0) the model expects before a stream's first token; 0 for none. */
  readonly paddingPrefix: number;
  /** Padding used in training ('pre' is the Keras default). */
  readonly padding: 'pre' | 'post';
  /**
   * How a key's text stream is read (absent: 'stream').
   * - 'window': after each message the score is the model's output on
   *   `pad_sequences([last maxTokens tokens of the stream so far], maxTokens, padding)`, what
   *   Keras' `model.predict` gives for the classic fixed-length recipe (imports default to it).
   * - 'stream': one step per token over the whole stream, after `paddingPrefix` pad tokens: what
   *   the same layers without a fixed input length give on `[0] * paddingPrefix + every token`.
   */
  readonly mode?: TextMode;
}

/** How a text model reads a key's stream (see {@link ClassifyInputSpec.mode}). */
export type TextMode = 'window' | 'stream';
/** The text modes, in documentation order. */
export const TEXT_MODES: readonly TextMode[] = ['window', 'stream'];

/** The mode of a text sidecar's input (absent: 'stream', the reading of sidecars written before modes). */
export function textModeOf(input: ClassifyInputSpec): TextMode {
  return input.mode ?? 'stream';
}

/** `streamcell.json`: everything besides the weights that serving a model version needs. */
export interface StreamcellSidecar {
  readonly schemaVersion: 1;
  readonly task: 'forecast' | 'classify';
  readonly name: string;
  /** Version label given by the producer; the registry's version number is authoritative. */
  readonly version: string | number;
  readonly input: ForecastInputSpec | ClassifyInputSpec;
  /** Forecast: scaler over the model's input features (incl. the time delta column). */
  readonly scaler?: StandardScalerJson | null;
  /** Classify: Keras `Tokenizer.to_json()` object. */
  readonly tokenizer?: KerasTokenizerJson | null;
  /** Classify: class labels in output order; a binary sigmoid model has 2 labels [neg, pos]. */
  readonly labels: string[];
  /** Forecast: number of future steps the head emits per target. */
  readonly horizon?: number;
  /** Training/evaluation metrics, e.g. {loss, accuracy, mae}. */
  readonly metrics?: Record<string, number>;
  /** ISO-8601 time of creation. */
  readonly createdAt: string;
  /** Version this one was trained from, if any. */
  readonly parent?: string | number | null;
  /** Every other file of the artifact: relative path → lower-case sha256 hex. */
  readonly files: Record<string, string>;
}

/** A sidecar before checksums are filled in (what a writer supplies). */
export type SidecarDraft = Omit<StreamcellSidecar, 'files' | 'schemaVersion' | 'createdAt'> &
  Partial<Pick<StreamcellSidecar, 'files' | 'schemaVersion' | 'createdAt'>>;

/** Raised for an invalid sidecar; the message names the field. */
export class SidecarError extends Error {
  override readonly name = 'SidecarError';
}

/** Validates a parsed sidecar (bytes, string or object); errors name the offending field. */
export function parseSidecar(source: unknown): StreamcellSidecar {
  let s: unknown = source;
  if (typeof source === 'string' || source instanceof Uint8Array) {
    try {
      s = JSON.parse(typeof source === 'string' ? source : Buffer.from(source).toString('utf8'));
    } catch (e) {
      throw new SidecarError(`${SIDECAR_FILE}: invalid JSON (${(e as Error).message})`);
    }
  }
  const fail = (field: string, msg: string): never => {
    throw new SidecarError(`${SIDECAR_FILE}: ${field} ${msg}`);
  };
  if (!isRecord(s)) return fail('(root)', 'must be a JSON object');
  if (s.schemaVersion !== SIDECAR_SCHEMA_VERSION) fail('schemaVersion', `must be ${SIDECAR_SCHEMA_VERSION}`);
  if (s.task !== 'forecast' && s.task !== 'classify') fail('task', "must be 'forecast' or 'classify'");
  if (typeof s.name !== 'string' || s.name.length === 0) fail('name', 'must be a non-empty string');
  if (
    !(typeof s.version === 'string' && s.version.length > 0) &&
    !(typeof s.version === 'number' && Number.isFinite(s.version))
  ) {
    fail('version', 'must be a non-empty string or a number');
  }
  if (typeof s.createdAt !== 'string' || Number.isNaN(Date.parse(s.createdAt)))
    fail('createdAt', 'must be an ISO-8601 date');
  if (!Array.isArray(s.labels) || !s.labels.every((l) => typeof l === 'string'))
    fail('labels', 'must be an array of strings');
  if (new Set(s.labels as string[]).size !== (s.labels as string[]).length) fail('labels', 'must not repeat');
  if (
    s.parent !== undefined &&
    s.parent !== null &&
    typeof s.parent !== 'string' &&
    typeof s.parent !== 'number'
  ) {
    fail('parent', 'must be a string, a number or null');
  }
  if (s.metrics !== undefined) {
    if (!isRecord(s.metrics)) fail('metrics', 'must be an object of numbers');
    for (const [k, v] of Object.entries(s.metrics as Record<string, unknown>)) {
      if (typeof v !== 'number') fail(`metrics.${k}`, 'must be a number');
    }
  }
  if (!isRecord(s.files)) fail('files', 'must be an object {relative path: sha256 hex}');
  for (const [k, v] of Object.entries(s.files as Record<string, unknown>)) {
    if (!isSafeRelativePath(k)) fail(`files["${k}"]`, 'is not a safe relative path');
    if (k === SIDECAR_FILE) fail(`files["${k}"]`, 'the sidecar cannot checksum itself');
    if (typeof v !== 'string' || !/^[0-9a-f]{64}$/.test(v))
      fail(`files["${k}"]`, 'must be a lower-case sha256 hex string');
  }
  if (!isRecord(s.input)) fail('input', 'must be an object');
  const input = s.input as Record<string, unknown>;
  const posInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v > 0;
  if (s.task === 'forecast') {
    if (
      !Array.isArray(input.features) ||
      input.features.length === 0 ||
      !input.features.every((f) => typeof f === 'string')
    ) {
      fail('input.features', 'must be a non-empty array of strings');
    }
    if (typeof input.includeTimeDelta !== 'boolean') fail('input.includeTimeDelta', 'must be a boolean');
    if (!posInt(input.window) || (input.window as number) > MAX_WINDOW)
      fail('input.window', `must be a positive integer up to ${MAX_WINDOW}`);
    if (input.targets !== undefined) {
      const feats = input.features as string[];
      if (
        !Array.isArray(input.targets) ||
        input.targets.length === 0 ||
        !input.targets.every((t) => feats.includes(t as string))
      ) {
        fail('input.targets', 'must be a non-empty array of names from input.features');
      }
    }
    if (s.horizon !== undefined && !posInt(s.horizon)) fail('horizon', 'must be a positive integer');
    if (s.scaler !== undefined && s.scaler !== null) {
      let scaler: StandardScaler | undefined;
      try {
        scaler = StandardScaler.fromJSON(s.scaler);
      } catch (e) {
        fail('scaler', `is invalid: ${(e as Error).message}`);
      }
      const width = (input.features as string[]).length + (input.includeTimeDelta ? 1 : 0);
      if (scaler!.size !== width) fail('scaler', `has ${scaler!.size} features, the input spec has ${width}`);
    }
  } else {
    if (!posInt(input.maxTokens) || (input.maxTokens as number) > MAX_SEQUENCE_TOKENS)
      fail('input.maxTokens', `must be a positive integer up to ${MAX_SEQUENCE_TOKENS}`);
    const pp = input.paddingPrefix ?? 0;
    if (typeof pp !== 'number' || !Number.isInteger(pp) || pp < 0 || pp > MAX_SEQUENCE_TOKENS)
      fail('input.paddingPrefix', `must be a non-negative integer up to ${MAX_SEQUENCE_TOKENS}`);
    if (input.padding !== 'pre' && input.padding !== 'post') fail('input.padding', "must be 'pre' or 'post'");
    if (input.mode !== undefined && !TEXT_MODES.includes(input.mode as TextMode))
      fail('input.mode', "must be 'window' or 'stream'");
    if (s.tokenizer === undefined || s.tokenizer === null) fail('tokenizer', 'is required for task classify');
    try {
      Tokenizer.fromKerasJson(s.tokenizer as KerasTokenizerJson);
    } catch (e) {
      fail('tokenizer', `is invalid: ${(e as Error).message}`);
    }
    if ((s.labels as string[]).length < 2) fail('labels', 'needs at least 2 labels for task classify');
  }
  return s as unknown as StreamcellSidecar;
}

/**
 * Cross-checks the sidecar against the model: output units vs labels (classify: one sigmoid unit
 * for 2 labels, else one unit per label) or horizon × targets (forecast), embedding rows vs
 * tokenizer vocabulary, input width vs features.
 */
export function checkSidecarAgainstModel(
  sidecar: StreamcellSidecar,
  model: {
    readonly embeddingRows: number | null;
    readonly inputDim: number;
    readonly outputUnits: number;
    readonly outputActivation: string;
  },
): void {
  const fail = (field: string, msg: string): never => {
    throw new SidecarError(`${SIDECAR_FILE}: ${field} ${msg}`);
  };
  if (sidecar.task === 'classify') {
    const n = sidecar.labels.length;
    const ok =
      model.outputUnits === n || (n === 2 && model.outputUnits === 1 && model.outputActivation === 'sigmoid');
    if (!ok)
      fail(
        'labels',
        `has ${n} labels but the model outputs ${model.outputUnits} unit(s) (${model.outputActivation})`,
      );
    if (model.embeddingRows === null) fail('task', 'classify needs a model with an Embedding layer');
    const tok = Tokenizer.fromKerasJson(sidecar.tokenizer!);
    let maxIndex = tok.numWords ? tok.numWords - 1 : tok.wordIndex.size;
    if (!tok.numWords) for (const id of tok.wordIndex.values()) if (id > maxIndex) maxIndex = id;
    if (maxIndex >= model.embeddingRows!) {
      fail('tokenizer', `can produce token id ${maxIndex} but the Embedding has ${model.embeddingRows} rows`);
    }
  } else {
    const input = sidecar.input as ForecastInputSpec;
    if (model.embeddingRows !== null) fail('task', 'forecast needs a model without an Embedding layer');
    const width = input.features.length + (input.includeTimeDelta ? 1 : 0);
    if (model.inputDim !== width)
      fail('input.features', `give ${width} input features but the model takes ${model.inputDim}`);
    const outputs = (sidecar.horizon ?? 1) * (input.targets ?? input.features).length;
    if (model.outputUnits !== outputs)
      fail('horizon', `× targets = ${outputs} outputs but the model outputs ${model.outputUnits}`);
  }
}
