import type { BatchPlan } from './batch-planner';
import type { WindowScorer } from '../model/serving-model';

/**
 * Text mode 'window': the head outputs of every planned event of a batch, one row per event in
 * head-row order. An event's row is its key's last `maxlen` tokens once the event is applied:
 * the tokens the key's record keeps (its input ring), then each applied event's tokens, started
 * afresh where the plan starts a sequence (reset flag, gap, new key or swap policy `reset`).
 * The key's recurrent state is not carried between messages in this mode, so the state written
 * back is empty (`finalState` has no floats): the record keeps only the tokens.
 *
 * @param startTokens the tokens a key's record holds (oldest first), before the batch
 * @param tokensOf an event's token ids (by its batch index)
 */
export function windowScores(
  window: WindowScorer,
  engine: { readonly outputDim: number; readonly vocabularySize: number },
  plan: BatchPlan,
  startTokens: (key: string) => readonly number[],
  tokensOf: (index: number) => Int32Array,
  observe?: (seconds: number, rows: number) => void,
): Float32Array & { finalState: Float32Array; headStates: Float32Array } {
  const { maxlen } = window;
  const vocab = engine.vocabularySize;
  const rows = plan.headCount;
  const byRow: Int32Array[] = new Array<Int32Array>(rows);
  for (const slot of plan.slots) {
    // Stored tokens from another version (swap policy rewarm or keep) may lie beyond this
    // version's Embedding: they are dropped like the out-of-vocabulary words of a message.
    let running: number[] = startTokens(slot.key).filter((t) => t > 0 && t < vocab);
    for (const pe of slot.events) {
      if (pe.start !== 'none') running = [];
      if (pe.control) continue;
      for (const t of tokensOf(pe.index)) running.push(t);
      if (running.length > maxlen) running = running.slice(running.length - maxlen);
      byRow[pe.headRow] = Int32Array.from(running);
    }
  }
  const offsets = new Int32Array(rows + 1);
  for (let r = 0; r < rows; r++) offsets[r + 1] = offsets[r] + byRow[r].length;
  const tokens = new Int32Array(offsets[rows]);
  for (let r = 0; r < rows; r++) tokens.set(byRow[r], offsets[r]);
  const out = new Float32Array(Math.max(1, rows * engine.outputDim)) as Float32Array & { finalState: Float32Array; headStates: Float32Array };
  const t0 = process.hrtime.bigint();
  window.evaluate(rows, tokens, offsets, out);
  observe?.(Number(process.hrtime.bigint() - t0) / 1e9, rows);
  // The key's state is its tokens (every score starts from a cached pad state), so there are no
  // recurrent states to keep or to check.
  out.finalState = new Float32Array(0);
  out.headStates = new Float32Array(0);
  return out;
}
