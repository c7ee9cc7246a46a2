import {
  durationBetween,
  parseBoolean,
  parseBrokerList,
  parseDurationMs,
  parseIntInRange,
  parsePort,
  parsePositiveInt,
  parseRedisUrl,
  parseTopicName,
  redactUrl,
  oneOf,
} from './env-parsers';

describe('env parsers', () => {
  it('parses broker lists and names the bad entry', () => {
    expect(parseBrokerList('kafka:9092')).toEqual(['kafka:9092']);
    expect(parseBrokerList(' a:1 , b.example:9093,[::1]:9092 ')).toEqual(['a:1', 'b.example:9093', '[::1]:9092']);
    expect(() => parseBrokerList('')).toThrow(/empty/);
    expect(() => parseBrokerList('kafka')).toThrow('"kafka" is not host:port');
    expect(() => parseBrokerList('a:1,b:70000')).toThrow(/port 70000/);
    expect(() => parseBrokerList('http://a:1')).toThrow(/not host:port/);
  });

  it('parses redis URLs, cluster seed lists, and redacts passwords in errors', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
    expect(parseRedisUrl('rediss://u:p@h:6380/2')).toBe('rediss://u:p@h:6380/2');
    expect(parseRedisUrl('redis://a:1, redis://b:2')).toBe('redis://a:1,redis://b:2');
    expect(() => parseRedisUrl('localhost:6379')).toThrow(/redis:\/\//);
    expect(() => parseRedisUrl('http://h:1')).toThrow(/must start with redis/);
    expect(() => parseRedisUrl('redis://h:1/x')).toThrow(/database "x"/);
    expect(() => parseRedisUrl('ftp://u:secret@h')).toThrow(/\*\*\*/);
    expect(redactUrl('redis://user:secret@h:1')).toBe('redis://user:***@h:1');
    expect(redactUrl('redis://h:1')).toBe('redis://h:1');
    expect(redactUrl('redis://:a@h:1, redis://:b@g:2,redis://k:3')).toBe('redis://:***@h:1, redis://:***@g:2,redis://k:3');
    // Passwords with unencoded '/', ',' or '@' are masked whole, alone and in seed lists.
    for (const pw of ['pa/ss', 'a,b', 'p@ss', 'x/y,z@w', '@/,', 'se:cret']) {
      expect(redactUrl(`redis://user:${pw}@h:1/0`)).toBe('redis://user:***@h:1/0');
      expect(redactUrl(`redis://:${pw}@h:1,redis://u:${pw}@g:2`)).toBe('redis://:***@h:1,redis://u:***@g:2');
    }
    expect(redactUrl('redis://h:1/2,rediss://h2:3')).toBe('redis://h:1/2,rediss://h2:3');
  });

  it('parses ports and positive integers strictly', () => {
    expect(parsePort('8080')).toBe(8080);
    expect(parsePort('0', true)).toBe(0);
    expect(() => parsePort('0')).toThrow(/not a port/);
    expect(() => parsePort('65536')).toThrow(/not a port/);
    expect(() => parsePort('80a')).toThrow(/not an integer/);
    expect(parsePositiveInt('12')).toBe(12);
    expect(() => parsePositiveInt('0')).toThrow(/positive/);
    expect(() => parsePositiveInt('1.5')).toThrow(/integer/);
    expect(parseIntInRange('1024', 1024, 2048)).toBe(1024);
    expect(parseIntInRange(' 2048 ', 1024, 2048)).toBe(2048);
    expect(() => parseIntInRange('2049', 1024, 2048)).toThrow('"2049" is not an integer in [1024, 2048]');
    expect(() => parseIntInRange('1e4', 1024, 2048)).toThrow(/not an integer/);
  });

  it('parses durations with units, combinations and bare milliseconds', () => {
    expect(parseDurationMs('250')).toBe(250);
    expect(parseDurationMs('250ms')).toBe(250);
    expect(parseDurationMs('30s')).toBe(30_000);
    expect(parseDurationMs('5m')).toBe(300_000);
    expect(parseDurationMs('1h')).toBe(3_600_000);
    expect(parseDurationMs('7d')).toBe(604_800_000);
    expect(parseDurationMs('1m30s')).toBe(90_000);
    expect(parseDurationMs('1.5s')).toBe(1500);
    expect(() => parseDurationMs('soon')).toThrow(/not a duration/);
    expect(() => parseDurationMs('5 minutes')).toThrow(/not a duration/);
    expect(() => parseDurationMs('')).toThrow(/not a duration/);
  });

  it('bounds durations, naming the bound', () => {
    const linger = durationBetween(0, 1000);
    expect(linger('0')).toBe(0);
    expect(linger('1s')).toBe(1000);
    expect(() => linger('1001')).toThrow('"1001" is above 1s');
    const stuck = durationBetween(1000);
    expect(stuck('1h')).toBe(3_600_000);
    expect(() => stuck('999ms')).toThrow('"999ms" must be at least 1s');
    expect(() => durationBetween(1)('0')).toThrow('"0" must be at least 1 ms');
    expect(() => durationBetween(0, 5000)('later')).toThrow(/not a duration/);
  });

  it('accepts legal topic names only', () => {
    expect(parseTopicName('sensor.readings')).toBe('sensor.readings');
    expect(parseTopicName('a_b-C.9')).toBe('a_b-C.9');
    expect(() => parseTopicName('has space')).toThrow(/only a-z/);
    expect(() => parseTopicName('..')).toThrow(/not a topic name/);
    expect(() => parseTopicName('x'.repeat(250))).toThrow(/1-249/);
  });

  it('parses booleans and enumerations', () => {
    expect(parseBoolean('TRUE')).toBe(true);
    expect(parseBoolean('0')).toBe(false);
    expect(() => parseBoolean('maybe')).toThrow(/not a boolean/);
    expect(parseBoolean(' True ', true)).toBe(true);
    expect(parseBoolean('FALSE', true)).toBe(false);
    expect(() => parseBoolean('1', true)).toThrow('"1" must be "true" or "false"');
    expect(() => parseBoolean('on', true)).toThrow(/must be "true" or "false"/);
    expect(oneOf(['a', 'b'] as const)('b')).toBe('b');
    expect(() => oneOf(['a', 'b'] as const)('c')).toThrow('"c" is not one of a, b');
  });
});
