import { buildDeadLetter, decodeSensorReading, decodeTextEvent, type DlqReason } from '@app/contracts';
import type { ServingModel } from '../model/serving-model';
import { float32OverflowDetail } from './finite-guard';
import { ModelNotReadyError, type ModelSource, type OutputRecord, type PartitionBatch, type ProcessorConfig } from './ports';

/**
 * Stage 1, decode: every message of a unit's batches is validated and either becomes a valid
 * event of the model it names (or its topic's model) or a rejection with a DLQ reason.
 */

/** A valid event of one model. */
export interface ValidEvent {
  /** Position of the event's batch in the unit. */
  readonly batch: number;
  /** Position of the message in its batch. */
  readonly index: number;
  readonly partition: number;
  readonly key: string;
  readonly offset: bigint;
  readonly timeMs: number;
  /** `ts` as the input carried it; predictions echo it. */
  readonly rawTs: string | number;
  readonly reset: boolean;
  /** A control record (`control: "reset"`): resets its key at its offset, no step, no prediction. */
  readonly control: boolean;
  /** A label control record's class (scored against the key's latest classification), else null. */
  readonly label: 0 | 1 | null;
  /** Forecast: raw values; classify: unused. */
  readonly values: Float64Array | null;
  /** Classify: token ids; forecast: unused. */
  readonly tokens: Int32Array | null;
}

/** A message that goes to the DLQ. */
export interface Rejection {
  readonly batch: number;
  readonly index: number;
  readonly reason: DlqReason;
  readonly detail: string;
}

/** One model's valid events of the unit. */
export interface ModelGroup {
  readonly model: ServingModel;
  readonly events: ValidEvent[];
}

/** What decoding a unit gives. */
export interface DecodedUnit {
  /** Valid events by model name. */
  readonly groups: Map<string, ModelGroup>;
  readonly rejections: Rejection[];
  /** Model names events select that are not served yet (resolve them, then decode again). */
  readonly missing: ReadonlySet<string>;
  /** Batches that wait for their topic's model (index → why): nothing of them is processed now. */
  readonly waiting: ReadonlyMap<number, ModelNotReadyError>;
}

/**
 * Decodes and validates every message of a unit; models are looked up once per name. A batch
 * whose event needs its topic's model while that model has no active version waits as a whole.
 */
export function decodeUnit(
  cfg: ProcessorConfig,
  models: ModelSource,
  batches: readonly PartitionBatch[],
  resolved: boolean,
): DecodedUnit {
  const groups = new Map<string, ModelGroup>();
  const rejections: Rejection[] = [];
  const missing = new Set<string>();
  const waiting = new Map<number, ModelNotReadyError>();
  const limits = { maxPayloadBytes: cfg.maxPayloadBytes, maxTextChars: cfg.maxTextLength };
  const canResolve = !resolved && models.resolve !== undefined;

  batches.forEach((batch, b) => {
    const isSensor = batch.topic === cfg.sensorTopic;
    if (!isSensor && batch.topic !== cfg.textTopic) throw new Error(`no task consumes topic '${batch.topic}'`);
    const defaultModel = isSensor ? cfg.forecastModel : cfg.classifyModel;
    const taskKind = isSensor ? 'forecast' : 'classify';
    const batchGroups: [string, ValidEvent][] = [];
    const batchRejections: Rejection[] = [];
    for (let i = 0; i < batch.messages.length; i++) {
      const m = batch.messages[i];
      const decoded = isSensor ? decodeSensorReading(m.key, m.value, limits) : decodeTextEvent(m.key, m.value, limits);
      if (!decoded.ok) {
        batchRejections.push({ batch: b, index: i, reason: decoded.reason, detail: decoded.detail });
        continue;
      }
      const ev = decoded.event;
      const name = ev.model ?? defaultModel;
      let group = groups.get(name);
      if (group === undefined || group.model.task.kind !== taskKind) {
        const model = group?.model ?? models.get(name);
        if (model === undefined && canResolve) {
          missing.add(name);
          continue;
        }
        if (model === undefined || model.task.kind !== taskKind) {
          if (ev.model === undefined) {
            waiting.set(b, new ModelNotReadyError(name));
            return;
          }
          batchRejections.push({
            batch: b,
            index: i,
            reason: 'unknown_model',
            detail:
              model === undefined
                ? `/model ${JSON.stringify(name)} has no active version here`
                : `/model ${JSON.stringify(name)} is a ${model.task.kind} model, not ${taskKind}`,
          });
          continue;
        }
        if (group === undefined) {
          group = { model, events: [] };
          groups.set(name, group);
        }
      }
      const task = group.model.task;
      let values: Float64Array | null = null;
      let tokens: Int32Array | null = null;
      const control = ev.control !== undefined;
      if (control) {
        // Nothing to check or tokenize: the record only places its key's reset in the stream.
      } else if (task.kind === 'forecast') {
        values = (ev as { values: Float64Array }).values;
        if (values.length !== task.valueCount) {
          batchRejections.push({
            batch: b,
            index: i,
            reason: 'feature_count',
            detail: `/values has ${values.length} features, model ${name} expects ${task.valueCount}`,
          });
          continue;
        }
        const overflow = float32OverflowDetail(values, task, values.length === 1);
        if (overflow !== null) {
          batchRejections.push({ batch: b, index: i, reason: 'non_finite', detail: overflow });
          continue;
        }
      } else {
        let ids: number[];
        try {
          ids = task.tokenize((ev as { text: string }).text);
        } catch (e) {
          // Import refuses tokenizers known to throw; any other failure costs this event, not the partition.
          batchRejections.push({ batch: b, index: i, reason: 'model_error', detail: `model ${name}: tokenizer failed: ${(e as Error).message}` });
          continue;
        }
        const vocab = group.model.engine.vocabularySize;
        // Ids beyond the embedding (a tokenizer without num_words) have no row: Keras would fail
        // on them; the stream must not, so they are dropped like out-of-vocabulary words.
        tokens = Int32Array.from(ids.filter((t) => t >= 0 && (vocab === 0 || t < vocab)));
      }
      batchGroups.push([
        name,
        {
          batch: b,
          index: i,
          partition: batch.partition,
          key: ev.key,
          offset: BigInt(m.offset),
          timeMs: ev.ts,
          rawTs: ev.rawTs,
          reset: ev.reset,
          control,
          label: (ev as { label?: 0 | 1 }).label ?? null,
          values,
          tokens,
        },
      ]);
    }
    // A waiting batch contributes nothing (returned above); otherwise its events join their groups.
    for (const [name, e] of batchGroups) groups.get(name)!.events.push(e);
    rejections.push(...batchRejections);
  });
  // Groups created by a batch that then waited may have no events.
  for (const [name, g] of groups) if (g.events.length === 0) groups.delete(name);
  return { groups, rejections, missing, waiting };
}

/** The DLQ record of a rejected message. */
export function deadLetter(cfg: ProcessorConfig, batch: PartitionBatch, rej: { index: number; reason: DlqReason; detail: string }): OutputRecord {
  const m = batch.messages[rej.index];
  // A dead letter always fits the topic: past dlqMaxBytes it carries a truncated copy (contracts).
  const dl = buildDeadLetter(
    {
      reason: rej.reason,
      detail: rej.detail,
      source: { topic: batch.topic, partition: batch.partition, offset: m.offset },
      key: m.key,
      value: m.value,
    },
    cfg.dlqMaxBytes,
  );
  return { topic: cfg.dlqTopic, key: dl.key, value: dl.value };
}
