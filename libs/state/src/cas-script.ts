/**
 * The compare-and-set rule in Lua, composed into both scripts below so there is one definition
 * of it: `u32`/`i32` read the little-endian position header, `headerless(rec)` is true for a
 * record shorter than its 16-byte header (rejected with `SHORT_RECORD` before anything is written),
 * and `cas(key, new, ttl)` writes `new` unless it is stale, returning 1 (written) or 0 (skipped).
 *
 * The rule, on the (partition, offset) stored at bytes 4..15 of both records (i32 LE, i64 LE):
 * - nothing stored, or the stored record has no position (partition -1): write;
 * - same partition: write only if the new offset is strictly greater;
 * - different partition: write. Offsets of different partitions are not comparable; a key only
 *   changes partition when the topic is repartitioned, and then the newest writer wins.
 * A write sets the idle TTL in ms when `ttl` is a number above 0, otherwise no expiry.
 *
 * Bytes are decoded with string.byte, so the script needs no Lua library; both 32-bit halves
 * are exact in Lua's doubles, so 64-bit offsets compare exactly.
 */
const CAS_RULE_LUA = `
local function u32(s, p)
  local a, b, c, d = string.byte(s, p, p + 3)
  return a + b * 256 + c * 65536 + d * 16777216
end
local function i32(s, p)
  local n = u32(s, p)
  if n >= 2147483648 then n = n - 4294967296 end
  return n
end
local SHORT_RECORD = 'ERR streamcell state record shorter than its position header'
local function headerless(rec)
  return string.len(rec) < 16
end
local function cas(key, new, ttl)
  local cur = redis.call('GETRANGE', key, 0, 15)
  if string.len(cur) >= 16 then
    local cp = i32(cur, 5)
    if cp >= 0 and cp == i32(new, 5) then
      local chi, nhi = i32(cur, 13), i32(new, 13)
      if chi > nhi or (chi == nhi and u32(cur, 9) >= u32(new, 9)) then
        return 0
      end
    end
  end
  if ttl and ttl > 0 then
    redis.call('SET', key, new, 'PX', ttl)
  else
    redis.call('SET', key, new)
  end
  return 1
end
`;

/**
 * Compare-and-set write of one state record, run server-side (EVALSHA via ioredis
 * `defineCommand`, so the script body is sent once per connection).
 *
 * KEYS[1] the state key; ARGV[1] the new encoded record; ARGV[2] idle TTL in ms (0 = none).
 * Returns 1 when written, 0 when skipped as stale; the rule is that of `CAS_RULE_LUA` above.
 */
export const CAS_SET_LUA = `${CAS_RULE_LUA}
local new = ARGV[1]
if headerless(new) then
  return redis.error_reply(SHORT_RECORD)
end
return cas(KEYS[1], new, tonumber(ARGV[2]))
`;

/** Name under which the script is registered on a client with `defineCommand`. */
export const CAS_SET_COMMAND = 'streamcellCasSet';

/**
 * The same compare-and-set over many keys in one script call (standalone Redis): KEYS[1..n],
 * ARGV[1] idle TTL in ms, ARGV[1+i] the record for KEYS[i]; returns an array of 1/0.
 * One call per chunk instead of one per key saves the per-call script overhead, which dominated
 * the write (≈ 30 µs per EVALSHA against ≈ 8 µs for the GET and SET it runs). Records are
 * checked before anything is written, so a malformed one fails the chunk without partial writes.
 * Not used on Redis Cluster, where the keys of one call must share a slot.
 */
export const CAS_SET_MANY_LUA = `${CAS_RULE_LUA}
local n = #KEYS
for i = 1, n do
  if headerless(ARGV[i + 1]) then
    return redis.error_reply(SHORT_RECORD)
  end
end
local ttl = tonumber(ARGV[1])
local out = {}
for i = 1, n do
  out[i] = cas(KEYS[i], ARGV[i + 1], ttl)
end
return out
`;

/** Name of the many-keys script on a client. */
export const CAS_SET_MANY_COMMAND = 'streamcellCasSetMany';

/** Keys per call of the many-keys script (bounds how long one call holds the server). */
export const CAS_CHUNK_KEYS = 256;

/**
 * Memory accounting of one key, as a script so Redis Cluster routes it by KEYS[1] (ioredis cannot
 * route `MEMORY USAGE` itself): returns { MEMORY USAGE … SAMPLES 0 (nil when absent), STRLEN }.
 */
export const MEMORY_USAGE_LUA = `
local usage = redis.call('MEMORY', 'USAGE', KEYS[1], 'SAMPLES', '0')
return { usage, redis.call('STRLEN', KEYS[1]) }
`;

/** Name of the memory accounting script on a client. */
export const MEMORY_USAGE_COMMAND = 'streamcellMemoryUsage';
