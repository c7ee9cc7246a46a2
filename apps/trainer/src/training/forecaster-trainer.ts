import * as tf from '@tensorflow/tfjs';
import { StandardScaler, type ForecastInputSpec } from './preprocess';
import type { SensorReading } from './dataset';
import { fitRecurrentModel, type FitRoute, type FitRouteChoice, type FitSet } from './fit-loop';
import { regressionMetrics } from './metrics';
import { seededShuffle } from './seeded-random';
import type { TrainerSidecar } from './sidecar';
import { modelToFiles } from './tf-artifact';
import { buildForecaster } from './tf-models';
import type { EpochProgress, TrainParams } from './train-params';

/** A held-out forecast example in raw units: the preceding readings and the true next values. */
export interface ForecastHoldoutExample {
  readonly history: readonly (readonly number[])[];
  readonly target: readonly number[];
}

/**
 * Windows of every sensor, split by time: the last `validationSplit` of each sensor's windows is
 * held out. A sensor's readings are taken in time order; a reading with `reset` starts a new
 * sequence, and no window crosses into it (as the worker starts that key afresh there).
 */
export function forecastWindows(
  readings: readonly SensorReading[],
  p: Pick<TrainParams, 'window' | 'horizon' | 'validationSplit'>,
): { train: ForecastHoldoutExample[]; holdout: ForecastHoldoutExample[]; trainRows: number[][]; features: number } {
  if (readings.length === 0) throw new Error('no sensor readings in the selected data');
  const features = readings[0].values.length;
  const bySensor = new Map<string, SensorReading[]>();
  for (const r of readings) {
    if (r.values.length !== features) continue;
    let list = bySensor.get(r.key);
    if (!list) bySensor.set(r.key, (list = []));
    list.push(r);
  }
  const train: ForecastHoldoutExample[] = [];
  const holdout: ForecastHoldoutExample[] = [];
  const trainRows: number[][] = [];
  const span = p.window + p.horizon;
  for (const key of [...bySensor.keys()].sort()) {
    const series = bySensor.get(key)!.sort((a, b) => a.ts - b.ts);
    // Window starts s (index into series) whose window and targets stay within one sequence.
    const starts: number[] = [];
    for (let from = 0; from < series.length; ) {
      let to = from + 1;
      while (to < series.length && !series[to].reset) to++;
      for (let s = from; s + span <= to; s++) starts.push(s);
      from = to;
    }
    const n = starts.length;
    if (n === 0) continue;
    const nHold = p.validationSplit > 0 ? Math.max(1, Math.round(n * p.validationSplit)) : 0;
    const nTrain = n - nHold;
    const seenByTrain = new Set<number>();
    starts.forEach((s, i) => {
      const ex = {
        history: series.slice(s, s + p.window).map((r) => r.values as number[]),
        target: series.slice(s + p.window, s + span).map((r) => r.values[0]),
      };
      if (i < nTrain) {
        train.push(ex);
        for (let j = s; j < s + span; j++) seenByTrain.add(j);
      } else holdout.push(ex);
    });
    // The scaler sees only readings that train windows use (no value only a held-out target uses).
    for (const j of [...seenByTrain].sort((a, b) => a - b)) trainRows.push(series[j].values as number[]);
  }
  if (train.length === 0) throw new Error(`not enough readings: every sensor needs more than window + horizon (${span}) readings`);
  return { train, holdout, trainRows, features };
}

/** Scaled windows (n × window × features) and scaled targets (n × horizon), row-major. */
function toArrays(examples: readonly ForecastHoldoutExample[], scaler: StandardScaler, features: number): FitSet & { readonly window: number } {
  const w = examples[0].history.length;
  const xs = new Float32Array(examples.length * w * features);
  const h = examples[0].target.length;
  const ys = new Float32Array(examples.length * h);
  const m0 = scaler.mean[0];
  const s0 = scaler.scale[0];
  examples.forEach((ex, i) => {
    ex.history.forEach((row, t) => {
      for (let j = 0; j < features; j++) xs[(i * w + t) * features + j] = (row[j] - scaler.mean[j]) / scaler.scale[j];
    });
    ex.target.forEach((v, k) => (ys[i * h + k] = (v - m0) / s0));
  });
  return { x: xs, y: ys, n: examples.length, window: w };
}

/** Predicts every holdout example with a model + its sidecar, in raw units (flattened). */
export function predictForecasts(
  model: tf.LayersModel,
  sidecar: Pick<TrainerSidecar, 'scaler' | 'input'>,
  examples: readonly ForecastHoldoutExample[],
): Float32Array {
  const input = sidecar.input as ForecastInputSpec;
  if (input.includeTimeDelta) throw new Error('evaluating models with a time-delta input is not supported');
  const features = examples[0].history[0].length;
  const scaler = sidecar.scaler ? StandardScaler.fromJSON(sidecar.scaler) : StandardScaler.of(new Array<number>(features).fill(0), new Array<number>(features).fill(1));
  if (scaler.size !== features) throw new Error(`model expects ${scaler.size} features, data has ${features}`);
  const { x: xs, window } = toArrays(
    examples.map((e) => ({ history: e.history, target: [] })),
    scaler,
    features,
  );
  const x = tf.tensor3d(xs, [examples.length, window, features]);
  const out = tf.tidy(() => model.predict(x) as tf.Tensor);
  const scaled = out.dataSync() as Float32Array;
  x.dispose();
  out.dispose();
  const raw = new Float32Array(scaled.length);
  for (let i = 0; i < scaled.length; i++) raw[i] = scaled[i] * scaler.scale[0] + scaler.mean[0];
  return raw;
}

/** Metrics of a forecaster on holdout examples (targets truncated to the model's horizon). */
export function evaluateForecaster(
  model: tf.LayersModel,
  sidecar: Pick<TrainerSidecar, 'scaler' | 'input'>,
  examples: readonly ForecastHoldoutExample[],
): { mae: number; rmse: number } {
  const pred = predictForecasts(model, sidecar, examples);
  const h = pred.length / examples.length;
  const actual: number[] = [];
  const predicted: number[] = [];
  examples.forEach((ex, i) => {
    for (let k = 0; k < Math.min(h, ex.target.length); k++) {
      actual.push(ex.target[k]);
      predicted.push(pred[i * h + k]);
    }
  });
  return regressionMetrics(actual, predicted);
}

/** Names written into the sidecar. */
export interface ArtifactMeta {
  readonly name: string;
  readonly versionLabel: string;
  readonly parent: number | null;
}

/** Result of a training run: artifact files, holdout metrics, the loss curve. */
export interface TrainResult<H> {
  readonly files: Map<string, Buffer>;
  readonly metrics: Record<string, number>;
  readonly holdout: H[];
  readonly trainExamples: number;
  readonly model: tf.LayersModel;
  /** Which fit loop trained the model: the WASM SIMD kernel or tfjs-layers. */
  readonly route: FitRoute;
}

/** Trains a forecaster on sensor readings. */
export async function trainForecaster(
  readings: readonly SensorReading[],
  p: TrainParams,
  onEpoch: (e: EpochProgress) => void,
  meta: ArtifactMeta = { name: 'forecaster', versionLabel: 'trained', parent: null },
  route: FitRouteChoice = 'auto',
): Promise<TrainResult<ForecastHoldoutExample>> {
  const { train, holdout, trainRows, features } = forecastWindows(readings, p);
  const scaler = StandardScaler.fit(trainRows);
  const ordered = seededShuffle(train, p.seed);
  const model = buildForecaster(p, features, p.horizon);
  const fit = await fitRecurrentModel(model, p.window, toArrays(ordered, scaler, features), holdout.length > 0 ? toArrays(holdout, scaler, features) : null, p, onEpoch, route);
  const names = features === 1 ? ['value'] : Array.from({ length: features }, (_, i) => `value_${i}`);
  const sidecarBase = {
    task: 'forecast' as const,
    name: meta.name,
    version: meta.versionLabel,
    input: { features: names, includeTimeDelta: false, window: p.window, targets: [names[0]] },
    scaler: scaler.toJSON(),
    labels: [],
    horizon: p.horizon,
    parent: meta.parent,
  };
  const metrics = holdout.length > 0 ? evaluateForecaster(model, sidecarBase, holdout) : {};
  const files = await modelToFiles(model, { ...sidecarBase, metrics });
  return { files, metrics, holdout, trainExamples: ordered.length, model, route: fit.route };
}
