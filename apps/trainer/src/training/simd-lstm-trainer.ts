import { join } from 'node:path';
import { loadWasmKernel, locateWasmFile, type CompiledWasmModule } from '@app/lstm';

/**
 * Trainer for Embedding → LSTM stack → Dense models on the WASM SIMD training kernel
 * (libs/lstm/wasm/assembly/train.ts, built to libs/lstm/wasm/build/train.wasm by `npm run
 * build:wasm`). One batch is a forward pass over all steps keeping the gates, backward through
 * time, the Embedding gradient as sparse row sums, and Adam with tfjs' arithmetic; all tensors
 * stay in the kernel's linear memory between steps. The math is tfjs-layers' (Keras gate order
 * i, f, c, o, sigmoid recurrent activation, Embedding mask_zero carrying the state over masked
 * steps) and weights are in Keras layout, in the order of tf.LayersModel.getWeights(), so they go
 * through setWeights unchanged. Gradients and trained weights are checked against tfjs-layers in
 * simd-lstm-trainer.spec.ts.
 *
 * The kernel works on whole SIMD lanes of 4 units. Other unit counts (LSTM(50) is common) train
 * on units padded to the next multiple of 4 with zero weights: a zero unit has zero pre-activations,
 * so c = 0.5·c_prev + 0.5·tanh(0) = 0 and h = 0 at every step; every weight that reads it or feeds
 * it gets an exactly zero gradient, Adam leaves it at zero, and the real units compute what they
 * would without it. Weights go in and out in the model's own (unpadded) layout.
 */

/** Model shape the kernel trains. */
export interface SimdLstmShape {
  /** Embedding rows; 0 = no embedding (inputs are `inputDim` features per step). */
  readonly vocab: number;
  /** Embedding size, or features per step without an embedding. */
  readonly inputDim: number;
  /** Units of every LSTM layer. */
  readonly units: number;
  /** Stacked LSTM layers (all but the last return sequences). */
  readonly layers: number;
  /** Dense units. */
  readonly outputs: number;
  /** sigmoid + binary cross-entropy, softmax + categorical cross-entropy, or linear + MSE. */
  readonly head: 'sigmoid' | 'softmax' | 'linear';
  /** Sequence length. */
  readonly steps: number;
  /** Largest batch passed to the trainer. */
  readonly maxBatch: number;
  /** Token 0 is masked (Embedding mask_zero): masked steps carry the state. */
  readonly maskZero: boolean;
}

/** Loss and (for classifier heads) correctly classified examples of a batch or a data set. */
export interface BatchScore {
  /** Mean loss over the examples. */
  readonly loss: number;
  /** Examples whose prediction matches the target (binary: p > 0.5; softmax: argmax). */
  readonly correct: number;
}

/** Path of the built training kernel relative to the repository (and image) root. */
export const TRAIN_WASM_RELATIVE_PATH = join('libs', 'lstm', 'wasm', 'build', 'train.wasm');

interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

interface TrainExports {
  readonly memory: WasmMemory;
  heapBase(): number;
  gemm(M: number, N: number, K: number, a: number, lda: number, transA: number, b: number, ldb: number, c: number, ldc: number, bias: number, acc: number): void;
  lstmForwardStep(z: number, B: number, H: number, cPrev: number, c: number, hPrev: number, h: number, tc: number, mask: number): void;
  lstmBackwardStep(g: number, B: number, H: number, cPrev: number, tc: number, dh: number, dc: number, mask: number): void;
  gatherRows(ids: number, n: number, table: number, E: number, dst: number): void;
  scatterAddRows(ids: number, n: number, src: number, E: number, dst: number): void;
  addInto(dst: number, src: number, n: number): void;
  colSumAdd(src: number, rows: number, N: number, dst: number): void;
  transpose(src: number, rows: number, cols: number, dst: number): void;
  adam(w: number, g: number, m: number, v: number, n: number, lr: number, b1: number, b2: number, c1: number, c2: number, eps: number, oma1: number, oma2: number): void;
}

const WA = (globalThis as unknown as {
  WebAssembly: { Instance: new (m: CompiledWasmModule, imports: Record<string, Record<string, unknown>>) => { exports: unknown } };
}).WebAssembly;

/** The compiled training kernel, or why there is none (never throws). */
export function loadTrainKernel(): { module: CompiledWasmModule | null; reason: string } {
  const path = locateWasmFile(TRAIN_WASM_RELATIVE_PATH, 'STREAMCELL_TRAIN_WASM');
  if (!path) return { module: null, reason: `${TRAIN_WASM_RELATIVE_PATH} not found (run npm run build:wasm)` };
  const { module, reason } = loadWasmKernel(path);
  return { module, reason };
}

/** Why the kernel cannot train this shape, or null when it can. */
export function simdUnsupportedReason(s: SimdLstmShape): string | null {
  if (s.units < 1) return 'no LSTM units';
  if (s.layers < 1) return 'no LSTM layer';
  if (s.maskZero && s.vocab === 0) return 'masking needs an embedding';
  if (s.head === 'sigmoid' && s.outputs < 1) return 'no outputs';
  const k = loadTrainKernel();
  return k.module ? null : k.reason;
}

const B1 = 0.9;
const B2 = 0.999;
const EPS = 1e-7;
const F32_EPS = Math.fround(1e-7);
const F32_ONE_MINUS_EPS = Math.fround(1 - 1e-7);

interface Layer {
  readonly D: number;
  readonly W: number; // byte offsets of parameters
  readonly U: number;
  readonly b: number;
  readonly gW: number;
  readonly gU: number;
  readonly gb: number;
  readonly Z: number; // T × B × 4H pre-activations → gates → dz
  readonly Hs: number; // (T+1) × B × H, row block 0 = h_{-1} = 0
  readonly Cs: number; // (T+1) × B × H
  readonly TC: number; // T × B × H tanh(c)
  readonly UT: number; // 4H × H
  readonly WT: number; // 4H × D
}

/** Units rounded up to whole SIMD lanes. */
export function paddedUnits(units: number): number {
  return Math.ceil(units / 4) * 4;
}

/**
 * Copies a weight matrix of `rows` × `gates`·`H` (gate blocks of H columns, Keras layout) into
 * one of `rowsOut` × `gates`·`Hp`, each gate block at the start of its Hp columns; the rest is
 * zero. `unpad` does the reverse. gates = 1 covers the Dense kernel (rows are units).
 */
function padBlocks(src: Float32Array, rows: number, gates: number, H: number, Hp: number, rowsOut: number): Float32Array {
  const dst = new Float32Array(rowsOut * gates * Hp);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < gates; g++) dst.set(src.subarray((r * gates + g) * H, (r * gates + g + 1) * H), (r * gates + g) * Hp);
  }
  return dst;
}

function unpadBlocks(src: Float32Array, rows: number, gates: number, H: number, Hp: number): Float32Array {
  const dst = new Float32Array(rows * gates * H);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < gates; g++) dst.set(src.subarray((r * gates + g) * Hp, (r * gates + g) * Hp + H), (r * gates + g) * H);
  }
  return dst;
}

/** Where each getWeights() array sits in the padded layout: rows, gate blocks, row count padded. */
interface WeightLayout {
  readonly rows: number;
  readonly gates: number;
  /** Rows in the padded layout (rows indexed by units grow to Hp). */
  readonly rowsOut: number;
  /** Columns per block in the model's layout. */
  readonly width: number;
  /** Columns are gate blocks of `width` = units each (LSTM kernel, recurrent kernel, bias), padded to Hp. */
  readonly unitCols: boolean;
}

/** The SIMD trainer: {@link trainBatch} per batch, {@link evaluate} / {@link predict} for scores. */
export class SimdLstmTrainer {
  private readonly k: TrainExports;
  private f32!: Float32Array;
  private i32!: Int32Array;
  private readonly sizes: number[]; // padded
  private readonly layout: WeightLayout[];
  /** Units as the kernel sees them: the model's, rounded up to a multiple of 4. */
  private readonly hp: number;
  private readonly offsets: number[] = []; // byte offsets of each weight array in the parameter block
  private readonly P: number; // parameter block start (bytes)
  private readonly G: number; // gradients
  private readonly M: number; // Adam first moments
  private readonly V: number; // Adam second moments
  private readonly nParams: number;
  private readonly L: Layer[] = [];
  private readonly ids: number;
  private readonly mask: number;
  private readonly X0: number;
  private readonly dh: number;
  private readonly dc: number;
  private readonly dX: number;
  private readonly emb: number;
  private readonly gEmb: number;
  private readonly dense: number;
  private readonly denseBias: number;
  private readonly gDense: number;
  private readonly gDenseBias: number;
  private readonly out: Float32Array;
  private readonly dOut: Float32Array;
  private acc1 = Math.fround(B1);
  private acc2 = Math.fround(B2);
  private transposed = false;

  /** `weights` in tf.LayersModel.getWeights() order: [embeddings], (kernel, recurrent, bias) × layers, dense kernel, dense bias. */
  constructor(
    readonly shape: SimdLstmShape,
    weights: readonly Float32Array[],
  ) {
    const reason = simdUnsupportedReason(shape);
    if (reason) throw new Error(`SIMD LSTM trainer: ${reason}`);
    const inst = new WA.Instance(loadTrainKernel().module!, {
      env: {
        abort: () => {
          throw new Error('train.wasm aborted');
        },
      },
    });
    this.k = inst.exports as TrainExports;
    const { vocab, inputDim, units, layers, outputs: Kout, steps: T, maxBatch: Bm } = shape;
    const H = paddedUnits(units);
    this.hp = H;
    const layout: WeightLayout[] = [];
    if (vocab > 0) layout.push({ rows: vocab, gates: 1, rowsOut: vocab, width: inputDim, unitCols: false });
    for (let l = 0; l < layers; l++) {
      const D = l === 0 ? inputDim : units;
      const Dp = l === 0 ? inputDim : H;
      layout.push(
        { rows: D, gates: 4, rowsOut: Dp, width: units, unitCols: true },
        { rows: units, gates: 4, rowsOut: H, width: units, unitCols: true },
        { rows: 1, gates: 4, rowsOut: 1, width: units, unitCols: true },
      );
    }
    layout.push(
      { rows: units, gates: 1, rowsOut: H, width: Kout, unitCols: false },
      { rows: 1, gates: 1, rowsOut: 1, width: Kout, unitCols: false },
    );
    this.layout = layout;
    if (weights.length !== layout.length) throw new Error(`expected ${layout.length} weight arrays, got ${weights.length}`);
    weights.forEach((w, i) => {
      const n = layout[i].rows * layout[i].gates * layout[i].width;
      if (w.length !== n) throw new Error(`weight ${i}: expected ${n} values, got ${w.length}`);
    });
    const sizes = layout.map((w) => w.rowsOut * w.gates * (w.unitCols ? H : w.width));
    this.sizes = sizes;
    // Bump allocation, 16-byte aligned.
    let top = this.k.heapBase();
    const alloc = (floats: number): number => {
      const p = top;
      top += Math.ceil((floats * 4) / 16) * 16;
      return p;
    };
    const block = (): number => {
      const start = top;
      for (const n of sizes) alloc(n);
      return start;
    };
    this.P = block();
    let off = this.P;
    for (const n of sizes) {
      this.offsets.push(off);
      off += Math.ceil((n * 4) / 16) * 16;
    }
    this.nParams = (off - this.P) / 4;
    this.G = block();
    this.M = block();
    this.V = block();
    const gOf = (i: number) => this.G + (this.offsets[i] - this.P);
    let wi = 0;
    this.emb = vocab > 0 ? this.offsets[wi] : 0;
    this.gEmb = vocab > 0 ? gOf(wi++) : 0;
    for (let l = 0; l < layers; l++) {
      const D = l === 0 ? inputDim : H;
      this.L.push({
        D,
        W: this.offsets[wi],
        U: this.offsets[wi + 1],
        b: this.offsets[wi + 2],
        gW: gOf(wi),
        gU: gOf(wi + 1),
        gb: gOf(wi + 2),
        Z: alloc(T * Bm * 4 * H),
        Hs: alloc((T + 1) * Bm * H),
        Cs: alloc((T + 1) * Bm * H),
        TC: alloc(T * Bm * H),
        UT: alloc(4 * H * H),
        WT: alloc(4 * H * D),
      });
      wi += 3;
    }
    this.dense = this.offsets[wi];
    this.gDense = gOf(wi);
    this.denseBias = this.offsets[wi + 1];
    this.gDenseBias = gOf(wi + 1);
    this.ids = alloc(T * Bm);
    this.mask = alloc(T * Bm);
    this.X0 = alloc(T * Bm * inputDim);
    this.dh = alloc(Bm * H);
    this.dc = alloc(Bm * H);
    this.dX = alloc(T * Bm * Math.max(inputDim, H));
    const mem = this.k.memory;
    const need = top - mem.buffer.byteLength;
    if (need > 0) mem.grow(Math.ceil(need / 65536));
    this.f32 = new Float32Array(mem.buffer);
    this.i32 = new Int32Array(mem.buffer);
    this.f32.fill(0, this.M / 4, this.M / 4 + 2 * this.nParams);
    weights.forEach((w, i) => this.f32.set(this.pad(i, w), this.offsets[i] / 4));
    this.out = new Float32Array(Bm * Kout);
    this.dOut = new Float32Array(Bm * Kout);
  }

  /** Copies of the current weights, in getWeights() order and the model's layout. */
  getWeights(): Float32Array[] {
    return this.sizes.map((n, i) => this.unpad(i, this.f32.subarray(this.offsets[i] / 4, this.offsets[i] / 4 + n)));
  }

  /** Weight array i in the kernel's layout (a copy when the units are padded). */
  private pad(i: number, w: Float32Array): Float32Array {
    const L = this.layout[i];
    if (!L.unitCols || this.hp === this.shape.units) {
      // Only the row count can differ (the Dense kernel's rows are units).
      return L.rowsOut === L.rows ? w : padBlocks(w, 1, 1, L.rows * L.width, L.rowsOut * L.width, 1);
    }
    return padBlocks(w, L.rows, L.gates, L.width, this.hp, L.rowsOut);
  }

  /** Weight array i (`w` in the kernel's layout) back in the model's layout, as a copy. */
  private unpad(i: number, w: Float32Array): Float32Array {
    const L = this.layout[i];
    if (!L.unitCols || this.hp === this.shape.units) return w.slice(0, L.rows * L.gates * L.width);
    return unpadBlocks(w, L.rows, L.gates, L.width, this.hp);
  }

  /** Loads a batch (x: B × T token ids, or B × T × inputDim features, row-major) time-major. */
  private load(x: Int32Array | Float32Array, B: number): void {
    const { steps: T, inputDim: D, vocab } = this.shape;
    if (B > this.shape.maxBatch) throw new Error(`batch ${B} > maxBatch ${this.shape.maxBatch}`);
    if (vocab > 0) {
      const ids = this.ids / 4;
      const mask = this.mask / 4;
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < T; t++) {
          const id = x[b * T + t];
          if (!(id >= 0 && id < vocab)) throw new Error(`token id ${id} outside the vocabulary [0, ${vocab})`);
          this.i32[ids + t * B + b] = id;
          this.f32[mask + t * B + b] = id === 0 ? 0 : 1;
        }
      }
      this.k.gatherRows(this.ids, T * B, this.emb, D, this.X0);
    } else {
      const x0 = this.X0 / 4;
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < T; t++) {
          const src = (b * T + t) * D;
          const dst = x0 + (t * B + b) * D;
          for (let d = 0; d < D; d++) this.f32[dst + d] = x[src + d];
        }
      }
    }
  }

  /** Forward pass of a loaded batch; leaves the Dense outputs (activated) in `out`. */
  private forward(B: number): void {
    const k = this.k;
    const { steps: T, outputs: K, head } = this.shape;
    const H = this.hp;
    const H4 = 4 * H;
    const masked = this.shape.maskZero;
    for (let l = 0; l < this.L.length; l++) {
      const L = this.L[l];
      const xin = l === 0 ? this.X0 : this.L[l - 1].Hs + B * H * 4;
      k.gemm(T * B, H4, L.D, xin, L.D, 0, L.W, H4, L.Z, H4, L.b, 0);
      this.f32.fill(0, L.Hs / 4, L.Hs / 4 + B * H);
      this.f32.fill(0, L.Cs / 4, L.Cs / 4 + B * H);
      for (let t = 0; t < T; t++) {
        const z = L.Z + t * B * H4 * 4;
        const hPrev = L.Hs + t * B * H * 4;
        if (t > 0) k.gemm(B, H4, H, hPrev, H, 0, L.U, H4, z, H4, 0, 1);
        const cPrev = L.Cs + t * B * H * 4;
        k.lstmForwardStep(z, B, H, cPrev, cPrev + B * H * 4, hPrev, hPrev + B * H * 4, L.TC + t * B * H * 4, masked ? this.mask + t * B * 4 : 0);
      }
    }
    // Dense head on the last layer's final h (float64 sums, float32 results like tfjs' tensors).
    const f = this.f32;
    const hT = (this.L[this.L.length - 1].Hs + T * B * H * 4) / 4;
    const wd = this.dense / 4;
    const bd = this.denseBias / 4;
    const out = this.out;
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < K; j++) {
        let a = f[bd + j];
        for (let u = 0; u < H; u++) a += f[hT + b * H + u] * f[wd + u * K + j];
        out[b * K + j] = a;
      }
      if (head === 'sigmoid') {
        for (let j = 0; j < K; j++) out[b * K + j] = 1 / (1 + Math.exp(-out[b * K + j]));
      } else if (head === 'softmax') {
        let mx = -Infinity;
        for (let j = 0; j < K; j++) mx = Math.max(mx, out[b * K + j]);
        let s = 0;
        for (let j = 0; j < K; j++) s += Math.exp(out[b * K + j] - mx);
        for (let j = 0; j < K; j++) out[b * K + j] = Math.exp(out[b * K + j] - mx) / s;
      }
    }
  }

  /** Loss, hits and (when `grad`) dL/d(pre-activation) of the head into dOut, for a forwarded batch. */
  private score(y: Float32Array, B: number, grad: boolean): BatchScore {
    const { outputs: K, head } = this.shape;
    const out = this.out;
    const d = this.dOut;
    let loss = 0;
    let correct = 0;
    for (let b = 0; b < B; b++) {
      const o = b * K;
      if (head === 'sigmoid') {
        let l = 0;
        let hits = 0;
        for (let j = 0; j < K; j++) {
          const p = out[o + j];
          const t = y[o + j];
          const pc = Math.min(F32_ONE_MINUS_EPS, Math.max(F32_EPS, p));
          l -= t * Math.log(pc) + (1 - t) * Math.log(1 - pc);
          if ((p > 0.5 ? 1 : 0) === t) hits++;
          // The clip has no gradient outside its range.
          if (grad) d[o + j] = p > F32_EPS && p < F32_ONE_MINUS_EPS ? (p - t) / (B * K) : 0;
        }
        loss += l / K;
        correct += hits / K;
      } else if (head === 'softmax') {
        // tfjs: −Σ t·log(clip(p)); a clipped p passes no gradient. Through the softmax,
        // dL/da_i = p_i·(g_i − Σ_j g_j·p_j) with g_j = −t_j / p_j (0 when clipped): p − t in range.
        let l = 0;
        let best = 0;
        let bestT = 0;
        let gp = 0;
        for (let j = 0; j < K; j++) {
          const p = out[o + j];
          const t = y[o + j];
          if (t !== 0) l -= t * Math.log(Math.min(F32_ONE_MINUS_EPS, Math.max(F32_EPS, p)));
          if (p > out[o + best]) best = j;
          if (t > y[o + bestT]) bestT = j;
          const g = t !== 0 && p > F32_EPS && p < F32_ONE_MINUS_EPS ? -t / p : 0;
          if (grad) d[o + j] = g;
          gp += g * p;
        }
        if (grad) for (let j = 0; j < K; j++) d[o + j] = (out[o + j] * (d[o + j] - gp)) / B;
        loss += l;
        if (best === bestT) correct++;
      } else {
        let l = 0;
        for (let j = 0; j < K; j++) {
          const e = out[o + j] - y[o + j];
          l += e * e;
          if (grad) d[o + j] = (2 * e) / (B * K);
        }
        loss += l / K;
      }
    }
    return { loss: loss / B, correct };
  }

  /** Backward pass of a forwarded and scored batch: gradients into the gradient block. */
  private backward(B: number): void {
    const k = this.k;
    const f = this.f32;
    const { steps: T, outputs: K } = this.shape;
    const H = this.hp;
    const H4 = 4 * H;
    const masked = this.shape.maskZero;
    f.fill(0, this.G / 4, this.G / 4 + this.nParams);
    this.ensureTransposed();
    // Head: dWd = h_Tᵀ·d, dbd = Σ d, dh_T = d·Wdᵀ.
    const hT = (this.L[this.L.length - 1].Hs + T * B * H * 4) / 4;
    const wd = this.dense / 4;
    const gwd = this.gDense / 4;
    const gbd = this.gDenseBias / 4;
    const dh = this.dh / 4;
    const d = this.dOut;
    for (let j = 0; j < K; j++) {
      let s = 0;
      for (let b = 0; b < B; b++) s += d[b * K + j];
      f[gbd + j] = s;
      for (let u = 0; u < H; u++) {
        let g = 0;
        for (let b = 0; b < B; b++) g += f[hT + b * H + u] * d[b * K + j];
        f[gwd + u * K + j] = g;
      }
    }
    for (let b = 0; b < B; b++) {
      for (let u = 0; u < H; u++) {
        let s = 0;
        for (let j = 0; j < K; j++) s += d[b * K + j] * f[wd + u * K + j];
        f[dh + b * H + u] = s;
      }
    }
    for (let l = this.L.length - 1; l >= 0; l--) {
      const L = this.L[l];
      const top = l === this.L.length - 1;
      if (!top) f.fill(0, dh, dh + B * H);
      f.fill(0, this.dc / 4, this.dc / 4 + B * H);
      for (let t = T - 1; t >= 0; t--) {
        const g = L.Z + t * B * H4 * 4;
        // Layers below the top get dL/dh_t from the layer above (its dX, row block t).
        if (!top) k.addInto(this.dh, this.dX + t * B * H * 4, B * H);
        k.lstmBackwardStep(g, B, H, L.Cs + t * B * H * 4, L.TC + t * B * H * 4, this.dh, this.dc, masked ? this.mask + t * B * 4 : 0);
        if (t > 0) k.gemm(B, H, H4, g, H4, 0, L.UT, H, this.dh, H, 0, 1);
      }
      const xin = l === 0 ? this.X0 : this.L[l - 1].Hs + B * H * 4;
      k.gemm(L.D, H4, T * B, xin, L.D, 1, L.Z, H4, L.gW, H4, 0, 1);
      k.gemm(H, H4, T * B, L.Hs, H, 1, L.Z, H4, L.gU, H4, 0, 1);
      k.colSumAdd(L.Z, T * B, H4, L.gb);
      if (l > 0 || this.shape.vocab > 0) {
        k.gemm(T * B, L.D, H4, L.Z, H4, 0, L.WT, L.D, this.dX, L.D, 0, 0);
        if (l === 0) k.scatterAddRows(this.ids, T * B, this.dX, L.D, this.gEmb);
      }
    }
  }

  private ensureTransposed(): void {
    if (this.transposed) return;
    const H = this.hp;
    for (const L of this.L) {
      this.k.transpose(L.U, H, 4 * H, L.UT);
      this.k.transpose(L.W, L.D, 4 * H, L.WT);
    }
    this.transposed = true;
  }

  /** Loss and gradients of one batch, in getWeights() order (for checks against tfjs). */
  gradients(x: Int32Array | Float32Array, y: Float32Array, B: number): { loss: number; grads: Float32Array[] } {
    this.load(x, B);
    this.forward(B);
    const { loss } = this.score(y, B, true);
    this.backward(B);
    const grads = this.sizes.map((n, i) => {
      const o = (this.G + (this.offsets[i] - this.P)) / 4;
      return this.unpad(i, this.f32.subarray(o, o + n));
    });
    return { loss, grads };
  }

  /** One Adam step on a batch (x: B × T ids or B × T × features; y: B × outputs); the batch's loss and hits before the step. */
  trainBatch(x: Int32Array | Float32Array, y: Float32Array, B: number, learningRate: number): BatchScore {
    this.load(x, B);
    this.forward(B);
    const s = this.score(y, B, true);
    this.backward(B);
    this.k.adam(this.P, this.G, this.M, this.V, this.nParams, learningRate, B1, B2, 1 - B1, 1 - B2, EPS, Math.fround(1 - this.acc1), Math.fround(1 - this.acc2));
    this.acc1 = Math.fround(this.acc1 * Math.fround(B1));
    this.acc2 = Math.fround(this.acc2 * Math.fround(B2));
    this.transposed = false;
    return s;
  }

  /** Dense outputs (probabilities, or linear values) of n examples, in batches of maxBatch. */
  predict(x: Int32Array | Float32Array, n: number): Float32Array {
    const per = this.perExample();
    const K = this.shape.outputs;
    const res = new Float32Array(n * K);
    for (let s = 0; s < n; s += this.shape.maxBatch) {
      const B = Math.min(this.shape.maxBatch, n - s);
      this.load(x.subarray(s * per, (s + B) * per), B);
      this.forward(B);
      res.set(this.out.subarray(0, B * K), s * K);
    }
    return res;
  }

  /** Mean loss and hits over n examples, in batches of maxBatch (as tfjs' evaluate). */
  evaluate(x: Int32Array | Float32Array, y: Float32Array, n: number): BatchScore {
    const per = this.perExample();
    const K = this.shape.outputs;
    let loss = 0;
    let correct = 0;
    for (let s = 0; s < n; s += this.shape.maxBatch) {
      const B = Math.min(this.shape.maxBatch, n - s);
      this.load(x.subarray(s * per, (s + B) * per), B);
      this.forward(B);
      const r = this.score(y.subarray(s * K, (s + B) * K), B, false);
      loss += r.loss * B;
      correct += r.correct;
    }
    return { loss: n > 0 ? loss / n : 0, correct };
  }

  private perExample(): number {
    return this.shape.steps * (this.shape.vocab > 0 ? 1 : this.shape.inputDim);
  }
}
