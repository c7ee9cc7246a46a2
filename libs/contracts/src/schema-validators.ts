import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import {
  CLASSIFICATION_PREDICTION_SCHEMA,
  DLQ_ENVELOPE_SCHEMA,
  FORECAST_PREDICTION_SCHEMA,
  MODEL_ACTIVATED_SCHEMA,
  MODEL_SHADOW_SCHEMA,
  SENSOR_READING_SCHEMA,
  TEXT_EVENT_SCHEMA,
} from './schemas';

// One ajv instance, every schema compiled once at module load: the hot path only calls the
// generated functions. allErrors stays off so a bad message costs one failed check; verbose
// (schemas attached to errors, on failure only) lets a oneOf verdict name its alternatives.
const ajv = new Ajv({ allErrors: false, strict: true, strictRequired: false, verbose: true });
addFormats(ajv, ['date-time']);

/** Compiled validators of every v1 schema (ajv, compiled once at module load). */
export const validators = {
  sensorReading: ajv.compile(SENSOR_READING_SCHEMA),
  textEvent: ajv.compile(TEXT_EVENT_SCHEMA),
  forecastPrediction: ajv.compile(FORECAST_PREDICTION_SCHEMA),
  classificationPrediction: ajv.compile(CLASSIFICATION_PREDICTION_SCHEMA),
  dlqEnvelope: ajv.compile(DLQ_ENVELOPE_SCHEMA),
  modelActivated: ajv.compile(MODEL_ACTIVATED_SCHEMA),
  modelShadow: ajv.compile(MODEL_SHADOW_SCHEMA),
} satisfies Record<string, ValidateFunction>;

/** Names of the compiled validators. */
export type MessageKind = keyof typeof validators;

/**
 * Validates `data` against the v1 schema of `kind`; returns null when valid, otherwise a
 * one-line description naming the field (JSON pointer), e.g. `/ts must be ...`.
 */
export function validateMessage(kind: MessageKind, data: unknown): string | null {
  const validate = validators[kind];
  return validate(data) ? null : describeErrors(validate.errors);
}

/** Turns ajv errors into one line that names the offending field. */
export function describeErrors(errors: ErrorObject[] | null | undefined): string {
  if (!errors || errors.length === 0) return 'does not match the schema';
  // Errors raised inside a branch of a oneOf/anyOf are noise next to the combinator's own verdict.
  const e = errors.find((x) => !/\/(oneOf|anyOf)\/\d+\//.test(x.schemaPath)) ?? errors[0];
  const path = e.instancePath || '/';
  if (e.keyword === 'oneOf' && e.instancePath === '' && e.schemaPath === '#/oneOf') {
    const branches = (e.schema ?? []) as { required?: string[] }[];
    const names = branches.flatMap((b) => b.required ?? []).map((n) => `/${n}`);
    return `exactly one of ${names.length > 0 ? names.join(', ') : 'the alternatives'} is required`;
  }
  if (e.keyword === 'anyOf' && e.instancePath === '/ts') {
    return '/ts must be an ISO-8601 date-time with time zone or integer epoch milliseconds';
  }
  if (e.keyword === 'required')
    return `${path} must have required property '${String(e.params.missingProperty)}'`;
  if (e.keyword === 'enum') return `${path} must be one of ${JSON.stringify(e.params.allowedValues)}`;
  return `${path} ${e.message ?? 'is invalid'}`;
}
