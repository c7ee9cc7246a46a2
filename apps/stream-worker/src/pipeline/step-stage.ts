import type { ServingModel } from '../model/serving-model';
import type { BatchPlan } from './batch-planner';
import type { ValidEvent } from './decode-stage';
import type { PreparedKey } from './load-stage';
import type { ProcessorObserver } from './ports';
import { windowScores } from './window-scores';

/**
 * Head outputs of every applied event (row `headRow`), the final state of every slot and the
 * state after each event (per head row; empty in text mode 'window').
 */
export type StepOutput = Float32Array & { finalState: Float32Array; headStates: Float32Array };

/**
 * Stage 4, step: executes a plan across every key of the unit — boundary actions (head
 * snapshots, resets), one engine call per step over the active prefix of rows, then one head
 * call over every snapshot. `events[i]` is the event the plan calls index i.
 */
export function runPlan(
  model: ServingModel,
  plan: BatchPlan,
  prepared: ReadonlyMap<string, Pick<PreparedKey, 'row' | 'warm'>>,
  events: readonly ValidEvent[],
  observer: ProcessorObserver,
): StepOutput {
  const engine = model.engine;
  const S = engine.stateSize;
  const D = engine.inputDim;
  const n = plan.slots.length;
  const state = new Float32Array(n * S);
  const task = model.task;

  // Per-slot input sequences (warm steps first), so each step is a plain copy per row.
  const seqF: Float32Array[] = [];
  const seqT: Int32Array[] = [];
  for (const slot of plan.slots) {
    const prep = prepared.get(slot.key)!;
    state.set(prep.row ?? model.initialState, slot.slot * S);
    if (task.kind === 'forecast') {
      const seq = new Float32Array(slot.totalSteps * D);
      const row = new Float64Array(D);
      const warm = prep.warm as Float32Array[];
      for (let t = 0; t < slot.warmSteps; t++) {
        for (let j = 0; j < D; j++) row[j] = warm[t][j];
        scaleInto(row, task.mean, task.scale, seq, t * D);
      }
      for (const pe of slot.events) {
        if (pe.control) continue;
        const ev = events[pe.index];
        for (let j = 0; j < task.valueCount; j++) row[j] = ev.values![j];
        if (task.includeTimeDelta) row[task.valueCount] = pe.deltaMs / 1000;
        scaleInto(row, task.mean, task.scale, seq, pe.firstStep * D);
      }
      seqF.push(seq);
    } else {
      const seq = new Int32Array(slot.totalSteps);
      const warm = prep.warm as number[];
      const vocab = engine.vocabularySize;
      for (let t = 0; t < slot.warmSteps; t++) seq[t] = warm[t] < vocab ? warm[t] : 0;
      for (const pe of slot.events) if (!pe.control) seq.set(events[pe.index].tokens!, pe.firstStep);
      seqT.push(seq);
    }
  }

  const headState = new Float32Array(Math.max(1, plan.headCount) * S);
  const x = new Float32Array(Math.max(1, n * D));
  const ids = new Int32Array(Math.max(1, n));
  // Keras compares the float32 input against the mask value: do the same on the scaled row.
  const maskValue = task.kind === 'forecast' && task.maskValue != null ? Math.fround(task.maskValue) : null;
  const stepMask = maskValue === null ? undefined : new Uint8Array(Math.max(1, n));
  const init = model.initialState;
  for (let b = 0; b <= plan.stepCount; b++) {
    for (const a of plan.boundaries[b]) {
      if (a.kind === 'head') headState.set(state.subarray(a.slot * S, a.slot * S + S), a.row * S);
      else state.set(init, a.slot * S);
    }
    if (b === plan.stepCount) break;
    const nb = plan.stepBatch[b];
    const t0 = process.hrtime.bigint();
    if (task.kind === 'forecast') {
      for (let i = 0; i < nb; i++) x.set(seqF[i].subarray(b * D, b * D + D), i * D);
      if (stepMask) {
        for (let i = 0; i < nb; i++) {
          let live = 0;
          for (let j = 0; j < D; j++) if (x[i * D + j] !== maskValue) live = 1;
          stepMask[i] = live;
        }
      }
      engine.step(nb, x, state, stepMask);
    } else {
      for (let i = 0; i < nb; i++) ids[i] = seqT[i][b];
      engine.stepTokens(nb, ids, state);
    }
    observer.stepSeconds?.(Number(process.hrtime.bigint() - t0) / 1e9, nb);
  }
  const out = new Float32Array(Math.max(1, plan.headCount * engine.outputDim)) as StepOutput;
  engine.head(plan.headCount, headState, out);
  out.finalState = state;
  out.headStates = headState;
  return out;
}

/**
 * Steps one model's plan the way its task reads events: {@link runPlan}, or for text mode
 * 'window' the key's last maxlen tokens scored as Keras reads them (window-scores.ts). Null for
 * an empty plan.
 */
export function runGroupPlan(
  model: ServingModel,
  plan: BatchPlan,
  prepared: ReadonlyMap<string, PreparedKey>,
  events: readonly ValidEvent[],
  observer: ProcessorObserver,
): StepOutput | null {
  if (plan.slots.length === 0) return null;
  const window = model.task.kind === 'classify' ? (model.task.window ?? null) : null;
  if (!window) return runPlan(model, plan, prepared, events, observer);
  return windowScores(
    window,
    model.engine,
    plan,
    (key) => prepared.get(key)!.extras.history as number[],
    (i) => events[i].tokens!,
    (sec, n) => observer.stepSeconds?.(sec, n),
  );
}

/** (x − mean) / scale in float64, rounded once to float32 (as a float32 tensor of scaled inputs). */
function scaleInto(raw: Float64Array, mean: Float64Array, scale: Float64Array, out: Float32Array, at: number): void {
  for (let j = 0; j < raw.length; j++) out[at + j] = (raw[j] - mean[j]) / scale[j];
}
