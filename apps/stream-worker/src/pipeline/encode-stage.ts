import { encodeClassificationPrediction, encodeForecastPrediction } from '@app/contracts';
import type { StateRecord } from '@app/state';
import { forecastFeatureCount, type ServingModel } from '../model/serving-model';
import type { BatchPlan } from './batch-planner';
import type { ValidEvent } from './decode-stage';
import type { PreparedKey } from './load-stage';
import type { OutputRecord, PartitionBatch, ProcessorConfig, StateWrite } from './ports';
import type { StepOutput } from './step-stage';
import { AccuracyTally, scoreAndQueue } from './forecast-scoring';
import { scoreLabel } from './label-scoring';
import { encodeExtras, freshExtras, type ClassifyExtras, type ForecastExtras } from './task-extras';

/** An output record with the position of its source message in the unit (for source order). */
export interface PlacedOutput {
  readonly batch: number;
  readonly index: number;
  readonly record: OutputRecord;
}

/** One model's encoded results. */
export interface EncodedGroup {
  readonly predictions: PlacedOutput[];
  /** Event time (epoch ms) of each prediction, in the same order. */
  readonly eventTimesMs: number[];
  readonly writes: StateWrite[];
  /** Forecast errors the unit's readings scored, or a classifier's labels (docs/accuracy.md). */
  readonly accuracy: AccuracyTally | null;
}

/**
 * Stage 5, encode: per key in event order (the anomaly statistics evolve event by event), each
 * applied event's prediction record, then the key's new state record and its compare-and-set
 * write.
 */
export function encodeGroup(
  cfg: ProcessorConfig,
  batches: readonly PartitionBatch[],
  model: ServingModel,
  plan: BatchPlan,
  prepared: ReadonlyMap<string, PreparedKey>,
  events: readonly ValidEvent[],
  out: StepOutput,
): EncodedGroup {
  const task = model.task;
  const S = model.engine.stateSize;
  const featureCount = task.kind === 'forecast' ? forecastFeatureCount(task) : 0;
  // Inputs for a later rewarm are kept only while the served version was activated with rewarm;
  // text mode 'window' keeps the key's last maxlen tokens (its whole state).
  const window = task.kind === 'classify' ? (task.window ?? null) : null;
  const ringCapacity = window ? window.maxlen : model.policy === 'rewarm' ? cfg.rewarmSteps : 0;
  const predictions: PlacedOutput[] = [];
  const eventTimesMs: number[] = [];
  const writes: StateWrite[] = [];
  const accuracy = new AccuracyTally();
  for (const slot of plan.slots) {
    const prep = prepared.get(slot.key)!;
    const extras = prep.extras;
    let stepCount = prep.baseSteps;
    let partition = -1;
    for (const pe of slot.events) {
      const ev = events[pe.index];
      partition = ev.partition;
      if (pe.start !== 'none') {
        Object.assign(extras, freshExtras(task.kind, featureCount));
        stepCount = 0;
      }
      stepCount += pe.steps;
      // A control record resets the key (above) or scores a label, and publishes nothing.
      if (pe.control) {
        if (ev.label !== null && task.kind === 'classify') {
          const scored = scoreLabel(extras as ClassifyExtras, ev.label, ev.offset);
          if (scored !== null) accuracy.add(batches[ev.batch].topic, ev.partition, scored);
        }
        continue;
      }
      const source = { topic: batches[ev.batch].topic, partition: ev.partition, offset: String(ev.offset) };
      const base = pe.headRow * model.engine.outputDim;
      let record: OutputRecord;
      if (task.kind === 'forecast') {
        const fx = extras as ForecastExtras;
        if (ringCapacity > 0) {
          const raw = new Float32Array(featureCount);
          for (let j = 0; j < task.valueCount; j++) raw[j] = ev.values![j];
          if (task.includeTimeDelta) raw[task.valueCount] = pe.deltaMs / 1000;
          fx.history.push(raw);
          if (fx.history.length > ringCapacity) fx.history.splice(0, fx.history.length - ringCapacity);
        }
        const forecast = new Float64Array(task.horizon);
        // Outputs are horizon × targets, row-major: output j forecasts target j mod T.
        const targets = task.targetIndex;
        for (let j = 0; j < task.horizon; j++) {
          const f = targets[j % targets.length];
          forecast[j] = out[base + j] * task.scale[f] + task.mean[f];
        }
        let anomalyScore: number | undefined;
        if (fx.hasForecast) {
          const r = ev.values![targets[0]] - fx.lastForecast0;
          const n = fx.residualCount;
          if (n >= 2) {
            const std = Math.sqrt(fx.residualM2 / (n - 1));
            anomalyScore = std > 0 ? (r - fx.residualMean) / std : 0;
          }
          const n1 = n + 1;
          const d = r - fx.residualMean;
          fx.residualMean += d / n1;
          fx.residualM2 += d * (r - fx.residualMean);
          fx.residualCount = n1;
        }
        fx.hasForecast = true;
        fx.lastForecast0 = forecast[0];
        const scored = scoreAndQueue(fx, ev.values!, targets, forecast, ev.offset);
        if (scored !== null) accuracy.add(source.topic, ev.partition, scored);
        const value = encodeForecastPrediction({
          sensorId: slot.key,
          ts: ev.rawTs,
          model: model.name,
          modelVersion: model.versionLabel,
          forecast,
          anomalyScore,
          source,
        });
        record = { topic: cfg.forecastTopic, key: slot.key, value };
      } else {
        const cx = extras as ClassifyExtras;
        if (ringCapacity > 0) {
          for (let j = 0; j < ev.tokens!.length; j++) cx.history.push(ev.tokens![j]);
          if (cx.history.length > ringCapacity) cx.history.splice(0, cx.history.length - ringCapacity);
        }
        let scores: Float64Array;
        if (task.binarySigmoid) {
          const p = out[base];
          scores = Float64Array.of(1 - p, p);
        } else {
          scores = Float64Array.from(out.subarray(base, base + model.engine.outputDim));
        }
        // Labels are scored against the key's latest classification (label-scoring.ts).
        cx.lastScore = scores.length === 2 ? scores[1] : null;
        const value = encodeClassificationPrediction({
          streamId: slot.key,
          ts: ev.rawTs,
          model: model.name,
          modelVersion: model.versionLabel,
          labels: task.labels,
          scores,
          source,
        });
        record = { topic: cfg.classificationTopic, key: slot.key, value };
      }
      predictions.push({ batch: ev.batch, index: ev.index, record });
      eventTimesMs.push(ev.timeMs);
    }
    const enc = encodeExtras(extras, ringCapacity, task.kind === 'forecast' ? task.targetIndex.length : 1);
    const record: StateRecord = {
      modelVersion: model.versionLabel,
      partition,
      offset: slot.lastOffset,
      steps: stepCount,
      lastEventTs: slot.lastTimeMs,
      state: out.finalState.slice(slot.slot * S, slot.slot * S + S),
      extras: enc.extras,
      ring: enc.ring,
    };
    const loaded = prep.record;
    writes.push({
      key: slot.key,
      record,
      expected: loaded ? { partition: loaded.partition, offset: loaded.offset } : null,
    });
  }
  return { predictions, eventTimesMs, writes, accuracy };
}
