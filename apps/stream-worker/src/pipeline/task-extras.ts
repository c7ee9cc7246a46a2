/**
 * Task extras kept in a key's state record next to h and c (binary, little-endian):
 * forecast: the previous forecast's first value and the Welford residual statistics (anomaly
 * score); both tasks: the last REWARM_STEPS inputs (raw features / token ids) for the rewarm
 * swap policy.
 *
 * Layout v1:
 *   u8 format (1) · u8 kind (1 forecast, 2 classify)
 *   forecast: u8 hasForecast · f64 lastForecast0 · u32 residualCount · f64 mean · f64 m2 ·
 *             u16 featureCount · u16 n · n × featureCount f32 (raw features, oldest first)
 *   classify: u16 n · n × i32 token ids (oldest first)
 */

/** Forecast extras. */
export interface ForecastExtras {
  kind: 'forecast';
  hasForecast: boolean;
  lastForecast0: number;
  residualCount: number;
  residualMean: number;
  residualM2: number;
  /** Raw (unscaled) feature vectors, delta seconds included when the model uses it. */
  featureCount: number;
  history: Float32Array[];
}

/** Classify extras. */
export interface ClassifyExtras {
  kind: 'classify';
  history: number[];
}

export type TaskExtras = ForecastExtras | ClassifyExtras;

/** Extras of a key that starts a sequence. */
export function freshExtras(kind: 'forecast' | 'classify', featureCount: number): TaskExtras {
  return kind === 'forecast'
    ? {
        kind,
        hasForecast: false,
        lastForecast0: 0,
        residualCount: 0,
        residualMean: 0,
        residualM2: 0,
        featureCount,
        history: [],
      }
    : { kind, history: [] };
}

/** Encodes extras, keeping at most `keep` history entries (the newest). */
export function encodeExtras(x: TaskExtras, keep: number): Uint8Array {
  if (x.kind === 'forecast') {
    const hist = keep > 0 ? x.history.slice(-keep) : [];
    const fc = x.featureCount;
    const buf = new ArrayBuffer(2 + 1 + 8 + 4 + 8 + 8 + 2 + 2 + hist.length * fc * 4);
    const v = new DataView(buf);
    let o = 0;
    v.setUint8(o++, 1);
    v.setUint8(o++, 1);
    v.setUint8(o++, x.hasForecast ? 1 : 0);
    v.setFloat64(o, x.lastForecast0, true);
    o += 8;
    v.setUint32(o, x.residualCount, true);
    o += 4;
    v.setFloat64(o, x.residualMean, true);
    o += 8;
    v.setFloat64(o, x.residualM2, true);
    o += 8;
    v.setUint16(o, fc, true);
    o += 2;
    v.setUint16(o, hist.length, true);
    o += 2;
    for (const row of hist) {
      for (let j = 0; j < fc; j++) {
        v.setFloat32(o, row[j], true);
        o += 4;
      }
    }
    return new Uint8Array(buf);
  }
  const hist = keep > 0 ? x.history.slice(-keep) : [];
  const buf = new ArrayBuffer(2 + 2 + hist.length * 4);
  const v = new DataView(buf);
  v.setUint8(0, 1);
  v.setUint8(1, 2);
  v.setUint16(2, hist.length, true);
  hist.forEach((id, i) => v.setInt32(4 + i * 4, id, true));
  return new Uint8Array(buf);
}

/**
 * Decodes extras; returns null for empty, foreign or corrupt bytes (the caller then treats the
 * key's task extras as fresh, which only affects the anomaly score and rewarm history).
 */
export function decodeExtras(bytes: Uint8Array | null | undefined): TaskExtras | null {
  if (!bytes || bytes.length < 2 || bytes[0] !== 1) return null;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    if (bytes[1] === 1) {
      let o = 2;
      const hasForecast = v.getUint8(o++) === 1;
      const lastForecast0 = v.getFloat64(o, true);
      o += 8;
      const residualCount = v.getUint32(o, true);
      o += 4;
      const residualMean = v.getFloat64(o, true);
      o += 8;
      const residualM2 = v.getFloat64(o, true);
      o += 8;
      const featureCount = v.getUint16(o, true);
      o += 2;
      const n = v.getUint16(o, true);
      o += 2;
      const history: Float32Array[] = [];
      for (let i = 0; i < n; i++) {
        const row = new Float32Array(featureCount);
        for (let j = 0; j < featureCount; j++) {
          row[j] = v.getFloat32(o, true);
          o += 4;
        }
        history.push(row);
      }
      return { kind: 'forecast', hasForecast, lastForecast0, residualCount, residualMean, residualM2, featureCount, history };
    }
    if (bytes[1] === 2) {
      const n = v.getUint16(2, true);
      const history: number[] = [];
      for (let i = 0; i < n; i++) history.push(v.getInt32(4 + i * 4, true));
      return { kind: 'classify', history };
    }
  } catch {
    return null;
  }
  return null;
}
