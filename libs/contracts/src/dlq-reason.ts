/**
 * Every machine-readable reason a message can be dead-lettered for (docs/architecture.md, Wire contract).
 * The list is part of the contract: consumers of `streamcell.dlq` switch on these strings.
 */
export const DLQ_REASONS = [
  'invalid_json',
  'schema_violation',
  'non_finite',
  'feature_count',
  'text_too_long',
  'key_missing',
  'key_too_long',
  'key_mismatch',
  'late_event',
  'payload_too_large',
  'unknown_model',
  'model_error',
] as const;

/** One DLQ reason code. */
export type DlqReason = (typeof DLQ_REASONS)[number];
