import { CONTRACT_SCHEMAS } from './schemas';
import { validateMessage } from './schema-validators';

describe('contract schemas', () => {
  it('every schema has a versioned $id and a title', () => {
    const ids = CONTRACT_SCHEMAS.map((s) => s.$id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const s of CONTRACT_SCHEMAS) {
      expect(s.$id).toMatch(/^urn:streamcell:schema:[a-z-]+:v1$/);
      expect(typeof s.title).toBe('string');
    }
  });

  it('accepts the examples of docs/architecture.md and the README', () => {
    expect(
      validateMessage('sensorReading', { sensorId: 'pump-7', ts: '2026-11-27T10:00:00Z', value: 21.5 }),
    ).toBeNull();
    expect(
      validateMessage('sensorReading', {
        sensorId: 'pump-7',
        ts: 1795000000000,
        values: [21.5, 0.3, 1013.2],
      }),
    ).toBeNull();
    expect(
      validateMessage('textEvent', {
        streamId: 'ticket-42',
        ts: '2026-11-27T10:00:01Z',
        text: 'The pump is broken again',
      }),
    ).toBeNull();
  });

  it('source offsets are decimal strings', () => {
    const base = {
      sensorId: 'a',
      ts: '2026-11-27T10:00:00.000Z',
      model: 'm',
      modelVersion: '1',
      forecast: [1],
    };
    expect(
      validateMessage('forecastPrediction', { ...base, source: { topic: 't', partition: 0, offset: '12' } }),
    ).toBeNull();
    expect(
      validateMessage('forecastPrediction', { ...base, source: { topic: 't', partition: 0, offset: 12 } }),
    ).toBe('/source/offset must be string');
  });
});
