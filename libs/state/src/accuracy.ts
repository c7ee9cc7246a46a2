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
  /** The model whose accumulator it is, when the write is of another state namespace (a shadow's). */
  readonly model?: string;
  readonly partitions: readonly AccuracyPartition[];
  /**
   * `forecast` (default): readings scored against pending forecasts. `label`: labels scored
   * against the key's classification ({@link labelQuanta}), kept in the hash's `c:` fields; each
   * label is one {@link ScoredReading} with n = 1, sumErr = log loss, sumAbs = 1 when right at
   * 0.5, sumSq = Brier score (quanta).
   */
  readonly kind?: 'forecast' | 'label';
}

/** Smallest probability a log loss takes (so a confident miss costs −ln ε ≈ 34.5, not ∞). */
export const LOG_LOSS_EPSILON = 1e-15;

/**
 * Quanta of one label y ∈ {0, 1} scored against the positive-class probability p the key's
 * latest classification gave (docs/accuracy.md): log loss −ln(max(ε, p_y)) (p_1 = p,
 * p_0 = 1 − p, ε = {@link LOG_LOSS_EPSILON}), right at 0.5 ((p ≥ 0.5) = y, one unit), Brier (p − y)².
 * Each is rounded once to 1e-9, so label sums are exact and associative like forecast sums.
 */
export function labelQuanta(p: number, y: 0 | 1): { logLoss: bigint; correct: bigint; brier: bigint } {
  const logLoss = -Math.log(Math.max(LOG_LOSS_EPSILON, y === 1 ? p : 1 - p));
  const q = (x: number) => BigInt(Math.round(x * ACCURACY_QUANTA_PER_UNIT));
  return { logLoss: q(logLoss), correct: (p >= 0.5 ? 1 : 0) === y ? BigInt(ACCURACY_QUANTA_PER_UNIT) : 0n, brier: q((p - y) * (p - y)) };
}

/** Hash field prefix of a kind of update (forecast fields unprefixed). */
function fieldPrefix(kind: AccuracyUpdate['kind']): string {
  return kind === 'label' ? 'c:' : '';
}

/** Quanta of one error: Σerr, |err| and err² contributions (rounded once, deterministic). */
export function errorQuanta(err: number): { e: bigint; a: bigint; s: bigint } {
  const e = BigInt(Math.round(err * ACCURACY_QUANTA_PER_UNIT));
  return { e, a: e < 0n ? -e : e, s: BigInt(Math.round(err * err * ACCURACY_QUANTA_PER_UNIT)) };
}

/**
 * Fixed-width encoding of a partition's readings, two script arguments however many readings
 * (per-argument overhead dominated a one-argument-per-value layout): the offsets, zero-padded
 * to {@link OFFSET_WIDTH} digits (so they compare as strings), and the cumulative records, each
 * `n` ({@link COUNT_WIDTH} digits) then the (high, low) limbs of Σerr, Σ|err|, Σerr² (high
 * space-padded to {@link HIGH_WIDTH} with its sign, low zero-padded to {@link LOW_WIDTH}).
 */
const OFFSET_WIDTH = 20;
const COUNT_WIDTH = 15;
const HIGH_WIDTH = 17;
const LOW_WIDTH = 12;
const SUM_WIDTH = HIGH_WIDTH + LOW_WIDTH;
const RECORD_WIDTH = COUNT_WIDTH + 3 * SUM_WIDTH;

/**
 * The accumulate script. KEYS[1] the accumulator hash. ARGV[1] the prefix of the sum fields
 * ('' forecasts, 'c:' labels); ARGV[2] the number of partitions; then
 * per partition: its fence field, the number m of readings, the last reading's offset, the m
 * offsets (ascending) and the m cumulative records (n, Σerr, Σ|err|, Σerr² up to and including
 * each reading), fixed width as above. Returns per partition the readings counted (0: every one
 * was at or below the fence already). Limb arithmetic stays below 2^53, exact in Lua's doubles.
 */
export const ACCURACY_ADD_LUA = `
local BASE = ${LIMB_NUMBER}
local OW, RW, CW, SW, HW, LW = ${OFFSET_WIDTH}, ${RECORD_WIDTH}, ${COUNT_WIDTH}, ${SUM_WIDTH}, ${HIGH_WIDTH}, ${LOW_WIDTH}
local function int(x)
  return string.format('%.0f', x)
end
local key = KEYS[1]
local pre = ARGV[1]
local function add(f, dh, dl)
  local h = tonumber(redis.call('HGET', key, f .. ':h') or '0')
  local l = tonumber(redis.call('HGET', key, f .. ':l') or '0') + dl
  local c = math.floor(l / BASE)
  redis.call('HSET', key, f .. ':h', int(h + dh + c), f .. ':l', int(l - c * BASE))
end
local out = {}
local i = 3
for p = 1, tonumber(ARGV[2]) do
  local fenceField, m, lastOffset, offs, cums = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  i = i + 5
  if #offs ~= m * OW or #cums ~= m * RW then
    return redis.error_reply('ERR streamcell accuracy: malformed readings of ' .. fenceField)
  end
  local fence = redis.call('HGET', key, fenceField)
  if fence then fence = string.rep('0', OW - #fence) .. fence end
  local first = nil
  for j = 0, m - 1 do
    if not fence or string.sub(offs, j * OW + 1, j * OW + OW) > fence then
      first = j
      break
    end
  end
  if first == nil then
    out[p] = 0
  else
    local function at(j, from, width)
      return tonumber(string.sub(cums, j * RW + from + 1, j * RW + from + width))
    end
    local function d(from, width)
      local v = at(m - 1, from, width)
      if first > 0 then v = v - at(first - 1, from, width) end
      return v
    end
    redis.call('HINCRBY', key, pre .. 'n', int(d(0, CW)))
    redis.call('HINCRBY', key, pre .. 'events', m - first)
    for s, f in ipairs({ 'e', 'a', 's' }) do
      local from = CW + (s - 1) * SW
      add(pre .. f, d(from, HW), d(from + HW, LW))
    end
    redis.call('HSET', key, fenceField, lastOffset)
    out[p] = m - first
  end
end
return out
`;

/** Name of the accumulate script on a client (`defineCommand`). */
export const ACCURACY_ADD_COMMAND = 'streamcellAccuracyAdd';

/**
 * Hash field of the fence of an input partition. Forecast readings and labels of one
 * (model, version) never come from the same partition (a version is a forecaster or a
 * classifier), so one fence per partition serves both.
 */
export function fenceField(topic: string, partition: number): string {
  return `f:${topic}:${partition}`;
}

/** Fixed-width (high, low) limbs of a fixed-point integer, low in [0, 10^12). */
function limbs(x: bigint): string {
  let h = x / LIMB;
  let l = x - h * LIMB;
  if (l < 0n) {
    l += LIMB;
    h -= 1n;
  }
  const hs = h.toString();
  if (hs.length > HIGH_WIDTH) throw new RangeError(`accuracy sum ${x} exceeds the script's width`);
  return hs.padStart(HIGH_WIDTH, ' ') + l.toString().padStart(LOW_WIDTH, '0');
}

/**
 * The script's ARGV for one update (readings are sorted by offset here); `args[1]` is the number
 * of partitions with readings ('0': nothing to send).
 */
export function accuracyScriptArgs(partitions: readonly AccuracyPartition[], kind?: AccuracyUpdate['kind']): string[] {
  const live = partitions.filter((p) => p.readings.length > 0);
  const args: string[] = [fieldPrefix(kind), String(live.length)];
  for (const p of live) {
    const readings = [...p.readings].sort((a, b) => (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0));
    const offsets: string[] = [];
    const records: string[] = [];
    let n = 0;
    let e = 0n;
    let a = 0n;
    let s = 0n;
    for (const r of readings) {
      n += r.n;
      e += r.sumErr;
      a += r.sumAbs;
      s += r.sumSq;
      offsets.push(r.offset.toString().padStart(OFFSET_WIDTH, '0'));
      records.push(String(n).padStart(COUNT_WIDTH, '0') + limbs(e) + limbs(a) + limbs(s));
    }
    args.push(
      fenceField(p.topic, p.partition),
      String(readings.length),
      readings[readings.length - 1].offset.toString(),
      offsets.join(''),
      records.join(''),
    );
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
  /**
   * The cumulative sums (reading units): Σerr, Σ|err|, Σerr². Totals only grow, so the error over
   * any span of live events is the difference of two reads (drift windows, shadow comparisons).
   */
  readonly sumErr: number;
  readonly sumAbs: number;
  readonly sumSq: number;
  /** Last counted offset per input partition (`<topic>:<partition>` → offset). */
  readonly fences: Readonly<Record<string, string>>;
  /** Classifiers: labels scored against the key's classification; null when none was. */
  readonly labels: LabelTotals | null;
}

/** Live accuracy of a classifier version from labels (docs/accuracy.md). */
export interface LabelTotals {
  /** Labels scored. */
  readonly events: number;
  /** Mean log loss (natural log; the label's probability taken as at least 1e-15). */
  readonly logLoss: number;
  /** Share of labels the classification got right at a 0.5 threshold. */
  readonly accuracy: number;
  /** Mean Brier score (p − y)². */
  readonly brier: number;
  /** Σ log loss, Σ right, Σ Brier (differences of two reads give a window's figures). */
  readonly sumLogLoss: number;
  readonly correct: number;
  readonly sumBrier: number;
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
  const sumErr = sum('e');
  const sumAbs = sum('a');
  const sumSq = sum('s');
  const labelCount = Number(fields['c:n'] ?? '0');
  let labels: LabelTotals | null = null;
  if (labelCount > 0) {
    const sumLogLoss = sum('c:e');
    const correct = Math.round(sum('c:a'));
    const sumBrier = sum('c:s');
    labels = {
      events: labelCount,
      logLoss: sumLogLoss / labelCount,
      accuracy: correct / labelCount,
      brier: sumBrier / labelCount,
      sumLogLoss,
      correct,
      sumBrier,
    };
  }
  return {
    events: Number(fields.events ?? '0'),
    errors,
    mae: errors > 0 ? sumAbs / errors : null,
    rmse: errors > 0 ? Math.sqrt(sumSq / errors) : null,
    bias: errors > 0 ? sumErr / errors : null,
    sumErr,
    sumAbs,
    sumSq,
    fences,
    labels,
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
