import { logLevel } from 'kafkajs';
import { kafkaLogCreator, toKafkaJsLogLevel } from './kafka-client';

describe('kafka log mapping', () => {
  it('maps level names to kafkajs levels', () => {
    expect(toKafkaJsLogLevel('nothing')).toBe(logLevel.NOTHING);
    expect(toKafkaJsLogLevel('error')).toBe(logLevel.ERROR);
    expect(toKafkaJsLogLevel('debug')).toBe(logLevel.DEBUG);
  });

  it('routes entries to the sink by level with namespace and extra fields', () => {
    const lines: string[] = [];
    const sink = {
      error: (m: string) => lines.push(`E ${m}`),
      warn: (m: string) => lines.push(`W ${m}`),
      log: (m: string) => lines.push(`I ${m}`),
    };
    const log = kafkaLogCreator(sink)(logLevel.DEBUG);
    const entry = (level: logLevel, message: string, extra: Record<string, unknown> = {}) =>
      log({ namespace: 'Connection', level, label: '', log: { message, timestamp: 'x', ...extra } });
    entry(logLevel.ERROR, 'boom', { broker: 'b:1' });
    entry(logLevel.WARN, 'careful');
    entry(logLevel.INFO, 'hello');
    entry(logLevel.DEBUG, 'detail');
    expect(lines).toEqual([
      'E [kafkajs Connection] boom {"timestamp":"x","broker":"b:1"}',
      'W [kafkajs Connection] careful {"timestamp":"x"}',
      'I [kafkajs Connection] hello {"timestamp":"x"}',
      // No debug method on the sink: debug lines go to log().
      'I [kafkajs Connection] detail {"timestamp":"x"}',
    ]);
  });
});
