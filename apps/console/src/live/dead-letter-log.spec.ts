import type { DlqEnvelope } from '@app/contracts';
import { DeadLetterLog } from './dead-letter-log';

const env = (reason: string, at: string, value: string | null): DlqEnvelope =>
  ({ reason, detail: 'd', source: { topic: 'sensor.readings', partition: 1, offset: '7' }, key: Buffer.from('k\u202e').toString('base64'), value, at }) as unknown as DlqEnvelope;

describe('DeadLetterLog', () => {
  it('counts per reason per minute, once per DLQ position, and keeps safe views newest first', () => {
    const log = new DeadLetterLog(2);
    log.add(env('invalid_json', '2026-12-04T10:00:05Z', Buffer.from('{\u0000').toString('base64')), 0, '1');
    log.add(env('invalid_json', '2026-12-04T10:00:59Z', null), 0, '2');
    expect(log.add(env('invalid_json', '2026-12-04T10:00:59Z', null), 0, '2')).toBeNull();
    log.add(env('non_finite', '2026-12-04T10:01:00Z', Buffer.from('{}').toString('base64')), 0, '3');
    expect(log.counts()).toEqual({
      bucketMs: 60_000,
      buckets: [
        { at: Date.parse('2026-12-04T10:00:00Z'), byReason: { invalid_json: 2 } },
        { at: Date.parse('2026-12-04T10:01:00Z'), byReason: { non_finite: 1 } },
      ],
      totals: { invalid_json: 2, non_finite: 1 },
    });
    const recent = log.recent();
    expect(recent.map((r) => [r.reason, r.dlq.offset, r.preview, r.key])).toEqual([
      ['non_finite', '3', '{}', 'k\\u202e'],
      ['invalid_json', '2', null, 'k\\u202e'],
    ]);
  });
});
