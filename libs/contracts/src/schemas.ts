import { DLQ_REASONS } from './dlq-reason';

/**
 * JSON Schemas (draft-07) of every message of wire contract v1. They are plain JSON objects so
 * the README, tests and external tools can use them as they are; the decoders compile them once
 * at module load with ajv.
 *
 * `$id`s are URNs carrying the contract version (`...:v1`); a breaking change gets a new id.
 */
const DRAFT = 'http://json-schema.org/draft-07/schema#';

/** Largest |epoch ms| a JavaScript Date can hold (±8.64e15). */
const MAX_EPOCH_MS = 8.64e15;

/** Event time: ISO-8601 / RFC 3339 date-time with zone, or integer epoch milliseconds. */
const TS_SCHEMA = {
  description: 'Event time: ISO-8601 date-time with time zone, or epoch milliseconds (integer).',
  anyOf: [
    { type: 'string', format: 'date-time' },
    { type: 'integer', minimum: -MAX_EPOCH_MS, maximum: MAX_EPOCH_MS },
  ],
} as const;

const MODEL_NAME_SCHEMA = {
  description: 'Selects a named model where several serve a topic.',
  type: 'string',
  minLength: 1,
  maxLength: 128,
} as const;

const CONTROL_SCHEMA = {
  description:
    "A control record instead of an event: \"reset\" sets the key's state to the initial one at this offset " +
    '(in order with the key\'s events, exactly once); it carries no reading or text and produces no prediction. ' +
    'Produced by the admin API (POST /v1/models/{name}/keys/{key}/reset) with the message key = the key.',
  enum: ['reset'],
} as const;

const TEXT_CONTROL_SCHEMA = {
  description:
    CONTROL_SCHEMA.description +
    ' "label" carries the key\'s true class (field label, 0 or 1, required with it; 1 = the classifier\'s second label) at this offset: it is scored against the key\'s latest ' +
    'classification before it (live accuracy, exactly once) and changes nothing else.',
  enum: ['reset', 'label'],
} as const;

const SOURCE_SCHEMA = {
  description: 'Coordinates of the input message; the idempotency key of whatever it produced.',
  type: 'object',
  required: ['topic', 'partition', 'offset'],
  properties: {
    topic: { type: 'string', minLength: 1 },
    partition: { type: 'integer', minimum: 0 },
    offset: {
      type: 'string',
      pattern: '^(0|[1-9][0-9]{0,18})$',
      description: '64-bit offset as a decimal string.',
    },
  },
} as const;

/** `sensor.readings`, key = sensorId. Exactly one of `value` / `values`. */
export const SENSOR_READING_SCHEMA = {
  $schema: DRAFT,
  $id: 'urn:streamcell:schema:sensor-reading:v1',
  title: 'SensorReading',
  description:
    'One reading of one sensor (exactly one of value, values, control). The Kafka message key is the sensorId (UTF-8, at most 256 bytes).',
  type: 'object',
  required: ['sensorId', 'ts'],
  properties: {
    sensorId: { type: 'string', minLength: 1, description: 'Must equal the message key.' },
    ts: TS_SCHEMA,
    value: { type: 'number', description: 'A single feature.' },
    values: {
      type: 'array',
      minItems: 1,
      maxItems: 4096,
      items: { type: 'number' },
      description: 'Several features, in the order the model expects.',
    },
    reset: { type: 'boolean', description: "true starts the key's sequence afresh (state from zeros)." },
    model: MODEL_NAME_SCHEMA,
    control: CONTROL_SCHEMA,
  },
  oneOf: [{ required: ['value'] }, { required: ['values'] }, { required: ['control'] }],
} as const;

/** `text.events`, key = streamId. */
export const TEXT_EVENT_SCHEMA = {
  $schema: DRAFT,
  $id: 'urn:streamcell:schema:text-event:v1',
  title: 'TextEvent',
  description:
    'One message of a text stream (exactly one of text, control). The Kafka message key is the streamId (UTF-8, at most 256 bytes).',
  type: 'object',
  required: ['streamId', 'ts'],
  properties: {
    streamId: { type: 'string', minLength: 1, description: 'Must equal the message key.' },
    ts: TS_SCHEMA,
    text: { type: 'string', description: 'Advances the stream by its tokens (length limit is configured).' },
    reset: { type: 'boolean', description: "true starts the key's sequence afresh (state from zeros)." },
    model: MODEL_NAME_SCHEMA,
    control: TEXT_CONTROL_SCHEMA,
  },
  oneOf: [{ required: ['text'] }, { required: ['control'] }],
} as const;

/** `predictions.forecasts`, key = sensorId. */
export const FORECAST_PREDICTION_SCHEMA = {
  $schema: DRAFT,
  $id: 'urn:streamcell:schema:forecast-prediction:v1',
  title: 'ForecastPrediction',
  description:
    'Forecast after one reading. Deterministic encoding: a replayed prediction is byte-identical, ' +
    'so consumers drop duplicates by `source`.',
  type: 'object',
  required: ['sensorId', 'ts', 'model', 'modelVersion', 'forecast', 'source'],
  properties: {
    sensorId: { type: 'string', minLength: 1 },
    ts: { ...TS_SCHEMA, description: "The input's event time, exactly as the input carried it." },
    model: { type: 'string', minLength: 1 },
    modelVersion: { type: 'string', minLength: 1 },
    forecast: {
      type: 'array',
      minItems: 1,
      items: { type: ['number', 'null'] },
      description:
        'Next value(s), de-scaled: [t+1 ... t+horizon] (x features, row-major). null = the model produced a non-finite number.',
    },
    anomalyScore: {
      type: ['number', 'null'],
      description:
        "Residual of the previous forecast against this reading, standardised; absent on a key's first step.",
    },
    source: SOURCE_SCHEMA,
  },
} as const;

/** `predictions.classifications`, key = streamId. */
export const CLASSIFICATION_PREDICTION_SCHEMA = {
  $schema: DRAFT,
  $id: 'urn:streamcell:schema:classification-prediction:v1',
  title: 'ClassificationPrediction',
  description: 'Classification of the stream so far, after one text event. Deterministic encoding.',
  type: 'object',
  required: ['streamId', 'ts', 'model', 'modelVersion', 'label', 'scores', 'source'],
  properties: {
    streamId: { type: 'string', minLength: 1 },
    ts: { ...TS_SCHEMA, description: "The input's event time, exactly as the input carried it." },
    model: { type: 'string', minLength: 1 },
    modelVersion: { type: 'string', minLength: 1 },
    label: { type: 'string', description: 'The label with the highest score (first on ties).' },
    scores: {
      type: 'object',
      additionalProperties: { type: ['number', 'null'] },
      description:
        "Score per label, in the model's label order (sigmoid: one probability per label; softmax: sums to 1).",
    },
    source: SOURCE_SCHEMA,
  },
} as const;

/** `streamcell.dlq`: a rejected input message, its original bytes and why. */
export const DLQ_ENVELOPE_SCHEMA = {
  $schema: DRAFT,
  $id: 'urn:streamcell:schema:dlq-envelope:v1',
  title: 'DlqEnvelope',
  type: 'object',
  required: ['reason', 'detail', 'source', 'key', 'value', 'at'],
  properties: {
    reason: { type: 'string', enum: [...DLQ_REASONS] },
    detail: {
      type: 'string',
      description: 'Human-readable; names the field, e.g. "/values/2 must be a finite number".',
    },
    source: SOURCE_SCHEMA,
    key: {
      type: ['string', 'null'],
      contentEncoding: 'base64',
      description: 'Original key bytes, base64; null when absent.',
    },
    value: {
      type: ['string', 'null'],
      contentEncoding: 'base64',
      description: 'Original value bytes, base64; null for a tombstone.',
    },
    at: { type: 'string', format: 'date-time', description: 'When the message was rejected.' },
    keyBytes: {
      type: 'integer',
      minimum: 0,
      description: 'Only when key is a truncated copy (first 1024 bytes): the original key length.',
    },
    keySha256: {
      type: 'string',
      pattern: '^[0-9a-f]{64}$',
      description: 'Only when key is a truncated copy: sha256 (hex) of the original key.',
    },
    valueBytes: {
      type: 'integer',
      minimum: 0,
      description: 'Only when value is a truncated copy (a prefix, so the dead letter fits the topic): the original value length.',
    },
    valueSha256: {
      type: 'string',
      pattern: '^[0-9a-f]{64}$',
      description: 'Only when value is a truncated copy: sha256 (hex) of the original value.',
    },
  },
} as const;

const SIDECAR_CHECKSUM_SCHEMA = {
  type: 'string',
  pattern: '^[0-9a-f]{64}$',
  description: 'sha256 (hex) of the streamcell.json sidecar.',
} as const;

const FILE_CHECKSUMS_SCHEMA = {
  type: 'object',
  additionalProperties: { type: 'string', pattern: '^[0-9a-f]{64}$' },
  description: 'sha256 (hex) of every artifact file, by file name.',
} as const;

/** `streamcell.models` (compacted, key = model name): a version became active. */
export const MODEL_ACTIVATED_SCHEMA = {
  $schema: DRAFT,
  $id: 'urn:streamcell:schema:model-activated:v1',
  title: 'ModelActivated',
  type: 'object',
  required: ['model', 'version', 'task', 'activatedAt', 'policy'],
  properties: {
    type: { const: 'model.activated' },
    model: { type: 'string', minLength: 1, maxLength: 128 },
    version: {
      anyOf: [
        { type: 'integer', minimum: 1 },
        { type: 'string', minLength: 1, maxLength: 64 },
      ],
      description: 'The activated version (registry versions are integers from 1).',
    },
    previousVersion: { anyOf: [{ type: 'integer', minimum: 1 }, { type: 'string' }, { type: 'null' }] },
    task: { enum: ['forecast', 'classify'] },
    checksum: SIDECAR_CHECKSUM_SCHEMA,
    files: FILE_CHECKSUMS_SCHEMA,
    activatedAt: { type: 'string', format: 'date-time' },
    policy: {
      enum: ['reset', 'rewarm', 'keep', 'warm'],
      description:
        "What workers do with keys whose state came from an older version ('warm': take the state the version computed in shadow).",
    },
    rewarmSteps: { type: 'integer', minimum: 0, description: 'rewarm: how many stored inputs to replay.' },
    epoch: { type: 'integer', minimum: 0, description: 'Increments on every activation of the model.' },
  },
} as const;

/** `streamcell.models` (compacted, key = `<model>#shadow`): the model's shadow version changed. */
export const MODEL_SHADOW_SCHEMA = {
  $schema: DRAFT,
  $id: 'urn:streamcell:schema:model-shadow:v1',
  title: 'ModelShadow',
  type: 'object',
  required: ['type', 'model', 'version', 'at', 'epoch'],
  properties: {
    type: { const: 'model.shadow' },
    model: { type: 'string', minLength: 1, maxLength: 128 },
    version: {
      anyOf: [{ type: 'integer', minimum: 1 }, { type: 'null' }],
      description: 'The version stepped in shadow; null: the model has no shadow any more.',
    },
    task: { enum: ['forecast', 'classify'] },
    checksum: SIDECAR_CHECKSUM_SCHEMA,
    files: FILE_CHECKSUMS_SCHEMA,
    at: { type: 'string', format: 'date-time' },
    epoch: { type: 'integer', minimum: 0, description: "Increments on every change of the model's shadow." },
  },
} as const;

/** All schemas of wire contract v1 by `$id`. */
export const CONTRACT_SCHEMAS = [
  SENSOR_READING_SCHEMA,
  TEXT_EVENT_SCHEMA,
  FORECAST_PREDICTION_SCHEMA,
  CLASSIFICATION_PREDICTION_SCHEMA,
  DLQ_ENVELOPE_SCHEMA,
  MODEL_ACTIVATED_SCHEMA,
  MODEL_SHADOW_SCHEMA,
] as const;
