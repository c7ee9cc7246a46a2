/** One sensor reading (wire contract v1 `sensor.readings`), values already as a vector. */
export interface SensorReading {
  readonly key: string;
  /** Epoch milliseconds. */
  readonly ts: number;
  readonly values: readonly number[];
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

/** Parses `ts` as in the wire contract: ISO-8601 string or epoch milliseconds. */
export function parseTs(ts: unknown): number | null {
  if (typeof ts === 'number' && Number.isFinite(ts)) return ts;
  if (typeof ts === 'string' && ts.trim() !== '') {
    const n = Number(ts);
    if (Number.isFinite(n)) return n;
    const d = Date.parse(ts);
    if (Number.isFinite(d)) return d;
  }
  return null;
}

/** A sensor reading from a JSON object (`sensorId`, `ts`, `value` | `values`), or null when invalid. */
export function readingFromObject(o: Record<string, unknown>, fallbackKey?: string): SensorReading | null {
  const key = typeof o.sensorId === 'string' ? o.sensorId : fallbackKey;
  const ts = parseTs(o.ts);
  if (!key || ts === null) return null;
  let values: number[] | null = null;
  if (typeof o.value === 'number') values = [o.value];
  else if (Array.isArray(o.values) && o.values.every((v) => typeof v === 'number')) values = o.values;
  if (!values || values.length === 0 || !values.every(Number.isFinite)) return null;
  return { key, ts, values };
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

function rowsOf(text: string, format: 'csv' | 'jsonl'): Record<string, unknown>[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (format === 'jsonl') {
    return lines.map((l, i) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        throw new Error(`line ${i + 1}: not JSON`);
      }
    });
  }
  if (lines.length === 0) return [];
  const header = splitCsvLine(lines[0]).map((h) => h.trim());
  return lines.slice(1).map((l) => {
    const cells = splitCsvLine(l);
    const row: Record<string, unknown> = {};
    header.forEach((h, i) => (row[h] = cells[i]));
    return row;
  });
}

/** Guesses the format from a file name (`.jsonl`/`.ndjson`/`.json` → jsonl, else csv). */
export function formatOf(path: string): 'csv' | 'jsonl' {
  return /\.(jsonl|ndjson|json)$/i.test(path) ? 'jsonl' : 'csv';
}

/**
 * Parses a training file. Forecast: CSV `sensorId,ts,value` (or `value_0..value_n` columns) or
 * JSONL readings as on `sensor.readings`. Classify: CSV `text,label` or JSONL `{text,label}`.
 * Rows that do not parse are counted, not fatal.
 */
export function parseDatasetFile(
  text: string,
  format: 'csv' | 'jsonl',
  task: 'forecast' | 'classify',
): { dataset: Dataset; skipped: number } {
  const rows = rowsOf(text, format);
  let skipped = 0;
  if (task === 'classify') {
    const examples: TextExample[] = [];
    for (const r of rows) {
      const label = r.label;
      if (typeof r.text === 'string' && (typeof label === 'string' || typeof label === 'number')) {
        examples.push({ text: r.text, label: String(label) });
      } else skipped++;
    }
    return { dataset: { task, examples }, skipped };
  }
  const readings: SensorReading[] = [];
  for (const r of rows) {
    let o = r;
    if (format === 'csv') {
      const valueCols = Object.keys(r).filter((k) => /^value_\d+$/.test(k));
      o = {
        sensorId: r.sensorId,
        ts: r.ts,
        ...(valueCols.length > 0
          ? { values: valueCols.sort((a, b) => Number(a.slice(6)) - Number(b.slice(6))).map((k) => Number(r[k])) }
          : { value: Number(r.value) }),
      };
    }
    const reading = readingFromObject(o);
    if (reading) readings.push(reading);
    else skipped++;
  }
  return { dataset: { task, readings }, skipped };
}
