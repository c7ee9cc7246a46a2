import { endianness } from 'node:os';
import * as zlib from 'node:zlib';
import type { InputRing, StateRecord } from './state-record';

/**
 * Binary state record, format version 1, little-endian:
 *
 * | bytes      | field                                                       |
 * |------------|-------------------------------------------------------------|
 * | 0          | u8 format version (1)                                       |
 * | 1          | u8 flags (bit 0: input ring present)                        |
 * | 2..3       | u16 model version length L (UTF-8 bytes)                    |
 * | 4..7       | i32 last applied partition (-1 none)                        |
 * | 8..15      | i64 last applied offset (-1 none)                           |
 * | 16..23     | u64 step count                                              |
 * | 24..31     | f64 last event time, epoch ms (NaN none)                    |
 * | 32..       | L bytes model version                                       |
 * |            | u32 n, n × f32 state (h, c of every layer)                  |
 * |            | u32 m, m × f32 extras                                       |
 * |            | if ring: u16 count, u16 dim, count × dim × f32 rows         |
 * | last 4     | u32 CRC-32 of everything before it                          |
 *
 * Bytes 4..15 (partition, offset) stay at this position in every future format version: the
 * compare-and-set Lua script reads them from the stored and the new record without knowing the
 * rest of the layout.
 */
export const STATE_FORMAT_VERSION = 1;

/** Size of the fixed header (bytes before the model version). */
export const STATE_HEADER_BYTES = 32;
/** Byte position of the partition (i32 LE) in every record; offset (i64 LE) follows at +4. */
export const STATE_PARTITION_POS = 4;

const FLAG_RING = 1;
const MAX_VERSION_BYTES = 0xffff;
const MAX_RING_SIDE = 0xffff;
const LITTLE_ENDIAN_HOST = endianness() === 'LE';

/** Why a buffer could not be decoded. */
export type StateCodecErrorCode =
  'truncated' | 'unsupported_version' | 'checksum' | 'trailing_bytes' | 'invalid';

/** Thrown by {@link decodeStateRecord} / {@link encodeStateRecord} with a precise reason. */
export class StateCodecError extends Error {
  constructor(
    readonly code: StateCodecErrorCode,
    message: string,
  ) {
    super(`state record ${code}: ${message}`);
    this.name = 'StateCodecError';
  }
}

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

function crc32Js(buf: Uint8Array, end: number): number {
  let c = -1;
  for (let i = 0; i < end; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

// zlib.crc32 is native from Node 20.15; older 20.x falls back to the table.
const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;

/** CRC-32 (IEEE) of `buf[0..end)`. */
export function crc32(buf: Uint8Array, end: number = buf.length): number {
  return nativeCrc32 ? nativeCrc32(buf.subarray(0, end)) >>> 0 : crc32Js(buf, end);
}

/** Exact encoded size of a record, in bytes. */
export function encodedStateSize(r: StateRecord): number {
  const ring = r.ring;
  return (
    STATE_HEADER_BYTES +
    Buffer.byteLength(r.modelVersion, 'utf8') +
    4 +
    r.state.length * 4 +
    4 +
    r.extras.length * 4 +
    (ring ? 4 + ring.count * ring.dim * 4 : 0) +
    4
  );
}

function writeFloats(out: Buffer, pos: number, f: Float32Array): number {
  if (LITTLE_ENDIAN_HOST) {
    // memcpy of the float32 bits: exact, NaN payloads included.
    out.set(new Uint8Array(f.buffer, f.byteOffset, f.byteLength), pos);
    return pos + f.byteLength;
  }
  for (let i = 0; i < f.length; i++, pos += 4) out.writeFloatLE(f[i], pos);
  return pos;
}

function readFloats(buf: Buffer, pos: number, n: number): Float32Array {
  const f = new Float32Array(n);
  if (LITTLE_ENDIAN_HOST) {
    new Uint8Array(f.buffer).set(buf.subarray(pos, pos + n * 4));
  } else {
    for (let i = 0; i < n; i++) f[i] = buf.readFloatLE(pos + i * 4);
  }
  return f;
}

/**
 * Encodes a record into a new Buffer of exactly {@link encodedStateSize} bytes. Float32 data is
 * copied bit-for-bit. Throws {@link StateCodecError} (`invalid`) for values the format cannot hold.
 */
export function encodeStateRecord(r: StateRecord): Buffer {
  const versionBytes = Buffer.byteLength(r.modelVersion, 'utf8');
  if (versionBytes > MAX_VERSION_BYTES)
    throw new StateCodecError('invalid', `model version is ${versionBytes} bytes`);
  if (!Number.isInteger(r.partition) || r.partition < -1 || r.partition > 0x7fffffff) {
    throw new StateCodecError('invalid', `partition ${r.partition}`);
  }
  if (r.offset < -1n || r.offset > 0x7fffffffffffffffn)
    throw new StateCodecError('invalid', `offset ${r.offset}`);
  if (!Number.isSafeInteger(r.steps) || r.steps < 0) throw new StateCodecError('invalid', `steps ${r.steps}`);
  const ring = r.ring;
  if (ring) {
    if (ring.count > MAX_RING_SIDE || ring.dim > MAX_RING_SIDE || ring.count < 0 || ring.dim < 0) {
      throw new StateCodecError('invalid', `ring ${ring.count}×${ring.dim} exceeds 65535×65535`);
    }
    if (ring.rows.length !== ring.count * ring.dim) {
      throw new StateCodecError(
        'invalid',
        `ring rows hold ${ring.rows.length} floats, expected ${ring.count * ring.dim}`,
      );
    }
  }
  const size = encodedStateSize(r);
  const out = Buffer.allocUnsafe(size);
  out[0] = STATE_FORMAT_VERSION;
  out[1] = ring ? FLAG_RING : 0;
  out.writeUInt16LE(versionBytes, 2);
  out.writeInt32LE(r.partition, 4);
  out.writeBigInt64LE(r.offset, 8);
  out.writeUInt32LE(r.steps % 0x100000000, 16);
  out.writeUInt32LE(Math.floor(r.steps / 0x100000000), 20);
  out.writeDoubleLE(r.lastEventTs, 24);
  let pos = STATE_HEADER_BYTES + out.write(r.modelVersion, STATE_HEADER_BYTES, 'utf8');
  out.writeUInt32LE(r.state.length, pos);
  pos = writeFloats(out, pos + 4, r.state);
  out.writeUInt32LE(r.extras.length, pos);
  pos = writeFloats(out, pos + 4, r.extras);
  if (ring) {
    out.writeUInt16LE(ring.count, pos);
    out.writeUInt16LE(ring.dim, pos + 2);
    pos = writeFloats(out, pos + 4, ring.rows);
  }
  out.writeUInt32LE(crc32(out, pos), pos);
  return out;
}

function need(buf: Buffer, pos: number, bytes: number, field: string): void {
  // The last 4 bytes are the checksum, so fields must end before them.
  if (pos + bytes > buf.length - 4) {
    throw new StateCodecError(
      'truncated',
      `${field} needs ${bytes} bytes at ${pos}, record is ${buf.length} bytes`,
    );
  }
}

/**
 * Decodes a record. Throws {@link StateCodecError}: `truncated` (a field runs past the end),
 * `unsupported_version`, `trailing_bytes`, or `checksum` (bytes changed).
 */
export function decodeStateRecord(buf: Buffer): StateRecord {
  if (buf.length < STATE_HEADER_BYTES + 4 + 4 + 4) {
    throw new StateCodecError('truncated', `${buf.length} bytes is shorter than the smallest record (44)`);
  }
  if (buf[0] !== STATE_FORMAT_VERSION) {
    throw new StateCodecError(
      'unsupported_version',
      `format version ${buf[0]}, this build reads ${STATE_FORMAT_VERSION}`,
    );
  }
  const flags = buf[1];
  const versionBytes = buf.readUInt16LE(2);
  let pos = STATE_HEADER_BYTES;
  need(buf, pos, versionBytes, 'model version');
  const modelVersion = buf.toString('utf8', pos, pos + versionBytes);
  pos += versionBytes;
  need(buf, pos, 4, 'state length');
  const n = buf.readUInt32LE(pos);
  need(buf, pos + 4, n * 4, 'state');
  const state = readFloats(buf, pos + 4, n);
  pos += 4 + n * 4;
  need(buf, pos, 4, 'extras length');
  const m = buf.readUInt32LE(pos);
  need(buf, pos + 4, m * 4, 'extras');
  const extras = readFloats(buf, pos + 4, m);
  pos += 4 + m * 4;
  let ring: InputRing | null = null;
  if (flags & FLAG_RING) {
    need(buf, pos, 4, 'ring header');
    const count = buf.readUInt16LE(pos);
    const dim = buf.readUInt16LE(pos + 2);
    need(buf, pos + 4, count * dim * 4, 'ring rows');
    ring = { count, dim, rows: readFloats(buf, pos + 4, count * dim) };
    pos += 4 + count * dim * 4;
  }
  if (pos + 4 !== buf.length) {
    throw new StateCodecError('trailing_bytes', `${buf.length - pos - 4} unexpected bytes after the fields`);
  }
  const stored = buf.readUInt32LE(pos);
  const actual = crc32(buf, pos);
  if (stored !== actual) {
    throw new StateCodecError(
      'checksum',
      `stored CRC-32 ${stored.toString(16)}, computed ${actual.toString(16)}`,
    );
  }
  return {
    modelVersion,
    partition: buf.readInt32LE(4),
    offset: buf.readBigInt64LE(8),
    steps: buf.readUInt32LE(16) + buf.readUInt32LE(20) * 0x100000000,
    lastEventTs: buf.readDoubleLE(24),
    state,
    extras,
    ring,
  };
}

/**
 * Reads only the last applied (partition, offset) of an encoded record, without decoding or
 * checking the rest (what the Lua compare-and-set does server-side).
 */
export function peekAppliedPosition(buf: Buffer): { partition: number; offset: bigint } {
  if (buf.length < 16) throw new StateCodecError('truncated', `${buf.length} bytes has no position header`);
  return { partition: buf.readInt32LE(4), offset: buf.readBigInt64LE(8) };
}
