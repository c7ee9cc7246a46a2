import type { ActivePointer, ModelSummary } from '@app/registry';
import { ModelManager, type RegistryReader } from './model-manager';
import { toyForecaster } from '../pipeline/testing/toy-engine';
import type { ServingModel, SwapPolicy } from './serving-model';

function pointer(version: number, policy: SwapPolicy = 'reset', epoch = version): ActivePointer {
  return { version, policy, epoch, activatedAt: '2026-11-27T00:00:00Z', previousVersion: null };
}

function setup(active: Record<string, ActivePointer | null>) {
  const loads: string[] = [];
  const registry = {
    listModels: async (): Promise<ModelSummary[]> =>
      Object.entries(active).map(([name, p]) => ({
        name,
        task: 'forecast',
        latestVersion: p?.version ?? null,
        versionCount: 1,
        activeVersion: p?.version ?? null,
      })),
    getActive: async (name: string) => active[name] ?? null,
    loadVersionFiles: async () => new Map(),
  } as unknown as RegistryReader;
  const loader = async (name: string, version: number, policy: SwapPolicy): Promise<ServingModel> => {
    loads.push(`${name}@${version}/${policy}`);
    if (name === 'broken') throw new Error('bad artifact');
    return { ...toyForecaster(version, policy), name };
  };
  const logs: string[] = [];
  const logger = { log: (m: string) => logs.push(m), warn: (m: string) => logs.push(m), error: (m: string) => logs.push(m) };
  return { manager: new ModelManager(registry, loader, logger), loads, logs, active };
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

  it('swaps on a newer activation, ignores stale or repeated ones, keeps serving on a failed load', async () => {
    const { manager, loads } = setup({ forecaster: pointer(1) });
    await manager.loadAllActive(['forecaster']);
    const before = manager.get('forecaster');
    const ev = (version: number, epoch: number, policy: SwapPolicy = 'rewarm', model = 'forecaster') => ({
      type: 'model.activated' as const,
      model,
      version,
      task: 'forecast' as const,
      policy,
      epoch,
      activatedAt: '2026-11-27T00:00:00Z',
    });
    manager.activations.next(ev(1, 1, 'reset')); // the boot version again: no reload
    manager.activations.next(ev(3, 3));
    manager.activations.next(ev(2, 2)); // older epoch arriving late: ignored
    await new Promise((r) => setTimeout(r, 10));
    await manager.settled();
    expect(manager.get('forecaster')?.version).toBe(3);
    expect(manager.get('forecaster')?.policy).toBe('rewarm');
    expect(before?.version).toBe(1); // a batch holding the old object is unaffected
    manager.activations.next(ev(1, 4, 'reset', 'broken'));
    await new Promise((r) => setTimeout(r, 10));
    expect(manager.get('broken')).toBeUndefined();
    expect(loads).toEqual(['forecaster@1/reset', 'forecaster@3/rewarm', 'broken@1/reset']);
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
});
