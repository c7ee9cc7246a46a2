import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { importFromModelJson, parseModelJson, weightPaths, type ImportedModel, type TextMode } from '@app/lstm';
import { Tokenizer, artifactToBuffers, loadArtifact, MODEL_JSON_FILE, SIDECAR_FILE, type SidecarDraft } from './preprocess';

/** What an import may say besides the files (used when no sidecar is supplied). */
export interface ImportOptions {
  /** Model name, written into a generated sidecar. */
  readonly name: string;
  readonly task?: 'forecast' | 'classify';
  readonly labels?: readonly string[];
  readonly maxlen?: number;
  readonly scaler?: { mean: number[]; scale: number[] };
  readonly window?: number;
  /** classify: `pad_sequences` padding of the training rows (default 'pre'). */
  readonly padding?: 'pre' | 'post';
  /** classify: how a key's stream is read (default 'window': Keras' fixed-length predict). */
  readonly mode?: TextMode;
}

/** A rejected import, with a message for the HTTP 400 / CLI. */
export class ImportError extends Error {}

const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json'];

/**
 * Turns uploaded files into a version's files: a tfjs layers model (as `tensorflowjs_converter`
 * or `model.save` writes it) plus either a streamcell.json sidecar (verified as is) or the pieces
 * to build one: a Keras `Tokenizer.to_json()` file named tokenizer.json, labels and maxlen for a
 * text model; a scaler and window for a forecaster. Either way the result loads in the engine.
 */
export async function prepareImport(
  files: ReadonlyMap<string, Buffer>,
  opts: ImportOptions,
): Promise<{ files: Map<string, Buffer>; task: 'forecast' | 'classify' }> {
  if (!files.has(MODEL_JSON_FILE)) throw new ImportError(`files: ${MODEL_JSON_FILE} (tfjs layers format) is required`);
  if (files.has(SIDECAR_FILE)) {
    try {
      const loaded = await loadArtifact(files);
      return { files: new Map(loaded.files), task: loaded.sidecar.task };
    } catch (err) {
      throw new ImportError(`files: ${(err as Error).message}`);
    }
  }
  // The topology and the weights manifest are read directly (no tfjs-layers in the path): the
  // engine's own import decides what is supported, so GRU reset_after=true, unroll and Keras 3
  // converter output import exactly as they are served.
  let imported: ImportedModel;
  try {
    const modelJson = parseModelJson(files.get(MODEL_JSON_FILE)!);
    for (const p of weightPaths(modelJson)) {
      if (!files.has(p)) throw new Error(`weight file ${p} (named by ${MODEL_JSON_FILE}) was not uploaded`);
    }
    imported = importFromModelJson(modelJson, (p) => files.get(p)!);
  } catch (err) {
    throw new ImportError(`files: ${MODEL_JSON_FILE} does not import: ${(err as Error).message}`);
  }
  const { spec } = imported;
  const last = spec.head[spec.head.length - 1];
  const outUnits = last ? last.units : spec.recurrent[spec.recurrent.length - 1].units;
  const tokFile = TOKENIZER_FILES.map((t) => files.get(t)).find(Boolean);
  const task = opts.task ?? (tokFile ? 'classify' : undefined);
  if (!task) throw new ImportError('task: required when neither streamcell.json nor tokenizer.json is supplied');
  let draft: SidecarDraft;
  if (task === 'classify') {
    if (!tokFile) throw new ImportError('files: tokenizer.json (Keras Tokenizer.to_json()) is required for a text model without sidecar');
    let tokenizer: Tokenizer;
    try {
      tokenizer = Tokenizer.fromKerasJson(tokFile.toString('utf8'));
    } catch (err) {
      throw new ImportError(`files: tokenizer.json is not a Keras tokenizer JSON: ${(err as Error).message}`);
    }
    const maxlen = opts.maxlen ?? imported.inputLength ?? undefined;
    if (!maxlen) throw new ImportError('maxlen: required (the model input has no fixed length)');
    const masked = spec.embedding?.maskZero === true;
    const padding = opts.padding ?? 'pre';
    const labels = opts.labels ?? (outUnits === 1 ? ['0', '1'] : Array.from({ length: outUnits }, (_, i) => String(i)));
    draft = {
      task,
      name: opts.name,
      version: 'imported',
      // 'window' reproduces pad_sequences + predict; 'stream' starts a key after maxlen pad
      // tokens when the model was trained on pre-padded rows without masking.
      input: { maxTokens: maxlen, paddingPrefix: masked || padding === 'post' ? 0 : maxlen, padding, mode: opts.mode ?? 'window' },
      tokenizer: tokenizer.toKerasJson(),
      labels: [...labels],
    };
  } else {
    if (spec.embedding) throw new ImportError('task: forecast needs a model without an Embedding layer');
    const features = spec.recurrent[0].inputDim;
    const names = features === 1 ? ['value'] : Array.from({ length: features }, (_, i) => `value_${i}`);
    const horizon = Math.max(1, Math.floor(outUnits / features));
    draft = {
      task,
      name: opts.name,
      version: 'imported',
      input: {
        features: names,
        includeTimeDelta: false,
        window: opts.window ?? imported.inputLength ?? 1,
        ...(horizon * features === outUnits ? {} : { targets: [names[0]] }),
      },
      scaler: opts.scaler ? { type: 'standard', mean: opts.scaler.mean, scale: opts.scaler.scale, count: 0 } : null,
      labels: [],
      horizon: horizon * features === outUnits ? horizon : outUnits,
    };
  }
  const weights = new Map([...files].filter(([n]) => n !== MODEL_JSON_FILE && !TOKENIZER_FILES.includes(n)));
  try {
    return { files: artifactToBuffers({ modelJson: files.get(MODEL_JSON_FILE)!, weights, sidecar: draft }), task };
  } catch (err) {
    throw new ImportError(`files: ${(err as Error).message}`);
  }
}

/**
 * The files of a converter output directory that an import takes: with a streamcell.json, every
 * .json and .bin file (the sidecar names what it needs); otherwise model.json, the weight files
 * its manifest names and a tokenizer file, so other files in the directory (notes, expected
 * outputs) do not become part of the version.
 */
export async function readImportDir(dir: string): Promise<Map<string, Buffer>> {
  const names = await readdir(dir);
  const files = new Map<string, Buffer>();
  if (names.includes(SIDECAR_FILE)) {
    for (const name of names) if (/\.(json|bin)$/.test(name)) files.set(name, await readFile(join(dir, name)));
    return files;
  }
  if (!names.includes(MODEL_JSON_FILE)) return files;
  const modelJson = await readFile(join(dir, MODEL_JSON_FILE));
  files.set(MODEL_JSON_FILE, modelJson);
  let wanted: string[] = [];
  try {
    wanted = weightPaths(parseModelJson(modelJson));
  } catch {
    // prepareImport reports the bad model.json.
  }
  for (const name of [...wanted, ...TOKENIZER_FILES]) {
    // Paths are safe relative paths (parseModelJson checks them); a missing one is named by prepareImport.
    const data = await readFile(join(dir, name)).catch(() => null);
    if (data) files.set(name, data);
  }
  return files;
}
