import { bucketsOf, histogramQuantile, parsePrometheusText, sumOf } from './prometheus-text';

const TEXT = `# HELP streamcell_events_in_total Messages consumed
# TYPE streamcell_events_in_total counter
streamcell_events_in_total{topic="sensor.readings"} 120
streamcell_events_in_total{topic="text.events"} 30
streamcell_consumer_lag{topic="sensor.readings",partition="0"} 4
streamcell_batch_seconds_bucket{le="0.01",topic="a"} 5
streamcell_batch_seconds_bucket{le="0.1",topic="a"} 9
streamcell_batch_seconds_bucket{le="+Inf",topic="a"} 10
streamcell_batch_seconds_bucket{le="0.01",topic="b"} 5
streamcell_batch_seconds_bucket{le="0.1",topic="b"} 9
streamcell_batch_seconds_bucket{le="+Inf",topic="b"} 10
weird{label="a \\"quoted\\" one"} NaN
`;

describe('prometheus text', () => {
  const s = parsePrometheusText(TEXT);

  it('reads samples with labels', () => {
    expect(sumOf(s, 'streamcell_events_in_total')).toBe(150);
    expect(sumOf(s, 'streamcell_events_in_total', { topic: 'text.events' })).toBe(30);
    expect(s.find((x) => x.name === 'weird')!.labels.label).toBe('a "quoted" one');
  });

  it('interpolates histogram quantiles like histogram_quantile', () => {
    const b = bucketsOf(s, 'streamcell_batch_seconds');
    expect([...b.entries()]).toEqual([[0.01, 10], [0.1, 18], [Infinity, 20]]);
    expect(histogramQuantile(b, 0.5)).toBeCloseTo(0.01, 10);
    expect(histogramQuantile(b, 0.7)).toBeCloseTo(0.01 + 0.09 * (4 / 8), 10);
    expect(histogramQuantile(b, 0.99)).toBe(0.1);
    expect(histogramQuantile(new Map(), 0.5)).toBeNull();
  });
});
