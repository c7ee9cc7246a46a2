import type * as tf from '@tensorflow/tfjs';
import { tfjs } from '../backend/tfjs-module';
import type { Activation, RecurrentModelSpec } from '../engine/model-spec';
import { importKerasModel, UnsupportedModelError, type ImportedModel } from './keras-import';
import {
  decodeWeights,
  parseModelJson,
  weightPaths,
  type LayersModelJson,
  type NamedWeight,
} from './model-json';
import { MODEL_JSON_FILE } from './sidecar';

/** Name of the single weight shard written by {@link saveTfjsModelToBuffers}. */
export const WEIGHTS_FILE = 'group1-shard1of1.bin';

/** Maps a live tfjs-layers model (e.g. fresh from the trainer) onto the engine's contract. */
export function fromTfjsModel(model: tf.LayersModel): ImportedModel {
  const topo = model.toJSON(undefined, false) as unknown as Record<string, unknown>;
  const weights: NamedWeight[] = model.weights.map((w) => ({
    name: w.originalName ?? w.name,
    shape: [...w.shape] as number[],
    values: Float32Array.from(w.read().dataSync() as Float32Array),
  }));
  return importKerasModel(
    {
      className: String(topo.class_name),
      config: topo.config,
      kerasVersion: typeof topo.keras_version === 'string' ? topo.keras_version : 'tfjs-layers',
    },
    weights,
  );
}

/**
 * Saves a tfjs-layers model in layers format without touching the file system:
 * `model.json` (weightsManifest pointing at {@link WEIGHTS_FILE}) and the one weight shard.
 */
export async function saveTfjsModelToBuffers(model: tf.LayersModel): Promise<Map<string, Buffer>> {
  let out: Map<string, Buffer> | undefined;
  await model.save(
    tfjs().io.withSaveHandler(async (artifacts) => {
      const data = artifacts.weightData;
      const parts: ArrayBuffer[] = data === undefined ? [] : Array.isArray(data) ? data : [data];
      const weights = Buffer.concat(parts.map((p) => Buffer.from(p)));
      const modelJson = {
        format: 'layers-model',
        generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tfjs().version_layers}`,
        convertedBy: artifacts.convertedBy ?? null,
        modelTopology: artifacts.modelTopology,
        ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
        weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs ?? [] }],
      };
      out = new Map([
        [MODEL_JSON_FILE, Buffer.from(JSON.stringify(modelJson), 'utf8')],
        [WEIGHTS_FILE, weights],
      ]);
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          weightDataBytes: weights.length,
        },
      };
    }),
  );
  return out!;
}

/**
 * Loads a layers-format model (model.json + weight files, e.g. an artifact's buffers) into
 * tfjs-layers, for fine-tuning or evaluation. Keras GRUs with reset_after=true cannot be loaded
 * by tfjs-layers (it implements reset_after=false only).
 */
export async function loadTfjsModelFromBuffers(
  files: ReadonlyMap<string, Uint8Array>,
): Promise<tf.LayersModel> {
  const raw = files.get(MODEL_JSON_FILE);
  if (!raw) throw new Error(`${MODEL_JSON_FILE} is missing`);
  const modelJson: LayersModelJson = parseModelJson(raw);
  for (const p of weightPaths(modelJson)) if (!files.has(p)) throw new Error(`weight file ${p} is missing`);
  // Dequantize here so tfjs receives plain float32 whatever the manifest says.
  const weights = decodeWeights(modelJson, (p) => files.get(p)!);
  const total = weights.reduce((n, w) => n + w.values.length, 0);
  const flat = new Float32Array(total);
  let o = 0;
  for (const w of weights) {
    flat.set(w.values, o);
    o += w.values.length;
  }
  const topo = modelJson.modelTopology;
  return tfjs().loadLayersModel(
    tfjs().io.fromMemory({
      modelTopology: topo as tf.io.ModelArtifacts['modelTopology'],
      weightSpecs: weights.map((w) => ({ name: w.name, shape: [...w.shape], dtype: 'float32' as const })),
      weightData: flat.buffer,
    }),
  );
}

const TFJS_ACTIVATION: Record<Activation, string> = {
  tanh: 'tanh',
  sigmoid: 'sigmoid',
  hard_sigmoid: 'hardSigmoid',
  relu: 'relu',
  linear: 'linear',
  softmax: 'softmax',
};

/**
 * Builds a tfjs-layers Sequential model with the spec's weights (for training from an imported
 * model, or parity checks). `sequenceLength` fixes the input length (null: variable).
 * GRU with resetAfter=true is refused: tfjs-layers does not implement it.
 */
export function toTfjsModel(spec: RecurrentModelSpec, sequenceLength: number | null = null): tf.Sequential {
  const model = tfjs().sequential();
  const weights: tf.Tensor[] = [];
  if (spec.embedding) {
    const e = spec.embedding;
    model.add(
      tfjs().layers.embedding({
        inputDim: e.inputDim,
        outputDim: e.outputDim,
        maskZero: e.maskZero,
        inputShape: [sequenceLength],
      }),
    );
    weights.push(tfjs().tensor2d(e.embeddings, [e.inputDim, e.outputDim]));
  }
  spec.recurrent.forEach((r, i) => {
    const common = {
      units: r.units,
      activation: TFJS_ACTIVATION[r.activation] as 'tanh',
      recurrentActivation: TFJS_ACTIVATION[r.recurrentActivation] as 'sigmoid',
      useBias: r.bias !== null,
      returnSequences: i < spec.recurrent.length - 1,
      ...(i === 0 && !spec.embedding ? { inputShape: [sequenceLength, r.inputDim] } : {}),
    };
    const g = r.kind === 'lstm' ? 4 : 3;
    if (r.kind === 'lstm') model.add(tfjs().layers.lstm(common));
    else {
      if (r.resetAfter)
        throw new UnsupportedModelError('toTfjsModel: GRU reset_after=true is not available in tfjs-layers');
      model.add(tfjs().layers.gru(common));
    }
    weights.push(tfjs().tensor2d(r.kernel, [r.inputDim, g * r.units]));
    weights.push(tfjs().tensor2d(r.recurrentKernel, [r.units, g * r.units]));
    if (r.bias) weights.push(tfjs().tensor1d(r.bias));
  });
  for (const d of spec.head) {
    model.add(
      tfjs().layers.dense({
        units: d.units,
        activation: TFJS_ACTIVATION[d.activation] as 'linear',
        useBias: d.bias !== null,
      }),
    );
    weights.push(tfjs().tensor2d(d.kernel, [d.inputDim, d.units]));
    if (d.bias) weights.push(tfjs().tensor1d(d.bias));
  }
  model.setWeights(weights);
  tfjs().dispose(weights);
  return model;
}
