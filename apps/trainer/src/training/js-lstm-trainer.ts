/**
 * A single-LSTM-layer trainer with a hand-written backward pass (BPTT) on Float32Arrays:
 * optional Embedding → LSTM (Keras gate order i, f, c, o; sigmoid recurrent activation) →
 * Dense (sigmoid + binary cross-entropy, or linear + MSE), Adam. It exists because tfjs without
 * the native backend spends most of its time in per-op dispatch (hundreds of small ops per time
 * step, forward and backward); here one batch step is a few tight loops. Gradients are checked
 * against tfjs (js-lstm-trainer.spec.ts). Weights are in Keras layout, so a trained model is
 * exported through tfjs-layers `setWeights` unchanged. The trainer ships the WASM SIMD version of
 * these loops (simd-lstm-trainer.ts, ~20x faster); this scalar one stays as the readable reference
 * its spec cross-checks and as a bench/train baseline.
 */

/** Shapes and head of the model. */
export interface JsLstmShape {
  /** Vocabulary rows of the embedding; 0 = no embedding (inputs are feature vectors). */
  readonly vocab: number;
  /** Embedding size, or input features per step without embedding. */
  readonly inputDim: number;
  readonly units: number;
  readonly outputs: number;
  readonly head: 'sigmoid' | 'linear';
}

/** Weights in Keras layout (row-major). */
export interface JsLstmWeights {
  embeddings: Float32Array | null; // vocab × inputDim
  kernel: Float32Array; // inputDim × 4H
  recurrentKernel: Float32Array; // H × 4H
  bias: Float32Array; // 4H
  denseKernel: Float32Array; // H × outputs
  denseBias: Float32Array; // outputs
}

const sig = (x: number) => 1 / (1 + Math.exp(-x));

/**
 * Backward through one row of a gate matrix (row `r`, width `n` = 4·units) for the input value
 * `v` of that row: adds `v · dz` to the gradient row of `gM` and returns the row's
 * `dz · Mᵀ` (the gradient flowing back to the input). Serves the kernel and the recurrent kernel.
 */
function backRow(
  gM: Float32Array,
  M: Float32Array,
  r: number,
  v: number,
  dz: Float32Array,
  n: number,
): number {
  let acc = 0;
  for (let m = 0; m < n; m++) {
    gM[r + m] += v * dz[m];
    acc += dz[m] * M[r + m];
  }
  return acc;
}

/** Adam state for one parameter array (tfjs defaults: β1 0.9, β2 0.999, ε 1e-7). */
class AdamSlot {
  readonly m: Float32Array;
  readonly v: Float32Array;
  constructor(n: number) {
    this.m = new Float32Array(n);
    this.v = new Float32Array(n);
  }
  apply(w: Float32Array, g: Float32Array, lr: number, t: number): void {
    const b1 = 0.9;
    const b2 = 0.999;
    const eps = 1e-7;
    const a = (lr * Math.sqrt(1 - b2 ** t)) / (1 - b1 ** t);
    const m = this.m;
    const v = this.v;
    for (let i = 0; i < w.length; i++) {
      const gi = g[i];
      m[i] = b1 * m[i] + (1 - b1) * gi;
      v[i] = b2 * v[i] + (1 - b2) * gi * gi;
      w[i] -= (a * m[i]) / (Math.sqrt(v[i]) + eps * Math.sqrt(1 - b2 ** t));
    }
  }
}

/** Gradients of one batch, same layout as the weights. */
export interface JsLstmGrads extends JsLstmWeights {
  loss: number;
}

/** The trainer: call {@link trainBatch} per batch (or {@link gradients} to inspect). */
export class JsLstmTrainer {
  private readonly g: JsLstmWeights;
  private readonly adam: AdamSlot[];
  private step = 0;
  // Per-batch scratch, grown on demand.
  private cap = 0;
  private T = 0;
  private gates = new Float32Array(0); // T × B × 4H activated gates (i, f, g, o)
  private cs = new Float32Array(0); // (T+1) × B × H cell states
  private hs = new Float32Array(0); // (T+1) × B × H hidden states
  private tcs = new Float32Array(0); // T × B × H tanh(c)

  constructor(
    readonly shape: JsLstmShape,
    readonly w: JsLstmWeights,
  ) {
    const z = (a: Float32Array | null) => (a ? new Float32Array(a.length) : null);
    this.g = {
      embeddings: z(w.embeddings),
      kernel: z(w.kernel)!,
      recurrentKernel: z(w.recurrentKernel)!,
      bias: z(w.bias)!,
      denseKernel: z(w.denseKernel)!,
      denseBias: z(w.denseBias)!,
    };
    this.adam = this.params(w).map((p) => new AdamSlot(p.length));
  }

  private params(w: JsLstmWeights): Float32Array[] {
    return [w.embeddings, w.kernel, w.recurrentKernel, w.bias, w.denseKernel, w.denseBias].filter(
      (p): p is Float32Array => p !== null,
    );
  }

  private ensure(B: number, T: number): void {
    const H = this.shape.units;
    if (B * T <= this.cap && T <= this.T) return;
    this.cap = B * T;
    this.T = T;
    this.gates = new Float32Array(T * B * 4 * H);
    this.cs = new Float32Array((T + 1) * B * H);
    this.hs = new Float32Array((T + 1) * B * H);
    this.tcs = new Float32Array(T * B * H);
  }

  /**
   * Loss and gradients of a batch (mean over the batch; MSE also over outputs, as tfjs).
   * `x`: token ids B × T (with embedding) or features B × T × inputDim; `y`: B × outputs.
   */
  gradients(x: Int32Array | Float32Array, y: Float32Array, B: number, T: number): JsLstmGrads {
    const { units: H, inputDim: D, outputs: K, head } = this.shape;
    const H4 = 4 * H;
    const w = this.w;
    const g = this.g;
    for (const p of this.params(g)) p.fill(0);
    this.ensure(B, T);
    const { gates, cs, hs, tcs } = this;
    cs.fill(0, 0, B * H);
    hs.fill(0, 0, B * H);
    const emb = w.embeddings;
    const W = w.kernel;
    const U = w.recurrentKernel;
    const bias = w.bias;
    const z = new Float32Array(H4);
    // Forward, time-major.
    for (let t = 0; t < T; t++) {
      const gOff = t * B * H4;
      for (let b = 0; b < B; b++) {
        z.set(bias);
        const xOff = emb ? x[b * T + t] * D : (b * T + t) * D;
        const xs = emb ?? (x as Float32Array);
        for (let k = 0; k < D; k++) {
          const xv = xs[xOff + k];
          if (xv === 0) continue;
          const r = k * H4;
          for (let m = 0; m < H4; m++) z[m] += xv * W[r + m];
        }
        const hPrev = t * B * H + b * H;
        for (let j = 0; j < H; j++) {
          const hv = hs[hPrev + j];
          if (hv === 0) continue;
          const r = j * H4;
          for (let m = 0; m < H4; m++) z[m] += hv * U[r + m];
        }
        const go = gOff + b * H4;
        const cPrev = t * B * H + b * H;
        const cNext = (t + 1) * B * H + b * H;
        const tcOff = t * B * H + b * H;
        for (let j = 0; j < H; j++) {
          const i = sig(z[j]);
          const f = sig(z[H + j]);
          const gg = Math.tanh(z[2 * H + j]);
          const o = sig(z[3 * H + j]);
          gates[go + j] = i;
          gates[go + H + j] = f;
          gates[go + 2 * H + j] = gg;
          gates[go + 3 * H + j] = o;
          const c = f * cs[cPrev + j] + i * gg;
          cs[cNext + j] = c;
          const tc = Math.tanh(c);
          tcs[tcOff + j] = tc;
          hs[cNext + j] = o * tc;
        }
      }
    }
    // Head and loss.
    const hT = T * B * H;
    const dh = new Float32Array(B * H);
    let loss = 0;
    for (let b = 0; b < B; b++) {
      for (let k = 0; k < K; k++) {
        let a = w.denseBias[k];
        for (let j = 0; j < H; j++) a += hs[hT + b * H + j] * w.denseKernel[j * K + k];
        const yt = y[b * K + k];
        let d: number;
        if (head === 'sigmoid') {
          const p = Math.min(1 - 1e-7, Math.max(1e-7, sig(a)));
          loss -= (yt * Math.log(p) + (1 - yt) * Math.log(1 - p)) / (B * K);
          d = (p - yt) / (B * K);
        } else {
          loss += ((a - yt) * (a - yt)) / (B * K);
          d = (2 * (a - yt)) / (B * K);
        }
        g.denseBias[k] += d;
        for (let j = 0; j < H; j++) {
          g.denseKernel[j * K + k] += hs[hT + b * H + j] * d;
          dh[b * H + j] += d * w.denseKernel[j * K + k];
        }
      }
    }
    // Backward through time.
    const dc = new Float32Array(B * H);
    const dz = new Float32Array(H4);
    const gW = g.kernel;
    const gU = g.recurrentKernel;
    const gb = g.bias;
    for (let t = T - 1; t >= 0; t--) {
      const gOff = t * B * H4;
      for (let b = 0; b < B; b++) {
        const go = gOff + b * H4;
        const cPrev = t * B * H + b * H;
        const tcOff = t * B * H + b * H;
        const s = b * H;
        for (let j = 0; j < H; j++) {
          const i = gates[go + j];
          const f = gates[go + H + j];
          const gg = gates[go + 2 * H + j];
          const o = gates[go + 3 * H + j];
          const tc = tcs[tcOff + j];
          const dhj = dh[s + j];
          const dcj = dc[s + j] + dhj * o * (1 - tc * tc);
          dz[j] = dcj * gg * i * (1 - i);
          dz[H + j] = dcj * cs[cPrev + j] * f * (1 - f);
          dz[2 * H + j] = dcj * i * (1 - gg * gg);
          dz[3 * H + j] = dhj * tc * o * (1 - o);
          dc[s + j] = dcj * f;
        }
        for (let m = 0; m < H4; m++) gb[m] += dz[m];
        // dU += h_{t-1}ᵀ dz ; dh_{t-1} = dz Uᵀ
        const hPrev = t * B * H + b * H;
        for (let j = 0; j < H; j++) dh[s + j] = backRow(gU, U, j * H4, hs[hPrev + j], dz, H4);
        // dW += x_tᵀ dz ; dx_t = dz Wᵀ (into the embedding row)
        const xs = emb ?? (x as Float32Array);
        const xOff = emb ? x[b * T + t] * D : (b * T + t) * D;
        const gE = g.embeddings;
        for (let k = 0; k < D; k++) {
          const acc = backRow(gW, W, k * H4, xs[xOff + k], dz, H4);
          if (gE) gE[xOff + k] += acc;
        }
      }
    }
    return { ...g, loss };
  }

  /** One Adam step on a batch; returns the batch loss. */
  trainBatch(x: Int32Array | Float32Array, y: Float32Array, B: number, T: number, lr: number): number {
    const { loss } = this.gradients(x, y, B, T);
    this.step++;
    const ps = this.params(this.w);
    const gs = this.params(this.g);
    for (let i = 0; i < ps.length; i++) this.adam[i].apply(ps[i], gs[i], lr, this.step);
    return loss;
  }
}
