import { createHash } from 'node:crypto';
import { Tokenizer } from './preprocess';
import { verifyArtifactFiles } from '@app/registry';
import { MODEL_FILE, SIDECAR_FILE, type TrainerSidecar } from './sidecar';
import { filesToModel } from './tf-artifact';

/** What an import may say besides the files (used when no sidecar is supplied). */
export interface ImportOptions {
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
 * writes it) plus either a streamcell.json sidecar or the pieces to build one (a Keras
 * `Tokenizer.to_json()` file named tokenizer.json, labels, maxlen; or a scaler for forecasters).
 * The model must load in tfjs; the sidecar's `files` records every other file's sha256.
 */
export async function prepareImport(
  files: ReadonlyMap<string, Buffer>,
  opts: ImportOptions,
): Promise<{ files: Map<string, Buffer>; task: 'forecast' | 'classify' }> {
  if (!files.has(MODEL_FILE)) throw new ImportError(`files: ${MODEL_FILE} (tfjs layers format) is required`);
  let model;
  try {
    model = await filesToModel(files);
  } catch (err) {
    throw new ImportError(`files: ${MODEL_FILE} does not load as a tfjs layers model: ${(err as Error).message}`);
  }
  const inShape = model.inputs[0].shape;
  const outUnits = model.outputs[0].shape[model.outputs[0].shape.length - 1] ?? 1;
  model.dispose();

  let sidecar: Omit<TrainerSidecar, 'files'> & { files?: unknown };
  const supplied = files.get(SIDECAR_FILE);
  const out = new Map(files);
  for (const t of TOKENIZER_FILES) out.delete(t);
  if (supplied) {
    try {
      sidecar = JSON.parse(supplied.toString('utf8'));
    } catch {
      throw new ImportError(`files: ${SIDECAR_FILE} is not JSON`);
    }
    if (sidecar.task !== 'forecast' && sidecar.task !== 'classify') throw new ImportError(`files: ${SIDECAR_FILE} needs task forecast|classify`);
    try {
      verifyArtifactFiles(files); // the checksums the supplied sidecar records must hold
    } catch (err) {
      throw new ImportError(`files: ${(err as Error).message}`);
    }
  } else {
    const task = opts.task ?? (TOKENIZER_FILES.some((t) => files.has(t)) ? 'classify' : undefined);
    if (!task) throw new ImportError('task: required when no streamcell.json sidecar is supplied');
    if (task === 'classify') {
      const tf = TOKENIZER_FILES.map((t) => files.get(t)).find(Boolean);
      if (!tf) throw new ImportError('files: tokenizer.json (Keras Tokenizer.to_json()) is required for a text model without sidecar');
      let tokenizer;
      try {
        tokenizer = Tokenizer.fromKerasJson(tf.toString('utf8'));
      } catch (err) {
        throw new ImportError(`files: tokenizer.json is not a Keras tokenizer JSON: ${(err as Error).message}`);
      }
      const maxlen = opts.maxlen ?? (typeof inShape[1] === 'number' ? inShape[1] : undefined);
      if (!maxlen) throw new ImportError('maxlen: required (the model input has no fixed length)');
      const labels = opts.labels ?? (outUnits === 1 ? ['0', '1'] : Array.from({ length: outUnits }, (_, i) => String(i)));
      if (labels.length !== (outUnits === 1 ? 2 : outUnits)) {
        throw new ImportError(`labels: ${labels.length} labels for a model with ${outUnits} output unit(s)`);
      }
      sidecar = {
        format: 'streamcell-sidecar',
        formatVersion: 1,
        task,
        input: { kind: 'tokens', maxlen, padding: 'pre', truncating: 'pre' },
        tokenizer: tokenizer.toKerasJson(),
        labels,
        output: outUnits === 1 ? 'sigmoid' : 'softmax',
      };
    } else {
      const features = typeof inShape[2] === 'number' ? inShape[2] : (opts.scaler?.mean.length ?? 1);
      const scaler = opts.scaler ?? { mean: new Array<number>(features).fill(0), scale: new Array<number>(features).fill(1) };
      if (scaler.mean.length !== features || scaler.scale.length !== features) {
        throw new ImportError(`scaler: mean and scale need ${features} values (model input features)`);
      }
      sidecar = {
        format: 'streamcell-sidecar',
        formatVersion: 1,
        task,
        input: { kind: 'features', features, window: opts.window ?? (typeof inShape[1] === 'number' ? inShape[1] : 0) },
        scaler: { type: 'standard', mean: scaler.mean, scale: scaler.scale, count: 0 },
        horizon: outUnits,
        output: 'linear',
      };
    }
  }
  const sums: Record<string, { sha256: string; bytes: number }> = {};
  for (const [name, data] of out) {
    if (name === SIDECAR_FILE) continue;
    sums[name] = { sha256: createHash('sha256').update(data).digest('hex'), bytes: data.length };
  }
  const full = { ...sidecar, files: sums };
  out.set(SIDECAR_FILE, Buffer.from(JSON.stringify(full, null, 2)));
  return { files: out, task: sidecar.task };
}
