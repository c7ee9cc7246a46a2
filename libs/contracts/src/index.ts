/**
 * @packageDocumentation
 * Wire contract v1 of streamcell: topic names, JSON Schemas, hot-path input decoders, the DLQ
 * envelope, deterministic prediction encoders and the model-activated event. Framework-free.
 */

/** Default topic names; see {@link DEFAULT_TOPICS}. */
export { DEFAULT_TOPICS, type TopicRole, type TopicNames } from './topics';
/** DLQ reason codes; see {@link DLQ_REASONS}. */
export { DLQ_REASONS, type DlqReason } from './dlq-reason';
/** JSON Schemas (draft-07, `$id` urn:streamcell:schema:<name>:v1). */
export {
  SENSOR_READING_SCHEMA,
  TEXT_EVENT_SCHEMA,
  FORECAST_PREDICTION_SCHEMA,
  CLASSIFICATION_PREDICTION_SCHEMA,
  DLQ_ENVELOPE_SCHEMA,
  MODEL_ACTIVATED_SCHEMA,
  MODEL_SHADOW_SCHEMA,
  CONTRACT_SCHEMAS,
} from './schemas';
/** Compiled (ajv) validators of every schema and a one-line error describer. */
export { validators, validateMessage, describeErrors, type MessageKind } from './schema-validators';
/** Hot-path input decoders and the lateness rule. */
export {
  decodeSensorReading,
  decodeTextEvent,
  isLate,
  DEFAULT_MAX_PAYLOAD_BYTES,
  MAX_KEY_BYTES,
  DEFAULT_MAX_TEXT_CHARS,
  type DecodeLimits,
  type DecodeResult,
  type DecodeFailure,
  type SensorReadingEvent,
  type TextEvent,
  type InputControl,
} from './input-decoder';
/** Control records of the input topics (ordered per-key reset). */
export { encodeResetControl } from './control-record';
/** Deterministic prediction encoders and prediction types. */
export {
  encodeForecastPrediction,
  encodeClassificationPrediction,
  argmax,
  type SourceCoordinates,
  type ForecastPredictionInput,
  type ClassificationPredictionInput,
  type ForecastPrediction,
  type ClassificationPrediction,
} from './prediction-encoder';
/** DLQ envelope builder and parser. */
export {
  buildDeadLetter,
  buildDlqRecord,
  parseDlqRecord,
  DEFAULT_MAX_DLQ_BYTES,
  MIN_DLQ_BYTES,
  MAX_DLQ_BYTES,
  DLQ_KEY_COPY_BYTES,
  DLQ_DETAIL_CHARS,
  type DeadLetter,
  type DlqRecordInput,
  type DlqEnvelope,
} from './dlq-envelope';
/** Model-activated and model-shadow events. */
export {
  decodeModelActivated,
  decodeModelEvent,
  encodeModelActivated,
  encodeModelShadow,
  shadowEventKey,
  type ModelShadowEvent,
  type ModelEvent,
  type AnyModelEventDecodeResult,
  sidecarChecksum,
  type ModelActivatedEvent,
  type ModelEventDecodeResult,
  type ModelTask,
  type SwapPolicy,
} from './model-event';
