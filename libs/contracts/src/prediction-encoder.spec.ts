import { argmax, encodeClassificationPrediction, encodeForecastPrediction } from './prediction-encoder';
import { validators } from './schema-validators';
import { validateMessage } from './schema-validators';

const source = { topic: 'sensor.readings', partition: 3, offset: '9007199254740993' };

describe('encodeForecastPrediction', () => {
  it('produces the documented field order and valid JSON', () => {
    const json = encodeForecastPrediction({
      sensorId: 'pump-7',
      ts: '2026-11-27T10:00:00Z',
      model: 'temp',
      modelVersion: '3',
      forecast: new Float32Array([21.5, 0.1]),
      anomalyScore: 1.25,
      source,
    });
    expect(json).toBe(
      '{"sensorId":"pump-7","ts":"2026-11-27T10:00:00Z","model":"temp","modelVersion":"3",' +
        `"forecast":[21.5,${Math.fround(0.1)}],"anomalyScore":1.25,` +
        '"source":{"topic":"sensor.readings","partition":3,"offset":"9007199254740993"}}',
    );
    const parsed = JSON.parse(json);
    expect(validateMessage('forecastPrediction', parsed)).toBeNull();
    // float32 values survive the round trip exactly
    expect(Math.fround(parsed.forecast[1])).toBe(new Float32Array([0.1])[0]);
  });

  it('is byte-identical for equal inputs, omits an undefined score, nulls non-finite numbers', () => {
    const mk = () =>
      encodeForecastPrediction({
        sensorId: 'ü"\\',
        ts: 0,
        model: 'm',
        modelVersion: 'v',
        forecast: [NaN, 1e-7, -0],
        source,
      });
    expect(mk()).toBe(mk());
    const parsed = JSON.parse(mk());
    expect(parsed.sensorId).toBe('ü"\\');
    expect(parsed.forecast).toEqual([null, 1e-7, 0]);
    expect('anomalyScore' in parsed).toBe(false);
    expect(validateMessage('forecastPrediction', parsed)).toBeNull();
    expect(
      JSON.parse(
        encodeForecastPrediction({
          sensorId: 'a',
          ts: 0,
          model: 'm',
          modelVersion: 'v',
          forecast: [1],
          anomalyScore: Infinity,
          source,
        }),
      ).anomalyScore,
    ).toBeNull();
  });
});

describe('encodeClassificationPrediction', () => {
  it('encodes scores in label order with the argmax label', () => {
    const json = encodeClassificationPrediction({
      streamId: 'ticket-42',
      ts: 1795000000005,
      model: 'tickets',
      modelVersion: '1',
      labels: ['ok', 'broken', 'other'],
      scores: [0.25, 0.5, 0.25],
      source: { topic: 'text.events', partition: 0, offset: '0' },
    });
    expect(json).toBe(
      '{"streamId":"ticket-42","ts":1795000000005,"model":"tickets","modelVersion":"1","label":"broken",' +
        '"scores":{"ok":0.25,"broken":0.5,"other":0.25},"source":{"topic":"text.events","partition":0,"offset":"0"}}',
    );
    expect(validateMessage('classificationPrediction', JSON.parse(json))).toBeNull();
  });

  it('honours an explicit label and rejects mismatched lengths', () => {
    const base = {
      streamId: 's',
      ts: 0,
      model: 'm',
      modelVersion: '1',
      source: { topic: 't', partition: 0, offset: '1' },
    };
    expect(
      JSON.parse(encodeClassificationPrediction({ ...base, labels: ['pos'], scores: [0.2], label: 'neg' }))
        .label,
    ).toBe('neg');
    expect(() => encodeClassificationPrediction({ ...base, labels: ['a', 'b'], scores: [1] })).toThrow(
      RangeError,
    );
  });

  it('argmax takes the first of ties and skips non-finite', () => {
    expect(argmax([1, 3, 3])).toBe(1);
    expect(argmax([NaN, 0.1])).toBe(1);
    expect(argmax([])).toBe(-1);
  });
});

describe('prediction schemas', () => {
  const source = { topic: 'sensor.readings', partition: 1, offset: '42' };
  it.each([['2026-11-27T10:00:00Z'], [1795000000000]])('accept the ts the input carried (%p)', (ts) => {
    const f = encodeForecastPrediction({ sensorId: 's', ts, model: 'm', modelVersion: '3', forecast: [1.5], source });
    expect(JSON.parse(f).ts).toBe(ts);
    expect(validators.forecastPrediction(JSON.parse(f))).toBe(true);
    const c = encodeClassificationPrediction({
      streamId: 's',
      ts,
      model: 'm',
      modelVersion: '1',
      labels: ['neg', 'pos'],
      scores: [0.25, 0.75],
      source,
    });
    expect(JSON.parse(c).ts).toBe(ts);
    expect(validators.classificationPrediction(JSON.parse(c))).toBe(true);
  });
});
