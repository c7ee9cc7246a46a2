/** Forecast metrics in the original (de-scaled) units over every predicted value. */
export function regressionMetrics(actual: ArrayLike<number>, predicted: ArrayLike<number>): { mae: number; rmse: number } {
  if (actual.length !== predicted.length || actual.length === 0) throw new Error('regressionMetrics: length mismatch');
  let abs = 0;
  let sq = 0;
  for (let i = 0; i < actual.length; i++) {
    const e = predicted[i] - actual[i];
    abs += Math.abs(e);
    sq += e * e;
  }
  return { mae: abs / actual.length, rmse: Math.sqrt(sq / actual.length) };
}

/**
 * Classification metrics from per-class probabilities. Accuracy; F1 of the positive class
 * (index 1) for two classes, macro F1 otherwise; log loss with probabilities clipped to 1e-7.
 */
export function classificationMetrics(
  labels: ArrayLike<number>,
  probs: readonly ArrayLike<number>[],
  numClasses: number,
): { accuracy: number; f1: number; logLoss: number } {
  const n = labels.length;
  if (n === 0 || probs.length !== n) throw new Error('classificationMetrics: length mismatch');
  let correct = 0;
  let ll = 0;
  const tp = new Float64Array(numClasses);
  const fp = new Float64Array(numClasses);
  const fn = new Float64Array(numClasses);
  for (let i = 0; i < n; i++) {
    const p = probs[i];
    let arg = 0;
    for (let k = 1; k < numClasses; k++) if (p[k] > p[arg]) arg = k;
    const y = labels[i];
    if (arg === y) {
      correct++;
      tp[y]++;
    } else {
      fp[arg]++;
      fn[y]++;
    }
    ll -= Math.log(Math.min(1 - 1e-7, Math.max(1e-7, p[y])));
  }
  const f1Of = (k: number) => {
    const denom = 2 * tp[k] + fp[k] + fn[k];
    return denom === 0 ? 0 : (2 * tp[k]) / denom;
  };
  let f1: number;
  if (numClasses === 2) f1 = f1Of(1);
  else {
    f1 = 0;
    for (let k = 0; k < numClasses; k++) f1 += f1Of(k);
    f1 /= numClasses;
  }
  return { accuracy: correct / n, f1, logLoss: ll / n };
}

/** True when `candidate` beats `baseline` on the task's primary metric (lower RMSE; higher accuracy, then lower log loss). */
export function isBetter(
  task: 'forecast' | 'classify',
  candidate: Readonly<Record<string, number>>,
  baseline: Readonly<Record<string, number>>,
): boolean {
  if (task === 'forecast') return candidate.rmse < baseline.rmse;
  if (candidate.accuracy !== baseline.accuracy) return candidate.accuracy > baseline.accuracy;
  return candidate.logLoss < baseline.logLoss;
}
