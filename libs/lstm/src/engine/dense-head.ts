import { activate, cellActivationCode } from './activation';
import type { DenseLayerSpec } from './model-spec';

interface DensePlan {
  readonly spec: DenseLayerSpec;
  readonly softmax: boolean;
  readonly code: ReturnType<typeof cellActivationCode>;
}

/**
 * Dense output head (Keras `Dense` layers in order) applied per key to the last recurrent layer's
 * h. Accumulates in double precision; identical arithmetic for every key.
 */
export class DenseHead {
  readonly inputDim: number;
  readonly outputDim: number;
  private readonly plans: DensePlan[];
  private a: Float64Array;
  private b: Float64Array;

  constructor(layers: readonly DenseLayerSpec[], inputDim: number) {
    this.inputDim = inputDim;
    let prev = inputDim;
    let widest = inputDim;
    this.plans = layers.map((l, i) => {
      const where = `head[${i}] (dense)`;
      if (l.kind !== 'dense') throw new Error(`${where}: unsupported head layer kind '${String(l.kind)}'`);
      if (l.inputDim !== prev) throw new Error(`${where}.inputDim ${l.inputDim} does not match ${prev}`);
      if (!Number.isInteger(l.units) || l.units <= 0)
        throw new Error(`${where}.units must be a positive integer`);
      if (!(l.kernel instanceof Float32Array) || l.kernel.length !== l.inputDim * l.units) {
        throw new Error(`${where}.kernel: expected ${l.inputDim * l.units} floats`);
      }
      if (l.bias && l.bias.length !== l.units) throw new Error(`${where}.bias: expected ${l.units} floats`);
      prev = l.units;
      widest = Math.max(widest, l.units);
      const softmax = l.activation === 'softmax';
      return { spec: l, softmax, code: cellActivationCode(softmax ? 'linear' : l.activation, where) };
    });
    this.outputDim = prev;
    this.a = new Float64Array(widest);
    this.b = new Float64Array(widest);
  }

  /** Writes `batch` rows of `outputDim` floats to `out`, reading each key's h at `hOffset`. */
  apply(batch: number, state: Float32Array, stateSize: number, hOffset: number, out: Float32Array): void {
    const O = this.outputDim;
    const I = this.inputDim;
    for (let k = 0; k < batch; k++) {
      let cur = this.a;
      let nxt = this.b;
      const base = k * stateSize + hOffset;
      for (let i = 0; i < I; i++) cur[i] = state[base + i];
      for (const p of this.plans) {
        const { kernel, bias, units: N, inputDim: K } = p.spec;
        if (bias) for (let n = 0; n < N; n++) nxt[n] = bias[n];
        else nxt.fill(0, 0, N);
        for (let r = 0; r < K; r++) {
          const s = cur[r];
          const row = r * N;
          for (let n = 0; n < N; n++) nxt[n] += s * kernel[row + n];
        }
        if (p.softmax) {
          let max = -Infinity;
          for (let n = 0; n < N; n++) if (nxt[n] > max) max = nxt[n];
          let sum = 0;
          for (let n = 0; n < N; n++) {
            const e = Math.exp(nxt[n] - max);
            nxt[n] = e;
            sum += e;
          }
          for (let n = 0; n < N; n++) nxt[n] /= sum;
        } else {
          for (let n = 0; n < N; n++) nxt[n] = activate(p.code, Math.fround(nxt[n]));
        }
        const t = cur;
        cur = nxt;
        nxt = t;
      }
      const o = k * O;
      for (let n = 0; n < O; n++) out[o + n] = cur[n];
    }
  }
}
