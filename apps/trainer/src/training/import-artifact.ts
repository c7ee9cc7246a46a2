import { Tokenizer, artifactToBuffers, loadArtifact, loadTfjsModelFromBuffers, MODEL_JSON_FILE, SIDECAR_FILE, type SidecarDraft } from './preprocess';

/** What an import may say besides the files (used when no sidecar is supplied). */
export interface ImportOptions {
  /** Model name, written into a generated sidecar. */
  readonly name: string;
  readonly task?: 'forecast' | 'classify';
  readonly labels?: readonly string[];
  readonly maxlen?: number;
  readonly scaler?: { mean: number[]; scale: number[] };
  readonly window?: number;
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
  let inShape: (number | null)[];
  let outUnits: number;
  try {
    const model = await loadTfjsModelFromBuffers(files);
    inShape = model.inputs[0].shape;
    const os = model.outputs[0].shape;
    outUnits = os[os.length - 1] ?? 1;
    model.dispose();
  } catch (err) {
    throw new ImportError(`files: ${MODEL_JSON_FILE} does not load as a tfjs layers model: ${(err as Error).message}`);
  }
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
    const maxlen = opts.maxlen ?? (typeof inShape[1] === 'number' ? inShape[1] : undefined);
    if (!maxlen) throw new ImportError('maxlen: required (the model input has no fixed length)');
    const masked = /"mask_zero"\s*:\s*true|"maskZero"\s*:\s*true/.test(files.get(MODEL_JSON_FILE)!.toString('utf8'));
    const labels = opts.labels ?? (outUnits === 1 ? ['0', '1'] : Array.from({ length: outUnits }, (_, i) => String(i)));
    draft = {
      task,
      name: opts.name,
      version: 'imported',
      // Keras' classic recipe pads 'pre' without masking: the engine replays the padding prefix.
      input: { maxTokens: maxlen, paddingPrefix: masked ? 0 : maxlen, padding: 'pre' },
      tokenizer: tokenizer.toKerasJson(),
      labels: [...labels],
    };
  } else {
    const features = typeof inShape[2] === 'number' ? inShape[2] : (opts.scaler?.mean.length ?? 1);
    const names = features === 1 ? ['value'] : Array.from({ length: features }, (_, i) => `value_${i}`);
    const horizon = Math.max(1, Math.floor(outUnits / features));
    draft = {
      task,
      name: opts.name,
      version: 'imported',
      input: {
        features: names,
        includeTimeDelta: false,
        window: opts.window ?? (typeof inShape[1] === 'number' ? inShape[1] : 1),
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
