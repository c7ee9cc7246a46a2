import type { StateRecord, StateStore } from '@app/state';
import type { StatePort, StateWrite } from '../pipeline/ports';
import { allFinite } from '../pipeline/finite-guard';

/** The processor's state port over the @app/state store (pipelined loads, Lua CAS writes). */
export class StoreStatePort implements StatePort {
  /**
   * @param onNonFinite called for a stored record whose state is not finite (written before the
   *   worker checked steps, or by hand): the key then loads as fresh instead of forecasting null
   *   for good.
   * @param connected whether the client is connected now: while it reconnects, loads and writes
   *   fail at once (the consumer retries with its backoff) instead of each waiting for a
   *   reconnection attempt of the client to fail, which would hold up every unit behind it.
   */
  constructor(
    private readonly store: StateStore,
    private readonly onNonFinite: (model: string, key: string) => void = () => undefined,
    private readonly connected: () => boolean = () => true,
  ) {}

  async loadMany(model: string, keys: readonly string[]): Promise<(StateRecord | null)[]> {
    this.failIfDisconnected();
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

  async writeMany(model: string, writes: readonly StateWrite[]): Promise<{ conflicts: string[] }> {
    this.failIfDisconnected();
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

  private failIfDisconnected(): void {
    if (!this.connected()) throw new RedisDisconnectedError();
  }
}

/** Redis is reconnecting: the unit fails now and is retried with the consumer's backoff. */
export class RedisDisconnectedError extends Error {
  constructor() {
    super('redis is not connected (reconnecting); retried with backoff');
    this.name = 'RedisDisconnectedError';
  }
}
