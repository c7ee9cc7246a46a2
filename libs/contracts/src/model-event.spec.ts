import {
  decodeModelActivated,
  encodeModelActivated,
  sidecarChecksum,
  type ModelActivatedEvent,
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
      detail: '/policy must be one of ["reset","rewarm","keep"]',
    });
    expect(decodeModelActivated(JSON.stringify({ ...event, checksum: 'xyz' }))).toMatchObject({
      ok: false,
      reason: 'schema_violation',
    });
  });
});
