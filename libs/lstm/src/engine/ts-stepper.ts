import { activate } from './activation';
import type { GruLayerSpec, LstmLayerSpec } from './model-spec';
import type { LayerPlan } from './layer-plan';
import type { Stepper, StepperPlan } from './stepper';

/** A matrix packed in blocks of 4 output columns: block q holds its K rows × 4 consecutively. */
interface Packed {
  readonly data: Float64Array;
  readonly K: number;
  /** Output columns rounded up to 4. */
  readonly Np: number;
  /** Bias padded to Np (zeros when the layer has none). */
  readonly bias: Float64Array;
}

/**
 * Packs columns [c0, c0 + N) of the row-major matrices in `sources` (stacked vertically, each
 * `srcCols` wide) and the matching bias slice.
 */
function pack(
  sources: readonly { m: Float32Array; rows: number }[],
  srcCols: number,
  c0: number,
  N: number,
  bias: Float32Array | null,
  biasOffset: number,
): Packed {
  const K = sources.reduce((s, x) => s + x.rows, 0);
  const Np = Math.ceil(N / 4) * 4;
  const data = new Float64Array(K * Np);
  let r = 0;
  for (const { m, rows } of sources) {
    for (let sr = 0; sr < rows; sr++, r++) {
      for (let n = 0; n < N; n++) data[((n >> 2) * K + r) * 4 + (n & 3)] = m[sr * srcCols + c0 + n];
    }
  }
  const b = new Float64Array(Np);
  if (bias) for (let n = 0; n < N; n++) b[n] = bias[biasOffset + c0 + n];
  return { data, K, Np, bias: b };
}

/**
 * out[0:Np] = bias + inp[0:K] · W, four output columns at a time. Per output the sum runs bias,
 * then rows 0..K-1 in order, in double precision: the same arithmetic for every key.
 */
function matvec(p: Packed, inp: Float64Array, inOff: number, out: Float64Array, outOff: number): void {
  const { data, K, Np, bias } = p;
  for (let q = 0, base = 0; q < Np; q += 4, base += K * 4) {
    let a0 = bias[q];
    let a1 = bias[q + 1];
    let a2 = bias[q + 2];
    let a3 = bias[q + 3];
    for (let r = 0, i = base; r < K; r++, i += 4) {
      const s = inp[inOff + r];
      a0 += s * data[i];
      a1 += s * data[i + 1];
      a2 += s * data[i + 2];
      a3 += s * data[i + 3];
    }
    out[outOff + q] = a0;
    out[outOff + q + 1] = a1;
    out[outOff + q + 2] = a2;
    out[outOff + q + 3] = a3;
  }
}

interface TsLayer {
  readonly plan: LayerPlan;
  /** LSTM: [W; U] (all 4 gates). GRU: W (3 gates). */
  readonly w: Packed;
  /** GRU reset_after=true: U (3 gates); reset_after=false: U for z and r. */
  readonly u: Packed | null;
  /** GRU reset_after=false: U for the candidate. */
  readonly uh: Packed | null;
  readonly resetAfter: boolean;
}

/**
 * Portable kernel: plain TypeScript, key-major (each key runs through every layer before the
 * next key), accumulating in double precision. Every key goes through exactly the same arithmetic,
 * so its result never depends on the rest of the batch.
 */
export class TsStepper implements Stepper {
  readonly kind = 'ts' as const;
  private readonly layers: TsLayer[];
  private readonly inp: Float64Array;
  private readonly gx: Float64Array;
  private readonly gh: Float64Array;
  private readonly rh: Float64Array;

  constructor(private readonly plan: StepperPlan) {
    let maxGates = 0;
    let maxK = 0;
    this.layers = plan.layers.map((p) => {
      const H = p.units;
      const D = p.inputDim;
      maxK = Math.max(maxK, D + H);
      if (p.kind === 'lstm') {
        const s = p.spec as LstmLayerSpec;
        maxGates = Math.max(maxGates, 4 * H + 4);
        const src = [
          { m: s.kernel, rows: D },
          { m: s.recurrentKernel, rows: H },
        ];
        return { plan: p, w: pack(src, 4 * H, 0, 4 * H, s.bias, 0), u: null, uh: null, resetAfter: false };
      }
      const s = p.spec as GruLayerSpec;
      maxGates = Math.max(maxGates, 3 * H + 4);
      const kx = [{ m: s.kernel, rows: D }];
      const ku = [{ m: s.recurrentKernel, rows: H }];
      const w = pack(kx, 3 * H, 0, 3 * H, s.bias, 0);
      if (s.resetAfter) {
        return { plan: p, w, u: pack(ku, 3 * H, 0, 3 * H, s.bias, 3 * H), uh: null, resetAfter: true };
      }
      return {
        plan: p,
        w,
        u: pack(ku, 3 * H, 0, 2 * H, null, 0),
        uh: pack(ku, 3 * H, 2 * H, H, null, 0),
        resetAfter: false,
      };
    });
    this.inp = new Float64Array(maxK);
    this.gx = new Float64Array(maxGates);
    this.gh = new Float64Array(maxGates);
    this.rh = new Float64Array(maxK);
  }

  step(batch: number, x: Float32Array, state: Float32Array, mask: Uint8Array | undefined): void {
    const S = this.plan.stateSize;
    const D = this.plan.layers[0].inputDim;
    for (let b = 0; b < batch; b++) {
      if (mask !== undefined && mask[b] === 0) continue;
      this.stepKey(x, b * D, state, b * S);
    }
  }

  stepTokens(batch: number, tokens: Int32Array, state: Float32Array, mask: Uint8Array | undefined): void {
    const emb = this.plan.embedding;
    if (!emb) throw new Error('stepTokens: the model has no embedding');
    const S = this.plan.stateSize;
    const E = emb.outputDim;
    for (let b = 0; b < batch; b++) {
      if (mask !== undefined && mask[b] === 0) continue;
      const t = tokens[b];
      if (t === 0 && emb.maskZero) continue;
      this.stepKey(emb.embeddings, t * E, state, b * S);
    }
  }

  private stepKey(input: Float32Array, inOff: number, state: Float32Array, sOff: number): void {
    let src = input;
    let off = inOff;
    for (const layer of this.layers) {
      const p = layer.plan;
      const D = p.inputDim;
      const H = p.units;
      const inp = this.inp;
      const hOff = sOff + p.hOffset;
      for (let r = 0; r < D; r++) inp[r] = src[off + r];
      for (let r = 0; r < H; r++) inp[D + r] = state[hOff + r];
      if (p.kind === 'lstm') this.lstm(layer, state, sOff);
      else this.gru(layer, state, sOff);
      src = state;
      off = hOff;
    }
  }

  private lstm(layer: TsLayer, state: Float32Array, sOff: number): void {
    const p = layer.plan;
    const H = p.units;
    const g = this.gx;
    matvec(layer.w, this.inp, 0, g, 0);
    const hOff = sOff + p.hOffset;
    const cOff = sOff + p.cOffset;
    const ra = p.recurrentActivation;
    const a = p.activation;
    for (let u = 0; u < H; u++) {
      const i = activate(ra, g[u]);
      const f = activate(ra, g[H + u]);
      const cc = activate(a, g[2 * H + u]);
      const o = activate(ra, g[3 * H + u]);
      const c = Math.fround(f * state[cOff + u] + i * cc);
      state[cOff + u] = c;
      state[hOff + u] = o * activate(a, c);
    }
  }

  private gru(layer: TsLayer, state: Float32Array, sOff: number): void {
    const p = layer.plan;
    const H = p.units;
    const D = p.inputDim;
    const gx = this.gx;
    const gh = this.gh;
    const inp = this.inp;
    matvec(layer.w, inp, 0, gx, 0);
    const hOff = sOff + p.hOffset;
    const ra = p.recurrentActivation;
    const a = p.activation;
    if (layer.resetAfter) {
      matvec(layer.u!, inp, D, gh, 0);
      for (let u = 0; u < H; u++) {
        const z = activate(ra, gx[u] + gh[u]);
        const r = activate(ra, gx[H + u] + gh[H + u]);
        const hh = activate(a, gx[2 * H + u] + r * gh[2 * H + u]);
        state[hOff + u] = z * state[hOff + u] + (1 - z) * hh;
      }
      return;
    }
    // reset_after=false applies the reset gate before the candidate's recurrent product.
    matvec(layer.u!, inp, D, gh, 0);
    const rh = this.rh;
    for (let u = 0; u < H; u++) {
      gx[u] = activate(ra, gx[u] + gh[u]);
      rh[u] = Math.fround(activate(ra, gx[H + u] + gh[H + u]) * state[hOff + u]);
    }
    matvec(layer.uh!, rh, 0, gh, 0);
    for (let u = 0; u < H; u++) {
      const z = gx[u];
      const hh = activate(a, gx[2 * H + u] + gh[u]);
      state[hOff + u] = z * state[hOff + u] + (1 - z) * hh;
    }
  }
}
