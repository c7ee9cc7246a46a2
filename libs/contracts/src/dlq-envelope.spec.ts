import { createHash } from 'node:crypto';
import {
  buildDeadLetter,
  buildDlqRecord,
  DEFAULT_MAX_DLQ_BYTES,
  DLQ_DETAIL_CHARS,
  DLQ_KEY_COPY_BYTES,
  MIN_DLQ_BYTES,
  parseDlqRecord,
} from './dlq-envelope';
import { DLQ_REASONS } from './dlq-reason';
import { validateMessage } from './schema-validators';

describe('buildDlqRecord', () => {
  it('carries reason, detail, source and the original bytes in base64', () => {
    const value = Buffer.from([0x7b, 0xff, 0x00, 0x22]);
    const json = buildDlqRecord({
      reason: 'invalid_json',
      detail: 'Unexpected token',
      source: { topic: 'sensor.readings', partition: 2, offset: '17' },
      key: Buffer.from('pump-🚰', 'utf8'),
      value,
      at: Date.UTC(2026, 10, 27, 10, 0, 0),
    });
    const env = parseDlqRecord(json);
    expect(env).toEqual({
      reason: 'invalid_json',
      detail: 'Unexpected token',
      source: { topic: 'sensor.readings', partition: 2, offset: '17' },
      key: Buffer.from('pump-🚰').toString('base64'),
      value: value.toString('base64'),
      at: '2026-11-27T10:00:00.000Z',
    });
    expect(Buffer.from(env.value!, 'base64').equals(value)).toBe(true);
    expect(validateMessage('dlqEnvelope', env)).toBeNull();
  });

  it('accepts null key and value, and every reason validates', () => {
    for (const reason of DLQ_REASONS) {
      const env = JSON.parse(
        buildDlqRecord({
          reason,
          detail: 'd',
          source: { topic: 't', partition: 0, offset: '0' },
          key: null,
          value: null,
          at: new Date(0),
        }),
      );
      expect(env.key).toBeNull();
      expect(env.value).toBeNull();
      expect(validateMessage('dlqEnvelope', env)).toBeNull();
    }
  });
});

describe('buildDeadLetter: a dead letter always fits the topic', () => {
  const source = { topic: 'sensor.readings', partition: 4, offset: '9007199254740993' };
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

  it.each([0.75e6, 1_000_000, 1024 * 1024 - 1])('cuts a %d-byte value to a prefix with its length and sha256', (n) => {
    const value = Buffer.alloc(n, 0x41);
    value.write('{"sensorId":"p","ts":1,"value":1,"pad":"', 0);
    const key = Buffer.from('pump-7');
    const dl = buildDeadLetter({ reason: 'payload_too_large', detail: 'too big', source, key, value, at: 0 });
    const bytes = Buffer.byteLength(dl.value) + (dl.key?.length ?? 0);
    expect(bytes).toBeLessThanOrEqual(DEFAULT_MAX_DLQ_BYTES);
    expect(bytes).toBeGreaterThan(DEFAULT_MAX_DLQ_BYTES - 8);
    const env = parseDlqRecord(dl.value);
    expect(validateMessage('dlqEnvelope', env)).toBeNull();
    expect(env.valueBytes).toBe(n);
    expect(env.valueSha256).toBe(sha(value));
    const prefix = Buffer.from(env.value!, 'base64');
    expect(value.subarray(0, prefix.length).equals(prefix)).toBe(true);
    expect(env.key).toBe(key.toString('base64'));
    expect(env.keyBytes).toBeUndefined();
    expect(env.source).toEqual(source);
    expect(dl.key).toEqual(key);
  });

  it('keeps a message that fits whole, without the truncation fields', () => {
    const value = Buffer.alloc(100_000, 0x62);
    const env = parseDlqRecord(buildDlqRecord({ reason: 'payload_too_large', detail: 'd', source, key: null, value }));
    expect(env.value).toBe(value.toString('base64'));
    expect(Object.keys(env)).toEqual(['reason', 'detail', 'source', 'key', 'value', 'at']);
  });

  it('cuts a huge key (record key and envelope) and a long detail, within the smallest bound', () => {
    const key = Buffer.alloc(600_000, 0xe9);
    const value = Buffer.alloc(900_000, 0x22);
    const dl = buildDeadLetter(
      { reason: 'key_too_long', detail: 'é'.repeat(5000), source, key, value, at: 0 },
      MIN_DLQ_BYTES,
    );
    expect(Buffer.byteLength(dl.value) + dl.key!.length).toBeLessThanOrEqual(MIN_DLQ_BYTES);
    expect(dl.key!.length).toBe(DLQ_KEY_COPY_BYTES);
    const env = parseDlqRecord(dl.value);
    expect(validateMessage('dlqEnvelope', env)).toBeNull();
    expect(env.keyBytes).toBe(600_000);
    expect(env.keySha256).toBe(sha(key));
    expect(env.valueBytes).toBe(900_000);
    expect(env.detail.length).toBe(DLQ_DETAIL_CHARS);
    expect(Buffer.from(env.value!, 'base64').length).toBeGreaterThan(0);
  });
});
