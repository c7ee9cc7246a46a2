import { buildDlqRecord, parseDlqRecord } from './dlq-envelope';
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
