/**
 * Keeps non-finite numbers out of every key's stored state. The engine steps in float32: a reading
 * that is finite in float64 (1e40, 1e300, ±1.79e308) overflows to ±Infinity once scaled and
 * rounded, and one non-finite step makes the state NaN for good (every later forecast of the key
 * would be null). Inputs are checked before stepping; what a step yields is checked after it,
 * so that an event whose step is non-finite is dead-lettered and its key keeps its previous state.
 */

/** A forecast model's per-feature scaling, as the processor applies it. */
export interface FeatureScaling {
  readonly mean: Float64Array;
  readonly scale: Float64Array;
}

/**
 * Why a reading cannot be stepped in float32, or null when it can: a raw value or its scaled
 * value ((x − mean) / scale, rounded to float32 as the engine sees it) is not finite. The detail
 * names the field as the DLQ contract does (`/value` for a single value, else `/values/<i>`).
 */
export function float32OverflowDetail(values: Float64Array, scaling: FeatureScaling, single: boolean): string | null {
  for (let j = 0; j < values.length; j++) {
    const v = values[j];
    const scaled = Math.fround((v - scaling.mean[j]) / scaling.scale[j]);
    if (Number.isFinite(Math.fround(v)) && Number.isFinite(scaled)) continue;
    const field = single ? '/value' : `/values/${j}`;
    return `${field} ${v} overflows float32 once scaled by the model ((x - ${scaling.mean[j]}) / ${scaling.scale[j]}); float32 holds up to ±3.4028235e38`;
  }
  return null;
}

/** True when `n` values of `a` from `at` are all finite. */
export function allFinite(a: Float32Array, at: number, n: number): boolean {
  for (let i = at; i < at + n; i++) if (!Number.isFinite(a[i])) return false;
  return true;
}

/** The slots and events of a stepped plan, as far as the check needs them. */
export interface SteppedSlot {
  readonly key: string;
  readonly events: readonly { readonly index: number; readonly headRow: number }[];
}

/**
 * The first event of each slot whose step left a non-finite state or output: the state after
 * each event (`headStates`, `stateSize` floats per head row) and its head output (`outputs`,
 * `outputDim` per head row). Later events of the same key are not reported: they are stepped
 * again once the culprit is taken out.
 */
export function firstNonFiniteEvents(
  slots: readonly SteppedSlot[],
  headStates: Float32Array,
  stateSize: number,
  outputs: Float32Array,
  outputDim: number,
): { index: number; key: string; what: 'state' | 'output' }[] {
  const bad: { index: number; key: string; what: 'state' | 'output' }[] = [];
  for (const slot of slots) {
    for (const e of slot.events) {
      if (e.headRow < 0) continue; // a control record: nothing was stepped or evaluated
      const stateOk = allFinite(headStates, e.headRow * stateSize, stateSize);
      if (stateOk && allFinite(outputs, e.headRow * outputDim, outputDim)) continue;
      bad.push({ index: e.index, key: slot.key, what: stateOk ? 'output' : 'state' });
      break;
    }
  }
  return bad;
}

/** The first event per key whose step yielded a non-finite state or output (none normally). */
export function nonFinite(
  model: { readonly engine: { readonly stateSize: number; readonly outputDim: number } },
  plan: { readonly slots: Parameters<typeof firstNonFiniteEvents>[0] },
  out: (Float32Array & { headStates: Float32Array }) | null,
): ReturnType<typeof firstNonFiniteEvents> {
  if (out === null) return [];
  // Window-mode scores carry no recurrent states (window-scores.ts): only outputs are checked.
  const stateSize = out.headStates.length === 0 ? 0 : model.engine.stateSize;
  return firstNonFiniteEvents(plan.slots, out.headStates, stateSize, out, model.engine.outputDim);
}
