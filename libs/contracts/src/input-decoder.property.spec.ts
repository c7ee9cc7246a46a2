/**
 * Property tests (fast-check): random and mutated inputs never throw past the decoders or the
 * dead-letter builder, and every rejection names a contract reason and a detail.
 */
import fc from 'fast-check';
import { DLQ_REASONS } from './dlq-reason';
import { buildDeadLetter, MAX_DLQ_BYTES, MIN_DLQ_BYTES, parseDlqRecord } from './dlq-envelope';
import { decodeSensorReading, decodeTextEvent, type DecodeResult } from './input-decoder';
import { validateMessage } from './schema-validators';

const REASONS = new Set<string>(DLQ_REASONS);
const RUNS = { numRuns: 400 };

function wellFormed(r: DecodeResult<unknown>): boolean {
  if (r.ok) return true;
  return REASONS.has(r.reason) && typeof r.detail === 'string' && r.detail.length > 0;
}

/** Byte-level mutations of a valid message: flips, insertions, deletions, truncation, splices. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bits: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(buf: Buffer, ms: readonly Mutation[]): Buffer {
  let b = Buffer.from(buf);
  for (const m of ms) {
    const at = b.length === 0 ? 0 : m.at % b.length;
    if (m.kind === 'flip' && b.length > 0) b[at] ^= m.bits;
    else if (m.kind === 'insert') b = Buffer.concat([b.subarray(0, at), Buffer.from(m.bytes), b.subarray(at)]);
    else if (m.kind === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.n)]);
    else if (m.kind === 'truncate') b = b.subarray(0, at);
  }
  return b;
}

const key = fc.oneof(fc.constant(null), fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)), fc.string({ unit: 'grapheme', maxLength: 40 }).map((s) => Buffer.from(s)));
const validReading = fc.record({
  sensorId: fc.string({ minLength: 1, maxLength: 30, unit: 'grapheme' }),
  ts: fc.oneof(fc.integer({ min: -8.64e15, max: 8.64e15 }), fc
      .date({ noInvalidDate: true, min: new Date('0000-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z') })
      .map((d) => d.toISOString())),
  value: fc.double({ noNaN: true, noDefaultInfinity: true }),
});
const validText = fc.record({
  streamId: fc.string({ minLength: 1, maxLength: 30, unit: 'grapheme' }),
  ts: fc.integer({ min: -8.64e15, max: 8.64e15 }),
  text: fc.string({ unit: 'grapheme', maxLength: 200 }),
});

describe('input decoders (property)', () => {
  it('never throw on random key and value bytes; rejections name a reason', () => {
    fc.assert(
      fc.property(key, fc.option(fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.from(a))), (k, v) => {
        expect(wellFormed(decodeSensorReading(k, v))).toBe(true);
        expect(wellFormed(decodeTextEvent(k, v, { maxTextChars: 50, maxPayloadBytes: 200 }))).toBe(true);
      }),
      RUNS,
    );
  });

  it('never throw on arbitrary JSON values', () => {
    fc.assert(
      fc.property(key, fc.jsonValue(), (k, j) => {
        const v = Buffer.from(JSON.stringify(j) ?? 'null');
        expect(wellFormed(decodeSensorReading(k, v, { featureCount: 2 }))).toBe(true);
        expect(wellFormed(decodeTextEvent(k, v))).toBe(true);
      }),
      RUNS,
    );
  });

  it('accept every valid reading and text event (key = id)', () => {
    fc.assert(
      fc.property(validReading, validText, (r, t) => {
        const a = decodeSensorReading(Buffer.from(r.sensorId), Buffer.from(JSON.stringify(r)));
        expect(a.ok && a.event.values[0] === r.value).toBe(true);
        const b = decodeTextEvent(Buffer.from(t.streamId), Buffer.from(JSON.stringify(t)));
        expect(b.ok ? b.event.text : b).toBe(t.text);
      }),
      RUNS,
    );
  });

  it('never throw on byte-level mutations of valid messages', () => {
    fc.assert(
      fc.property(validReading, validText, fc.array(mutation, { minLength: 1, maxLength: 4 }), (r, t, ms) => {
        const rv = mutate(Buffer.from(JSON.stringify(r)), ms);
        const tv = mutate(Buffer.from(JSON.stringify(t)), ms);
        expect(wellFormed(decodeSensorReading(mutate(Buffer.from(r.sensorId), ms.slice(0, 1)), rv))).toBe(true);
        expect(wellFormed(decodeTextEvent(Buffer.from(t.streamId), tv))).toBe(true);
      }),
      RUNS,
    );
  });
});

describe('buildDeadLetter (property)', () => {
  it('always fits its bound, validates, and keeps a prefix of the original with its length and sha256 when cut', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: MIN_DLQ_BYTES, max: MAX_DLQ_BYTES }),
        fc.integer({ min: 0, max: 1_100_000 }),
        fc.integer({ min: 0, max: 3000 }),
        fc.string({ unit: 'binary', maxLength: 2000 }),
        fc.constantFrom(...DLQ_REASONS),
        (maxBytes, valueLen, keyLen, detail, reason) => {
          const value = Buffer.alloc(valueLen, 0x5a);
          const k = keyLen === 0 ? null : Buffer.alloc(keyLen, 0xc3);
          const dl = buildDeadLetter({ reason, detail, source: { topic: 't', partition: 1, offset: '2' }, key: k, value, at: 0 }, maxBytes);
          expect(Buffer.byteLength(dl.value) + (dl.key?.length ?? 0)).toBeLessThanOrEqual(maxBytes);
          const env = parseDlqRecord(dl.value);
          expect(validateMessage('dlqEnvelope', env)).toBeNull();
          const copy = Buffer.from(env.value!, 'base64');
          if (env.valueBytes === undefined) expect(copy.equals(value)).toBe(true);
          else {
            expect(env.valueBytes).toBe(valueLen);
            expect(value.subarray(0, copy.length).equals(copy)).toBe(true);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
