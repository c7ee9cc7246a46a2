import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { StateRecord } from '@app/state';
import type { ServingModel } from '../../../stream-worker/src/model/serving-model';
import { BatchProcessor } from '../../../stream-worker/src/pipeline/batch-processor';
import type { InputMessage, OutputRecord, OutputSink, ProcessorConfig, StatePort, StateWrite } from '../../../stream-worker/src/pipeline/ports';

/**
 * A backtest replays a slice of a model's input topic through a version exactly as a worker
 * would serve it (docs/backtest.md): the worker's own pipeline (decode, plan, step, encode:
 * apps/stream-worker/src/pipeline), the version's engine, scaler, gap and lateness rules, reset
 * flags and reset control records, every key starting from the initial state. State lives in
 * memory and outputs are collected, nothing is written to Redis or Kafka.
 */

/** The slice of history to replay: each partition's messages in offset order. */
export interface ReplayInput {
  readonly topic: string;
  readonly partitions: ReadonlyMap<number, readonly InputMessage[]>;
}

/** The worker rules a replay applies (the workers' MAX_EVENT_GAP_MS and ALLOWED_LATENESS_MS). */
export interface ReplayRules {
  readonly maxGapMs: number;
  readonly allowedLatenessMs: number;
  /** The workers' MAX_PAYLOAD_BYTES and MAX_TEXT_LENGTH. */
  readonly maxPayloadBytes: number;
  readonly maxTextLength: number;
}

/** What one version published while replaying. */
export interface ReplayOutput {
  /** Forecast values by source `partition:offset`, as the prediction record carried them (null: non-finite). */
  readonly forecasts: Map<string, (number | null)[]>;
  /** Dead letters by reason (bad, late or other models' records of the slice). */
  readonly deadLetters: Record<string, number>;
}

/** Messages per partition per unit of work (the worker's fetch size is of this order). */
const UNIT_MESSAGES = 500;

/** `partition:offset`, the id of an input message in a replay. */
export const sourceId = (partition: number, offset: string): string => `${partition}:${offset}`;

/** Per-key state of a replay, in memory: every write applies (one replay, one writer, in order). */
class ReplayState implements StatePort {
  private readonly records = new Map<string, StateRecord>();
  async loadMany(_model: string, keys: readonly string[]): Promise<(StateRecord | null)[]> {
    return keys.map((k) => this.records.get(k) ?? null);
  }
  async writeMany(_model: string, writes: readonly StateWrite[]): Promise<{ readonly conflicts: readonly string[] }> {
    for (const w of writes) this.records.set(w.key, w.record);
    return { conflicts: [] };
  }
}

/** Collects the records the pipeline produces, decoded. */
class ReplaySink implements OutputSink {
  readonly out: ReplayOutput = { forecasts: new Map(), deadLetters: {} };
  constructor(private readonly cfg: ProcessorConfig) {}
  async sendBatch(records: readonly OutputRecord[]): Promise<void> {
    for (const r of records) {
      const body = JSON.parse(r.value) as { source?: { partition: number; offset: string }; forecast?: (number | null)[]; reason?: string };
      if (r.topic === this.cfg.dlqTopic) this.out.deadLetters[body.reason!] = (this.out.deadLetters[body.reason!] ?? 0) + 1;
      else if (r.topic === this.cfg.forecastTopic) this.out.forecasts.set(sourceId(body.source!.partition, body.source!.offset), body.forecast!);
    }
  }
}

/**
 * Replays `input` through `model` from the initial state of every key. Yields to the event loop
 * between units of work, so the trainer's HTTP keeps answering during a long replay.
 */
export async function replay(model: ServingModel, input: ReplayInput, rules: ReplayRules, onUnit?: (messages: number) => void): Promise<ReplayOutput> {
  const cfg: ProcessorConfig = {
    sensorTopic: input.topic,
    textTopic: `${input.topic}.unused-text`,
    forecastTopic: 'backtest.forecasts',
    classificationTopic: 'backtest.classifications',
    dlqTopic: 'backtest.dlq',
    // Records that name no model belong to the model backtested (the topic's model).
    forecastModel: model.name,
    classifyModel: model.name,
    maxGapMs: rules.maxGapMs,
    allowedLatenessMs: rules.allowedLatenessMs,
    maxTextLength: rules.maxTextLength,
    maxPayloadBytes: rules.maxPayloadBytes,
    rewarmSteps: 0,
  };
  const sink = new ReplaySink(cfg);
  const processor = new BatchProcessor(cfg, { get: (n) => (n === model.name ? model : undefined) }, new ReplayState(), sink);
  const parts = [...input.partitions].sort(([a], [b]) => a - b);
  for (let at = 0; ; at += UNIT_MESSAGES) {
    const batches = parts
      .map(([partition, messages]) => ({ topic: input.topic, partition, messages: messages.slice(at, at + UNIT_MESSAGES) }))
      .filter((b) => b.messages.length > 0);
    if (batches.length === 0) break;
    await processor.processUnit(batches);
    onUnit?.(batches.reduce((n, b) => n + b.messages.length, 0));
    await yieldToLoop();
  }
  return sink.out;
}
