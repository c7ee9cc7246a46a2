/**
 * Property tests (fast-check): any record round-trips bit-exactly, and random or mutated bytes
 * either decode or fail with a StateCodecError naming its reason, never another exception.
 */
import fc from 'fast-check';
import { decodeStateRecord, encodeStateRecord, StateCodecError, type StateFormatVersion } from './state-codec';
import type { StateRecord } from './state-record';

const CODES = new Set(['truncated', 'unsupported_version', 'checksum', 'trailing_bytes', 'invalid']);

const floats = (max: number) => fc.array(fc.float(), { maxLength: max }).map((a) => Float32Array.from(a));
const record: fc.Arbitrary<StateRecord> = fc
  .record({
    modelVersion: fc.string({ unit: 'grapheme', maxLength: 20 }),
    partition: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
    offset: fc.bigInt({ min: -1n, max: 2n ** 63n - 1n }),
    steps: fc.integer({ min: 0, max: 2 ** 40 }),
    lastEventTs: fc.oneof(fc.constant(Number.NaN), fc.integer({ min: -8.64e15, max: 8.64e15 })),
    state: floats(40),
    extras: floats(8),
    ring: fc.option(
      fc.record({ count: fc.integer({ min: 0, max: 4 }), dim: fc.integer({ min: 1, max: 3 }) }).chain(({ count, dim }) =>
        fc.array(fc.float(), { minLength: count * dim, maxLength: count * dim }).map((rows) => ({ count, dim, rows: Float32Array.from(rows) })),
      ),
      { nil: null },
    ),
  })
  .filter((r) => Buffer.byteLength(r.modelVersion) <= 255);

function decodeOrReason(b: Buffer): string {
  try {
    decodeStateRecord(b);
    return 'ok';
  } catch (e) {
    if (!(e instanceof StateCodecError)) throw e;
    expect(CODES.has(e.code)).toBe(true);
    expect(e.message).toMatch(/^state record \w+: \S/);
    return e.code;
  }
}

describe('state codec (property)', () => {
  it('round-trips any record bit-exactly in both formats', () => {
    fc.assert(
      fc.property(record, fc.constantFrom<StateFormatVersion>(1, 2), (r, format) => {
        const d = decodeStateRecord(encodeStateRecord(r, format));
        expect(d.modelVersion).toBe(r.modelVersion);
        expect([d.partition, d.offset, d.steps]).toEqual([r.partition, r.offset, r.steps]);
        expect(Buffer.from(d.state.buffer, d.state.byteOffset, d.state.byteLength)).toEqual(Buffer.from(r.state.buffer, r.state.byteOffset, r.state.byteLength));
      }),
      { numRuns: 300 },
    );
  });

  it('random bytes never throw anything but a StateCodecError with its reason', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (a) => {
        decodeOrReason(Buffer.from(a));
      }),
      { numRuns: 500 },
    );
  });

  it('a flipped byte of a valid record is caught (checksum or structure), never misread silently', () => {
    fc.assert(
      fc.property(record, fc.nat(), fc.integer({ min: 1, max: 255 }), (r, at, bits) => {
        const b = encodeStateRecord(r);
        b[at % b.length] ^= bits;
        expect(decodeOrReason(b)).not.toBe('ok');
      }),
      { numRuns: 300 },
    );
  });

  it('truncated and extended records are refused with a reason', () => {
    fc.assert(
      fc.property(record, fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 8 }), (r, cut, extra) => {
        const b = encodeStateRecord(r);
        expect(decodeOrReason(b.subarray(0, cut % b.length))).not.toBe('ok');
        expect(decodeOrReason(Buffer.concat([b, Buffer.from(extra)]))).not.toBe('ok');
      }),
      { numRuns: 300 },
    );
  });
});
