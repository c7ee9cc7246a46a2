/**
 * Model registry: versions, artifact files (sha256-checked), active pointer in Redis;
 * activation events on the compacted models topic through a publisher interface.
 */
/** The registry core (framework-free). */
export { ModelRegistry, type ModelRegistryOptions } from './model-registry';
/** Stored metadata, pointer and summary types. */
export type {
  ActivePointer,
  DataRange,
  ModelDetails,
  ModelSummary,
  ModelTask,
  ModelVersionMeta,
  NewVersionMeta,
  StoredFileInfo,
  ShadowPointer,
  SwapPolicy,
} from './registry.types';
/** Activation events and where they go. */
export {
  InMemoryModelEventPublisher,
  KafkaModelEventPublisher,
  type ModelActivatedEvent,
  type ModelEventPublisher,
  type ModelShadowEvent,
  type ProducerLike,
} from './model-event-publisher';
/** Per-model control policy and action log. */
export { PolicyStore, type PolicyChange, type PolicyStoreOptions } from './policy-store';
export type {
  AutoPromotePolicy,
  DriftPolicy,
  DriftRetrainSettings,
  ModelPolicy,
  ModelPolicySpec,
  NewPolicyAction,
  PolicyAction,
  PolicyActionKind,
} from './policy.types';
/** Errors with stable codes. */
export {
  ChecksumMismatchError,
  InvalidArtifactError,
  ModelNotFoundError,
  RegistryConflictError,
  RegistryError,
} from './registry-errors';
/** Model-name rules and the Redis key layout. */
export { RegistryKeys, assertModelName, isValidModelName } from './registry-keys';
/** Artifact checks applied by createVersion. */
export { SIDECAR_FILE, verifyArtifact, verifyArtifactFiles } from './artifact-check';
/** sha256 helper used for artifact files. */
export { sha256Hex } from './checksum';
/** Nest module exporting ModelRegistry. */
export { RegistryModule, type RegistryModuleAsyncOptions, type RegistryModuleConfig } from './registry.module';
