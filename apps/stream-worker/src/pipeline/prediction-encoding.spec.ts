import { validators } from '@app/contracts';
import { encodeClassification, encodeForecast, rawTsOf } from './prediction-encoding';

const source = { topic: 't', partition: 1, offset: '42' };

describe('prediction encoding', () => {
  it('keeps ts as received: ISO string verbatim or epoch ms number', () => {
    expect(rawTsOf(Buffer.from('{"sensorId":"a","ts":"2026-11-27T10:00:00Z","value":1}'), 0)).toBe('"2026-11-27T10:00:00Z"');
    expect(rawTsOf(Buffer.from('{"sensorId":"a", "ts" : 1795000000000,"value":1}'), 0)).toBe('1795000000000');
    // a nested ts and a text mentioning "ts": the top-level one wins
    expect(rawTsOf(Buffer.from('{"meta":{"ts":1},"ts":"2026-01-01T00:00:00+01:00","text":"x \\"ts\\": 5"}'), 0)).toBe(
      '"2026-01-01T00:00:00+01:00"',
    );
  });

  it('encodes forecasts and classifications deterministically with the contract fields', () => {
    const f = encodeForecast({ sensorId: 's', ts: '"2026-11-27T10:00:00Z"', model: 'm', modelVersion: '3', forecast: [1.5, 2], anomalyScore: -0.25, source });
    expect(f).toBe(
      '{"sensorId":"s","ts":"2026-11-27T10:00:00Z","model":"m","modelVersion":"3","forecast":[1.5,2],"anomalyScore":-0.25,"source":{"topic":"t","partition":1,"offset":"42"}}',
    );
    expect(validators.forecastPrediction(JSON.parse(f))).toBe(true);
    const c = encodeClassification({ streamId: 's', ts: '1795000000000', model: 'm', modelVersion: '1', labels: ['neg', 'pos'], scores: [0.25, 0.75], source });
    expect(JSON.parse(c)).toEqual({ streamId: 's', ts: 1795000000000, model: 'm', modelVersion: '1', label: 'pos', scores: { neg: 0.25, pos: 0.75 }, source });
  });
});
