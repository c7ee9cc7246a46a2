import { clusterKeySlot, parseStateKey, shadowStateModel, stateKey, stateKeyPattern } from './state-keys';

describe('state key layout', () => {
  it('wraps model and key in one hash tag', () => {
    expect(stateKey('temp', 'pump-7')).toBe('sc:{temp:pump-7}:st');
    expect(stateKey('temp', 'pump-7', 'prod')).toBe('prod:{temp:pump-7}:st');
  });

  it('escapes braces and percent in keys so the tag stays well-formed', () => {
    const k = stateKey('temp', 'a}b{c%d');
    expect(k).toBe('sc:{temp:a%7Db%7Bc%25d}:st');
    const tag = k.slice(k.indexOf('{') + 1, k.indexOf('}'));
    expect(tag).toBe('temp:a%7Db%7Bc%25d');
  });

  it('is injective: model/key splits with colons and escapes never collide', () => {
    const pairs: [string, string][] = [
      ['a:b', 'c'],
      ['a', 'b:c'],
      ['a', '%7D'],
      ['a', '}'],
      ['a%3A', 'b'],
      ['a', 'ünï©ødé-🚰'],
      ['a', ''],
      ['a', '{}'],
    ];
    const keys = pairs.map(([m, k]) => stateKey(m, k));
    expect(new Set(keys).size).toBe(keys.length);
    pairs.forEach(([model, key], i) => expect(parseStateKey(keys[i])).toEqual({ model, key }));
  });

  it('parseStateKey rejects foreign keys', () => {
    expect(parseStateKey('other')).toBeNull();
    expect(parseStateKey('sc:{nocolon}:st')).toBeNull();
    expect(parseStateKey('x:{a:b}:st')).toBeNull();
  });

  it('computes Redis Cluster slots like CLUSTER KEYSLOT', () => {
    // Values from the Redis documentation.
    expect(clusterKeySlot('somekey')).toBe(11058);
    expect(clusterKeySlot('foo{hash_tag}')).toBe(2515);
    expect(clusterKeySlot('bar{hash_tag}')).toBe(2515);
  });

  it('a state key hashes exactly its model:key tag, whatever the key holds', () => {
    for (const key of ['pump-7', 'a}b', '{x}', 'é🚰']) {
      const k = stateKey('m', key);
      const tag = k.slice(k.indexOf('{') + 1, k.indexOf('}:st'));
      expect(clusterKeySlot(k)).toBe(clusterKeySlot(`{${tag}}`));
    }
    // different keys spread over slots
    const slots = new Set(
      Array.from({ length: 200 }, (_, i) => clusterKeySlot(stateKey('m', `sensor-${i}`))),
    );
    expect(slots.size).toBeGreaterThan(190);
  });

  it('builds a SCAN pattern per model', () => {
    expect(stateKeyPattern('temp')).toBe('sc:\\{temp:*}:st');
    expect(stateKeyPattern('a*b')).toBe('sc:\\{a\\*b:*}:st');
  });
});

describe('shadow state namespace', () => {
  it('keeps a shadow version apart from its model, under one hash tag per key', () => {
    const ns = shadowStateModel('forecaster', 2);
    expect(ns).toBe('forecaster#v2');
    const k = stateKey(ns, 'sensor-1');
    expect(k).toBe('sc:{forecaster#v2:sensor-1}:st');
    expect(k).not.toBe(stateKey('forecaster', 'sensor-1'));
    expect(parseStateKey(k)).toEqual({ model: 'forecaster#v2', key: 'sensor-1' });
    expect(clusterKeySlot(k)).toBe(clusterKeySlot('{forecaster#v2:sensor-1}'));
  });
});
