import { classificationMetrics, isBetter, regressionMetrics } from './metrics';

describe('metrics', () => {
  it('MAE and RMSE', () => {
    expect(regressionMetrics([1, 2, 3, 4], [2, 2, 3, 2])).toEqual({ mae: 0.75, rmse: Math.sqrt(5 / 4) });
  });

  it('binary accuracy, F1 of the positive class and log loss', () => {
    // tp=1 (i0), fn=1 (i1), fp=1 (i2), tn=1 (i3)
    const m = classificationMetrics(
      [1, 1, 0, 0],
      [Float32Array.of(0.2, 0.8), Float32Array.of(0.6, 0.4), Float32Array.of(0.3, 0.7), Float32Array.of(0.9, 0.1)],
      2,
    );
    expect(m.accuracy).toBe(0.5);
    expect(m.f1).toBeCloseTo(0.5, 10);
    expect(m.logLoss).toBeCloseTo(-(Math.log(0.8) + Math.log(0.4) + Math.log(0.3) + Math.log(0.9)) / 4, 6);
  });

  it('macro F1 for more than two classes', () => {
    const p = (k: number) => Float32Array.from([0, 1, 2], (i) => (i === k ? 0.8 : 0.1));
    const m = classificationMetrics([0, 1, 2, 2], [p(0), p(1), p(2), p(0)], 3);
    expect(m.accuracy).toBe(0.75);
    expect(m.f1).toBeCloseTo((2 / 3 + 1 + 2 / 3) / 3, 10);
  });

  it('compares on RMSE for forecasts and accuracy then log loss for classifiers', () => {
    expect(isBetter('forecast', { rmse: 1 }, { rmse: 2 })).toBe(true);
    expect(isBetter('forecast', { rmse: 2 }, { rmse: 2 })).toBe(false);
    expect(isBetter('classify', { accuracy: 0.9, logLoss: 0.5 }, { accuracy: 0.8, logLoss: 0.1 })).toBe(true);
    expect(isBetter('classify', { accuracy: 0.9, logLoss: 0.2 }, { accuracy: 0.9, logLoss: 0.3 })).toBe(true);
    expect(isBetter('classify', { accuracy: 0.9, logLoss: 0.3 }, { accuracy: 0.9, logLoss: 0.3 })).toBe(false);
  });
});
