import type { AccuracyUpdate, StateRecord, StateStore } from '@app/state';
import type { StatePort, StateWrite } from '../pipeline/ports';
import { allFinite } from '../pipeline/finite-guard';

/** The processor's state port over the @app/state store (pipelined loads, Lua CAS writes). */
export class StoreStatePort implements StatePort {
  /**
   * @param onNonFinite called for a stored record whose state is not finite (written before the
   *   worker checked steps, or by hand): the key then loads as fresh instead of forecasting null
   *   for good.
   */
  constructor(
    private readonly store: StateStore,
    private readonly onNonFinite: (model: string, key: string) => void = () => undefined,
  ) {}

  async loadMany(model: string, keys: readonly string[]): Promise<(StateRecord | null)[]> {
    const records = await this.store.loadMany(model, keys);
    for (let i = 0; i < records.length; i++) {
      const r = records[i];
      if (r !== null && !allFinite(r.state, 0, r.state.length)) {
        this.onNonFinite(model, keys[i]);
        records[i] = null;
      }
    }
    return records;
  }

  async writeMany(model: string, writes: readonly StateWrite[], accuracy?: readonly AccuracyUpdate[]): Promise<{ conflicts: string[] }> {
    const outcomes = await this.store.writeMany(
      model,
      writes.map((w) => ({ key: w.key, record: w.record })),
      accuracy,
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
