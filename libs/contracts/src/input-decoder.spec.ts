import { decodeSensorReading, decodeTextEvent, isLate, type DecodeResult } from './input-decoder';

const k = (s: string) => Buffer.from(s, 'utf8');
const v = (o: unknown) => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o), 'utf8');

function failure<E>(r: DecodeResult<E>): { reason: string; detail: string } {
  if (r.ok) throw new Error(`expected a failure, got ${JSON.stringify(r.event)}`);
  return { reason: r.reason, detail: r.detail };
}
function success<E>(r: DecodeResult<E>): E {
  if (!r.ok) throw new Error(`expected success, got ${r.reason}: ${r.detail}`);
  return r.event;
}

describe('decodeSensorReading happy paths', () => {
  it('decodes a single value with an ISO time', () => {
    const e = success(
      decodeSensorReading(k('pump-7'), v({ sensorId: 'pump-7', ts: '2026-11-27T10:00:00Z', value: 21.5 })),
    );
    expect(e.key).toBe('pump-7');
    expect(e.ts).toBe(Date.UTC(2026, 10, 27, 10, 0, 0));
    expect(e.values).toBeInstanceOf(Float64Array);
    expect(Array.from(e.values)).toEqual([21.5]);
    expect(e.reset).toBe(false);
    expect(e.model).toBeUndefined();
  });

  it('decodes values with epoch ms, reset and model; ignores unknown fields', () => {
    const e = success(
      decodeSensorReading(
        k('pump-7'),
        v({
          sensorId: 'pump-7',
          ts: 1795000000000,
          values: [21.5, 0.3, 1013.2],
          reset: true,
          model: 'temp',
          extra: { a: 1 },
        }),
        { featureCount: 3, knownModels: new Set(['temp']) },
      ),
    );
    expect(e.ts).toBe(1795000000000);
    expect(Array.from(e.values)).toEqual([21.5, 0.3, 1013.2]);
    expect(e.reset).toBe(true);
    expect(e.model).toBe('temp');
  });

  it('accepts ISO times with offsets and fractional seconds', () => {
    expect(
      success(
        decodeSensorReading(k('a'), v({ sensorId: 'a', ts: '2026-11-27T11:00:00.250+01:00', value: 1 })),
      ).ts,
    ).toBe(Date.UTC(2026, 10, 27, 10, 0, 0, 250));
    expect(success(decodeSensorReading(k('a'), v({ sensorId: 'a', ts: 0, value: -0.5e-3 }))).ts).toBe(0);
  });

  it('handles Unicode keys (multi-byte, emoji, braces)', () => {
    for (const id of ['Zähler-Ω', '传感器-1', 'pump-🚰', '{weird}:key}', 'a\u0000b']) {
      const e = success(decodeSensorReading(k(id), v({ sensorId: id, ts: 1, value: 1 })));
      expect(e.key).toBe(id);
    }
  });

  it('accepts a key of exactly 256 UTF-8 bytes', () => {
    const id = 'é'.repeat(128); // 2 bytes each
    expect(success(decodeSensorReading(k(id), v({ sensorId: id, ts: 1, value: 1 }))).key).toBe(id);
  });
});

describe('decodeSensorReading reasons', () => {
  const key = k('s1');
  it('invalid_json', () => {
    expect(failure(decodeSensorReading(key, v('{"sensorId":'))).reason).toBe('invalid_json');
    expect(failure(decodeSensorReading(key, null)).reason).toBe('invalid_json');
    expect(failure(decodeSensorReading(key, Buffer.alloc(0))).reason).toBe('invalid_json');
  });

  it('schema_violation names the field', () => {
    expect(failure(decodeSensorReading(key, v({ sensorId: 's1', ts: 1, values: [1, 'x'] })))).toEqual({
      reason: 'schema_violation',
      detail: '/values/1 must be number',
    });
    expect(failure(decodeSensorReading(key, v({ ts: 1, value: 1 }))).detail).toBe(
      "/ must have required property 'sensorId'",
    );
    expect(failure(decodeSensorReading(key, v([1, 2]))).reason).toBe('schema_violation');
    expect(failure(decodeSensorReading(key, v({ sensorId: 's1', ts: 1, value: '1' }))).detail).toBe(
      '/value must be number',
    );
    expect(
      failure(decodeSensorReading(key, v({ sensorId: 's1', ts: 1, value: 1, reset: 'yes' }))).detail,
    ).toBe('/reset must be boolean');
  });

  it('schema_violation for both or neither of value/values', () => {
    for (const body of [
      { sensorId: 's1', ts: 1 },
      { sensorId: 's1', ts: 1, value: 1, values: [1] },
    ]) {
      expect(failure(decodeSensorReading(key, v(body)))).toEqual({
        reason: 'schema_violation',
        detail: 'exactly one of /value, /values, /control is required',
      });
    }
  });

  it('schema_violation for bad ts forms', () => {
    for (const ts of ['2026-11-27T10:00:00', 'yesterday', 1.5, -1e20, true]) {
      const f = failure(decodeSensorReading(key, v({ sensorId: 's1', ts, value: 1 })));
      expect(f.reason).toBe('schema_violation');
      expect(f.detail).toMatch(/^\/ts /);
    }
  });

  it('non_finite for numbers that overflow to Infinity', () => {
    expect(failure(decodeSensorReading(key, v('{"sensorId":"s1","ts":1,"values":[1,2,1e999]}')))).toEqual({
      reason: 'non_finite',
      detail: '/values/2 must be a finite number',
    });
    expect(failure(decodeSensorReading(key, v('{"sensorId":"s1","ts":1,"value":-1e400}')))).toEqual({
      reason: 'non_finite',
      detail: '/value must be a finite number',
    });
    expect(failure(decodeSensorReading(key, v('{"sensorId":"s1","ts":1e999,"value":1}'))).reason).toBe(
      'non_finite',
    );
  });

  it('feature_count when an expected count is given', () => {
    expect(
      failure(decodeSensorReading(key, v({ sensorId: 's1', ts: 1, values: [1, 2] }), { featureCount: 3 })),
    ).toEqual({
      reason: 'feature_count',
      detail: '/values has 2 features, the model expects 3',
    });
    expect(
      failure(decodeSensorReading(key, v({ sensorId: 's1', ts: 1, value: 2 }), { featureCount: 3 })).reason,
    ).toBe('feature_count');
    expect(
      success(decodeSensorReading(key, v({ sensorId: 's1', ts: 1, value: 2 }), { featureCount: 1 })).values
        .length,
    ).toBe(1);
  });

  it('key_missing', () => {
    expect(failure(decodeSensorReading(null, v({ sensorId: 's1', ts: 1, value: 1 }))).reason).toBe(
      'key_missing',
    );
    expect(failure(decodeSensorReading(Buffer.alloc(0), v({ sensorId: 's1', ts: 1, value: 1 }))).reason).toBe(
      'key_missing',
    );
  });

  it('key_too_long counts UTF-8 bytes, not characters', () => {
    const id = 'é'.repeat(129); // 129 chars, 258 bytes
    expect(failure(decodeSensorReading(k(id), v({ sensorId: id, ts: 1, value: 1 })))).toEqual({
      reason: 'key_too_long',
      detail: 'key is 258 bytes UTF-8, limit 256',
    });
    expect(
      failure(
        decodeSensorReading(k('abcdef'), v({ sensorId: 'abcdef', ts: 1, value: 1 }), { maxKeyBytes: 5 }),
      ).reason,
    ).toBe('key_too_long');
  });

  it('key_mismatch when body and key differ, or the key is not UTF-8', () => {
    expect(failure(decodeSensorReading(k('s1'), v({ sensorId: 's2', ts: 1, value: 1 })))).toEqual({
      reason: 'key_mismatch',
      detail: '/sensorId differs from the message key',
    });
    // NFC vs NFD forms are different keys: no normalisation.
    expect(
      failure(decodeSensorReading(k('e\u0301'), v({ sensorId: '\u00e9', ts: 1, value: 1 }))).reason,
    ).toBe('key_mismatch');
    expect(
      failure(
        decodeSensorReading(Buffer.from([0xff, 0xfe]), v({ sensorId: '\ufffd\ufffd', ts: 1, value: 1 })),
      ).reason,
    ).toBe('key_mismatch');
  });

  it('payload_too_large before parsing', () => {
    const body = v({ sensorId: 's1', ts: 1, values: new Array(100).fill(1) });
    expect(failure(decodeSensorReading(key, body, { maxPayloadBytes: 64 }))).toEqual({
      reason: 'payload_too_large',
      detail: `value is ${body.length} bytes, limit 64`,
    });
    expect(
      failure(decodeSensorReading(key, v('not json at all'.repeat(10)), { maxPayloadBytes: 16 })).reason,
    ).toBe('payload_too_large');
  });

  it('unknown_model with a set or a predicate; no model is always fine', () => {
    const body = v({ sensorId: 's1', ts: 1, value: 1, model: 'other' });
    expect(failure(decodeSensorReading(key, body, { knownModels: new Set(['temp']) })).reason).toBe(
      'unknown_model',
    );
    expect(failure(decodeSensorReading(key, body, { knownModels: (m) => m === 'temp' })).reason).toBe(
      'unknown_model',
    );
    expect(success(decodeSensorReading(key, body)).model).toBe('other');
    expect(
      success(decodeSensorReading(key, v({ sensorId: 's1', ts: 1, value: 1 }), { knownModels: new Set() }))
        .key,
    ).toBe('s1');
  });

  it('does not mistake a body with an "ok" field for a failure', () => {
    expect(success(decodeSensorReading(key, v({ ok: false, sensorId: 's1', ts: 1, value: 1 }))).key).toBe(
      's1',
    );
  });
});

describe('decodeTextEvent', () => {
  it('decodes a text event', () => {
    const e = success(
      decodeTextEvent(
        k('ticket-42'),
        v({ streamId: 'ticket-42', ts: '2026-11-27T10:00:01Z', text: 'The pump is broken again' }),
      ),
    );
    expect(e).toEqual({
      key: 'ticket-42',
      ts: Date.UTC(2026, 10, 27, 10, 0, 1),
      rawTs: '2026-11-27T10:00:01Z',
      text: 'The pump is broken again',
      reset: false,
    });
  });

  it('text_too_long counts code points (an emoji is one)', () => {
    const key = k('t');
    expect(
      success(decodeTextEvent(key, v({ streamId: 't', ts: 1, text: '🚰'.repeat(5) }), { maxTextChars: 5 }))
        .text,
    ).toBe('🚰'.repeat(5));
    expect(
      failure(decodeTextEvent(key, v({ streamId: 't', ts: 1, text: 'abcdef' }), { maxTextChars: 5 })),
    ).toEqual({
      reason: 'text_too_long',
      detail: '/text is longer than 5 characters',
    });
    expect(failure(decodeTextEvent(key, v({ streamId: 't', ts: 1, text: 'x'.repeat(10_001) }))).reason).toBe(
      'text_too_long',
    );
  });

  it('rejects with the same reasons as sensor readings', () => {
    const key = k('t');
    expect(failure(decodeTextEvent(key, v('{'))).reason).toBe('invalid_json');
    expect(failure(decodeTextEvent(key, v({ streamId: 't', ts: 1 }))).detail).toBe(
      'exactly one of /text, /control is required',
    );
    expect(failure(decodeTextEvent(key, v({ streamId: 't', ts: 1, text: 5 }))).detail).toBe(
      '/text must be string',
    );
    expect(failure(decodeTextEvent(key, v('{"streamId":"t","ts":1e999,"text":"a"}'))).reason).toBe(
      'non_finite',
    );
    expect(failure(decodeTextEvent(null, v({ streamId: 't', ts: 1, text: 'a' }))).reason).toBe('key_missing');
    expect(failure(decodeTextEvent(k('u'), v({ streamId: 't', ts: 1, text: 'a' })))).toEqual({
      reason: 'key_mismatch',
      detail: '/streamId differs from the message key',
    });
    expect(
      failure(decodeTextEvent(key, v({ streamId: 't', ts: 1, text: 'a' }), { maxPayloadBytes: 8 })).reason,
    ).toBe('payload_too_large');
    expect(
      failure(
        decodeTextEvent(key, v({ streamId: 't', ts: 1, text: 'a', model: 'x' }), {
          knownModels: new Set(['y']),
        }),
      ).reason,
    ).toBe('unknown_model');
  });
});

describe('control records', () => {
  it('a sensor control record resets its key, carries no values, passes the key and model checks', () => {
    const e = success(decodeSensorReading(k('p'), v({ sensorId: 'p', ts: 5, model: 'm', control: 'reset' }), { featureCount: 3 }));
    expect(e).toEqual({ key: 'p', ts: 5, rawTs: 5, values: new Float64Array(0), reset: true, control: 'reset', model: 'm' });
    expect(failure(decodeSensorReading(k('q'), v({ sensorId: 'p', ts: 5, control: 'reset' }))).reason).toBe('key_mismatch');
    expect(
      failure(decodeSensorReading(k('p'), v({ sensorId: 'p', ts: 5, model: 'x', control: 'reset' }), { knownModels: new Set(['m']) })).reason,
    ).toBe('unknown_model');
  });

  it('a text control record decodes with an empty text', () => {
    const e = success(decodeTextEvent(k('t'), v({ streamId: 't', ts: 1, control: 'reset' })));
    expect(e).toEqual({ key: 't', ts: 1, rawTs: 1, text: '', reset: true, control: 'reset' });
  });

  it('refuses an unknown control, or a control next to a reading or a text', () => {
    expect(failure(decodeSensorReading(k('p'), v({ sensorId: 'p', ts: 1, control: 'wipe' })))).toEqual({
      reason: 'schema_violation',
      detail: '/control must be one of ["reset"]',
    });
    expect(failure(decodeSensorReading(k('p'), v({ sensorId: 'p', ts: 1, value: 2, control: 'reset' })))).toEqual({
      reason: 'schema_violation',
      detail: 'exactly one of /value, /values, /control is required',
    });
    expect(failure(decodeTextEvent(k('t'), v({ streamId: 't', ts: 1, text: 'a', control: 'reset' }))).detail).toBe(
      'exactly one of /text, /control is required',
    );
  });
});

describe('isLate', () => {
  it('compares against the last applied time minus the allowed lateness', () => {
    expect(isLate(1000, 2000, 500)).toBe(true);
    expect(isLate(1500, 2000, 500)).toBe(false);
    expect(isLate(1499, 2000, 500)).toBe(true);
    expect(isLate(3000, 2000, 0)).toBe(false);
    expect(isLate(1999, 2000, 0)).toBe(true);
  });
  it('no previous time is never late; Infinity disables', () => {
    expect(isLate(0, null, 0)).toBe(false);
    expect(isLate(0, undefined, 0)).toBe(false);
    expect(isLate(0, NaN, 0)).toBe(false);
    expect(isLate(0, 1e15, Infinity)).toBe(false);
  });
});
