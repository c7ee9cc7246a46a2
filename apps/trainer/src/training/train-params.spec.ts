import { recordedParams, TRAIN_PARAM_KEYS, withDefaults } from './train-params';

describe('recordedParams', () => {
  it("takes a version's recorded numeric training parameters and nothing else", () => {
    expect(recordedParams({ hiddenUnits: 12, window: 16, learningRate: 0.01, note: 'x', seed: '7', epochs: Number.NaN })).toEqual({
      hiddenUnits: 12,
      window: 16,
      learningRate: 0.01,
    });
    expect(recordedParams(undefined)).toEqual({});
  });

  it('round-trips every parameter the trainer records', () => {
    const p = withDefaults({ hiddenUnits: 50, maxlen: 40 });
    expect(recordedParams({ ...p })).toEqual(p);
    expect(Object.keys(p).sort()).toEqual([...TRAIN_PARAM_KEYS, 'textMode'].sort());
  });

  it("carries the text mode of the replaced version ('window' or 'stream'; anything else is ignored)", () => {
    expect(recordedParams({ textMode: 'window', epochs: 3 })).toEqual({ textMode: 'window', epochs: 3 });
    expect(recordedParams({ textMode: 'stream' })).toEqual({ textMode: 'stream' });
    expect(recordedParams({ textMode: 'sliding' })).toEqual({});
    expect(withDefaults({}).textMode).toBe('stream');
  });
});
