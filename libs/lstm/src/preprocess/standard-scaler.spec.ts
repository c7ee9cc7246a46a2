import { StandardScaler } from './standard-scaler';

describe('StandardScaler', () => {
  const rows = [
    [1, 10, 5],
    [2, 20, 5],
    [3, 30, 5],
    [4, 40, 5],
  ];

  it('fits mean and population std per feature; a constant feature gets scale 1', () => {
    const s = StandardScaler.fit(rows);
    expect(Array.from(s.mean)).toEqual([2.5, 25, 5]);
    // population std of 1..4 = sqrt(1.25)
    expect(s.scale[0]).toBeCloseTo(Math.sqrt(1.25), 12);
    expect(s.scale[1]).toBeCloseTo(10 * Math.sqrt(1.25), 12);
    expect(s.scale[2]).toBe(1);
    expect(s.count).toBe(4);
  });

  it('transforms to zero mean / unit variance and inverts', () => {
    const s = StandardScaler.fit(rows);
    const z = s.transform(rows);
    expect(z[0][0]).toBeCloseTo(-1.5 / Math.sqrt(1.25), 6);
    expect(z[3][2]).toBe(0);
    const back = s.inverse(z);
    back.forEach((r, i) => r.forEach((v, j) => expect(v).toBeCloseTo(rows[i][j], 5)));
    expect(s.inverseValue(s.transformValue(33, 1), 1)).toBeCloseTo(33, 10);
  });

  it('round-trips through JSON and validates it naming the field', () => {
    const s = StandardScaler.fit(rows);
    const j = JSON.parse(JSON.stringify(s.toJSON()));
    const back = StandardScaler.fromJSON(j);
    expect(Array.from(back.mean)).toEqual(Array.from(s.mean));
    expect(Array.from(back.scale)).toEqual(Array.from(s.scale));
    expect(() => StandardScaler.fromJSON({ mean: [0], scale: [0] })).toThrow(/scaler.scale/);
    expect(() => StandardScaler.fromJSON({ mean: [0, 1], scale: [1] })).toThrow(/scaler.scale/);
    expect(() => StandardScaler.fromJSON({ mean: 'x', scale: [1] })).toThrow(/scaler.mean/);
  });

  it('refuses rows of the wrong width', () => {
    const s = StandardScaler.fit(rows);
    expect(() => s.transformRow([1, 2])).toThrow(/3/);
    expect(() => StandardScaler.fit([[1], [1, 2]])).toThrow(/row 1/);
  });
});
