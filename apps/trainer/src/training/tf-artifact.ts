import type * as tf from '@tensorflow/tfjs';
import {
  artifactToBuffers,
  loadTfjsModelFromBuffers,
  parseSidecar,
  saveTfjsModelToBuffers,
  MODEL_JSON_FILE,
  SIDECAR_FILE,
  type SidecarDraft,
  type StreamcellSidecar,
} from './preprocess';

/**
 * Serializes a trained tfjs model as a streamcell artifact (@app/lstm format): model.json and
 * the weight shard as `model.save` writes them, plus streamcell.json with their sha256. The
 * artifact is checked against the engine (import + sidecar cross-check) before it is returned.
 */
export async function modelToFiles(model: tf.LayersModel, sidecar: SidecarDraft): Promise<Map<string, Buffer>> {
  const saved = await saveTfjsModelToBuffers(model);
  const weights = new Map([...saved].filter(([name]) => name !== MODEL_JSON_FILE));
  return artifactToBuffers({ modelJson: saved.get(MODEL_JSON_FILE)!, weights, sidecar });
}

/** Loads a version's tfjs layers model (model.json + the shards it lists). */
export async function filesToModel(files: ReadonlyMap<string, Buffer>): Promise<tf.LayersModel> {
  return loadTfjsModelFromBuffers(files);
}

/** Parses and validates the sidecar of a version's files. */
export function readSidecar(files: ReadonlyMap<string, Buffer>): StreamcellSidecar {
  const b = files.get(SIDECAR_FILE);
  if (!b) throw new Error(`artifact has no ${SIDECAR_FILE}`);
  return parseSidecar(b);
}
