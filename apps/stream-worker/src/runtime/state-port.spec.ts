import type { StateRecord, StateStore } from '@app/state';
import { RedisDisconnectedError, StoreStatePort } from './state-port';

function record(state: number[]): StateRecord {
  return { modelVersion: '1', partition: 0, offset: 5n, steps: 3, lastEventTs: 1, state: Float32Array.from(state), extras: new Float32Array(0), ring: null };
}

describe('StoreStatePort', () => {
  it('loads a stored non-finite state as fresh, reporting the key', async () => {
    const stored = [record([0.1, 0.2]), record([0.1, Number.NaN]), null, record([Number.POSITIVE_INFINITY, 0])];
    const store = { loadMany: async () => [...stored] } as unknown as StateStore;
    const reported: string[] = [];
    const port = new StoreStatePort(store, (model, key) => reported.push(`${model}/${key}`));
    const got = await port.loadMany('m', ['a', 'b', 'c', 'd']);
    expect(got.map((r) => (r === null ? null : Array.from(r.state)))).toEqual([[Math.fround(0.1), Math.fround(0.2)], null, null, null]);
    expect(reported).toEqual(['m/b', 'm/d']);
  });

  it('fails loads and writes at once while the client reconnects, and goes through once connected', async () => {
    let calls = 0;
    const store = {
      loadMany: async () => {
        calls++;
        return [null];
      },
      writeMany: async () => {
        calls++;
        return ['applied'];
      },
    } as unknown as StateStore;
    let connected = false;
    const port = new StoreStatePort(store, () => undefined, () => connected);
    await expect(port.loadMany('m', ['a'])).rejects.toBeInstanceOf(RedisDisconnectedError);
    await expect(port.writeMany('m', [{ key: 'a', record: record([1]), expected: null }])).rejects.toBeInstanceOf(RedisDisconnectedError);
    expect(calls).toBe(0);
    connected = true;
    expect(await port.loadMany('m', ['a'])).toEqual([null]);
    expect(await port.writeMany('m', [{ key: 'a', record: record([1]), expected: null }])).toEqual({ conflicts: [] });
    expect(calls).toBe(2);
  });
});
