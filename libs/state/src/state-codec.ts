import { endianness } from 'node:os';
import * as zlib from 'node:zlib';
import type { InputRing, StateRecord } from './state-record';

/**
 * Binary state record, little-endian. Format version 2 (written):
 *
 * | bytes      | field                                                       |
 * |------------|-------------------------------------------------------------|
 * | 0          | u8 format version (2)                                       |
 * | 1          | u8 flags (bit 0: input ring present; bit 1: steps ≥ 2^32)   |
 * | 2          | u8 model version length L (UTF-8 bytes, ≤ 255)              |
 * | 3          | u8 extras length m (float32 words, ≤ 255)                   |
 * | 4..7       | i32 last applied partition (-1 none)                        |
 * | 8..15      | i64 last applied offset (-1 none)                           |
 * | 16..19     | u32 step count (low 32 bits)                                |
 * | 20..27     | f64 last event time, epoch ms (NaN none)                    |
 * | 28..       | if flag bit 1: u32 step count, high bits                    |
 * |            | L bytes model version                                       |
 * |            | if ring: u16 count, u16 dim                                 |
 * |            | n × f32 state (h, c of every layer); n from the length      |
 * |            | m × f32 extras                                              |
 * |            | if ring: count × dim × f32 rows                             |
 * | last 4     | u32 CRC-32 of everything before it                          |
 *
 * Every size is in the header or follows from the record length, so no length prefix is stored:
 * the record is 28 + L + 4·(n + m) + 4 bytes without a ring, 12 bytes less than format 1
 * (u64 steps, u16 version length, two u32 lengths). Format 1 records ({@link decodeStateRecord}
 * reads both) had a 32-byte header with u64 steps at 16..23, f64 time at 24..31, then
 * `L, u32 n, n × f32, u32 m, m × f32, [u16 count, u16 dim, rows], CRC`.
 *
 * Bytes 4..15 (partition, offset) stay at this position in every format version: the
 * compare-and-set Lua script reads them from the stored and the new record without knowing the
 * rest of the layout, so format 1 and 2 records compare correctly against each other.
 */
export const STATE_FORMAT_VERSION = 2;

/** Format versions {@link decodeStateRecord} reads (and {@link encodeStateRecord} can write). */
export type StateFormatVersion = 1 | 2;

/** Size of the fixed header of the current format (bytes before the optional fields). */
export const STATE_HEADER_BYTES = 28;
/** Byte position of the partition (i32 LE) in every record; offset (i64 LE) follows at +4. */
export const STATE_PARTITION_POS = 4;

const FLAG_RING = 1;
const FLAG_STEPS_HIGH = 2;
const V1_HEADER_BYTES = 32;
const MAX_VERSION_BYTES = [0, 0xffff, 0xff] as const;
const MAX_EXTRAS_V2 = 0xff;
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

/** Exact encoded size of a record in `format` (default: the current one), in bytes. */
export function encodedStateSize(r: StateRecord, format: StateFormatVersion = STATE_FORMAT_VERSION): number {
  const ring = r.ring;
  const ringBytes = ring ? 4 + ring.count * ring.dim * 4 : 0;
  const floats = (r.state.length + r.extras.length) * 4;
  const versionBytes = Buffer.byteLength(r.modelVersion, 'utf8');
  if (format === 1) return V1_HEADER_BYTES + versionBytes + 8 + floats + ringBytes + 4;
  const stepsHigh = r.steps >= 0x100000000 ? 4 : 0;
  return STATE_HEADER_BYTES + stepsHigh + versionBytes + floats + ringBytes + 4;
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

function validate(r: StateRecord, format: StateFormatVersion): void {
  if (format !== 1 && format !== 2) throw new StateCodecError('invalid', `format version ${String(format)}`);
  const versionBytes = Buffer.byteLength(r.modelVersion, 'utf8');
  if (versionBytes > MAX_VERSION_BYTES[format]) {
    throw new StateCodecError(
      'invalid',
      `model version is ${versionBytes} bytes (format ${format} holds ${MAX_VERSION_BYTES[format]})`,
    );
  }
  if (format === 2 && r.extras.length > MAX_EXTRAS_V2) {
    throw new StateCodecError('invalid', `${r.extras.length} extras words (format 2 holds ${MAX_EXTRAS_V2})`);
  }
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
}

/** Bytes 4..27, shared by both formats: partition, offset, low 32 bits of steps, [v1: high bits]. */
function writePosition(out: Buffer, r: StateRecord): void {
  out.writeInt32LE(r.partition, 4);
  out.writeBigInt64LE(r.offset, 8);
  out.writeUInt32LE(r.steps % 0x100000000, 16);
}

/**
 * Encodes a record into a new Buffer of exactly {@link encodedStateSize} bytes, in the current
 * format unless `format` names an older one (format 1: for a rolling upgrade whose older workers
 * read only format 1, and for tests). Float32 data is copied bit-for-bit. Throws
 * {@link StateCodecError} (`invalid`) for values the format cannot hold.
 */
export function encodeStateRecord(r: StateRecord, format: StateFormatVersion = STATE_FORMAT_VERSION): Buffer {
  validate(r, format);
  const ring = r.ring;
  const out = Buffer.allocUnsafe(encodedStateSize(r, format));
  const versionBytes = Buffer.byteLength(r.modelVersion, 'utf8');
  const stepsHigh = Math.floor(r.steps / 0x100000000);
  out[0] = format;
  writePosition(out, r);
  let pos: number;
  if (format === 1) {
    out[1] = ring ? FLAG_RING : 0;
    out.writeUInt16LE(versionBytes, 2);
    out.writeUInt32LE(stepsHigh, 20);
    out.writeDoubleLE(r.lastEventTs, 24);
    pos = V1_HEADER_BYTES + out.write(r.modelVersion, V1_HEADER_BYTES, 'utf8');
    out.writeUInt32LE(r.state.length, pos);
    pos = writeFloats(out, pos + 4, r.state);
    out.writeUInt32LE(r.extras.length, pos);
    pos = writeFloats(out, pos + 4, r.extras);
    if (ring) {
      out.writeUInt16LE(ring.count, pos);
      out.writeUInt16LE(ring.dim, pos + 2);
      pos = writeFloats(out, pos + 4, ring.rows);
    }
  } else {
    out[1] = (ring ? FLAG_RING : 0) | (stepsHigh > 0 ? FLAG_STEPS_HIGH : 0);
    out[2] = versionBytes;
    out[3] = r.extras.length;
    out.writeDoubleLE(r.lastEventTs, 20);
    pos = STATE_HEADER_BYTES;
    if (stepsHigh > 0) {
      out.writeUInt32LE(stepsHigh, pos);
      pos += 4;
    }
    pos += out.write(r.modelVersion, pos, 'utf8');
    if (ring) {
      out.writeUInt16LE(ring.count, pos);
      out.writeUInt16LE(ring.dim, pos + 2);
      pos += 4;
    }
    pos = writeFloats(out, pos, r.state);
    pos = writeFloats(out, pos, r.extras);
    if (ring) pos = writeFloats(out, pos, ring.rows);
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

/** Smallest record of each format: header, empty version, [v1: two lengths], CRC. */
const MIN_BYTES = [0, V1_HEADER_BYTES + 8 + 4, STATE_HEADER_BYTES + 4] as const;

/**
 * Decodes a record of format 1 or 2. Throws {@link StateCodecError}: `truncated` (a field runs
 * past the end, or the sizes do not add up to the length), `unsupported_version`,
 * `trailing_bytes` (format 1), or `checksum` (bytes changed).
 */
export function decodeStateRecord(buf: Buffer): StateRecord {
  const format = buf.length > 0 ? buf[0] : STATE_FORMAT_VERSION;
  if (buf.length > 0 && format !== 1 && format !== 2) {
    throw new StateCodecError('unsupported_version', `format version ${format}, this build reads 1 and 2`);
  }
  const min = MIN_BYTES[format as StateFormatVersion];
  if (buf.length < min) {
    throw new StateCodecError(
      'truncated',
      `${buf.length} bytes is shorter than the smallest record (${min})`,
    );
  }
  const flags = buf[1];
  let modelVersion: string;
  let stepsHigh: number;
  let lastEventTs: number;
  let state: Float32Array;
  let extras: Float32Array;
  let ring: InputRing | null = null;
  let pos: number;
  if (format === 1) {
    stepsHigh = buf.readUInt32LE(20);
    lastEventTs = buf.readDoubleLE(24);
    const versionBytes = buf.readUInt16LE(2);
    pos = V1_HEADER_BYTES;
    need(buf, pos, versionBytes, 'model version');
    modelVersion = buf.toString('utf8', pos, pos + versionBytes);
    pos += versionBytes;
    need(buf, pos, 4, 'state length');
    const n = buf.readUInt32LE(pos);
    need(buf, pos + 4, n * 4, 'state');
    state = readFloats(buf, pos + 4, n);
    pos += 4 + n * 4;
    need(buf, pos, 4, 'extras length');
    const m = buf.readUInt32LE(pos);
    need(buf, pos + 4, m * 4, 'extras');
    extras = readFloats(buf, pos + 4, m);
    pos += 4 + m * 4;
    if (flags & FLAG_RING) {
      need(buf, pos, 4, 'ring header');
      const count = buf.readUInt16LE(pos);
      const dim = buf.readUInt16LE(pos + 2);
      need(buf, pos + 4, count * dim * 4, 'ring rows');
      ring = { count, dim, rows: readFloats(buf, pos + 4, count * dim) };
      pos += 4 + count * dim * 4;
    }
    if (pos + 4 !== buf.length) {
      throw new StateCodecError(
        'trailing_bytes',
        `${buf.length - pos - 4} unexpected bytes after the fields`,
      );
    }
  } else {
    lastEventTs = buf.readDoubleLE(20);
    const versionBytes = buf[2];
    const m = buf[3];
    pos = STATE_HEADER_BYTES;
    stepsHigh = 0;
    if (flags & FLAG_STEPS_HIGH) {
      need(buf, pos, 4, 'steps high bits');
      stepsHigh = buf.readUInt32LE(pos);
      pos += 4;
    }
    need(buf, pos, versionBytes, 'model version');
    modelVersion = buf.toString('utf8', pos, pos + versionBytes);
    pos += versionBytes;
    let count = 0;
    let dim = 0;
    if (flags & FLAG_RING) {
      need(buf, pos, 4, 'ring header');
      count = buf.readUInt16LE(pos);
      dim = buf.readUInt16LE(pos + 2);
      pos += 4;
    }
    const stateBytes = buf.length - 4 - pos - (m + count * dim) * 4;
    if (stateBytes < 0 || stateBytes % 4 !== 0) {
      throw new StateCodecError(
        'truncated',
        `${buf.length} bytes do not hold ${m} extras words and a ${count}×${dim} ring after a whole number of state floats`,
      );
    }
    const n = stateBytes / 4;
    state = readFloats(buf, pos, n);
    extras = readFloats(buf, pos + n * 4, m);
    pos += (n + m) * 4;
    if (flags & FLAG_RING) {
      ring = { count, dim, rows: readFloats(buf, pos, count * dim) };
      pos += count * dim * 4;
    }
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
    steps: buf.readUInt32LE(16) + stepsHigh * 0x100000000,
    lastEventTs,
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
