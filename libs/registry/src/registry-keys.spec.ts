import { RegistryKeys, assertModelName, isValidModelName } from './registry-keys';

describe('registry keys', () => {
  it('puts every key of a model under the model hash tag', () => {
    const k = new RegistryKeys();
    const keys = [k.seq('m1'), k.versions('m1'), k.files('m1', 3), k.active('m1'), k.policy('m1'), k.actions('m1'), k.loop('m1'), k.loopLease('m1')];
    for (const key of keys) expect(key.match(/\{([^}]*)\}/)?.[1]).toBe('m1');
    expect(k.files('m1', 3)).toBe('reg:{m1}:files:3');
    expect(new RegistryKeys('x').index()).toBe('x:index');
  });

  it('accepts plain names and rejects ones that would break a hash tag, key or path', () => {
    for (const ok of ['sensor-forecast', 'a', 'Model_2.v', '9x']) expect(isValidModelName(ok)).toBe(true);
    for (const bad of ['', '-a', 'a}b', 'a{b', 'a:b', 'a/b', 'a b', 'x'.repeat(65)]) {
      expect(isValidModelName(bad)).toBe(false);
    }
    expect(() => assertModelName('a}b')).toThrow(/invalid model name/);
  });
});
