import type { StateRecord, StateStore } from '@app/state';
import type { StatePort, StateWrite } from '../pipeline/ports';

/** The processor's state port over the @app/state store (pipelined loads, Lua CAS writes). */
export class StoreStatePort implements StatePort {
  constructor(private readonly store: StateStore) {}

  loadMany(model: string, keys: readonly string[]): Promise<(StateRecord | null)[]> {
    return this.store.loadMany(model, keys);
  }

  async writeMany(model: string, writes: readonly StateWrite[]): Promise<{ conflicts: string[] }> {
    const outcomes = await this.store.writeMany(
      model,
      writes.map((w) => ({ key: w.key, record: w.record })),
    );
    const conflicts: string[] = [];
    outcomes.forEach((o, i) => {
      if (o === 'stale') conflicts.push(writes[i].key);
    });
    return { conflicts };
  }

  confirmDurable(): Promise<void> {
    return this.store.waitForReplicas();
  }
}
