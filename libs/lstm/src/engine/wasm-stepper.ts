import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { GruLayerSpec, LstmLayerSpec } from './model-spec';
import type { LayerPlan } from './layer-plan';
import type { Stepper, StepperPlan } from './stepper';

// Typed locally: the project's TS libs (ES2022 + @types/node 20) do not declare WebAssembly.
/** A compiled WebAssembly module (opaque). */
export interface CompiledWasmModule {
  readonly __compiledWasmModule?: never;
}
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => CompiledWasmModule;
  Instance: new (
    module: CompiledWasmModule,
    imports: Record<string, Record<string, unknown>>,
  ) => { exports: unknown };
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** Path of the built kernel relative to the repository root. */
export const WASM_KERNEL_RELATIVE_PATH = join('libs', 'lstm', 'wasm', 'build', 'kernel.wasm');

interface KernelExports {
  readonly memory: WasmMemory;
  heapBase(): number;
  activateInPlace(p: number, len: number, code: number): void;
  buildIndex(batch: number, mask: number, tokens: number, idx: number): number;
  fillRows(
    n: number,
    idx: number,
    src: number,
    srcStride: number,
    len: number,
    dst: number,
    rows: number,
    row: number,
  ): void;
  fillTokenRows(
    n: number,
    idx: number,
    tokens: number,
    emb: number,
    E: number,
    dst: number,
    rows: number,
    row: number,
  ): void;
  gemm(
    inp: number,
    rows: number,
    row: number,
    K: number,
    w: number,
    N: number,
    bias: number,
    out: number,
    outStride: number,
    n: number,
  ): void;
  lstmPointwise(
    n: number,
    idx: number,
    g: number,
    Hp: number,
    H: number,
    state: number,
    S: number,
    hOff: number,
    cOff: number,
    act: number,
    rec: number,
  ): void;
  gruPointwiseAfter(
    n: number,
    idx: number,
    gx: number,
    gh: number,
    Hp: number,
    H: number,
    state: number,
    S: number,
    hOff: number,
    act: number,
    rec: number,
  ): void;
  gruGatesBefore(
    n: number,
    idx: number,
    gx: number,
    gh: number,
    Hp: number,
    state: number,
    S: number,
    hOff: number,
    rh: number,
    rec: number,
  ): void;
  gruFinalBefore(
    n: number,
    idx: number,
    gx: number,
    gh: number,
    Hp: number,
    H: number,
    state: number,
    S: number,
    hOff: number,
    act: number,
  ): void;
}

/** Outcome of looking for the WASM kernel: the compiled module, or why there is none. */
export interface WasmKernelLoad {
  readonly module: CompiledWasmModule | null;
  readonly path: string | null;
  readonly reason: string;
}

const loads = new Map<string, WasmKernelLoad>();

/**
 * Finds a built WASM file of this repository (`libs/lstm/wasm/build/...`): the explicit path,
 * else the environment variable `envVar`, else the first `relativePath` found walking up from
 * this module (works for src/ under jest/swc and for dist/libs/lstm/src/... after tsc) or from
 * the working directory. Null when there is none.
 */
export function locateWasmFile(relativePath: string, envVar: string, explicitPath?: string): string | null {
  const given = explicitPath ?? process.env[envVar];
  if (given) return resolve(given);
  for (const start of [__dirname, process.cwd()]) {
    for (let dir = resolve(start); ; dir = dirname(dir)) {
      const candidate = join(dir, relativePath);
      if (existsSync(candidate)) return candidate;
      if (dirname(dir) === dir) break;
    }
  }
  return null;
}

/** Finds kernel.wasm: the explicit path, else env `STREAMCELL_LSTM_WASM`, else by {@link locateWasmFile}. */
export function locateWasmKernel(explicitPath?: string): string | null {
  return locateWasmFile(WASM_KERNEL_RELATIVE_PATH, 'STREAMCELL_LSTM_WASM', explicitPath);
}

/** Loads and compiles (once per path) the WASM SIMD kernel; never throws. */
export function loadWasmKernel(explicitPath?: string): WasmKernelLoad {
  const path = locateWasmKernel(explicitPath);
  if (!path) {
    return {
      module: null,
      path: null,
      reason: `${WASM_KERNEL_RELATIVE_PATH} not found (run npm run build:wasm)`,
    };
  }
  const cached = loads.get(path);
  if (cached) return cached;
  let result: WasmKernelLoad;
  try {
    const bytes = readFileSync(path);
    if (!WA.validate(bytes)) {
      result = { module: null, path, reason: `${path} does not validate (WebAssembly SIMD unsupported?)` };
    } else {
      result = { module: new WA.Module(bytes), path, reason: 'ok' };
    }
  } catch (e) {
    result = { module: null, path, reason: `${path}: ${(e as Error).message}` };
  }
  loads.set(path, result);
  return result;
}

const roundUp = (n: number, m: number): number => Math.ceil(n / m) * m;

/**
 * Packs selected gate blocks of row-major matrices (stacked vertically: `sources` rows in order)
 * into the kernel's chunk-major layout, each gate block padded from H to Hp columns with zeros.
 */
function packMatrix(
  sources: readonly { m: Float32Array; rows: number }[],
  srcCols: number,
  gates: readonly number[],
  H: number,
  Hp: number,
): Float32Array {
  const K = sources.reduce((s, x) => s + x.rows, 0);
  const N = gates.length * Hp;
  const out = new Float32Array(K * N);
  const rowRef: { m: Float32Array; r: number }[] = [];
  for (const s of sources) for (let r = 0; r < s.rows; r++) rowRef.push({ m: s.m, r });
  for (let c0 = 0; c0 < N; c0 += 8) {
    const width = Math.min(8, N - c0);
    const base = c0 * K;
    for (let r = 0; r < K; r++) {
      const { m, r: sr } = rowRef[r];
      for (let l = 0; l < width; l++) {
        const n = c0 + l;
        const g = Math.floor(n / Hp);
        const u = n % Hp;
        out[base + r * width + l] = u < H ? m[sr * srcCols + gates[g] * H + u] : 0;
      }
    }
  }
  return out;
}

function padBias(
  bias: Float32Array,
  offset: number,
  gates: readonly number[],
  H: number,
  Hp: number,
): Float32Array {
  const out = new Float32Array(gates.length * Hp);
  gates.forEach((g, gi) => {
    for (let u = 0; u < H; u++) out[gi * Hp + u] = bias[offset + g * H + u];
  });
  return out;
}

interface WasmLayer {
  readonly plan: LayerPlan;
  readonly Hp: number;
  mode: 'lstm' | 'gru-after' | 'gru-before';
  /** LSTM: [W;U] (K = D + H, 4Hp cols); GRU: W (D rows, 3Hp cols). */
  w: number;
  /** GRU after: U (3Hp); GRU before: U_zr (2Hp). */
  u: number;
  /** GRU before: U_h (Hp). */
  uh: number;
  bias: number;
  biasRec: number;
}

/** Mirrors a caller's typed array into a fixed-size view without allocating on repeated calls. */
class ViewCache<T extends Float32Array | Uint8Array | Int32Array> {
  private src: T | null = null;
  private len = -1;
  private view: T | null = null;
  get(src: T, len: number): T {
    if (src === this.src && len === this.len && this.view) return this.view;
    this.src = src;
    this.len = len;
    this.view = src.length === len ? src : (src.subarray(0, len) as T);
    return this.view;
  }
}

/**
 * WASM SIMD stepper: owns one kernel instance (its own linear memory) holding the packed weights
 * and the batch buffers, which grow when a larger batch arrives.
 */
class WasmStepper implements Stepper {
  readonly kind = 'wasm' as const;
  private readonly k: KernelExports;
  private readonly layers: WasmLayer[];
  private readonly S: number;
  private readonly D: number;
  private readonly fixedEnd: number;
  private emb = 0;
  private capacity = 0;
  // batch regions (byte offsets)
  private X = 0;
  private TOK = 0;
  private MASK = 0;
  private IDX = 0;
  private ST = 0;
  private IN = 0;
  private GX = 0;
  private GH = 0;
  private RH = 0;
  private f32!: Float32Array;
  private u8!: Uint8Array;
  private i32!: Int32Array;
  private readonly maxK: number;
  private readonly maxG: number;
  private readonly maxHp: number;
  private readonly xIn = new ViewCache<Float32Array>();
  private readonly stIn = new ViewCache<Float32Array>();
  private readonly maskIn = new ViewCache<Uint8Array>();
  private readonly tokIn = new ViewCache<Int32Array>();
  private stOutLen = -1;
  private stOut: Float32Array | null = null;
  /**
   * Keys per tile (a multiple of 4): small enough that a tile's gathered [x; h] rows and gate rows
   * stay in L1/L2 between the matrix product and the pointwise pass at any batch size.
   */
  private readonly tile = 32;

  constructor(
    module: CompiledWasmModule,
    private readonly plan: StepperPlan,
    initialBatch: number,
  ) {
    const instance = new WA.Instance(module, {
      env: {
        abort: () => {
          throw new Error('kernel.wasm aborted');
        },
      },
    });
    this.k = instance.exports as KernelExports;
    this.S = plan.stateSize;
    this.D = plan.layers[0].inputDim;
    const blobs: { data: Float32Array; set: (ptr: number) => void }[] = [];
    let maxK = 0;
    let maxG = 0;
    let maxHp = 0;
    this.layers = plan.layers.map((p) => {
      const H = p.units;
      const Hp = roundUp(H, 4);
      maxK = Math.max(maxK, p.inputDim + H);
      maxHp = Math.max(maxHp, Hp);
      const layer: WasmLayer = { plan: p, Hp, mode: 'lstm', w: 0, u: 0, uh: 0, bias: 0, biasRec: 0 };
      if (p.kind === 'lstm') {
        const s = p.spec as LstmLayerSpec;
        maxG = Math.max(maxG, 4 * Hp);
        const gates = [0, 1, 2, 3];
        const src = [
          { m: s.kernel, rows: p.inputDim },
          { m: s.recurrentKernel, rows: H },
        ];
        blobs.push({ data: packMatrix(src, 4 * H, gates, H, Hp), set: (ptr) => (layer.w = ptr) });
        if (s.bias) blobs.push({ data: padBias(s.bias, 0, gates, H, Hp), set: (ptr) => (layer.bias = ptr) });
      } else {
        const s = p.spec as GruLayerSpec;
        maxG = Math.max(maxG, 3 * Hp);
        const all = [0, 1, 2];
        const kx = [{ m: s.kernel, rows: p.inputDim }];
        const ku = [{ m: s.recurrentKernel, rows: H }];
        blobs.push({ data: packMatrix(kx, 3 * H, all, H, Hp), set: (ptr) => (layer.w = ptr) });
        if (s.resetAfter) {
          layer.mode = 'gru-after';
          blobs.push({ data: packMatrix(ku, 3 * H, all, H, Hp), set: (ptr) => (layer.u = ptr) });
          if (s.bias) {
            blobs.push({ data: padBias(s.bias, 0, all, H, Hp), set: (ptr) => (layer.bias = ptr) });
            blobs.push({ data: padBias(s.bias, 3 * H, all, H, Hp), set: (ptr) => (layer.biasRec = ptr) });
          }
        } else {
          layer.mode = 'gru-before';
          blobs.push({ data: packMatrix(ku, 3 * H, [0, 1], H, Hp), set: (ptr) => (layer.u = ptr) });
          blobs.push({ data: packMatrix(ku, 3 * H, [2], H, Hp), set: (ptr) => (layer.uh = ptr) });
          if (s.bias) blobs.push({ data: padBias(s.bias, 0, all, H, Hp), set: (ptr) => (layer.bias = ptr) });
        }
      }
      return layer;
    });
    this.maxK = maxK;
    this.maxG = maxG;
    this.maxHp = maxHp;
    if (plan.embedding) {
      blobs.push({ data: plan.embedding.embeddings, set: (ptr) => (this.emb = ptr) });
    }
    let ptr = roundUp(this.k.heapBase(), 16);
    const placed: { ptr: number; data: Float32Array }[] = [];
    for (const b of blobs) {
      b.set(ptr);
      placed.push({ ptr, data: b.data });
      ptr = roundUp(ptr + b.data.length * 4, 16);
    }
    this.fixedEnd = ptr;
    this.ensureMemory(ptr);
    for (const p of placed) this.f32.set(p.data, p.ptr / 4);
    this.ensureCapacity(initialBatch);
  }

  private ensureMemory(bytes: number): void {
    const mem = this.k.memory;
    const have = mem.buffer.byteLength;
    if (bytes > have) mem.grow(Math.ceil((bytes - have) / 65536));
    if (!this.f32 || this.f32.buffer !== mem.buffer) {
      this.f32 = new Float32Array(mem.buffer);
      this.u8 = new Uint8Array(mem.buffer);
      this.i32 = new Int32Array(mem.buffer);
      this.stOutLen = -1;
    }
  }

  private ensureCapacity(batch: number): void {
    if (batch <= this.capacity) return;
    // Matrix-product inputs and outputs are laid out for whole blocks of 4 keys.
    const cap = roundUp(Math.max(batch, this.capacity * 2), 4);
    let p = this.fixedEnd;
    const take = (bytes: number): number => {
      const at = p;
      p = roundUp(p + bytes, 16);
      return at;
    };
    this.X = take(cap * this.D * 4 + 16);
    this.TOK = take(cap * 4);
    this.MASK = take(cap);
    this.IDX = take(cap * 4);
    // Slack after the state: vector loads of the last key's padded lanes may read past its row.
    this.ST = take(cap * this.S * 4 + 64);
    this.IN = take(cap * this.maxK * 4);
    this.GX = take(cap * this.maxG * 4);
    this.GH = take(cap * this.maxG * 4);
    this.RH = take(cap * this.maxHp * 4);
    this.ensureMemory(p);
    this.capacity = cap;
    this.stOutLen = -1;
  }

  step(batch: number, x: Float32Array, state: Float32Array, mask: Uint8Array | undefined): void {
    this.ensureCapacity(batch);
    this.f32.set(this.xIn.get(x, batch * this.D), this.X >> 2);
    this.run(batch, state, mask, false);
  }

  stepTokens(batch: number, tokens: Int32Array, state: Float32Array, mask: Uint8Array | undefined): void {
    this.ensureCapacity(batch);
    this.i32.set(this.tokIn.get(tokens, batch), this.TOK >> 2);
    this.run(batch, state, mask, true);
  }

  private run(batch: number, state: Float32Array, mask: Uint8Array | undefined, tokens: boolean): void {
    const k = this.k;
    const S = this.S;
    if (mask !== undefined) this.u8.set(this.maskIn.get(mask, batch), this.MASK);
    const maskZero = tokens && this.plan.embedding !== null && this.plan.embedding.maskZero;
    const n = k.buildIndex(batch, mask !== undefined ? this.MASK : 0, maskZero ? this.TOK : 0, this.IDX);
    if (n === 0) return;
    const len = batch * S;
    this.f32.set(this.stIn.get(state, len), this.ST >> 2);
    // Keys go through all layers a tile at a time, so a tile's gathered inputs and gate rows stay
    // in L1 between the matrix product and the pointwise pass instead of round-tripping through
    // L2/L3 for the whole batch. Each key's arithmetic is the same whatever its tile.
    const T = this.tile;
    for (let t0 = 0; t0 < n; t0 += T) this.runTile(Math.min(T, n - t0), this.IDX + t0 * 4, tokens);
    if (this.stOutLen !== len || !this.stOut) {
      this.stOut = this.f32.subarray(this.ST >> 2, (this.ST >> 2) + len);
      this.stOutLen = len;
    }
    state.set(this.stOut);
  }

  /** Steps the n keys listed at IDX (a multiple of 4 keys into the index) through every layer. */
  private runTile(n: number, IDX: number, tokens: boolean): void {
    const k = this.k;
    const S = this.S;
    const ST = this.ST;
    let prev: LayerPlan | null = null;
    for (const L of this.layers) {
      const p = L.plan;
      const H = p.units;
      const D = p.inputDim;
      const K = D + H;
      const Hp = L.Hp;
      const hOff = p.hOffset;
      if (prev === null) {
        if (tokens) k.fillTokenRows(n, IDX, this.TOK, this.emb, D, this.IN, K, 0);
        else k.fillRows(n, IDX, this.X, D, D, this.IN, K, 0);
      } else {
        k.fillRows(n, IDX, ST + prev.hOffset * 4, S, D, this.IN, K, 0);
      }
      k.fillRows(n, IDX, ST + hOff * 4, S, H, this.IN, K, D);
      const act = p.activation;
      const rec = p.recurrentActivation;
      switch (L.mode) {
        case 'lstm':
          k.gemm(this.IN, K, 0, K, L.w, 4 * Hp, L.bias, this.GX, 4 * Hp, n);
          k.lstmPointwise(n, IDX, this.GX, Hp, H, ST, S, hOff, p.cOffset, act, rec);
          break;
        case 'gru-after':
          k.gemm(this.IN, K, 0, D, L.w, 3 * Hp, L.bias, this.GX, 3 * Hp, n);
          k.gemm(this.IN, K, D, H, L.u, 3 * Hp, L.biasRec, this.GH, 3 * Hp, n);
          k.gruPointwiseAfter(n, IDX, this.GX, this.GH, Hp, H, ST, S, hOff, act, rec);
          break;
        case 'gru-before':
          k.gemm(this.IN, K, 0, D, L.w, 3 * Hp, L.bias, this.GX, 3 * Hp, n);
          k.gemm(this.IN, K, D, H, L.u, 2 * Hp, 0, this.GH, 3 * Hp, n);
          k.gruGatesBefore(n, IDX, this.GX, this.GH, Hp, ST, S, hOff, this.RH, rec);
          k.gemm(this.RH, Hp, 0, H, L.uh, Hp, 0, this.GH + 2 * Hp * 4, 3 * Hp, n);
          k.gruFinalBefore(n, IDX, this.GX, this.GH, Hp, H, ST, S, hOff, act);
          break;
      }
      prev = p;
    }
  }
}

/** Builds a WASM stepper for a validated plan. */
export function createWasmStepper(
  module: CompiledWasmModule,
  plan: StepperPlan,
  initialBatch: number,
): Stepper {
  return new WasmStepper(module, plan, initialBatch);
}

/**
 * Runs the kernel's vectorised activation over `values` (length a multiple of 4) in place; lets
 * tests check the WASM sigmoid/tanh against Math. Returns false when the kernel is unavailable.
 */
export function wasmActivateForTest(values: Float32Array, code: number, wasmPath?: string): boolean {
  const { module } = loadWasmKernel(wasmPath);
  if (!module) return false;
  const inst = new WA.Instance(module, { env: { abort: () => undefined } });
  const k = inst.exports as KernelExports;
  const base = roundUp(k.heapBase(), 16);
  const need = base + values.length * 4;
  const have = k.memory.buffer.byteLength;
  if (need > have) k.memory.grow(Math.ceil((need - have) / 65536));
  const f32 = new Float32Array(k.memory.buffer);
  f32.set(values, base / 4);
  k.activateInPlace(base, values.length, code);
  values.set(f32.subarray(base / 4, base / 4 + values.length));
  return true;
}
