/**
 * @packageDocumentation
 * Per-key recurrent state in Redis: the binary state record codec, the Redis Cluster-ready key
 * layout, the Redis client factory, and the pipelined load / compare-and-set write adapter
 * ({@link StateStore}).
 */

/** State record type and helpers. */
export {
  NO_OFFSET,
  NO_PARTITION,
  toOffset,
  type InputRing,
  type StateRecord,
} from './state-record';
/** Binary codec. */
export {
  encodeStateRecord,
  decodeStateRecord,
  encodedStateSize,
  peekAppliedPosition,
  crc32,
  StateCodecError,
  STATE_FORMAT_VERSION,
  STATE_HEADER_BYTES,
  STATE_PARTITION_POS,
  type StateCodecErrorCode,
  type StateFormatVersion,
} from './state-codec';
/** Key layout. */
export { stateKey, accuracyKey, shadowStateModel, parseStateKey, stateKeyPattern, clusterKeySlot, DEFAULT_KEY_PREFIX } from './state-keys';
/** Redis client factory. */
export {
  createRedisClient,
  isClusterClient,
  reconnectDelay,
  type RedisClientOptions,
  type RedisLike,
} from './redis-client';
/** Compare-and-set Lua script. */
export {
  CAS_SET_LUA,
  CAS_SET_COMMAND,
  CAS_SET_MANY_LUA,
  CAS_SET_MANY_COMMAND,
  CAS_CHUNK_KEYS,
  MEMORY_USAGE_LUA,
  MEMORY_USAGE_COMMAND,
} from './cas-script';
/** The Redis state adapter. */
export {
  StateStore,
  StateStoreError,
  DEFAULT_IDLE_TTL_MS,
  type StateStoreOptions,
  type StateRef,
  type StateWrite,
  type StateRefWrite,
  type WriteOutcome,
  type StateMemoryReport,
} from './state-store';
/** Live accuracy accumulator (docs/accuracy.md). */
export {
  ACCURACY_ADD_LUA,
  ACCURACY_ADD_COMMAND,
  ACCURACY_QUANTA_PER_UNIT,
  accuracyScriptArgs,
  accuracyTotalsOf,
  errorQuanta,
  fenceField,
  labelQuanta,
  LOG_LOSS_EPSILON,
  readAccuracy,
  type LabelTotals,
  type AccuracyPartition,
  type AccuracyTotals,
  type AccuracyUpdate,
  type ScoredReading,
} from './accuracy';
