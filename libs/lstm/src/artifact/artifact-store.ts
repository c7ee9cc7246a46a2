import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { RecurrentModelSpec } from '../engine/model-spec';
import { importKerasModel, type ImportedModel } from './keras-import';
import {
  decodeWeights,
  isSafeRelativePath,
  modelConfigOf,
  parseModelJson,
  weightPaths,
  type LayersModelJson,
} from './model-json';
import {
  checkSidecarAgainstModel,
  MODEL_JSON_FILE,
  parseSidecar,
  SIDECAR_FILE,
  SIDECAR_SCHEMA_VERSION,
  SidecarError,
  type SidecarDraft,
  type StreamcellSidecar,
} from './sidecar';

/** Artifact files by relative path (what the registry stores). */
export type ArtifactFiles = ReadonlyMap<string, Buffer>;

/** A directory path, or the artifact's files in memory (Map or plain object of name → bytes). */
export type ArtifactSource = string | ReadonlyMap<string, Uint8Array> | Readonly<Record<string, Uint8Array>>;

/** A loaded, verified artifact. */
export interface LoadedArtifact extends ImportedModel {
  readonly spec: RecurrentModelSpec;
  readonly sidecar: StreamcellSidecar;
  /** Every file of the artifact (sidecar included), checksums verified. */
  readonly files: ArtifactFiles;
  readonly modelJson: LayersModelJson;
}

/** What a writer supplies to {@link saveArtifact} / {@link artifactToBuffers}. */
export interface ArtifactContents {
  /** model.json as object, string or bytes. */
  readonly modelJson: LayersModelJson | string | Uint8Array;
  /** Weight files by the names model.json's manifest uses. */
  readonly weights: ReadonlyMap<string, Uint8Array> | Readonly<Record<string, Uint8Array>>;
  /** Sidecar without checksums; `files` is computed, `schemaVersion`/`createdAt` default. */
  readonly sidecar: SidecarDraft;
  /** Extra files to ship and checksum (e.g. tokenizer.json). */
  readonly extraFiles?: ReadonlyMap<string, Uint8Array> | Readonly<Record<string, Uint8Array>>;
}

/** Raised when a file's sha256 differs from the sidecar's record, or a listed file is absent. */
export class ArtifactIntegrityError extends Error {
  override readonly name = 'ArtifactIntegrityError';
}

/** Lower-case hex sha256. */
export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function entriesOf(
  src: ReadonlyMap<string, Uint8Array> | Readonly<Record<string, Uint8Array>>,
): [string, Uint8Array][] {
  return src instanceof Map ? [...(src as ReadonlyMap<string, Uint8Array>).entries()] : Object.entries(src);
}

function toBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * Loads a model (model.json + weight files) without a sidecar, from a directory or buffers.
 * Maps it onto the engine's {@link RecurrentModelSpec}.
 */
export async function loadLayersModel(
  source: ArtifactSource,
): Promise<ImportedModel & { modelJson: LayersModelJson }> {
  const read = await reader(source);
  const modelJson = parseModelJson(await read(MODEL_JSON_FILE));
  const files = new Map<string, Uint8Array>();
  for (const p of weightPaths(modelJson)) files.set(p, await read(p));
  return { ...importFromModelJson(modelJson, (p) => files.get(p)!), modelJson };
}

/** Maps a parsed model.json plus a synchronous weight-file reader onto the engine contract. */
export function importFromModelJson(
  modelJson: LayersModelJson,
  readFile: (path: string) => Uint8Array,
): ImportedModel {
  const weights = decodeWeights(modelJson, readFile);
  return importKerasModel(modelConfigOf(modelJson), weights);
}

/**
 * Loads and verifies an artifact: streamcell.json is validated, every file it lists must exist
 * with the recorded sha256, model.json and all its weight files must be listed, and the model
 * must map onto the engine and agree with the sidecar (labels, vocabulary, features, horizon).
 *
 * @throws SidecarError, ArtifactIntegrityError, UnsupportedModelError — each naming the field,
 *   file or layer at fault.
 */
export async function loadArtifact(source: ArtifactSource): Promise<LoadedArtifact> {
  const read = await reader(source);
  const sidecarBytes = await read(SIDECAR_FILE);
  const sidecar = parseSidecar(sidecarBytes);
  const files = new Map<string, Buffer>([[SIDECAR_FILE, sidecarBytes]]);
  for (const [name, expected] of Object.entries(sidecar.files)) {
    let data: Buffer;
    try {
      data = await read(name);
    } catch {
      throw new ArtifactIntegrityError(`artifact file ${name} is listed in ${SIDECAR_FILE} but missing`);
    }
    const actual = sha256Hex(data);
    if (actual !== expected) {
      throw new ArtifactIntegrityError(
        `artifact file ${name}: sha256 ${actual} does not match ${SIDECAR_FILE} (${expected})`,
      );
    }
    files.set(name, data);
  }
  if (!files.has(MODEL_JSON_FILE))
    throw new SidecarError(`${SIDECAR_FILE}: files must list ${MODEL_JSON_FILE}`);
  const modelJson = parseModelJson(files.get(MODEL_JSON_FILE)!);
  for (const p of weightPaths(modelJson)) {
    if (!files.has(p))
      throw new SidecarError(
        `${SIDECAR_FILE}: files must list weight file ${p} (referenced by ${MODEL_JSON_FILE})`,
      );
  }
  const imported = importFromModelJson(modelJson, (p) => files.get(p)!);
  checkSidecarAgainstModel(sidecar, describe(imported.spec));
  return { ...imported, sidecar, files, modelJson };
}

function describe(spec: RecurrentModelSpec) {
  const last = spec.head[spec.head.length - 1];
  const lastRec = spec.recurrent[spec.recurrent.length - 1];
  return {
    embeddingRows: spec.embedding ? spec.embedding.inputDim : null,
    inputDim: spec.embedding ? spec.embedding.inputDim : spec.recurrent[0].inputDim,
    outputUnits: last ? last.units : lastRec.units,
    outputActivation: last ? last.activation : 'linear',
  };
}

/**
 * Builds an artifact in memory: model.json, weight files, extra files and a streamcell.json whose
 * `files` holds the sha256 of each. The model is imported and checked against the sidecar first,
 * so an artifact that would not load is never produced.
 */
export function artifactToBuffers(contents: ArtifactContents): Map<string, Buffer> {
  const modelJsonBytes =
    contents.modelJson instanceof Uint8Array
      ? toBuffer(contents.modelJson)
      : Buffer.from(
          typeof contents.modelJson === 'string' ? contents.modelJson : JSON.stringify(contents.modelJson),
          'utf8',
        );
  const modelJson = parseModelJson(modelJsonBytes);
  const out = new Map<string, Buffer>([[MODEL_JSON_FILE, modelJsonBytes]]);
  for (const [name, data] of [...entriesOf(contents.weights), ...entriesOf(contents.extraFiles ?? {})]) {
    if (!isSafeRelativePath(name) || name === SIDECAR_FILE || name === MODEL_JSON_FILE) {
      throw new Error(`artifact: file name ${JSON.stringify(name)} is not allowed`);
    }
    out.set(name, toBuffer(data));
  }
  for (const p of weightPaths(modelJson)) {
    if (!out.has(p))
      throw new Error(`artifact: weight file ${p} referenced by ${MODEL_JSON_FILE} was not supplied`);
  }
  const files: Record<string, string> = {};
  for (const [name, data] of [...out.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    files[name] = sha256Hex(data);
  const { files: _ignored, ...draft } = contents.sidecar;
  const sidecar = parseSidecar({
    ...draft,
    schemaVersion: contents.sidecar.schemaVersion ?? SIDECAR_SCHEMA_VERSION,
    createdAt: contents.sidecar.createdAt ?? new Date().toISOString(),
    files,
  });
  const imported = importFromModelJson(modelJson, (p) => out.get(p)!);
  checkSidecarAgainstModel(sidecar, describe(imported.spec));
  out.set(SIDECAR_FILE, Buffer.from(JSON.stringify(sidecar, null, 2) + '\n', 'utf8'));
  return out;
}

/**
 * Writes an artifact into `dir` (created if needed); the sidecar is written last so a reader
 * never sees a sidecar whose files are incomplete. Returns the final sidecar.
 */
export async function saveArtifact(dir: string, contents: ArtifactContents): Promise<StreamcellSidecar> {
  const buffers = artifactToBuffers(contents);
  await writeArtifactFiles(dir, buffers);
  return parseSidecar(buffers.get(SIDECAR_FILE)!);
}

/** Writes artifact buffers (e.g. from the registry) into a directory, sidecar last. */
export async function writeArtifactFiles(dir: string, files: ReadonlyMap<string, Uint8Array>): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  const names = [...files.keys()].sort((a, b) => Number(a === SIDECAR_FILE) - Number(b === SIDECAR_FILE));
  for (const name of names) {
    if (!isSafeRelativePath(name))
      throw new Error(`artifact: file name ${JSON.stringify(name)} is not allowed`);
    const target = path.join(dir, name);
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.writeFile(target, files.get(name)!);
  }
}

async function reader(source: ArtifactSource): Promise<(name: string) => Promise<Buffer>> {
  if (typeof source === 'string') {
    const stat = await fs.stat(source).catch(() => null);
    if (!stat?.isDirectory()) throw new Error(`artifact directory ${source} does not exist`);
    return async (name) => {
      if (!isSafeRelativePath(name))
        throw new Error(`artifact: file name ${JSON.stringify(name)} is not allowed`);
      try {
        return await fs.readFile(path.join(source, name));
      } catch {
        throw new ArtifactIntegrityError(`artifact file ${name} is missing in ${source}`);
      }
    };
  }
  const map = new Map(entriesOf(source));
  return async (name) => {
    const data = map.get(name);
    if (!data) throw new ArtifactIntegrityError(`artifact file ${name} is missing`);
    return toBuffer(data);
  };
}
