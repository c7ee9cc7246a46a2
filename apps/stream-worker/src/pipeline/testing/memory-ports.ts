import { DEFAULT_TOPICS } from '@app/contracts';
import type { AccuracyUpdate, StateRecord } from '@app/state';
import type { OutputRecord, ProcessorConfig, StatePort, StateWrite } from '../ports';

/** Processor settings of the unit specs: the contract topic names, small input limits. */
export const processorConfig: ProcessorConfig = {
  sensorTopic: DEFAULT_TOPICS.sensorReadings,
  textTopic: DEFAULT_TOPICS.textEvents,
  forecastTopic: DEFAULT_TOPICS.forecasts,
  classificationTopic: DEFAULT_TOPICS.classifications,
  dlqTopic: DEFAULT_TOPICS.dlq,
  forecastModel: 'forecaster',
  classifyModel: 'classifier',
  maxGapMs: 0,
  allowedLatenessMs: 0,
  maxTextLength: 100,
  maxPayloadBytes: 4096,
  rewarmSteps: 4,
};

/** An in-memory {@link StatePort} applying the @app/state compare-and-set rule. */
export class MemoryState implements StatePort {
  readonly data = new Map<string, StateRecord>();
  loads = 0;
  writes = 0;
  /** confirmDurable() calls (the replica acknowledgement of earlier writes). */
  confirms = 0;
  failNextWrite = false;
  /** While set, every write waits for it (a slow store). */
  gate: Promise<void> | null = null;
  /** Live accuracy updates passed with the writes, in call order (docs/accuracy.md). */
  readonly accuracy: { model: string; update: AccuracyUpdate }[] = [];
  async loadMany(model: string, keys: readonly string[]): Promise<(StateRecord | null)[]> {
    this.loads++;
    return keys.map((k) => this.data.get(`${model}/${k}`) ?? null);
  }
  async writeMany(model: string, writes: readonly StateWrite[], accuracy: readonly AccuracyUpdate[] = []): Promise<{ conflicts: string[] }> {
    this.writes++;
    if (this.gate !== null) await this.gate;
    if (this.failNextWrite) {
      this.failNextWrite = false;
      throw new Error('redis down');
    }
    for (const update of accuracy) this.accuracy.push({ model, update });
    const conflicts: string[] = [];
    for (const w of writes) {
      const cur = this.data.get(`${model}/${w.key}`) ?? null;
      // the @app/state rule: same partition → only a strictly greater offset is written
      const ok = cur === null || cur.partition !== w.record.partition || w.record.offset > cur.offset;
      if (ok) this.data.set(`${model}/${w.key}`, w.record);
      else conflicts.push(w.key);
    }
    return { conflicts };
  }
  async confirmDurable(): Promise<void> {
    this.confirms++;
  }
}

/** Collects every producer call of the processor. */
export class MemorySink {
  readonly batches: OutputRecord[][] = [];
  failNextSend = false;
  async sendBatch(records: readonly OutputRecord[]): Promise<void> {
    if (this.failNextSend) {
      this.failNextSend = false;
      throw new Error('broker down');
    }
    this.batches.push([...records]);
  }
  get all(): OutputRecord[] {
    return this.batches.flat();
  }
}
