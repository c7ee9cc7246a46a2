/** Serialized {@link StandardScaler} (the `scaler` field of streamcell.json). */
export interface StandardScalerJson {
  readonly type: 'standard';
  /** Per-feature mean. */
  readonly mean: number[];
  /** Per-feature population standard deviation (ddof 0), 1 where it was 0. */
  readonly scale: number[];
  /** Number of rows it was fitted on. */
  readonly count: number;
}

/**
 * Per-feature standardization like sklearn's `StandardScaler`: (x − mean) / std with the
 * population std; a constant feature gets scale 1 so it maps to 0 instead of NaN.
 */
export class StandardScaler {
  private constructor(
    readonly mean: Float64Array,
    readonly scale: Float64Array,
    readonly count: number,
  ) {}

  /** Number of features. */
  get size(): number {
    return this.mean.length;
  }

  /** Fits on rows of equal length (two-pass in float64 for accuracy). */
  static fit(rows: readonly ArrayLike<number>[]): StandardScaler {
    if (rows.length === 0) throw new Error('StandardScaler.fit: no rows');
    const d = rows[0].length;
    if (d === 0) throw new Error('StandardScaler.fit: rows have no features');
    const mean = new Float64Array(d);
    for (const [r, row] of rows.entries()) {
      if (row.length !== d)
        throw new Error(`StandardScaler.fit: row ${r} has ${row.length} features, expected ${d}`);
      for (let j = 0; j < d; j++) {
        if (!Number.isFinite(row[j]))
          throw new Error(`StandardScaler.fit: row ${r} feature ${j} is not finite`);
        mean[j] += row[j];
      }
    }
    for (let j = 0; j < d; j++) mean[j] /= rows.length;
    const scale = new Float64Array(d);
    for (const row of rows) {
      for (let j = 0; j < d; j++) {
        const dx = row[j] - mean[j];
        scale[j] += dx * dx;
      }
    }
    for (let j = 0; j < d; j++) {
      const std = Math.sqrt(scale[j] / rows.length);
      // sklearn treats near-constant features as constant (scale 1) to avoid blowing up noise.
      scale[j] = std < 10 * Number.EPSILON * Math.max(1, Math.abs(mean[j])) ? 1 : std;
    }
    return new StandardScaler(mean, scale, rows.length);
  }

  /** Builds from explicit parameters (e.g. a forecaster with a known unit scale). */
  static of(mean: ArrayLike<number>, scale: ArrayLike<number>, count = 0): StandardScaler {
    return StandardScaler.fromJSON({
      type: 'standard',
      mean: Array.from(mean),
      scale: Array.from(scale),
      count,
    });
  }

  /** Scales one row into `out` (allocated when omitted). */
  transformRow(row: ArrayLike<number>, out: Float32Array = new Float32Array(this.size)): Float32Array {
    this.checkWidth(row.length);
    for (let j = 0; j < this.mean.length; j++) out[j] = (row[j] - this.mean[j]) / this.scale[j];
    return out;
  }

  /** Scales rows. */
  transform(rows: readonly ArrayLike<number>[]): Float32Array[] {
    return rows.map((r) => this.transformRow(r));
  }

  /** Undoes {@link transformRow}. */
  inverseRow(row: ArrayLike<number>, out: Float64Array = new Float64Array(this.size)): Float64Array {
    this.checkWidth(row.length);
    for (let j = 0; j < this.mean.length; j++) out[j] = row[j] * this.scale[j] + this.mean[j];
    return out;
  }

  /** Undoes {@link transform}. */
  inverse(rows: readonly ArrayLike<number>[]): Float64Array[] {
    return rows.map((r) => this.inverseRow(r));
  }

  /** De-scales one value of feature `feature` (forecast outputs). */
  inverseValue(value: number, feature: number): number {
    if (feature < 0 || feature >= this.size) throw new Error(`StandardScaler: no feature ${feature}`);
    return value * this.scale[feature] + this.mean[feature];
  }

  /** Scales one value of feature `feature`. */
  transformValue(value: number, feature: number): number {
    if (feature < 0 || feature >= this.size) throw new Error(`StandardScaler: no feature ${feature}`);
    return (value - this.mean[feature]) / this.scale[feature];
  }

  toJSON(): StandardScalerJson {
    return {
      type: 'standard',
      mean: Array.from(this.mean),
      scale: Array.from(this.scale),
      count: this.count,
    };
  }

  /** Validates and restores; errors name the offending field. */
  static fromJSON(json: unknown): StandardScaler {
    if (typeof json !== 'object' || json === null) throw new Error('scaler: expected an object');
    const j = json as Record<string, unknown>;
    if (j.type !== undefined && j.type !== 'standard')
      throw new Error(`scaler.type: unsupported ${JSON.stringify(j.type)}`);
    const vec = (field: 'mean' | 'scale'): Float64Array => {
      const v = j[field];
      if (
        !Array.isArray(v) ||
        v.length === 0 ||
        !v.every((x) => typeof x === 'number' && Number.isFinite(x))
      ) {
        throw new Error(`scaler.${field}: expected a non-empty array of finite numbers`);
      }
      return Float64Array.from(v as number[]);
    };
    const mean = vec('mean');
    const scale = vec('scale');
    if (scale.length !== mean.length) throw new Error('scaler.scale: length differs from scaler.mean');
    if (scale.some((s) => s <= 0)) throw new Error('scaler.scale: every entry must be > 0');
    const count = j.count === undefined ? 0 : j.count;
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 0) {
      throw new Error('scaler.count: expected a non-negative integer');
    }
    return new StandardScaler(mean, scale, count);
  }

  private checkWidth(n: number): void {
    if (n !== this.mean.length)
      throw new Error(`StandardScaler: row has ${n} features, expected ${this.mean.length}`);
  }
}
