import { argmax, type SourceCoordinates } from '@app/contracts';

/**
 * Prediction JSON as WORKER-CONTRACT.md specifies it: like the `@app/contracts` encoders (fixed
 * field order, shortest round-trip numbers, so replays are byte-identical) except that `ts` is the
 * event's time **as received**: the ISO string as sent, or the epoch-milliseconds number.
 */

/** The `ts` of an input message, as a JSON token ready to embed (string literal or number). */
export type RawTs = string;

const TS_TOKEN = /"ts"\s*:\s*("(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;

/**
 * Extracts the top-level `ts` of a message body that the contracts decoder accepted, as a
 * canonical JSON token. The pattern cannot match inside a JSON string (its quotes would be
 * escaped); when it matches more than once (a nested object with its own `ts`), the body is
 * parsed to take the top-level value.
 */
export function rawTsOf(value: Buffer, fallbackMs: number): RawTs {
  const text = value.toString('utf8');
  const matches = text.match(TS_TOKEN);
  let ts: unknown;
  if (matches && matches.length === 1) {
    const token = matches[0].slice(matches[0].indexOf(':') + 1).trim();
    ts = JSON.parse(token);
  } else {
    try {
      ts = (JSON.parse(text) as { ts?: unknown }).ts;
    } catch {
      ts = undefined;
    }
  }
  if (typeof ts === 'string' || typeof ts === 'number') return JSON.stringify(ts);
  return String(fallbackMs);
}

function num(x: number): string {
  // String(x) prints the same shortest round-trip digits as JSON.stringify for finite numbers, faster.
  return Number.isFinite(x) ? String(x) : 'null';
}

function source(s: SourceCoordinates): string {
  return `{"topic":${JSON.stringify(s.topic)},"partition":${s.partition | 0},"offset":${JSON.stringify(s.offset)}}`;
}

/** Forecast prediction JSON. */
export function encodeForecast(p: {
  sensorId: string;
  ts: RawTs;
  model: string;
  modelVersion: string;
  forecast: ArrayLike<number>;
  anomalyScore?: number;
  source: SourceCoordinates;
}): string {
  let forecast = '[';
  for (let i = 0; i < p.forecast.length; i++) forecast += (i === 0 ? '' : ',') + num(p.forecast[i]);
  forecast += ']';
  const score = p.anomalyScore === undefined ? '' : `,"anomalyScore":${num(p.anomalyScore)}`;
  return (
    `{"sensorId":${JSON.stringify(p.sensorId)},"ts":${p.ts},"model":${JSON.stringify(p.model)},` +
    `"modelVersion":${JSON.stringify(p.modelVersion)},"forecast":${forecast}${score},"source":${source(p.source)}}`
  );
}

/** Classification prediction JSON (scores in label order, label = argmax, first on ties). */
export function encodeClassification(p: {
  streamId: string;
  ts: RawTs;
  model: string;
  modelVersion: string;
  labels: readonly string[];
  scores: ArrayLike<number>;
  source: SourceCoordinates;
}): string {
  const label = p.labels[argmax(p.scores)] ?? '';
  let scores = '{';
  for (let i = 0; i < p.labels.length; i++) scores += `${i === 0 ? '' : ','}${JSON.stringify(p.labels[i])}:${num(p.scores[i])}`;
  scores += '}';
  return (
    `{"streamId":${JSON.stringify(p.streamId)},"ts":${p.ts},"model":${JSON.stringify(p.model)},` +
    `"modelVersion":${JSON.stringify(p.modelVersion)},"label":${JSON.stringify(label)},"scores":${scores},` +
    `"source":${source(p.source)}}`
  );
}
