/** Where an input message came from; the idempotency key of the prediction it produced. */
export interface SourceCoordinates {
  readonly topic: string;
  readonly partition: number;
  /** 64-bit offset as a decimal string (as kafkajs reports it). */
  readonly offset: string;
}

/** Input of {@link encodeForecastPrediction}. */
export interface ForecastPredictionInput {
  readonly sensorId: string;
  /** The input event's `ts` as received (ISO-8601 string or epoch ms), echoed unchanged. */
  readonly ts: string | number;
  readonly model: string;
  readonly modelVersion: string;
  /** De-scaled forecast values (Float32Array, Float64Array or number[]). */
  readonly forecast: ArrayLike<number>;
  /** Omitted when undefined (a key's first step); non-finite numbers are encoded as null. */
  readonly anomalyScore?: number | null;
  readonly source: SourceCoordinates;
}

/** Input of {@link encodeClassificationPrediction}. */
export interface ClassificationPredictionInput {
  readonly streamId: string;
  /** The input event's `ts` as received (ISO-8601 string or epoch ms), echoed unchanged. */
  readonly ts: string | number;
  readonly model: string;
  readonly modelVersion: string;
  /** Label names in the model's order; `scores[i]` belongs to `labels[i]`. */
  readonly labels: readonly string[];
  readonly scores: ArrayLike<number>;
  /** Defaults to the label with the highest score (the first on ties). */
  readonly label?: string;
  readonly source: SourceCoordinates;
}

/** Parsed `predictions.forecasts` message. */
export interface ForecastPrediction {
  readonly sensorId: string;
  readonly ts: string | number;
  readonly model: string;
  readonly modelVersion: string;
  readonly forecast: (number | null)[];
  readonly anomalyScore?: number | null;
  readonly source: SourceCoordinates;
}

/** Parsed `predictions.classifications` message. */
export interface ClassificationPrediction {
  readonly streamId: string;
  readonly ts: string | number;
  readonly model: string;
  readonly modelVersion: string;
  readonly label: string;
  readonly scores: Record<string, number | null>;
  readonly source: SourceCoordinates;
}

// Deterministic by construction: fixed field order, JSON.stringify for strings, and ECMAScript's
// shortest round-trip number formatting (the same double always prints the same digits).
function num(x: number): string {
  return Number.isFinite(x) ? JSON.stringify(x) : 'null';
}

// Echoing the producer's own token (not a reformatted time) lets consumers join predictions to
// inputs by `ts` as well as by `source`.
function tsToken(ts: string | number): string {
  return typeof ts === 'string' ? JSON.stringify(ts) : num(ts);
}

function source(s: SourceCoordinates): string {
  return `{"topic":${JSON.stringify(s.topic)},"partition":${s.partition | 0},"offset":${JSON.stringify(s.offset)}}`;
}

/**
 * Encodes a forecast as JSON. Same input, byte-identical output: a replayed prediction equals
 * the first one, so consumers can drop duplicates by `source`.
 */
export function encodeForecastPrediction(p: ForecastPredictionInput): string {
  let forecast = '[';
  for (let i = 0; i < p.forecast.length; i++) forecast += (i === 0 ? '' : ',') + num(p.forecast[i]);
  forecast += ']';
  const score =
    p.anomalyScore === undefined
      ? ''
      : `,"anomalyScore":${p.anomalyScore === null ? 'null' : num(p.anomalyScore)}`;
  return (
    `{"sensorId":${JSON.stringify(p.sensorId)},"ts":${tsToken(p.ts)},"model":${JSON.stringify(p.model)},` +
    `"modelVersion":${JSON.stringify(p.modelVersion)},"forecast":${forecast}${score},"source":${source(p.source)}}`
  );
}

/** Index of the largest finite score (first on ties); -1 when there is none. */
export function argmax(scores: ArrayLike<number>): number {
  let best = -1;
  let bestScore = -Infinity;
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i];
    if (Number.isFinite(s) && (best === -1 || s > bestScore)) {
      best = i;
      bestScore = s;
    }
  }
  return best;
}

/**
 * Encodes a classification as JSON with `scores` in label order. Deterministic like
 * {@link encodeForecastPrediction}. Throws when labels and scores differ in length.
 */
export function encodeClassificationPrediction(p: ClassificationPredictionInput): string {
  if (p.labels.length !== p.scores.length) {
    throw new RangeError(`${p.labels.length} labels but ${p.scores.length} scores`);
  }
  const label = p.label ?? p.labels[argmax(p.scores)] ?? '';
  let scores = '{';
  for (let i = 0; i < p.labels.length; i++) {
    scores += `${i === 0 ? '' : ','}${JSON.stringify(p.labels[i])}:${num(p.scores[i])}`;
  }
  scores += '}';
  return (
    `{"streamId":${JSON.stringify(p.streamId)},"ts":${tsToken(p.ts)},"model":${JSON.stringify(p.model)},` +
    `"modelVersion":${JSON.stringify(p.modelVersion)},"label":${JSON.stringify(label)},"scores":${scores},` +
    `"source":${source(p.source)}}`
  );
}
