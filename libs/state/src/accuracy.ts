import type { RedisLike } from './redis-client';
import { accuracyKey, DEFAULT_KEY_PREFIX } from './state-keys';

/**
 * The exactly-once live accuracy accumulator of a (model, version) in Redis (docs/accuracy.md).
 *
 * One hash per (model, version) holds the error sums over every scored reading, and per input
 * partition a fence: the offset of the last reading counted. A unit of work sends, per
 * partition, its scored readings in offset order with running (cumulative) sums; the script
 * adds only what readings above the stored fence contributed (last cumulative minus the one
 * before the first reading above the fence) and moves the fence to the unit's last reading. A
 * replay, a retry or a zombie writer therefore never counts a reading twice, whatever its unit
 * boundaries.
 *
 * Sums are fixed-point integers ({@link ACCURACY_QUANTA_PER_UNIT} quanta per reading unit, or
 * per squared unit for Σerr²), each stored as two exact limbs (`<f>:h` × 10^12 + `<f>:l`, the
 * low limb in [0, 10^12)), so they are associative: the totals are bit-identical however the
 * readings were split into units. Each error is rounded to the quantum once, when it is scored.
 */

/** Fixed-point quanta per reading unit (errors are rounded to 1e-9 of the reading's unit). */
export const ACCURACY_QUANTA_PER_UNIT = 1e9;
/** Base of the low limb of a stored sum. */
const LIMB = 1_000_000_000_000n;
const LIMB_NUMBER = 1e12;

/** One scored reading: its offset and the fixed-point contributions of its errors. */
export interface ScoredReading {
  readonly offset: bigint;
  /** Errors scored (forecast steps × targets that targeted this reading). */
  readonly n: number;
  /** Σ err, Σ |err|, Σ err² in quanta. */
  readonly sumErr: bigint;
  readonly sumAbs: bigint;
  readonly sumSq: bigint;
}

/** The readings of one input partition a unit scored for one (model, version). */
export interface AccuracyPartition {
  readonly topic: string;
  readonly partition: number;
  readonly readings: readonly ScoredReading[];
}

/** What a unit adds to one (model, version)'s accumulator. */
export interface AccuracyUpdate {
  readonly version: string;
  readonly partitions: readonly AccuracyPartition[];
}

/** Quanta of one error: Σerr, |err| and err² contributions (rounded once, deterministic). */
export function errorQuanta(err: number): { e: bigint; a: bigint; s: bigint } {
  const e = BigInt(Math.round(err * ACCURACY_QUANTA_PER_UNIT));
  return { e, a: e < 0n ? -e : e, s: BigInt(Math.round(err * err * ACCURACY_QUANTA_PER_UNIT)) };
}

/** Fields of a sum kept in the hash (`<name>:h`, `<name>:l`). */
const SUMS = ['e', 'a', 's'] as const;
/** Script arguments per reading: offset, n, then (high, low) of each cumulative sum. */
const ARGS_PER_READING = 2 + 2 * SUMS.length;

/**
 * The accumulate script. KEYS[1] the accumulator hash. ARGV[1] the number of partitions; then
 * per partition: its fence field, the number m of readings, and m × 8 arguments (offset, then
 * the cumulative n, Σerr, Σ|err|, Σerr² up to and including that reading, the sums as
 * (high, low) limbs), offsets ascending. Returns per partition the readings counted (0: every
 * one was at or below the fence already). Offsets compare as decimal strings (length first),
 * exact for any int64; limb arithmetic stays below 2^53, exact in Lua's doubles.
 */
export const ACCURACY_ADD_LUA = `
local BASE = ${LIMB_NUMBER}
local function above(a, fence)
  if not fence then return true end
  if #a ~= #fence then return #a > #fence end
  return a > fence
end
local function int(x)
  return string.format('%.0f', x)
end
local key = KEYS[1]
local function add(f, dh, dl)
  local h = tonumber(redis.call('HGET', key, f .. ':h') or '0')
  local l = tonumber(redis.call('HGET', key, f .. ':l') or '0') + dl
  local c = math.floor(l / BASE)
  redis.call('HSET', key, f .. ':h', int(h + dh + c), f .. ':l', int(l - c * BASE))
end
local out = {}
local i = 2
for p = 1, tonumber(ARGV[1]) do
  local fenceField, m = ARGV[i], tonumber(ARGV[i + 1])
  i = i + 2
  local fence = redis.call('HGET', key, fenceField)
  local first = nil
  for j = 0, m - 1 do
    if above(ARGV[i + j * ${ARGS_PER_READING}], fence) then
      first = j
      break
    end
  end
  if first == nil then
    out[p] = 0
  else
    local last = i + (m - 1) * ${ARGS_PER_READING}
    local prev = nil
    if first > 0 then prev = i + (first - 1) * ${ARGS_PER_READING} end
    local function d(o)
      local v = tonumber(ARGV[last + o])
      if prev then v = v - tonumber(ARGV[prev + o]) end
      return v
    end
    redis.call('HINCRBY', key, 'n', int(d(1)))
    redis.call('HINCRBY', key, 'events', m - first)
    add('e', d(2), d(3))
    add('a', d(4), d(5))
    add('s', d(6), d(7))
    redis.call('HSET', key, fenceField, ARGV[last])
    out[p] = m - first
  end
  i = i + m * ${ARGS_PER_READING}
end
return out
`;

/** Name of the accumulate script on a client (`defineCommand`). */
export const ACCURACY_ADD_COMMAND = 'streamcellAccuracyAdd';

/** Hash field of the fence of an input partition. */
export function fenceField(topic: string, partition: number): string {
  return `f:${topic}:${partition}`;
}

/** (high, low) limbs of a fixed-point integer, low in [0, 10^12). */
function limbs(x: bigint): [string, string] {
  let h = x / LIMB;
  let l = x - h * LIMB;
  if (l < 0n) {
    l += LIMB;
    h -= 1n;
  }
  return [h.toString(), l.toString()];
}

/** The script's ARGV for one update (readings are sorted by offset here). */
export function accuracyScriptArgs(partitions: readonly AccuracyPartition[]): string[] {
  const live = partitions.filter((p) => p.readings.length > 0);
  const args: string[] = [String(live.length)];
  for (const p of live) {
    const readings = [...p.readings].sort((a, b) => (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0));
    args.push(fenceField(p.topic, p.partition), String(readings.length));
    let n = 0;
    let e = 0n;
    let a = 0n;
    let s = 0n;
    for (const r of readings) {
      n += r.n;
      e += r.sumErr;
      a += r.sumAbs;
      s += r.sumSq;
      args.push(r.offset.toString(), String(n), ...limbs(e), ...limbs(a), ...limbs(s));
    }
  }
  return args;
}

/** Live accuracy totals of one (model, version). */
export interface AccuracyTotals {
  /** Readings scored (each against one or more pending forecast steps). */
  readonly events: number;
  /** Errors scored (forecast steps × targets). */
  readonly errors: number;
  /** Mean absolute error, root mean squared error and mean error (actual − forecast), in the reading's units; null before any error. */
  readonly mae: number | null;
  readonly rmse: number | null;
  readonly bias: number | null;
  /** Last counted offset per input partition (`<topic>:<partition>` → offset). */
  readonly fences: Readonly<Record<string, string>>;
}

/** Totals from the accumulator's hash fields (HGETALL); null when the hash is empty. */
export function accuracyTotalsOf(fields: Readonly<Record<string, string>>): AccuracyTotals | null {
  if (Object.keys(fields).length === 0) return null;
  const sum = (f: string): number => {
    const q = BigInt(fields[`${f}:h`] ?? '0') * LIMB + BigInt(fields[`${f}:l`] ?? '0');
    return Number(q) / ACCURACY_QUANTA_PER_UNIT;
  };
  const errors = Number(fields.n ?? '0');
  const fences: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) if (k.startsWith('f:')) fences[k.slice(2)] = v;
  return {
    events: Number(fields.events ?? '0'),
    errors,
    mae: errors > 0 ? sum('a') / errors : null,
    rmse: errors > 0 ? Math.sqrt(sum('s') / errors) : null,
    bias: errors > 0 ? sum('e') / errors : null,
    fences,
  };
}

/**
 * Reads the live accuracy of `model` version `version` (one HGETALL); null when nothing was
 * scored for it yet. `keyPrefix` is the workers' STATE_KEY_PREFIX (default `sc`).
 */
export async function readAccuracy(
  redis: RedisLike,
  model: string,
  version: string | number,
  keyPrefix: string = DEFAULT_KEY_PREFIX,
): Promise<AccuracyTotals | null> {
  return accuracyTotalsOf(await redis.hgetall(accuracyKey(model, String(version), keyPrefix)));
}
