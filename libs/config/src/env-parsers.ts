/**
 * Parsers for environment values. Each takes the raw string and returns the typed value or throws
 * an Error whose message says what is wrong (the caller adds the variable's name).
 */

/** `host:port[,host:port...]` → broker list. */
export function parseBrokerList(raw: string): string[] {
  const brokers = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (brokers.length === 0) throw new Error('expected host:port[,host:port...], got an empty list');
  for (const b of brokers) {
    const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?):(\d{1,5})$/.exec(b);
    if (!m) throw new Error(`"${b}" is not host:port`);
    const port = Number(m[2]);
    if (port < 1 || port > 65535) throw new Error(`"${b}": port ${port} is out of range 1-65535`);
  }
  return brokers;
}

/**
 * `redis://[user:pass@]host[:port][/db]` or `rediss://...`; a comma-separated list of such URLs
 * is accepted too (Redis Cluster seed nodes). Returns the trimmed input.
 */
export function parseRedisUrl(raw: string): string {
  const urls = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (urls.length === 0) throw new Error('expected redis://host:port, got an empty value');
  for (const u of urls) {
    let url: URL;
    try {
      url = new URL(u);
    } catch {
      throw new Error(`"${redactUrl(u)}" is not a URL (expected redis://host:port)`);
    }
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
      throw new Error(`"${redactUrl(u)}" must start with redis:// or rediss://`);
    }
    if (!url.hostname) throw new Error(`"${redactUrl(u)}" has no host`);
    if (url.port && (Number(url.port) < 1 || Number(url.port) > 65535)) {
      throw new Error(`"${redactUrl(u)}": port out of range 1-65535`);
    }
    const db = url.pathname.replace(/^\//, '');
    if (db && !/^\d+$/.test(db)) throw new Error(`"${redactUrl(u)}": database "${db}" is not a number`);
  }
  return urls.join(',');
}

/** Replaces a URL's password with `***` for messages and logs. */
export function redactUrl(raw: string): string {
  // Every URL of a comma-separated list (a Redis Cluster seed list) loses its password. A list
  // splits only at a comma followed by a scheme, and a password runs to the URL's last '@', so a
  // password with an unencoded '/', ',' or '@' is masked whole.
  return raw
    .split(/,(?=\s*[a-z][a-z0-9+.-]*:\/\/)/i)
    .map((url) => url.replace(/^(\s*[a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^]*@(?=[^@]*$)/i, '$1***@'))
    .join(',');
}

/** A TCP port, 1-65535 (0 allowed with `allowZero`, meaning "any free port"). */
export function parsePort(raw: string, allowZero = false): number {
  const n = parseStrictInt(raw);
  if (n < (allowZero ? 0 : 1) || n > 65535) throw new Error(`"${raw}" is not a port (${allowZero ? 0 : 1}-65535)`);
  return n;
}

/** An integer >= 1. */
export function parsePositiveInt(raw: string): number {
  const n = parseStrictInt(raw);
  if (n < 1) throw new Error(`"${raw}" is not a positive integer`);
  return n;
}

/** An integer in `[min, max]` (both inclusive). */
export function parseIntInRange(raw: string, min: number, max: number): number {
  const n = parseStrictInt(raw);
  if (n < min || n > max) throw new Error(`"${raw}" is not an integer in [${min}, ${max}]`);
  return n;
}

/** An integer >= 0. */
export function parseNonNegativeInt(raw: string): number {
  const n = parseStrictInt(raw);
  if (n < 0) throw new Error(`"${raw}" is not a non-negative integer`);
  return n;
}

function parseStrictInt(raw: string): number {
  const s = raw.trim();
  if (!/^[+-]?\d+$/.test(s)) throw new Error(`"${raw}" is not an integer`);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw new Error(`"${raw}" is too large`);
  return n;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A duration in milliseconds: `250ms`, `30s`, `5m`, `2h`, `7d`, combinations such as `1m30s`,
 * or a bare number of milliseconds.
 */
export function parseDurationMs(raw: string): number {
  const s = raw.trim().toLowerCase();
  if (/^\d+$/.test(s)) return Number(s);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    if (m.index !== consumed) break;
    total += Number(m[1]) * DURATION_UNITS[m[2]];
    consumed = m.index + m[0].length;
  }
  if (s.length === 0 || consumed !== s.length) {
    throw new Error(`"${raw}" is not a duration (e.g. 500ms, 30s, 5m, 1h, 1m30s or milliseconds)`);
  }
  return Math.round(total);
}

/**
 * A parser of durations (see {@link parseDurationMs}) between `minMs` and `maxMs`, inclusive; the
 * error names the bound in the unit it is written with.
 */
export function durationBetween(minMs: number, maxMs = Infinity): (raw: string) => number {
  const shown = (ms: number): string => (ms >= 1000 && ms % 1000 === 0 ? `${ms / 1000}s` : `${ms} ms`);
  return (raw: string): number => {
    const n = parseDurationMs(raw);
    if (n < minMs) throw new Error(`"${raw}" must be at least ${shown(minMs)}`);
    if (n > maxMs) throw new Error(`"${raw}" is above ${shown(maxMs)}`);
    return n;
  };
}

/** A legal Kafka topic name: 1-249 characters of [a-zA-Z0-9._-], not `.` or `..`. */
export function parseTopicName(raw: string): string {
  const t = raw.trim();
  if (t.length === 0 || t.length > 249) throw new Error(`"${raw}" is not a topic name (1-249 characters)`);
  if (t === '.' || t === '..') throw new Error(`"${raw}" is not a topic name`);
  if (!/^[a-zA-Z0-9._-]+$/.test(t)) throw new Error(`"${raw}" is not a topic name (only a-z A-Z 0-9 . _ -)`);
  return t;
}

/**
 * `true/false/1/0/yes/no/on/off` (any case). With `strict`, only `true` or `false` (any case):
 * for switches that weaken security, where a stray `1` or `on` should not flip them.
 */
export function parseBoolean(raw: string, strict = false): boolean {
  const s = raw.trim().toLowerCase();
  if (s === 'true' || (!strict && ['1', 'yes', 'on'].includes(s))) return true;
  if (s === 'false' || (!strict && ['0', 'no', 'off'].includes(s))) return false;
  throw new Error(strict ? `"${raw}" must be "true" or "false"` : `"${raw}" is not a boolean (true/false)`);
}

/** A parser accepting one of `allowed` (exact match after trimming). */
export function oneOf<T extends string>(allowed: readonly T[]): (raw: string) => T {
  return (raw: string) => {
    const s = raw.trim();
    if ((allowed as readonly string[]).includes(s)) return s as T;
    throw new Error(`"${raw}" is not one of ${allowed.join(', ')}`);
  };
}
