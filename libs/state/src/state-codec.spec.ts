import {
  crc32,
  decodeStateRecord,
  encodedStateSize,
  encodeStateRecord,
  peekAppliedPosition,
  StateCodecError,
  STATE_FORMAT_VERSION,
  STATE_HEADER_BYTES,
} from './state-codec';
import { NO_OFFSET, NO_PARTITION, type StateRecord } from './state-record';

function randomFloats(n: number, seed: number): Float32Array {
  const f = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    f[i] = ((s / 2 ** 32) * 2 - 1) * 10 ** ((s % 9) - 4);
  }
  return f;
}

function sample(overrides: Partial<StateRecord> = {}): StateRecord {
  return {
    modelVersion: '12',
    partition: 7,
    offset: 9007199254740993n, // > 2^53: must survive exactly
    steps: 2 ** 40 + 3,
    lastEventTs: 1795000000123.5,
    state: randomFloats(2 * 2 * 64, 1),
    extras: randomFloats(5, 2),
    ring: { count: 3, dim: 4, rows: randomFloats(12, 3) },
    ...overrides,
  };
}

function bitsOf(f: Float32Array): number[] {
  return Array.from(new Uint32Array(f.buffer, f.byteOffset, f.length));
}

function codecError(fn: () => unknown): StateCodecError {
  try {
    fn();
  } catch (e) {
    if (e instanceof StateCodecError) return e;
    throw e;
  }
  throw new Error('expected a StateCodecError');
}

describe('state codec', () => {
  it.each([2, 1] as const)('round-trips every field bit-exactly (format %i)', (format) => {
    const r = sample();
    const buf = encodeStateRecord(r, format);
    expect(buf[0]).toBe(format);
    expect(buf.length).toBe(encodedStateSize(r, format));
    const d = decodeStateRecord(buf);
    expect(d.modelVersion).toBe(r.modelVersion);
    expect(d.partition).toBe(7);
    expect(d.offset).toBe(9007199254740993n);
    expect(d.steps).toBe(2 ** 40 + 3);
    expect(d.lastEventTs).toBe(1795000000123.5);
    expect(bitsOf(d.state)).toEqual(bitsOf(r.state));
    expect(bitsOf(d.extras)).toEqual(bitsOf(r.extras));
    expect(d.ring!.count).toBe(3);
    expect(d.ring!.dim).toBe(4);
    expect(bitsOf(d.ring!.rows)).toEqual(bitsOf(r.ring!.rows));
  });

  it('keeps special float32 values (NaN payloads, -0, subnormals, ±Infinity) bit-exact', () => {
    const special = new Float32Array(
      new Uint32Array([0x7fc00001, 0xffa00000, 0x80000000, 0x00000001, 0x7f800000, 0xff800000]).buffer,
    );
    const d = decodeStateRecord(
      encodeStateRecord(sample({ state: special, extras: new Float32Array(0), ring: null })),
    );
    expect(bitsOf(d.state)).toEqual(bitsOf(special));
  });

  it('encodes a fresh record: no position, NaN time, empty extras, no ring, Unicode version', () => {
    const r = sample({
      modelVersion: 'v2-β',
      partition: NO_PARTITION,
      offset: NO_OFFSET,
      steps: 0,
      lastEventTs: NaN,
      extras: new Float32Array(0),
      ring: null,
    });
    const d = decodeStateRecord(encodeStateRecord(r));
    expect(d).toMatchObject({ modelVersion: 'v2-β', partition: -1, offset: -1n, steps: 0, ring: null });
    expect(d.lastEventTs).toBeNaN();
    expect(d.extras.length).toBe(0);
  });

  it('encodes float32 views at any byte offset (subarrays) and returns independent arrays', () => {
    const big = randomFloats(100, 9);
    const view = big.subarray(3, 3 + 64);
    const buf = encodeStateRecord(sample({ state: view }));
    const d = decodeStateRecord(buf);
    expect(bitsOf(d.state)).toEqual(bitsOf(view));
    // decoding from an unaligned slice of a larger buffer works too
    const shifted = Buffer.concat([Buffer.from([1, 2, 3]), buf]).subarray(3);
    expect(bitsOf(decodeStateRecord(shifted).state)).toEqual(bitsOf(view));
    d.state[0] = 42;
    expect(decodeStateRecord(buf).state[0]).not.toBe(42);
  });

  it('puts partition and offset at fixed positions 4 and 8 (read by the Lua script)', () => {
    const buf = encodeStateRecord(sample());
    expect(buf.readInt32LE(4)).toBe(7);
    expect(buf.readBigInt64LE(8)).toBe(9007199254740993n);
    expect(peekAppliedPosition(buf)).toEqual({ partition: 7, offset: 9007199254740993n });
    expect(buf[0]).toBe(STATE_FORMAT_VERSION);
    expect(buf[2]).toBe(2); // model version length
    expect(buf[3]).toBe(5); // extras words
    // steps ≥ 2^32: flag bit 1 and the high word right after the header
    expect(buf[1]).toBe(0b11);
    expect(buf.readUInt32LE(STATE_HEADER_BYTES)).toBe(2 ** 8);
    expect(buf.toString('utf8', STATE_HEADER_BYTES + 4, STATE_HEADER_BYTES + 6)).toBe('12');
    const v1 = encodeStateRecord(sample(), 1);
    expect(peekAppliedPosition(v1)).toEqual(peekAppliedPosition(buf));
  });

  it('stores steps below 2^32 without the high word', () => {
    const r = sample({ steps: 0xffffffff, ring: null });
    const buf = encodeStateRecord(r);
    expect(buf[1]).toBe(0);
    expect(buf.length).toBe(encodedStateSize(r));
    expect(buf.length).toBe(encodedStateSize(sample({ steps: 2 ** 32, ring: null })) - 4);
    expect(decodeStateRecord(buf).steps).toBe(0xffffffff);
    expect(decodeStateRecord(encodeStateRecord(sample({ steps: 2 ** 32 }))).steps).toBe(2 ** 32);
  });

  it('rejects every truncation with a truncated or checksum error, never garbage', () => {
    const buf = encodeStateRecord(sample());
    for (let len = 0; len < buf.length; len++) {
      const e = codecError(() => decodeStateRecord(buf.subarray(0, len)));
      expect(['truncated', 'trailing_bytes', 'checksum']).toContain(e.code);
    }
    expect(codecError(() => decodeStateRecord(buf.subarray(0, 10))).message).toMatch(
      /shorter than the smallest record/,
    );
    expect(codecError(() => decodeStateRecord(buf.subarray(0, 200))).code).toBe('truncated');
  });

  it('detects flipped bits, trailing bytes and unknown format versions', () => {
    const buf = encodeStateRecord(sample());
    for (const pos of [5, 20, 40, 300, buf.length - 9, buf.length - 1]) {
      const bad = Buffer.from(buf);
      bad[pos] ^= 0x10;
      expect(codecError(() => decodeStateRecord(bad)).code).toBe('checksum');
    }
    const longer = Buffer.concat([buf, Buffer.alloc(4)]);
    expect(codecError(() => decodeStateRecord(longer)).code).toMatch(/trailing_bytes|truncated|checksum/);
    const v9 = Buffer.from(buf);
    v9[0] = 9;
    expect(codecError(() => decodeStateRecord(v9))).toMatchObject({ code: 'unsupported_version' });
    const hugeExtras = encodeStateRecord(sample({ state: new Float32Array(4) }));
    hugeExtras[3] = 0xff;
    expect(codecError(() => decodeStateRecord(hugeExtras)).code).toBe('truncated');
    const hugeRing = Buffer.from(buf);
    hugeRing.writeUInt16LE(0xffff, STATE_HEADER_BYTES + 4 + 2);
    expect(codecError(() => decodeStateRecord(hugeRing)).code).toBe('truncated');
    const v1 = encodeStateRecord(sample(), 1);
    const v1HugeLen = Buffer.from(v1);
    v1HugeLen.writeUInt32LE(0xffffffff, 32 + 2);
    expect(codecError(() => decodeStateRecord(v1HugeLen)).code).toBe('truncated');
    expect(codecError(() => decodeStateRecord(Buffer.concat([v1, Buffer.alloc(4)]))).code).toMatch(
      /trailing_bytes|checksum/,
    );
  });

  it('refuses records the format cannot hold', () => {
    expect(codecError(() => encodeStateRecord(sample({ partition: -2 }))).code).toBe('invalid');
    expect(codecError(() => encodeStateRecord(sample({ offset: 2n ** 63n }))).code).toBe('invalid');
    expect(codecError(() => encodeStateRecord(sample({ steps: 1.5 }))).code).toBe('invalid');
    expect(
      codecError(() => encodeStateRecord(sample({ ring: { count: 2, dim: 2, rows: new Float32Array(3) } })))
        .code,
    ).toBe('invalid');
    // format 2 keeps the version length and the extras count in one byte each
    expect(codecError(() => encodeStateRecord(sample({ modelVersion: 'v'.repeat(256) }))).code).toBe(
      'invalid',
    );
    expect(codecError(() => encodeStateRecord(sample({ extras: new Float32Array(256) }))).code).toBe(
      'invalid',
    );
    expect(
      decodeStateRecord(encodeStateRecord(sample({ modelVersion: 'v'.repeat(256) }), 1)).modelVersion,
    ).toBe('v'.repeat(256));
    expect(codecError(() => encodeStateRecord(sample(), 3 as 2)).code).toBe('invalid');
  });

  it('costs 2·H·4 bytes of h and c plus a small fixed overhead', () => {
    const H = 64;
    const r = sample({
      modelVersion: '3',
      steps: 1000,
      state: new Float32Array(2 * H),
      extras: new Float32Array(8),
      ring: null,
    });
    // header 28 + version 1 + 512 + 32 + crc 4, 12 bytes less than format 1
    expect(encodeStateRecord(r).length).toBe(28 + 1 + 2 * H * 4 + 32 + 4);
    expect(encodeStateRecord(r, 1).length).toBe(32 + 1 + 4 + 2 * H * 4 + 4 + 32 + 4);
    expect(encodedStateSize(r, 1)).toBe(encodeStateRecord(r).length + 12);
    // ≤ 634 bytes: with Redis' 6-byte sds header and NUL, the value fits jemalloc's 640-byte class
    expect(encodeStateRecord(r).length).toBeLessThanOrEqual(634);
  });

  it('reads format 1 records as the previous release wrote them', () => {
    // Bytes of the format 1 encoder (this lib before format 2) for the record below.
    const golden = {
      ring:
        '0101010003000000921000000000000011000000000000000040ff65e51e7a4237040000000000003f000080be6f12833a000000800200' +
        '00000000803f00000040020002000000a441000000000000aa410000803f7818c428',
      plain:
        '0100010003000000921000000000000011000000000000000040ff65e51e7a4237040000000000003f000080be6f12833a000000800200' +
        '00000000803f000000402bc4ab35',
    };
    const r: StateRecord = {
      modelVersion: '7',
      partition: 3,
      offset: 4242n,
      steps: 17,
      lastEventTs: 1795000000500,
      state: Float32Array.of(0.5, -0.25, 1e-3, -0),
      extras: Float32Array.of(1, 2),
      ring: { count: 2, dim: 2, rows: Float32Array.of(20.5, 0, 21.25, 1) },
    };
    for (const [name, hex] of Object.entries(golden)) {
      const buf = Buffer.from(hex, 'hex');
      const want = name === 'ring' ? r : { ...r, ring: null };
      expect(encodeStateRecord(want, 1).equals(buf)).toBe(true);
      const d = decodeStateRecord(buf);
      expect(d).toMatchObject({
        modelVersion: '7',
        partition: 3,
        offset: 4242n,
        steps: 17,
        lastEventTs: 1795000000500,
      });
      expect(bitsOf(d.state)).toEqual(bitsOf(r.state));
      expect(bitsOf(d.extras)).toEqual(bitsOf(r.extras));
      if (name === 'ring') expect(Array.from(d.ring!.rows)).toEqual([20.5, 0, 21.25, 1]);
      else expect(d.ring).toBeNull();
      // re-encoded in format 2: same content, smaller
      const v2 = encodeStateRecord(d);
      expect(v2.length).toBe(buf.length - 12);
      expect(decodeStateRecord(v2)).toEqual(d);
    }
  });

  it('crc32 matches the IEEE check value', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });
});
