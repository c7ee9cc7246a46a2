/**
 * Redis key layout of per-key state, Redis Cluster-ready:
 *
 *     <prefix>:{<model>:<key>}:st
 *
 * The braces are a hash tag: Redis Cluster hashes only `<model>:<key>`, so everything kept for
 * one (model, key) pair (today the state record; any later companion key such as
 * `...}:inputs`) lands in one slot and can be touched by one Lua script, while different keys
 * spread over all slots.
 *
 * Message keys may hold any UTF-8, braces included. A `}` inside the tag would end it early and
 * a `{` would confuse readers, so both are percent-escaped (`{`→`%7B`, `}`→`%7D`, and `%`→`%25`
 * so the escaping is reversible). The model name additionally escapes `:` (`%3A`), which makes
 * the `<model>:<key>` split unambiguous: the mapping is injective and {@link parseStateKey}
 * inverts it.
 */
export const DEFAULT_KEY_PREFIX = 'sc';

const STATE_SUFFIX = ':st';

function escapeKey(s: string): string {
  return /[%{}]/.test(s) ? s.replace(/[%{}]/g, (c) => (c === '%' ? '%25' : c === '{' ? '%7B' : '%7D')) : s;
}

function escapeModel(s: string): string {
  return /[%{}:]/.test(s)
    ? s.replace(/[%{}:]/g, (c) => (c === '%' ? '%25' : c === '{' ? '%7B' : c === '}' ? '%7D' : '%3A'))
    : s;
}

function unescape(s: string): string {
  return s.replace(/%(25|7B|7D|3A)/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
}

/**
 * State namespace of a model version stepped in shadow: `<model>#v<version>` takes the model's
 * place in {@link stateKey} (`sc:{<model>#v<version>:<key>}:st`), so a shadow's records never
 * meet the active version's and keep one hash tag per (namespace, key). `#` never occurs in a
 * model name, so no model's own namespace can collide with it.
 */
export function shadowStateModel(model: string, version: number | string): string {
  return `${model}#v${version}`;
}

/** Redis key of the state record of (`model`, message `key`). */
export function stateKey(model: string, key: string, prefix: string = DEFAULT_KEY_PREFIX): string {
  return `${prefix}:{${escapeModel(model)}:${escapeKey(key)}}${STATE_SUFFIX}`;
}

/**
 * Redis key of the live accuracy accumulator of (`model`, `version`): `<prefix>:acc:{<model>}:<version>`.
 * One hash, one slot (the model name is the hash tag, so every version of a model shares it);
 * see docs/accuracy.md.
 */
export function accuracyKey(model: string, version: string, prefix: string = DEFAULT_KEY_PREFIX): string {
  return `${prefix}:acc:{${escapeModel(model)}}:${escapeKey(version)}`;
}

/** Inverse of {@link stateKey}; null when `redisKey` is not a state key under `prefix`. */
export function parseStateKey(
  redisKey: string,
  prefix: string = DEFAULT_KEY_PREFIX,
): { model: string; key: string } | null {
  const head = `${prefix}:{`;
  const tail = `}${STATE_SUFFIX}`;
  if (!redisKey.startsWith(head) || !redisKey.endsWith(tail)) return null;
  const tag = redisKey.slice(head.length, redisKey.length - tail.length);
  const colon = tag.indexOf(':');
  if (colon <= 0) return null;
  return { model: unescape(tag.slice(0, colon)), key: unescape(tag.slice(colon + 1)) };
}

/** SCAN pattern matching every state key of `model` (glob metacharacters escaped). */
export function stateKeyPattern(model: string, prefix: string = DEFAULT_KEY_PREFIX): string {
  const glob = (s: string) => s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
  return `${glob(prefix)}:\\{${glob(escapeModel(model))}:*}${STATE_SUFFIX}`;
}

const CRC16_TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let k = 0; k < 8; k++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
    t[i] = c;
  }
  return t;
})();

/**
 * Redis Cluster hash slot of a key (CRC16-XMODEM of the hash tag, or of the whole key when it
 * has no non-empty tag, modulo 16384), as `CLUSTER KEYSLOT` computes it.
 */
export function clusterKeySlot(redisKey: string): number {
  let bytes = Buffer.from(redisKey, 'utf8');
  const open = bytes.indexOf(0x7b);
  if (open >= 0) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  }
  let crc = 0;
  for (let i = 0; i < bytes.length; i++)
    crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ bytes[i]) & 0xff];
  return crc & 16383;
}
