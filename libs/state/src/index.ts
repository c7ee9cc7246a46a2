/**
 * @packageDocumentation
 * Per-key recurrent state in Redis: the binary state record codec, the Redis Cluster-ready key
 * layout, and (state-store.ts) the pipelined load / compare-and-set write adapter.
 */

/** State record type and helpers. */
export {
  NO_OFFSET,
  NO_PARTITION,
  toOffset,
  isAlreadyApplied,
  pushInputRow,
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
} from './state-codec';
/** Key layout. */
export { stateKey, parseStateKey, stateKeyPattern, clusterKeySlot, DEFAULT_KEY_PREFIX } from './state-keys';
