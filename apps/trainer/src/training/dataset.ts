import { decodeSensorReading, decodeTextEvent, type DecodeLimits, type DlqReason } from '@app/contracts';

/** One sensor reading (wire contract v1 `sensor.readings`), values already as a vector. */
export interface SensorReading {
  readonly key: string;
  /** Epoch milliseconds. */
  readonly ts: number;
  readonly values: readonly number[];
  /** Starts the key's sequence afresh (`"reset": true`): no training window crosses it. */
  readonly reset?: boolean;
}

/** One labelled text (a `text.events` stream joined with its label, or a file row). */
export interface TextExample {
  readonly text: string;
  readonly label: string;
}

/** Training data of one job, by task. */
export type Dataset =
  | { readonly task: 'forecast'; readonly readings: SensorReading[] }
  | { readonly task: 'classify'; readonly examples: TextExample[] };

/**
 * Records rejected while reading a job's data, by the reason the worker would dead-letter them
 * for (`DLQ_REASONS` of `@app/contracts`). Shown in the job record (`result.rejected`).
 */
export class RejectedRecords {
  private readonly byReason: Partial<Record<DlqReason, number>> = {};

  add(reason: DlqReason): void {
    this.byReason[reason] = (this.byReason[reason] ?? 0) + 1;
  }

  /** Counts by reason (reasons with none left out). */
  counts(): Partial<Record<DlqReason, number>> {
    return { ...this.byReason };
  }

  get total(): number {
    return Object.values(this.byReason).reduce((a, b) => a + (b ?? 0), 0);
  }

  /** `schema_violation 3, invalid_json 1` (empty when nothing was rejected). */
  summary(): string {
    return Object.entries(this.byReason)
      .map(([reason, n]) => `${reason} ${n}`)
      .join(', ');
  }
}

/**
 * Which records are this model's: an event naming another model with `model` belongs to that
 * model (the worker would route it there), so here it is rejected as `unknown_model`. Without a
 * model name (offline training to a directory) every record is taken.
 */
function modelFilter(model: string | undefined): DecodeLimits {
  return model === undefined ? {} : { knownModels: (name: string) => name === model };
}

/**
 * Collects sensor readings the way the worker reads them: every record through
 * `decodeSensorReading` of `@app/contracts` (the same checks and DLQ reasons: a `ts` needs a time
 * zone, exactly one of `value`/`values`, finite numbers, key = `sensorId`...), `reset` kept,
 * `model` honoured (see {@link modelFilter}); the first accepted reading fixes the feature count
 * (`feature_count` for the others, as a served model would).
 */
export class SensorReadingCollector {
  readonly readings: SensorReading[] = [];
  readonly rejected = new RejectedRecords();
  private readonly limits: DecodeLimits;
  private featureCount: number | undefined;
  /** Keys whose last record was a reset control record: their next reading starts a sequence. */
  private readonly resetPending = new Set<string>();

  constructor(model?: string) {
    this.limits = modelFilter(model);
  }

  /** One record as it would be on `sensor.readings`: message key and value bytes. */
  add(key: Buffer | null, value: Buffer | null): void {
    const r = decodeSensorReading(key, value, this.featureCount === undefined ? this.limits : { ...this.limits, featureCount: this.featureCount });
    if (!r.ok) return this.rejected.add(r.reason);
    const id = r.event.key;
    if (r.event.control !== undefined) return void this.resetPending.add(id);
    this.featureCount ??= r.event.values.length;
    const reset = this.resetPending.delete(id) || r.event.reset;
    this.readings.push({ key: id, ts: r.event.ts, values: Array.from(r.event.values), reset });
  }
}

/**
 * Collects text streams the way the worker reads them: every record through `decodeTextEvent`
 * of `@app/contracts`, `model` honoured; a stream's texts are concatenated in offset order, and
 * `"reset": true` starts the stream's sequence afresh (what came before it is not part of the
 * sequence the stream's label describes). A text event that carries its own `label` is an
 * example as it is.
 */
export class TextStreamCollector {
  readonly labelled: TextExample[] = [];
  readonly rejected = new RejectedRecords();
  private readonly limits: DecodeLimits;
  private readonly streams = new Map<string, string[]>();

  constructor(model?: string) {
    this.limits = modelFilter(model);
  }

  /** One record as it would be on `text.events`. */
  add(key: Buffer | null, value: Buffer | null): void {
    const r = decodeTextEvent(key, value, this.limits);
    if (!r.ok) return this.rejected.add(r.reason);
    // A label control record scores the live classifier (docs/accuracy.md); it is no text.
    if (r.event.control === 'label') return;
    if (r.event.control !== undefined) return void this.streams.set(r.event.key, []);
    const label = labelOf((JSON.parse(value!.toString('utf8')) as Record<string, unknown>).label);
    if (label !== null) {
      this.labelled.push({ text: r.event.text, label });
      return;
    }
    let texts = this.streams.get(r.event.key);
    if (texts === undefined || r.event.reset) this.streams.set(r.event.key, (texts = []));
    texts.push(r.event.text);
  }

  /** The stream's text since its last sequence start (null: no such stream). */
  textOf(streamId: string): string | null {
    return this.streams.get(streamId)?.join(' ') ?? null;
  }
}

/** A label as the data may carry it (string, or a number such as 0/1), else null. */
export function labelOf(label: unknown): string | null {
  return typeof label === 'string' || (typeof label === 'number' && Number.isFinite(label)) ? String(label) : null;
}

/** Splits one CSV line (RFC 4180 quoting). */
export function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

/** The non-empty lines of a file. */
function linesOf(text: string): string[] {
  return text.split(/\r?\n/).filter((l) => l.trim() !== '');
}

/** CSV rows as objects keyed by the header's column names. */
function csvRows(lines: readonly string[]): Record<string, string>[] {
  if (lines.length === 0) return [];
  const header = splitCsvLine(lines[0]).map((h) => h.trim());
  return lines.slice(1).map((l) => {
    const cells = splitCsvLine(l);
    const row: Record<string, string> = {};
    header.forEach((h, i) => (row[h] = cells[i]));
    return row;
  });
}

/**
 * A CSV reading row as the JSON body a producer would send: `sensorId`, `ts` (digits: epoch ms,
 * else the text as it is), `value` or `value_0..value_n` as numbers, and `reset` / `model` when
 * the file has those columns.
 */
function readingBody(r: Record<string, string>): Record<string, unknown> {
  const ts = r.ts?.trim() ?? '';
  const valueCols = Object.keys(r)
    .filter((k) => /^value_\d+$/.test(k))
    .sort((a, b) => Number(a.slice(6)) - Number(b.slice(6)));
  return {
    sensorId: r.sensorId,
    ts: /^\d+$/.test(ts) ? Number(ts) : ts,
    ...(valueCols.length > 0 ? { values: valueCols.map((k) => cellNumber(r[k])) } : { value: cellNumber(r.value) }),
    ...(r.reset !== undefined && r.reset.trim() !== '' ? { reset: r.reset.trim() === 'true' } : {}),
    ...(r.model !== undefined && r.model.trim() !== '' ? { model: r.model.trim() } : {}),
  };
}

/** A numeric cell; anything else stays a string, so the schema names it. */
function cellNumber(cell: string | undefined): number | string | undefined {
  if (cell === undefined) return undefined;
  const n = Number(cell);
  return cell.trim() !== '' && Number.isFinite(n) ? n : cell;
}

/** Guesses the format from a file name (`.jsonl`/`.ndjson`/`.json` → jsonl, else csv). */
export function formatOf(path: string): 'csv' | 'jsonl' {
  return /\.(jsonl|ndjson|json)$/i.test(path) ? 'jsonl' : 'csv';
}

/**
 * Parses a training file. Forecast: CSV `sensorId,ts,value` (or `value_0..value_n` columns;
 * optional `reset` and `model` columns) or JSONL readings as on `sensor.readings`, each row
 * checked by the worker's decoder as if `sensorId` were its message key. Classify: CSV
 * `text,label` or JSONL `{text,label}`. Rows that do not pass are counted by reason, not fatal.
 * `model`: the model being trained (rows naming another one are not its data).
 */
export function parseDatasetFile(
  text: string,
  format: 'csv' | 'jsonl',
  task: 'forecast' | 'classify',
  model?: string,
): { dataset: Dataset; rejected: RejectedRecords } {
  const lines = linesOf(text);
  if (task === 'classify') {
    const rejected = new RejectedRecords();
    const examples: TextExample[] = [];
    const rows: (Record<string, unknown> | DlqReason)[] = format === 'csv' ? csvRows(lines) : lines.map(parseObject);
    for (const r of rows) {
      if (typeof r === 'string') rejected.add(r);
      else if (typeof r.text !== 'string' || labelOf(r.label) === null) rejected.add('schema_violation');
      else examples.push({ text: r.text, label: labelOf(r.label)! });
    }
    return { dataset: { task, examples }, rejected };
  }
  const readings = new SensorReadingCollector(model);
  if (format === 'csv') {
    for (const r of csvRows(lines)) readings.add(keyOf(r.sensorId), Buffer.from(JSON.stringify(readingBody(r))));
  } else {
    for (const line of lines) {
      const o = parseObject(line);
      if (typeof o === 'string') readings.rejected.add(o);
      else readings.add(keyOf(o.sensorId), Buffer.from(line));
    }
  }
  return { dataset: { task, readings: readings.readings }, rejected: readings.rejected };
}

/** A file row's id as the message key it would have been (none: `key_missing`). */
function keyOf(id: unknown): Buffer | null {
  if (id === undefined || id === null || id === '') return null;
  return Buffer.from(typeof id === 'string' || typeof id === 'number' || typeof id === 'boolean' ? String(id) : JSON.stringify(id));
}

/** A JSONL line's object, or why it is none (the decoders' reasons). */
function parseObject(line: string): Record<string, unknown> | DlqReason {
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch {
    return 'invalid_json';
  }
  return o !== null && typeof o === 'object' && !Array.isArray(o) ? (o as Record<string, unknown>) : 'schema_violation';
}
