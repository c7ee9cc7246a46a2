/**
 * The tfjs layers-format `model.json`, as written by `tensorflowjs_converter --input_format keras`
 * (topology under `modelTopology.model_config`) and by tfjs `model.save` (topology is the model
 * config itself).
 */

/** Quantization record of one weight in a weights manifest. */
export interface WeightQuantization {
  readonly dtype: 'uint8' | 'uint16' | 'float16';
  readonly scale?: number;
  readonly min?: number;
  readonly original_dtype?: string;
}

/** One weight of a weights manifest group. */
export interface WeightManifestEntry {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: string;
  readonly quantization?: WeightQuantization;
}

/** One group of weight files (shards concatenated in order). */
export interface WeightsManifestGroup {
  readonly paths: readonly string[];
  readonly weights: readonly WeightManifestEntry[];
}

/** A layers-format model.json. */
export interface LayersModelJson {
  readonly format?: string;
  readonly generatedBy?: string;
  readonly convertedBy?: string | null;
  readonly modelTopology: Record<string, unknown>;
  readonly weightsManifest: readonly WeightsManifestGroup[];
  readonly trainingConfig?: unknown;
  readonly [extra: string]: unknown;
}

/** A decoded weight: float32 values in manifest order. */
export interface NamedWeight {
  readonly name: string;
  readonly shape: readonly number[];
  readonly values: Float32Array;
}

/** Parses and structurally validates model.json (bytes, string or object). */
export function parseModelJson(source: Uint8Array | string | object): LayersModelJson {
  let parsed: unknown;
  if (typeof source === 'string' || source instanceof Uint8Array) {
    const text = typeof source === 'string' ? source : Buffer.from(source).toString('utf8');
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new Error(`model.json: invalid JSON (${(e as Error).message})`);
    }
  } else {
    parsed = source;
  }
  if (!isRecord(parsed)) throw new Error('model.json: expected a JSON object');
  if (parsed.format !== undefined && parsed.format !== 'layers-model') {
    throw new Error(
      `model.json: format ${JSON.stringify(parsed.format)} is not supported (only "layers-model")`,
    );
  }
  if (!isRecord(parsed.modelTopology))
    throw new Error('model.json: modelTopology is missing or not an object');
  const manifest = parsed.weightsManifest;
  if (!Array.isArray(manifest)) throw new Error('model.json: weightsManifest is missing or not an array');
  manifest.forEach((g: unknown, gi) => {
    if (!isRecord(g) || !Array.isArray(g.paths) || !Array.isArray(g.weights)) {
      throw new Error(`model.json: weightsManifest[${gi}] needs paths and weights arrays`);
    }
    g.paths.forEach((p: unknown, pi) => {
      if (typeof p !== 'string' || !isSafeRelativePath(p)) {
        throw new Error(`model.json: weightsManifest[${gi}].paths[${pi}] is not a safe relative path`);
      }
    });
    g.weights.forEach((w: unknown, wi) => {
      const at = `model.json: weightsManifest[${gi}].weights[${wi}]`;
      if (!isRecord(w) || typeof w.name !== 'string') throw new Error(`${at}: name missing`);
      if (!Array.isArray(w.shape) || !w.shape.every((d) => Number.isInteger(d) && (d as number) >= 0)) {
        throw new Error(`${at} (${w.name}): shape must be an array of non-negative integers`);
      }
      if (typeof w.dtype !== 'string') throw new Error(`${at} (${w.name}): dtype missing`);
    });
  });
  return parsed as unknown as LayersModelJson;
}

/** The Keras model config ({class_name, config}) inside modelTopology, whichever writer made it. */
export function modelConfigOf(modelJson: LayersModelJson): {
  className: string;
  config: unknown;
  kerasVersion: string | null;
} {
  const topo = modelJson.modelTopology;
  const inner = isRecord(topo.model_config) ? topo.model_config : topo;
  if (typeof inner.class_name !== 'string') throw new Error('model.json: modelTopology has no class_name');
  const version = inner.keras_version ?? topo.keras_version;
  return {
    className: inner.class_name,
    config: inner.config,
    kerasVersion: typeof version === 'string' ? version : null,
  };
}

/** All weight file paths referenced by the manifest, in order. */
export function weightPaths(modelJson: LayersModelJson): string[] {
  return modelJson.weightsManifest.flatMap((g) => [...g.paths]);
}

/**
 * Decodes weight files into float32 weights. float32 is copied as is; uint8/uint16 quantized
 * weights are dequantized (`q·scale + min`); float16 quantized weights are widened. Any other
 * dtype is refused, and so is a NaN or infinite value (naming the weight and the index).
 */
export function decodeWeights(
  modelJson: LayersModelJson,
  readFile: (path: string) => Uint8Array,
): NamedWeight[] {
  const out: NamedWeight[] = [];
  for (const group of modelJson.weightsManifest) {
    const parts = group.paths.map((p) => readFile(p));
    const data =
      parts.length === 1
        ? parts[0]
        : Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)));
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    let offset = 0;
    for (const w of group.weights) {
      const size = w.shape.reduce((a, b) => a * b, 1);
      const q = w.quantization;
      if (isOptimizerWeight(w.name)) {
        // Keras 3 checkpoints carry optimizer slots; they are not part of the model.
        const bytesPer = q ? (q.dtype === 'uint8' ? 1 : 2) : (BYTES_PER_ELEMENT[w.dtype] ?? NaN);
        if (Number.isNaN(bytesPer)) throw new Error(`weights: ${w.name}: cannot skip dtype ${w.dtype}`);
        offset += size * bytesPer;
        continue;
      }
      const need = (bytesPer: number) => {
        if (offset + size * bytesPer > data.byteLength) {
          throw new Error(
            `weights: ${w.name} needs ${size * bytesPer} bytes at offset ${offset} but ${group.paths.join('+')} has ${data.byteLength}`,
          );
        }
      };
      // Checked before allocating: a manifest shape must not allocate more than the files hold.
      const early = !q ? (w.dtype === 'float32' ? 4 : 0) : q.dtype === 'uint8' ? 1 : q.dtype === 'uint16' || q.dtype === 'float16' ? 2 : 0;
      if (early > 0) need(early);
      const values = new Float32Array(size);
      if (q) {
        if (w.dtype !== 'float32' && q.original_dtype !== 'float32') {
          throw new Error(
            `weights: ${w.name}: quantized dtype ${w.dtype} is not supported (only float32 originals)`,
          );
        }
        if (q.dtype === 'uint8' || q.dtype === 'uint16') {
          const bytesPer = q.dtype === 'uint8' ? 1 : 2;
          need(bytesPer);
          const scale = q.scale ?? 1;
          const min = q.min ?? 0;
          for (let i = 0; i < size; i++) {
            const v = bytesPer === 1 ? view.getUint8(offset + i) : view.getUint16(offset + 2 * i, true);
            values[i] = v * scale + min;
          }
          offset += size * bytesPer;
        } else if (q.dtype === 'float16') {
          need(2);
          for (let i = 0; i < size; i++) values[i] = halfToFloat(view.getUint16(offset + 2 * i, true));
          offset += size * 2;
        } else {
          throw new Error(
            `weights: ${w.name}: quantization dtype ${String((q as { dtype: unknown }).dtype)} is not supported`,
          );
        }
      } else {
        if (w.dtype !== 'float32') {
          throw new Error(
            `weights: ${w.name}: dtype ${w.dtype} is not supported (float32, or uint8/uint16/float16 quantized)`,
          );
        }
        need(4);
        for (let i = 0; i < size; i++) values[i] = view.getFloat32(offset + 4 * i, true);
        offset += size * 4;
      }
      for (let i = 0; i < size; i++) {
        // A NaN or infinite weight makes every output of every key NaN from its first event on.
        if (!Number.isFinite(values[i])) {
          throw new Error(`weights: ${w.name}: value #${i} is ${values[i]} (NaN and infinite weights are refused)`);
        }
      }
      out.push({ name: w.name, shape: [...w.shape], values });
    }
    if (offset !== data.byteLength) {
      throw new Error(
        `weights: ${group.paths.join('+')} has ${data.byteLength} bytes, the manifest describes ${offset}`,
      );
    }
  }
  return out;
}

const BYTES_PER_ELEMENT: Record<string, number> = {
  float32: 4,
  int32: 4,
  bool: 1,
  uint8: 1,
  float16: 2,
  uint16: 2,
};

/** Optimizer state saved with Keras 3 weights (`optimizer/vars/N`). */
export function isOptimizerWeight(name: string): boolean {
  return name.startsWith('optimizer/');
}

/** IEEE 754 half → float. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

/** A relative path without `..`, absolute roots or backslashes (artifact file names). */
export function isSafeRelativePath(p: string): boolean {
  if (p.length === 0 || p.startsWith('/') || p.includes('\\') || p.includes('\0')) return false;
  return p.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
