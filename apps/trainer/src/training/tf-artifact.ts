import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { MODEL_FILE, SIDECAR_FILE, WEIGHTS_FILE, type TrainerSidecar } from './sidecar';

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/**
 * Serializes a tfjs layers model the way `model.save('file://…')` and `tensorflowjs_converter`
 * lay it out (model.json with a weights manifest + one weight shard) plus the sidecar, whose
 * `files` records the sha256 of the other two.
 */
export async function modelToFiles(
  model: tf.LayersModel,
  sidecar: Omit<TrainerSidecar, 'files'>,
): Promise<Map<string, Buffer>> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      saved = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  if (!saved) throw new Error('model.save produced no artifacts');
  const weights = Buffer.from(saved.weightData as ArrayBuffer);
  const modelJson = Buffer.from(
    JSON.stringify({
      format: 'layers-model',
      generatedBy: saved.generatedBy,
      convertedBy: saved.convertedBy ?? null,
      modelTopology: saved.modelTopology,
      weightsManifest: [{ paths: [WEIGHTS_FILE], weights: saved.weightSpecs }],
    }),
  );
  const full: TrainerSidecar = {
    ...sidecar,
    files: {
      [MODEL_FILE]: { sha256: sha256(modelJson), bytes: modelJson.length },
      [WEIGHTS_FILE]: { sha256: sha256(weights), bytes: weights.length },
    },
  };
  return new Map([
    [MODEL_FILE, modelJson],
    [WEIGHTS_FILE, weights],
    [SIDECAR_FILE, Buffer.from(JSON.stringify(full, null, 2))],
  ]);
}

interface LayersModelJson {
  modelTopology: object;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}

/** Loads a tfjs layers model from a version's files (model.json + the shards it lists). */
export async function filesToModel(files: ReadonlyMap<string, Buffer>): Promise<tf.LayersModel> {
  const mj = files.get(MODEL_FILE);
  if (!mj) throw new Error(`artifact has no ${MODEL_FILE}`);
  const json = JSON.parse(mj.toString('utf8')) as LayersModelJson;
  if (!json.modelTopology || !Array.isArray(json.weightsManifest)) {
    throw new Error(`${MODEL_FILE} is not a tfjs layers-model (modelTopology / weightsManifest missing)`);
  }
  const specs: tf.io.WeightsManifestEntry[] = [];
  const shards: Buffer[] = [];
  for (const group of json.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) {
      const shard = files.get(p) ?? files.get(p.split('/').pop()!);
      if (!shard) throw new Error(`weight shard ${p} listed in ${MODEL_FILE} is missing`);
      shards.push(shard);
    }
  }
  const all = Buffer.concat(shards);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: specs, weightData }));
}

/** Parses the sidecar of a version's files. */
export function readSidecar(files: ReadonlyMap<string, Buffer>): TrainerSidecar {
  const b = files.get(SIDECAR_FILE);
  if (!b) throw new Error(`artifact has no ${SIDECAR_FILE}`);
  return JSON.parse(b.toString('utf8')) as TrainerSidecar;
}
