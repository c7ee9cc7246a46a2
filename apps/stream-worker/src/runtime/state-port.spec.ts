import type { StateRecord, StateStore } from '@app/state';
import { StoreStatePort } from './state-port';

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
});
