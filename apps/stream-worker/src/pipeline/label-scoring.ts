import { labelQuanta, type ScoredReading } from '@app/state';
import type { ClassifyExtras } from './task-extras';

/**
 * Live accuracy of classifiers (docs/accuracy.md). A label `y ∈ {0, 1}` of a key is scored
 * against the key's latest classification before it in the key's stream: the positive-class
 * probability the extras keep (task-extras.ts `lastScore`), so the same label at the same
 * position gets the same score in every unit and every replay. A label before the key's first
 * classification, or for a classifier of more than two labels, is not scored.
 *
 * The result is one {@link ScoredReading} of a `label` accuracy update (libs/state accuracy.ts):
 * n = 1, sumErr = log loss, sumAbs = right at 0.5 (one unit), sumSq = Brier score, in quanta.
 */
export function scoreLabel(cx: ClassifyExtras, label: 0 | 1, offset: bigint): ScoredReading | null {
  if (cx.lastScore === null || !Number.isFinite(cx.lastScore)) return null;
  const q = labelQuanta(cx.lastScore, label);
  return { offset, n: 1, sumErr: q.logLoss, sumAbs: q.correct, sumSq: q.brier };
}
