import { e2eStack, sleep, uniqueSuffix, waitFor, type E2EStack } from './e2e-env';
import { TestKafka, type Collector, type OutMessage } from './test-kafka';
import { TestRegistry, tokenIds, type ClassifierDef, type ForecasterDef } from './model-fixtures';
import { suiteTopics, topicEnv, WorkerProcess, workerEnv, type SuiteTopics } from './worker-process';
import { WORDS, type GeneratedEvent, toMessages } from './event-streams';
import {
  allOffsets,
  checkCoverage,
  diffPredictionMaps,
  normalizedPredictions,
  type CoverageReport,
} from './prediction-checks';
import { compareStates, StateReader } from './state-reader';

/** What {@link DualRun.verify} measured. */
export interface DualRunReport {
  readonly forecasts: Omit<CoverageReport, 'missing'>;
  readonly classifications: Omit<CoverageReport, 'missing'>;
  readonly statesCompared: number;
}

/** The seeded forecaster of the dual-run suites (time delta included). */
export const DUAL_FORECASTER: ForecasterDef = {
  task: 'forecast',
  seed: 11,
  units: 16,
  features: 1,
  includeTimeDelta: true,
  horizon: 3,
  mean: [20, 2],
  std: [5, 1],
};

/** The seeded classifier of the dual-run suites. */
export const DUAL_CLASSIFIER: ClassifierDef = {
  task: 'classify',
  seed: 12,
  units: 16,
  embedDim: 8,
  words: WORDS,
};

/**
 * Two copies of the same input log (same partitions, same offsets): the faulted side, processed
 * by workers that get killed, leave or join, and the reference side, processed by one
 * uninterrupted worker with identically-weighted models under other names. `verify()` compares
 * coverage, duplicates, predictions and every key's final state.
 */
export class DualRun {
  readonly s = uniqueSuffix();
  readonly kafka: TestKafka;
  /** Topics of the faulted side / the reference side (both with the one models topic). */
  readonly side: SuiteTopics;
  readonly ref: SuiteTopics;
  readonly models: string;
  readonly model: { fc: string; cl: string; refFc: string; refCl: string };
  readonly workers: WorkerProcess[] = [];
  collector!: Collector;
  registry!: TestRegistry;
  states!: StateReader;

  /** `stack`: where both sides run (default: the run's shared stack). */
  constructor(
    readonly tag: string,
    readonly partitions: number,
    readonly stack: E2EStack = e2eStack(),
  ) {
    const p = `${tag}-${this.s}`;
    // Both sides read the one models topic.
    this.side = suiteTopics(p);
    this.models = this.side.models;
    this.ref = { ...suiteTopics(`${p}.ref`), models: this.models };
    this.model = { fc: `${p}-fc`, cl: `${p}-cl`, refFc: `${p}-fc-ref`, refCl: `${p}-cl-ref` };
    this.kafka = new TestKafka(this.stack.brokers, p);
  }

  /** Group id of the faulted side / the reference side. */
  group(ref: boolean): string {
    return `${this.tag}-${this.s}-${ref ? 'ref' : 'main'}`;
  }

  /** Creates topics, seeds the four models, starts the collector. */
  async setUp(): Promise<void> {
    await this.kafka.connect();
    await this.kafka.createTopics([
      ...[this.side.sensor, this.side.text, this.ref.sensor, this.ref.text].map((topic) => ({
        topic,
        partitions: this.partitions,
      })),
      ...[this.side, this.ref]
        .flatMap((x) => [x.forecasts, x.classes, x.dlq])
        .map((topic) => ({ topic, partitions: 2 })),
      { topic: this.models, partitions: 1, compact: true },
    ]);
    this.registry = new TestRegistry(this.stack, this.kafka.producerClient, this.models);
    await this.registry.seed(this.model.fc, DUAL_FORECASTER);
    await this.registry.seed(this.model.refFc, DUAL_FORECASTER);
    await this.registry.seed(this.model.cl, DUAL_CLASSIFIER);
    await this.registry.seed(this.model.refCl, DUAL_CLASSIFIER);
    this.states = new StateReader(this.stack);
    this.collector = await this.kafka.collect(
      [this.side, this.ref].flatMap((x) => [x.forecasts, x.classes, x.dlq]),
      `${this.tag}-${this.s}-collector`,
    );
  }

  /** Stops every worker still running (SIGKILL), closes clients. */
  async tearDown(): Promise<void> {
    for (const w of this.workers) await w.dispose();
    await this.kafka.disconnect();
    await this.registry?.close();
    await this.states?.close();
  }

  /** Worker environment of one side. */
  env(ref: boolean, extra: Record<string, string> = {}): Record<string, string> {
    const x = ref ? this.ref : this.side;
    return workerEnv(this.stack, {
      KAFKA_CLIENT_ID: this.group(ref),
      KAFKA_GROUP_ID: this.group(ref),
      ...topicEnv(x),
      FORECAST_MODEL: ref ? this.model.refFc : this.model.fc,
      CLASSIFY_MODEL: ref ? this.model.refCl : this.model.cl,
      ...extra,
    });
  }

  /** A new (not started) worker of one side. */
  worker(name: string, ref: boolean, extra: Record<string, string> = {}): WorkerProcess {
    const w = new WorkerProcess(`${this.tag}-${this.s}-${name}`, this.env(ref, extra));
    this.workers.push(w);
    return w;
  }

  /** Writes the whole reference log at once. */
  async produceReference(
    sensors: readonly GeneratedEvent[],
    texts: readonly GeneratedEvent[],
  ): Promise<void> {
    await this.kafka.produce(this.ref.sensor, toMessages(sensors));
    await this.kafka.produce(this.ref.text, toMessages(texts));
  }

  /** Feeds the faulted side in `chunks` slices with a pause between them (runs in the background). */
  async feed(
    sensors: readonly GeneratedEvent[],
    texts: readonly GeneratedEvent[],
    chunks: number,
    pauseMs: number,
  ): Promise<void> {
    const sm: OutMessage[] = toMessages(sensors);
    const tm: OutMessage[] = toMessages(texts);
    for (let i = 0; i < chunks; i++) {
      await this.kafka.produce(
        this.side.sensor,
        sm.slice(Math.floor((i * sm.length) / chunks), Math.floor(((i + 1) * sm.length) / chunks)),
      );
      await this.kafka.produce(
        this.side.text,
        tm.slice(Math.floor((i * tm.length) / chunks), Math.floor(((i + 1) * tm.length) / chunks)),
      );
      await sleep(pauseMs);
    }
  }

  /** Distinct source offsets predicted so far on the faulted side. */
  predicted(): number {
    return (
      this.collector.distinctSources(this.side.forecasts) + this.collector.distinctSources(this.side.classes)
    );
  }

  /**
   * Waits until the groups of `sides` (default both; false = the faulted side, true = the
   * reference) committed every offset and the collector read every prediction of theirs.
   */
  async drain(timeoutMs = 180_000, sides: readonly boolean[] = [false, true]): Promise<void> {
    const k = this.kafka;
    const pairs = sides.flatMap((ref) => {
      const x = ref ? this.ref : this.side;
      return [
        { group: this.group(ref), src: x.sensor, preds: x.forecasts },
        { group: this.group(ref), src: x.text, preds: x.classes },
      ];
    });
    const ends = new Map<string, Map<number, bigint>>();
    for (const { src } of pairs) ends.set(src, await k.endOffsets(src));
    const drained = async (group: string, topic: string): Promise<boolean> => {
      const c = await k.committed(group, topic);
      for (const [p, e] of ends.get(topic)!) if ((c.get(p) ?? -1n) < e) return false;
      return true;
    };
    await waitFor(
      'every offset committed',
      async () => {
        for (const { group, src } of pairs) if (!(await drained(group, src))) return false;
        return true;
      },
      timeoutMs,
      500,
    );
    await waitFor(
      'the collector to read a prediction for every offset',
      () =>
        pairs.every(
          ({ src, preds }) =>
            checkCoverage(this.collector.messages(preds), src, allOffsets(ends.get(src)!)).missingCount === 0,
        ),
      60_000,
      500,
    );
  }

  /**
   * Keys of the faulted side whose state did not take exactly one transition per event:
   * forecast keys step once per reading, text keys once per token (empty when all did).
   */
  async stepCountDiffs(sensors: readonly GeneratedEvent[], texts: readonly GeneratedEvent[]): Promise<string[]> {
    const out: string[] = [];
    const check = async (model: string, events: readonly GeneratedEvent[], unit: string, steps: (e: GeneratedEvent) => number) => {
      const want = new Map<string, number>();
      for (const e of events) want.set(e.key, (want.get(e.key) ?? 0) + steps(e));
      const keys = [...want.keys()];
      const states = await this.states.readMany(model, keys);
      keys.forEach((key, i) => {
        if (states[i]?.record.steps !== want.get(key)) out.push(`${key}: ${states[i]?.record.steps} steps, ${want.get(key)} ${unit}`);
      });
    };
    await check(this.model.fc, sensors, 'events', () => 1);
    await check(this.model.cl, texts, 'tokens', (e) => tokenIds(DUAL_CLASSIFIER, String(e.body.text)).length);
    return out;
  }

  /**
   * The delivery-semantics checks: no dead letters, full coverage, identical duplicates,
   * predictions equal to the reference run's, final states bit-identical.
   */
  async verify(sensors: readonly GeneratedEvent[], texts: readonly GeneratedEvent[]): Promise<DualRunReport> {
    const sensorKeys = [...new Set(sensors.map((e) => e.key))];
    const textKeys = [...new Set(texts.map((e) => e.key))];
    const c = this.collector;
    expect(c.count(this.side.dlq)).toBe(0);
    expect(c.count(this.ref.dlq)).toBe(0);
    const ends = {
      sensor: await this.kafka.endOffsets(this.side.sensor),
      text: await this.kafka.endOffsets(this.side.text),
    };
    const fc = checkCoverage(c.messages(this.side.forecasts), this.side.sensor, allOffsets(ends.sensor));
    const cl = checkCoverage(c.messages(this.side.classes), this.side.text, allOffsets(ends.text));
    expect(fc.missing).toEqual([]);
    expect(cl.missing).toEqual([]);
    expect(fc.unexpected).toEqual([]);
    expect(cl.unexpected).toEqual([]);
    expect(fc.differingDuplicates).toEqual([]);
    expect(cl.differingDuplicates).toEqual([]);
    expect(
      diffPredictionMaps(
        normalizedPredictions(c.messages(this.side.forecasts), this.side.sensor),
        normalizedPredictions(c.messages(this.ref.forecasts), this.ref.sensor),
      ),
    ).toEqual([]);
    expect(
      diffPredictionMaps(
        normalizedPredictions(c.messages(this.side.classes), this.side.text),
        normalizedPredictions(c.messages(this.ref.classes), this.ref.text),
      ),
    ).toEqual([]);
    const diffs = [
      ...(await compareStates(this.states, this.model.fc, this.model.refFc, sensorKeys)),
      ...(await compareStates(this.states, this.model.cl, this.model.refCl, textKeys)),
    ];
    expect(diffs).toEqual([]);
    // And the records say what was applied last: each key's last event (offsets follow the
    // production order per partition on these fresh topics).
    const lastApplied = (events: readonly GeneratedEvent[]): Map<string, string> => {
      const next = new Map<number, bigint>();
      const last = new Map<string, string>();
      for (const e of events) {
        const o = next.get(e.partition) ?? 0n;
        next.set(e.partition, o + 1n);
        last.set(e.key, `${e.partition}/${o}`);
      }
      return last;
    };
    const positions: string[] = [];
    for (const [model, events, keys] of [
      [this.model.fc, sensors, sensorKeys],
      [this.model.cl, texts, textKeys],
    ] as const) {
      const expected = lastApplied(events);
      const records = await this.states.readMany(model, keys);
      keys.forEach((key, i) => {
        const r = records[i]?.record;
        const got = r ? `${r.partition}/${r.offset}` : 'none';
        if (got !== expected.get(key))
          positions.push(`${model} ${key}: last applied ${got}, expected ${expected.get(key)}`);
      });
    }
    expect(positions.slice(0, 20)).toEqual([]);
    const strip = ({ missing: _m, ...rest }: CoverageReport): Omit<CoverageReport, 'missing'> => rest;
    return {
      forecasts: strip(fc),
      classifications: strip(cl),
      statesCompared: sensorKeys.length + textKeys.length,
    };
  }
}
