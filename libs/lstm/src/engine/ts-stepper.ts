import { activate } from './activation';
import type { GruLayerSpec, LstmLayerSpec } from './model-spec';
import type { LayerPlan } from './layer-plan';
import type { Stepper, StepperPlan } from './stepper';

/**
 * Portable kernel: plain TypeScript, key-major (each key runs through every layer before the
 * next key), accumulating in double precision. Every key goes through exactly the same arithmetic,
 * so its result never depends on the rest of the batch.
 */
export class TsStepper implements Stepper {
  readonly kind = 'ts' as const;
  private readonly gx: Float64Array;
  private readonly gh: Float64Array;
  private readonly rh: Float64Array;

  constructor(private readonly plan: StepperPlan) {
    let maxGates = 0;
    let maxUnits = 0;
    for (const l of plan.layers) {
      maxGates = Math.max(maxGates, (l.kind === 'lstm' ? 4 : 3) * l.units);
      maxUnits = Math.max(maxUnits, l.units);
    }
    this.gx = new Float64Array(maxGates);
    this.gh = new Float64Array(maxGates);
    this.rh = new Float64Array(maxUnits);
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
    let inp = input;
    let off = inOff;
    for (const layer of this.plan.layers) {
      if (layer.kind === 'lstm') this.lstm(layer, layer.spec as LstmLayerSpec, inp, off, state, sOff);
      else this.gru(layer, layer.spec as GruLayerSpec, inp, off, state, sOff);
      inp = state;
      off = sOff + layer.hOffset;
    }
  }

  private lstm(
    layer: LayerPlan,
    spec: LstmLayerSpec,
    inp: Float32Array,
    inOff: number,
    state: Float32Array,
    sOff: number,
  ): void {
    const H = layer.units;
    const D = layer.inputDim;
    const N = 4 * H;
    const g = this.gx;
    const W = spec.kernel;
    const U = spec.recurrentKernel;
    const bias = spec.bias;
    if (bias) for (let n = 0; n < N; n++) g[n] = bias[n];
    else g.fill(0, 0, N);
    for (let r = 0; r < D; r++) {
      const s = inp[inOff + r];
      const row = r * N;
      for (let n = 0; n < N; n++) g[n] += s * W[row + n];
    }
    const hOff = sOff + layer.hOffset;
    const cOff = sOff + layer.cOffset;
    for (let r = 0; r < H; r++) {
      const s = state[hOff + r];
      const row = r * N;
      for (let n = 0; n < N; n++) g[n] += s * U[row + n];
    }
    const ra = layer.recurrentActivation;
    const a = layer.activation;
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

  private gru(
    layer: LayerPlan,
    spec: GruLayerSpec,
    inp: Float32Array,
    inOff: number,
    state: Float32Array,
    sOff: number,
  ): void {
    const H = layer.units;
    const D = layer.inputDim;
    const N = 3 * H;
    const gx = this.gx;
    const gh = this.gh;
    const W = spec.kernel;
    const U = spec.recurrentKernel;
    const bias = spec.bias;
    const resetAfter = spec.resetAfter;
    if (bias) {
      for (let n = 0; n < N; n++) gx[n] = bias[n];
      if (resetAfter) for (let n = 0; n < N; n++) gh[n] = bias[N + n];
      else gh.fill(0, 0, N);
    } else {
      gx.fill(0, 0, N);
      gh.fill(0, 0, N);
    }
    for (let r = 0; r < D; r++) {
      const s = inp[inOff + r];
      const row = r * N;
      for (let n = 0; n < N; n++) gx[n] += s * W[row + n];
    }
    const hOff = sOff + layer.hOffset;
    // reset_after=false applies the reset gate before the candidate's recurrent product, so only
    // the z and r columns are computed here.
    const Nh = resetAfter ? N : 2 * H;
    for (let r = 0; r < H; r++) {
      const s = state[hOff + r];
      const row = r * N;
      for (let n = 0; n < Nh; n++) gh[n] += s * U[row + n];
    }
    const ra = layer.recurrentActivation;
    const a = layer.activation;
    if (resetAfter) {
      for (let u = 0; u < H; u++) {
        const z = activate(ra, gx[u] + gh[u]);
        const r = activate(ra, gx[H + u] + gh[H + u]);
        const hh = activate(a, gx[2 * H + u] + r * gh[2 * H + u]);
        state[hOff + u] = z * state[hOff + u] + (1 - z) * hh;
      }
      return;
    }
    const rh = this.rh;
    for (let u = 0; u < H; u++) {
      gx[u] = activate(ra, gx[u] + gh[u]);
      rh[u] = Math.fround(activate(ra, gx[H + u] + gh[H + u]) * state[hOff + u]);
    }
    for (let u = 0; u < H; u++) gh[2 * H + u] = 0;
    for (let k = 0; k < H; k++) {
      const s = rh[k];
      const row = k * N + 2 * H;
      for (let u = 0; u < H; u++) gh[2 * H + u] += s * U[row + u];
    }
    for (let u = 0; u < H; u++) {
      const z = gx[u];
      const hh = activate(a, gx[2 * H + u] + gh[2 * H + u]);
      state[hOff + u] = z * state[hOff + u] + (1 - z) * hh;
    }
  }
}
