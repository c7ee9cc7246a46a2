import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { DEFAULT_MAX_PAYLOAD_BYTES, DEFAULT_MAX_TEXT_CHARS } from '@app/contracts';
import { ModelNotFoundError, type ModelRegistry } from '@app/registry';
import type { RedisLike } from '@app/state';
import { loadServingModel } from '../../../stream-worker/src/model/model-loader';
import type { InputMessage } from '../../../stream-worker/src/pipeline/ports';
import type { TrainerConfig } from '../config/trainer-config';
import { JobCapacityError } from '../jobs/job-runner';
import { InvalidRequestError } from '../services/invalid-request.error';
import { ModelsService } from '../services/models.service';
import { DataBudget, readKafkaRange, type ResolvedRange } from '../training/kafka-range-reader';
import { TRAINING_GROUP_PREFIX } from '../training/train-job';
import { replay, type ReplayOutput, type ReplayRules } from './backtest-replay';
import { entriesByKey, keySeries, scoreVersion, type KeySeries, type VersionScore } from './backtest-scoring';

/** Most keys a backtest may ask series for. */
export const MAX_BACKTEST_KEYS = 100;
/** Default and largest number of points per key series. */
export const DEFAULT_MAX_POINTS = 500;
export const MAX_POINTS = 10_000;
/** How long a backtest's record (and result) is kept. */
const RECORD_TTL_SECONDS = 7 * 24 * 3600;
/** A running backtest saves its progress at least this often... */
const PROGRESS_SAVE_MS = 5_000;
/** ...so a running record not saved for this long belongs to a trainer that stopped. */
const STALE_AFTER_MS = 60_000;

/** What `POST /v1/models/{name}/versions/{v}/backtest` takes. */
export interface BacktestRequest {
  /** ISO-8601 or epoch ms, inclusive. */
  readonly fromTime?: string;
  /** ISO-8601 or epoch ms, exclusive. */
  readonly toTime?: string;
  /** partition → first offset (inclusive); partitions not named start at their beginning (or fromTime). */
  readonly fromOffsets?: Record<string, string>;
  /** partition → end offset (exclusive). */
  readonly toOffsets?: Record<string, string>;
  /** Replay only these keys and return their series; absent: every key, no series. */
  readonly keys?: string[];
  /** Points per key series (default 500, at most 10,000): the last ones of the range. */
  readonly maxPoints?: number;
  /** The workers' MAX_EVENT_GAP_MS (default 0: off). */
  readonly maxGapMs?: number;
  /** The workers' ALLOWED_LATENESS_MS (default 0; -1: off). */
  readonly allowedLatenessMs?: number;
}

/** A backtest as GET /v1/jobs/{id} returns it. */
export interface BacktestRecord {
  readonly id: string;
  readonly kind: 'backtest';
  readonly model: string;
  /** The version asked for. */
  readonly version: number;
  /** Every version replayed: the one asked for, then the active one when it is another. */
  readonly versions: number[];
  readonly task: 'forecast';
  readonly topic: string;
  status: 'running' | 'succeeded' | 'failed';
  phase: 'reading' | 'replaying' | 'done';
  readonly owner: string;
  readonly createdAt: string;
  /** Last save of the record (progress is saved every few seconds while it runs). */
  updatedAt: string;
  finishedAt: string | null;
  readonly request: BacktestRequest;
  /** The offsets actually read, per partition. */
  range: ResolvedRange | null;
  progress: { read: number; replayed: number };
  result: { versions: VersionScore[]; series: KeySeries[]; maxPoints: number } | null;
  error: string | null;
}

/**
 * Runs backtests (docs/backtest.md) as jobs of the trainer process: read the slice of the model's
 * input topic, replay it through the version and the active one with the worker's pipeline from
 * the initial state, score the forecasts. Records live in Redis (any replica answers
 * GET /v1/jobs/{id}); the replay yields to the event loop between units of work.
 */
export class BacktestRunner {
  private readonly log = new Logger('backtest');
  private readonly running = new Map<string, BacktestRecord>();

  constructor(
    private readonly redis: RedisLike,
    private readonly registry: ModelRegistry,
    private readonly config: Pick<TrainerConfig, 'kafkaBrokers' | 'kafkaSasl' | 'inputTopics' | 'maxDataBytes' | 'maxJobs' | 'instanceId'>,
  ) {}

  private key(id: string): string {
    return `trainer:{jobs}:backtest:${id}`;
  }

  /** Checks the request (a 400 names the field) and starts the backtest; returns its record. */
  async start(name: string, version: number, request: BacktestRequest): Promise<BacktestRecord> {
    ModelsService.modelName(name);
    checkRequest(request);
    const meta = await this.registry.getVersion(name, version);
    if (!meta) throw new ModelNotFoundError(`model ${name} has no version ${version}`);
    if (meta.task !== 'forecast') {
      throw new InvalidRequestError(`version: backtests score forecast models; ${name} is a ${meta.task} model (classifiers are not backtested)`);
    }
    if (this.running.size >= this.config.maxJobs) throw new JobCapacityError(this.config.maxJobs);
    const active = (await this.registry.getModel(name))?.active?.version ?? null;
    const record: BacktestRecord = {
      id: randomUUID(),
      kind: 'backtest',
      model: name,
      version,
      versions: active !== null && active !== version ? [version, active] : [version],
      task: 'forecast',
      topic: this.config.inputTopics.forecast,
      status: 'running',
      phase: 'reading',
      owner: this.config.instanceId,
      createdAt: new Date().toISOString(),
      updatedAt: new Date().toISOString(),
      finishedAt: null,
      request,
      range: null,
      progress: { read: 0, replayed: 0 },
      result: null,
      error: null,
    };
    await this.save(record);
    this.running.set(record.id, record);
    void this.run(record).finally(() => this.running.delete(record.id));
    return record;
  }

  /**
   * A backtest's record (this process's while it runs, else from Redis), or null. A record still
   * `running` that no process runs (this trainer restarted, or its trainer stopped saving
   * progress) is marked failed.
   */
  async get(id: string): Promise<BacktestRecord | null> {
    const local = this.running.get(id);
    if (local) return local;
    const json = await this.redis.get(this.key(id));
    if (!json) return null;
    const rec = JSON.parse(json) as BacktestRecord;
    const stale = Date.now() - Date.parse(rec.updatedAt) > STALE_AFTER_MS;
    if (rec.status === 'running' && (rec.owner === this.config.instanceId || stale)) {
      rec.status = 'failed';
      rec.phase = 'done';
      rec.error = rec.owner === this.config.instanceId ? 'interrupted: the trainer restarted while the backtest ran' : 'interrupted: the trainer running the backtest stopped';
      rec.finishedAt = new Date().toISOString();
      await this.save(rec);
    }
    return rec;
  }

  private async save(record: BacktestRecord): Promise<void> {
    record.updatedAt = new Date().toISOString();
    await this.redis.set(this.key(record.id), JSON.stringify(record), 'EX', RECORD_TTL_SECONDS);
  }

  /** Saves a running record's progress (and so shows it is alive). */
  private saveProgress(rec: BacktestRecord): void {
    this.save(rec).catch((err: Error) => this.log.warn(`backtest ${rec.id}: progress not saved: ${err.message}`));
  }

  private async run(rec: BacktestRecord): Promise<void> {
    const beat = setInterval(() => this.saveProgress(rec), PROGRESS_SAVE_MS);
    try {
      const req = rec.request;
      const keys = req.keys && req.keys.length > 0 ? new Set(req.keys) : null;
      const partitions = new Map<number, InputMessage[]>();
      rec.range = await readKafkaRange(
        { brokers: this.config.kafkaBrokers, sasl: this.config.kafkaSasl },
        { topic: rec.topic, ...pick(req, ['fromTime', 'toTime', 'fromOffsets', 'toOffsets']) },
        // The training jobs' throw-away group prefix (one ACL prefix covers both, deploy/k8s).
        `${TRAINING_GROUP_PREFIX}backtest-${rec.id}`,
        (m) => {
          rec.progress.read++;
          if (keys !== null && (m.key === null || !keys.has(m.key))) return;
          let list = partitions.get(m.partition);
          if (list === undefined) partitions.set(m.partition, (list = []));
          list.push({ offset: m.offset, key: m.key === null ? null : Buffer.from(m.key, 'utf8'), value: m.value });
        },
        120_000,
        new DataBudget(this.config.maxDataBytes),
      );
      rec.phase = 'replaying';
      await this.save(rec);
      const rules: ReplayRules = {
        maxGapMs: req.maxGapMs ?? 0,
        allowedLatenessMs: req.allowedLatenessMs ?? 0,
        maxPayloadBytes: DEFAULT_MAX_PAYLOAD_BYTES,
        maxTextLength: DEFAULT_MAX_TEXT_CHARS,
      };
      const input = { topic: rec.topic, partitions };
      const byKey = entriesByKey(partitions, keys);
      const outs = new Map<number, ReplayOutput>();
      const scores: VersionScore[] = [];
      for (const v of rec.versions) {
        const model = await loadServingModel(this.registry, rec.model, v, 'reset');
        if (model.task.kind !== 'forecast') throw new Error(`version ${v} is not a forecast model`);
        const out = await replay(model, input, rules, (n) => (rec.progress.replayed += n));
        outs.set(v, out);
        scores.push(scoreVersion(v, byKey, out, model.task.targetIndex, rules.maxGapMs));
      }
      const maxPoints = req.maxPoints ?? DEFAULT_MAX_POINTS;
      const series = [...(keys ?? [])].map((k) => keySeries(k, byKey.get(k), outs, maxPoints));
      rec.result = { versions: scores, series, maxPoints };
      rec.status = 'succeeded';
    } catch (err) {
      rec.status = 'failed';
      rec.error = (err as Error).message || String(err);
      this.log.warn(`backtest ${rec.id} of ${rec.model} v${rec.version} failed: ${rec.error}`);
    } finally {
      clearInterval(beat);
    }
    rec.phase = 'done';
    rec.finishedAt = new Date().toISOString();
    await this.save(rec).catch((err: Error) => this.log.warn(`backtest ${rec.id}: record not saved: ${err.message}`));
  }
}

function pick<T extends object, K extends keyof T>(o: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

/** The checks the DTO cannot make (time syntax, offsets, keys); a 400 names the field. */
function checkRequest(r: BacktestRequest): void {
  for (const f of ['fromTime', 'toTime'] as const) {
    const t = r[f];
    if (t !== undefined && !Number.isFinite(Number(t)) && !Number.isFinite(Date.parse(t))) {
      throw new InvalidRequestError(`${f} must be ISO-8601 or epoch milliseconds`);
    }
  }
  for (const f of ['fromOffsets', 'toOffsets'] as const) {
    for (const [p, o] of Object.entries(r[f] ?? {})) {
      if (!/^\d{1,9}$/.test(p) || typeof o !== 'string' || !/^\d{1,19}$/.test(o)) {
        throw new InvalidRequestError(`${f} must map partition numbers to offsets as decimal strings (${f}.${p.slice(0, 16)})`);
      }
    }
  }
  (r.keys ?? []).forEach((k, i) => {
    if (Buffer.byteLength(k, 'utf8') > 256) throw new InvalidRequestError(`keys/${i} is longer than 256 UTF-8 bytes (the input contract's key limit)`);
  });
  if (r.keys && new Set(r.keys).size !== r.keys.length) throw new InvalidRequestError('keys must not repeat a key');
}
