import { RegistryError, type ActivePointer, type ModelSummary, type ModelVersionMeta, type ShadowPointer } from '@app/registry';
import type { ModelActivatedEvent, ModelShadowEvent } from '@app/contracts';
import { ModelManager, NEGATIVE_CACHE_MAX, RegistryUnavailableError, type RegistryReader } from './model-manager';
import { toyForecaster } from '../pipeline/testing/toy-engine';
import type { ServingModel, SwapPolicy } from './serving-model';

function pointer(version: number, policy: SwapPolicy = 'reset', epoch = version): ActivePointer {
  return { version, policy, epoch, activatedAt: '2026-11-27T00:00:00Z', previousVersion: null };
}

const SHA = (v: number) => String(v % 10).repeat(64);

function setup(active: Record<string, ActivePointer | null>, shadows: Record<string, ShadowPointer | null> = {}) {
  const loads: string[] = [];
  const state = { redisDown: false, failLoads: 0, brokenNames: new Set(['broken']), brokenVersions: new Set<number>() };
  const down = async () => {
    if (state.redisDown) throw new Error('Connection is closed.');
  };
  const registry = {
    listModels: async (): Promise<ModelSummary[]> =>
      Object.entries(active).map(([name, p]) => ({
        name,
        task: 'forecast',
        latestVersion: p?.version ?? null,
        versionCount: 1,
        activeVersion: p?.version ?? null,
        shadowVersion: null,
      })),
    getActive: async (name: string) => {
      await down();
      if (name.includes('/')) throw new RegistryError('invalid_name', `invalid model name ${name}`);
      return active[name] ?? null;
    },
    getShadow: async (name: string) => {
      await down();
      return shadows[name] ?? null;
    },
    getVersion: async (name: string, version: number) => {
      await down();
      return { model: name, version, files: { 'streamcell.json': { sha256: SHA(version), bytes: 1 } } } as unknown as ModelVersionMeta;
    },
    loadVersionFiles: async () => new Map(),
  } as unknown as RegistryReader;
  const loader = async (name: string, version: number, policy: SwapPolicy): Promise<ServingModel> => {
    loads.push(`${name}@${version}/${policy}`);
    if (state.redisDown) throw new Error('Connection is closed.');
    if (state.brokenNames.has(name) || state.brokenVersions.has(version)) throw new Error('bad artifact');
    if (state.failLoads > 0) {
      state.failLoads--;
      throw new Error('load failed');
    }
    return { ...toyForecaster(version, policy), name };
  };
  const logs: string[] = [];
  const logger = { log: (m: string) => logs.push(m), warn: (m: string) => logs.push(m), error: (m: string) => logs.push(m) };
  const observed: string[] = [];
  const observer = {
    activationIgnored: (_m: string, reason: string) => observed.push(`ignored:${reason}`),
    activationRetry: () => observed.push('retry'),
    shadowServed: (m: string, v: number | null) => observed.push(`shadow:${m}@${v}`),
    shadowLoadFailed: () => observed.push('shadow-failed'),
  };
  const manager = new ModelManager(registry, loader, logger, observer, { retryFirstMs: 5, retryMaxMs: 20 });
  return { manager, loads, logs, active, shadows, state, observed };
}

function ev(version: number, epoch: number, policy: SwapPolicy = 'rewarm', model = 'forecaster', extra: Partial<ModelActivatedEvent> = {}): ModelActivatedEvent {
  return { type: 'model.activated', model, version, task: 'forecast', policy, epoch, activatedAt: '2026-11-27T00:00:00Z', ...extra };
}

const tick = (ms = 10) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await tick(5);
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
}

describe('ModelManager', () => {
  it('loads the topic models at boot (all active ones on request) and waits for one without a version', async () => {
    const { manager, loads, logs } = setup({ forecaster: pointer(2), other: pointer(1), classifier: null });
    await manager.loadAllActive(['forecaster', 'classifier']);
    expect(loads.sort()).toEqual(['forecaster@2/reset']);
    await manager.loadAllActive(['forecaster', 'classifier'], true);
    expect(loads.sort()).toEqual(['forecaster@2/reset', 'other@1/reset']);
    expect(manager.get('forecaster')?.version).toBe(2);
    expect(manager.get('classifier')).toBeUndefined();
    expect(logs.some((l) => l.includes('no active version'))).toBe(true);
    manager.close();
  });

  it('settled() waits for every queued activation, not only the one being applied', async () => {
    const { manager, active } = setup({ forecaster: pointer(1), classifier: pointer(1) });
    await manager.loadAllActive(['forecaster', 'classifier']);
    active.forecaster = pointer(2, 'rewarm', 2);
    active.classifier = pointer(2, 'rewarm', 2);
    manager.activations.next(ev(2, 2));
    manager.activations.next(ev(2, 2, 'rewarm', 'classifier'));
    await manager.settled(); // no tick first: the second activation is still queued here
    expect(manager.get('forecaster')?.version).toBe(2);
    expect(manager.get('classifier')?.version).toBe(2);
    manager.close();
  });

  it('swaps on an activation matching the registry, ignores stale or repeated ones', async () => {
    const { manager, loads, active } = setup({ forecaster: pointer(1) });
    await manager.loadAllActive(['forecaster']);
    const before = manager.get('forecaster');
    manager.activations.next(ev(1, 1, 'reset')); // the boot version again: no reload
    active.forecaster = pointer(3, 'rewarm', 3);
    manager.activations.next(ev(3, 3));
    manager.activations.next(ev(2, 2)); // older epoch arriving late: ignored
    await tick();
    await manager.settled();
    expect(manager.get('forecaster')?.version).toBe(3);
    expect(manager.get('forecaster')?.policy).toBe('rewarm');
    expect(before?.version).toBe(1); // a batch holding the old object is unaffected
    expect(loads).toEqual(['forecaster@1/reset', 'forecaster@3/rewarm']);
    manager.close();
  });

  it('resolves names events select from the registry, remembering misses briefly', async () => {
    const { manager, loads, active } = setup({});
    await manager.resolve(['late']);
    expect(manager.get('late')).toBeUndefined();
    active.late = pointer(1);
    await manager.resolve(['late']); // negative cache: not asked again yet
    expect(manager.get('late')).toBeUndefined();
    const m2 = setup({ late: pointer(5) });
    await m2.manager.resolve(['late']);
    expect(m2.manager.get('late')?.version).toBe(5);
    expect(loads).toEqual([]);
    manager.close();
    m2.manager.close();
  });

  it('a registry read error is not "no active version": resolve throws, so the batch is retried', async () => {
    const { manager, state } = setup({ named: pointer(4) });
    state.redisDown = true;
    await expect(manager.resolve(['named'])).rejects.toBeInstanceOf(RegistryUnavailableError);
    expect(manager.missingCount).toBe(0); // not remembered as missing
    state.redisDown = false;
    await manager.resolve(['named']);
    expect(manager.get('named')?.version).toBe(4);
    // an invalid name is an answer: remembered as missing, no error
    await manager.resolve(['no/such']);
    expect(manager.missingCount).toBe(1);
    manager.close();
  });

  it('bounds the cache of names without an active version', async () => {
    const { manager } = setup({});
    for (let i = 0; i < NEGATIVE_CACHE_MAX * 3; i++) await manager.resolve([`bogus-${i}`]);
    expect(manager.missingCount).toBeLessThanOrEqual(NEGATIVE_CACHE_MAX);
    manager.close();
  });

  it('retries a failed activation with backoff until it loads', async () => {
    const { manager, active, state, observed } = setup({ forecaster: pointer(1) });
    await manager.loadAllActive(['forecaster']);
    state.failLoads = 3;
    active.forecaster = pointer(2, 'reset', 2);
    manager.activations.next(ev(2, 2, 'reset'));
    await until(() => manager.get('forecaster')?.version === 2, 'v2 after retries');
    expect(observed.filter((o) => o === 'retry')).toHaveLength(3);
    manager.close();
  });

  it('reports the activation it is retrying as pending, and a forged event does not cancel the retry', async () => {
    const { manager, active, state } = setup({ forecaster: pointer(1) });
    await manager.loadAllActive(['forecaster']);
    state.brokenNames.add('forecaster');
    active.forecaster = pointer(2, 'reset', 2);
    manager.activations.next(ev(2, 2, 'reset'));
    await until(() => manager.pendingVersion('forecaster') === '2', 'v2 pending');
    manager.activations.next(ev(7, 50, 'keep')); // forged: ignored, supersedes nothing
    await tick(30);
    state.brokenNames.delete('forecaster');
    await until(() => manager.get('forecaster')?.version === 2, 'v2 loaded by a retry');
    expect(manager.pendingVersion('forecaster')).toBeNull();
    manager.close();
  });

  it('retries while the registry is unreachable, and stops retrying once a newer activation arrives', async () => {
    const { manager, active, state, loads } = setup({ forecaster: pointer(1) });
    await manager.loadAllActive(['forecaster']);
    state.brokenNames.add('forecaster');
    active.forecaster = pointer(2, 'reset', 2);
    manager.activations.next(ev(2, 2, 'reset'));
    await until(() => loads.filter((l) => l === 'forecaster@2/reset').length >= 2, 'two attempts at v2');
    state.brokenNames.delete('forecaster');
    state.redisDown = true;
    active.forecaster = pointer(3, 'keep', 3);
    manager.activations.next(ev(3, 3, 'keep'));
    await tick(40);
    expect(manager.get('forecaster')?.version).toBe(1);
    state.redisDown = false;
    await until(() => manager.get('forecaster')?.version === 3, 'v3 once the registry answers');
    const attemptsAtV2 = loads.filter((l) => l === 'forecaster@2/reset').length;
    await tick(60);
    expect(loads.filter((l) => l === 'forecaster@2/reset').length).toBe(attemptsAtV2); // v2 abandoned
    expect(manager.get('forecaster')?.version).toBe(3);
    manager.close();
  });

  it('ignores activation events that do not match the registry pointer (stale, forged, wrong checksum), counting them', async () => {
    const { manager, active, observed, logs } = setup({ forecaster: pointer(5, 'reset', 7) });
    await manager.loadAllActive(['forecaster']);
    manager.activations.next(ev(2, 999, 'reset')); // forged: a rollback with a huge epoch
    manager.activations.next(ev(5, 8, 'keep')); // the active version with another policy
    manager.activations.next(ev(5, 8, 'reset', 'forecaster', { checksum: SHA(4) })); // epoch ahead of the registry
    manager.activations.next(ev(9, 1, 'reset', 'nomodel'));
    await tick();
    await manager.settled();
    expect(manager.get('forecaster')?.version).toBe(5);
    expect(observed).toEqual(['ignored:mismatch', 'ignored:mismatch', 'ignored:mismatch', 'ignored:no_active_version']);
    expect(logs.filter((l) => l.includes('does not match the registry'))).toHaveLength(4);
    // A genuine later activation still applies (the forged epoch 999 blocked nothing); a wrong
    // checksum for it does not.
    active.forecaster = pointer(6, 'reset', 8);
    manager.activations.next(ev(6, 8, 'reset', 'forecaster', { checksum: SHA(1) }));
    await tick();
    await manager.settled();
    expect(manager.get('forecaster')?.version).toBe(5);
    manager.activations.next(ev(6, 8, 'reset', 'forecaster', { checksum: SHA(6), files: { 'streamcell.json': SHA(6) } }));
    await tick();
    await manager.settled();
    expect(manager.get('forecaster')?.version).toBe(6);
    manager.activations.next(ev(5, 7, 'reset')); // the previous activation replayed late: stale
    await tick();
    await manager.settled();
    expect(manager.get('forecaster')?.version).toBe(6);
    expect(observed.slice(4)).toEqual(['ignored:mismatch']);
    manager.close();
  });

  describe('shadow versions', () => {
    const sp = (version: number, epoch: number): ShadowPointer => ({ version, epoch, at: '2026-11-27T00:00:00Z' });
    const sev = (version: number | null, epoch: number): ModelShadowEvent => ({ type: 'model.shadow', model: 'forecaster', version, epoch, at: '2026-11-27T00:00:00Z' });

    it('loads the shadow at boot next to the active version and follows shadow events', async () => {
      const { manager, loads, shadows, observed } = setup({ forecaster: pointer(1) }, { forecaster: sp(2, 1) });
      await manager.loadAllActive(['forecaster']);
      expect(manager.get('forecaster')?.version).toBe(1);
      expect(manager.shadow('forecaster')?.version).toBe(2);
      expect(loads).toEqual(['forecaster@1/reset', 'forecaster@2/warm']);
      shadows.forecaster = sp(3, 2);
      manager.activations.next(sev(2, 1)); // the boot shadow again (compacted topic): nothing
      manager.activations.next(sev(3, 2));
      await tick();
      await manager.settled();
      expect(manager.shadow('forecaster')?.version).toBe(3);
      shadows.forecaster = null;
      manager.activations.next(sev(null, 3));
      await tick();
      await manager.settled();
      expect(manager.shadow('forecaster')).toBeUndefined();
      expect(observed).toEqual(['shadow:forecaster@2', 'shadow:forecaster@3', 'shadow:forecaster@null']);
      manager.close();
    });

    it('ignores a shadow event the registry does not hold', async () => {
      const { manager, observed } = setup({ forecaster: pointer(1) }, { forecaster: sp(2, 4) });
      await manager.loadAllActive(['forecaster']);
      manager.activations.next(sev(7, 5)); // forged: the registry's shadow is v2
      await tick();
      await manager.settled();
      expect(manager.shadow('forecaster')?.version).toBe(2);
      expect(observed).toContain('ignored:mismatch');
      manager.close();
    });

    it('a promotion swaps the shadow in and stops stepping it in the same swap, whatever event comes first', async () => {
      const { manager, active, shadows } = setup({ forecaster: pointer(1) }, { forecaster: sp(2, 1) });
      await manager.loadAllActive(['forecaster']);
      active.forecaster = pointer(2, 'warm', 2);
      shadows.forecaster = null;
      manager.activations.next(sev(null, 2)); // the stop arrives first: the active pointer is read too
      await tick();
      await manager.settled();
      expect(manager.get('forecaster')?.version).toBe(2);
      expect(manager.get('forecaster')?.policy).toBe('warm');
      expect(manager.shadow('forecaster')).toBeUndefined();
      manager.activations.next(ev(2, 2, 'warm'));
      await tick();
      await manager.settled();
      expect(manager.get('forecaster')?.version).toBe(2);
      manager.close();
    });

    it('a shadow that fails to load leaves the active version serving, is reported, and is retried', async () => {
      const { manager, state, observed } = setup({ forecaster: pointer(1) }, { forecaster: sp(2, 1) });
      state.brokenVersions.add(2);
      await manager.loadAllActive(['forecaster']);
      expect(manager.get('forecaster')?.version).toBe(1);
      expect(manager.shadow('forecaster')).toBeUndefined();
      expect(manager.shadowSnapshot()).toEqual([{ model: 'forecaster', version: 2, loaded: false }]);
      expect(observed).toContain('shadow-failed');
      state.brokenVersions.delete(2);
      await until(() => manager.shadow('forecaster')?.version === 2, 'the shadow after a retry');
      expect(manager.shadowSnapshot()).toEqual([{ model: 'forecaster', version: 2, loaded: true }]);
      manager.close();
    });
  });
});
