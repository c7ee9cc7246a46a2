import {
  decodeModelActivated,
  decodeModelEvent,
  encodeModelActivated,
  encodeModelShadow,
  shadowEventKey,
  sidecarChecksum,
  type ModelActivatedEvent,
  type ModelShadowEvent,
} from './model-event';

const sha = 'a'.repeat(64);

describe('model-activated event', () => {
  const event: ModelActivatedEvent = {
    type: 'model.activated',
    model: 'temp',
    version: 2,
    previousVersion: 1,
    task: 'forecast',
    checksum: sha,
    files: { 'streamcell.json': sha, 'model.json': 'b'.repeat(64) },
    activatedAt: '2026-11-27T10:00:00.000Z',
    policy: 'rewarm',
    rewarmSteps: 16,
    epoch: 5,
  };

  it('round-trips and encodes deterministically (sorted files)', () => {
    const json = encodeModelActivated(event);
    expect(
      encodeModelActivated({ ...event, files: { 'model.json': 'b'.repeat(64), 'streamcell.json': sha } }),
    ).toBe(json);
    const r = decodeModelActivated(Buffer.from(json));
    expect(r.ok && r.event).toEqual(event);
  });

  it('accepts the registry shape (files without checksum) and finds the sidecar checksum', () => {
    const { checksum: _c, ...registryShape } = event;
    const r = decodeModelActivated(JSON.stringify(registryShape));
    expect(r.ok).toBe(true);
    if (r.ok) expect(sidecarChecksum(r.event)).toBe(sha);
    expect(sidecarChecksum({ ...event, files: undefined, checksum: undefined })).toBeNull();
  });

  it('rejects bad JSON, bad policy and bad checksum', () => {
    expect(decodeModelActivated('{')).toMatchObject({ ok: false, reason: 'invalid_json' });
    expect(decodeModelActivated(null)).toMatchObject({ ok: false, reason: 'invalid_json' });
    expect(decodeModelActivated(JSON.stringify({ ...event, policy: 'drop' }))).toEqual({
      ok: false,
      reason: 'schema_violation',
      detail: '/policy must be one of ["reset","rewarm","keep","warm"]',
    });
    expect(decodeModelActivated(JSON.stringify({ ...event, checksum: 'xyz' }))).toMatchObject({
      ok: false,
      reason: 'schema_violation',
    });
  });
});

describe('model-shadow event', () => {
  const shadow: ModelShadowEvent = {
    type: 'model.shadow',
    model: 'temp',
    version: 3,
    task: 'forecast',
    checksum: 'c'.repeat(64),
    files: { 'streamcell.json': 'c'.repeat(64) },
    at: '2026-11-27T10:00:00.000Z',
    epoch: 2,
  };

  it('round-trips through the models-topic decoder, which tells it from an activation', () => {
    expect(decodeModelEvent(encodeModelShadow(shadow))).toEqual({ ok: true, event: shadow });
    const stop: ModelShadowEvent = { type: 'model.shadow', model: 'temp', version: null, at: shadow.at, epoch: 3 };
    expect(decodeModelEvent(Buffer.from(encodeModelShadow(stop)))).toEqual({ ok: true, event: stop });
    const activated = decodeModelEvent(
      JSON.stringify({ model: 'temp', version: 3, task: 'forecast', activatedAt: shadow.at, policy: 'warm', epoch: 4 }),
    );
    expect(activated.ok && activated.event.type !== 'model.shadow' && activated.event.policy).toBe('warm');
    expect(shadowEventKey('temp')).toBe('temp#shadow');
  });

  it('names the field of a bad shadow event', () => {
    const r = decodeModelEvent(JSON.stringify({ ...shadow, version: 0 }));
    expect(r).toMatchObject({ ok: false, reason: 'schema_violation' });
    expect(!r.ok && r.detail).toMatch(/^\/version/);
    const noEpoch = decodeModelEvent(JSON.stringify({ type: 'model.shadow', model: 'temp', version: 2, at: shadow.at }));
    expect(!noEpoch.ok && noEpoch.detail).toMatch(/epoch/);
    expect(decodeModelEvent(JSON.stringify({ ...shadow, policy: 'bogus', type: 'model.activated' }))).toMatchObject({ ok: false });
  });
});
