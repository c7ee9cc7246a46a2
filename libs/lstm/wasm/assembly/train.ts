// streamcell LSTM training kernel, WebAssembly SIMD (f32x4): the building blocks of one batch of
// forward + backward-through-time + Adam for Embedding → LSTM stack → Dense models, driven from
// apps/trainer/src/training/simd-lstm-trainer.ts.
//
// All memory is managed by the JS host: pointers are byte offsets into this module's linear memory,
// leading dimensions are in floats. Matrices are plain row-major (Keras layout: kernel D×4H,
// recurrent kernel H×4H, gate order i, f, c, o), so weights move to and from tfjs unchanged.
// Every output row of a matrix product is computed by the same sequence of float operations
// whatever the number of rows, so a forward pass of one example does not depend on the others in
// its batch.

// Float32 sigmoid and tanh on f32x4 and their constants (C), shared with the stepping kernel.
import { C, sigmoid4, tanh4 } from './activations';

/** First byte the host may use. */
export function heapBase(): usize {
  return (__heap_base + 15) & ~15;
}

// ---- matrix product ----------------------------------------------------------------------------

/**
 * C[M×N] = init + A·B where init is the bias row (bias ≠ 0), C itself (acc ≠ 0) or zero.
 * A(m, k) is a[m·lda + k], or a[k·lda + m] when transA ≠ 0; B is row-major K×N (ldb), C is ldc.
 * Register tiles of 4 rows × 8 columns, then 4 × 4, then scalar columns; leftover rows one by one.
 */
export function gemm(
  M: i32, N: i32, Kd: i32,
  a: usize, lda: i32, transA: i32,
  b: usize, ldb: i32,
  c: usize, ldc: i32,
  bias: usize, acc: i32,
): void {
  const sm: usize = transA != 0 ? 4 : <usize>lda << 2; // bytes between rows of A
  const sk: usize = transA != 0 ? <usize>lda << 2 : 4; // bytes between k of A
  const sb: usize = <usize>ldb << 2;
  const sc: usize = <usize>ldc << 2;
  let m = 0;
  for (; m + 4 <= M; m += 4) {
    const a0 = a + <usize>m * sm;
    const c0 = c + <usize>m * sc;
    let n = 0;
    for (; n + 8 <= N; n += 8) tile4x8(Kd, a0, sm, sk, b + (<usize>n << 2), sb, c0 + (<usize>n << 2), sc, bias != 0 ? bias + (<usize>n << 2) : 0, acc);
    for (; n + 4 <= N; n += 4) tile4x4(Kd, a0, sm, sk, b + (<usize>n << 2), sb, c0 + (<usize>n << 2), sc, bias != 0 ? bias + (<usize>n << 2) : 0, acc);
    for (let r = 0; r < 4; r++) scalarCols(n, N, Kd, a0 + <usize>r * sm, sk, b, sb, c0 + <usize>r * sc, bias, acc);
  }
  for (; m < M; m++) {
    const ar = a + <usize>m * sm;
    const cr = c + <usize>m * sc;
    let n = 0;
    for (; n + 8 <= N; n += 8) row1x8(Kd, ar, sk, b + (<usize>n << 2), sb, cr + (<usize>n << 2), bias != 0 ? bias + (<usize>n << 2) : 0, acc);
    for (; n + 4 <= N; n += 4) row1x4(Kd, ar, sk, b + (<usize>n << 2), sb, cr + (<usize>n << 2), bias != 0 ? bias + (<usize>n << 2) : 0, acc);
    scalarCols(n, N, Kd, ar, sk, b, sb, cr, bias, acc);
  }
}

@inline
function initVec(c: usize, bias: usize, acc: i32): v128 {
  if (bias != 0) return v128.load(bias);
  if (acc != 0) return v128.load(c);
  return f32x4.splat(0);
}

function tile4x8(Kd: i32, a: usize, sm: usize, sk: usize, b: usize, sb: usize, c: usize, sc: usize, bias: usize, acc: i32): void {
  const c1 = c + sc;
  const c2 = c1 + sc;
  const c3 = c2 + sc;
  let x00 = initVec(c, bias, acc);
  let x01 = initVec(c + 16, bias + (bias != 0 ? 16 : 0), acc);
  let x10 = initVec(c1, bias, acc);
  let x11 = initVec(c1 + 16, bias + (bias != 0 ? 16 : 0), acc);
  let x20 = initVec(c2, bias, acc);
  let x21 = initVec(c2 + 16, bias + (bias != 0 ? 16 : 0), acc);
  let x30 = initVec(c3, bias, acc);
  let x31 = initVec(c3 + 16, bias + (bias != 0 ? 16 : 0), acc);
  let pa = a;
  let pb = b;
  for (let k = 0; k < Kd; k++) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let s = v128.load32_splat(pa);
    x00 = f32x4.add(x00, f32x4.mul(s, b0));
    x01 = f32x4.add(x01, f32x4.mul(s, b1));
    s = v128.load32_splat(pa + sm);
    x10 = f32x4.add(x10, f32x4.mul(s, b0));
    x11 = f32x4.add(x11, f32x4.mul(s, b1));
    s = v128.load32_splat(pa + 2 * sm);
    x20 = f32x4.add(x20, f32x4.mul(s, b0));
    x21 = f32x4.add(x21, f32x4.mul(s, b1));
    s = v128.load32_splat(pa + 3 * sm);
    x30 = f32x4.add(x30, f32x4.mul(s, b0));
    x31 = f32x4.add(x31, f32x4.mul(s, b1));
    pa += sk;
    pb += sb;
  }
  v128.store(c, x00);
  v128.store(c, x01, 16);
  v128.store(c1, x10);
  v128.store(c1, x11, 16);
  v128.store(c2, x20);
  v128.store(c2, x21, 16);
  v128.store(c3, x30);
  v128.store(c3, x31, 16);
}

function tile4x4(Kd: i32, a: usize, sm: usize, sk: usize, b: usize, sb: usize, c: usize, sc: usize, bias: usize, acc: i32): void {
  const c1 = c + sc;
  const c2 = c1 + sc;
  const c3 = c2 + sc;
  let x0 = initVec(c, bias, acc);
  let x1 = initVec(c1, bias, acc);
  let x2 = initVec(c2, bias, acc);
  let x3 = initVec(c3, bias, acc);
  let pa = a;
  let pb = b;
  for (let k = 0; k < Kd; k++) {
    const b0 = v128.load(pb);
    x0 = f32x4.add(x0, f32x4.mul(v128.load32_splat(pa), b0));
    x1 = f32x4.add(x1, f32x4.mul(v128.load32_splat(pa + sm), b0));
    x2 = f32x4.add(x2, f32x4.mul(v128.load32_splat(pa + 2 * sm), b0));
    x3 = f32x4.add(x3, f32x4.mul(v128.load32_splat(pa + 3 * sm), b0));
    pa += sk;
    pb += sb;
  }
  v128.store(c, x0);
  v128.store(c1, x1);
  v128.store(c2, x2);
  v128.store(c3, x3);
}

function row1x8(Kd: i32, a: usize, sk: usize, b: usize, sb: usize, c: usize, bias: usize, acc: i32): void {
  let x0 = initVec(c, bias, acc);
  let x1 = initVec(c + 16, bias + (bias != 0 ? 16 : 0), acc);
  let pa = a;
  let pb = b;
  for (let k = 0; k < Kd; k++) {
    const s = v128.load32_splat(pa);
    x0 = f32x4.add(x0, f32x4.mul(s, v128.load(pb)));
    x1 = f32x4.add(x1, f32x4.mul(s, v128.load(pb, 16)));
    pa += sk;
    pb += sb;
  }
  v128.store(c, x0);
  v128.store(c, x1, 16);
}

function row1x4(Kd: i32, a: usize, sk: usize, b: usize, sb: usize, c: usize, bias: usize, acc: i32): void {
  let x0 = initVec(c, bias, acc);
  let pa = a;
  let pb = b;
  for (let k = 0; k < Kd; k++) {
    x0 = f32x4.add(x0, f32x4.mul(v128.load32_splat(pa), v128.load(pb)));
    pa += sk;
    pb += sb;
  }
  v128.store(c, x0);
}

/** Columns [n0, N) of one output row, scalar (same operation order as the vector lanes). */
function scalarCols(n0: i32, N: i32, Kd: i32, a: usize, sk: usize, b: usize, sb: usize, c: usize, bias: usize, acc: i32): void {
  for (let n = n0; n < N; n++) {
    const off = <usize>n << 2;
    let x: f32 = bias != 0 ? load<f32>(bias + off) : acc != 0 ? load<f32>(c + off) : 0;
    let pa = a;
    let pb = b + off;
    for (let k = 0; k < Kd; k++) {
      x += load<f32>(pa) * load<f32>(pb);
      pa += sk;
      pb += sb;
    }
    store<f32>(c + off, x);
  }
}

// ---- LSTM pointwise ----------------------------------------------------------------------------

/**
 * One forward step's pointwise part for B rows of H units (H a multiple of 4). z (B×4H) holds the
 * pre-activations and is overwritten with the activated gates i, f, c̃, o. c, h, tc get the new
 * cell state, hidden state and tanh(c). mask (one f32 per row, 0 = masked; 0 pointer = none): a
 * masked row carries cPrev and hPrev, as tfjs' rnn() does for Embedding(mask_zero) inputs.
 */
export function lstmForwardStep(z: usize, B: i32, H: i32, cPrev: usize, c: usize, hPrev: usize, h: usize, tc: usize, mask: usize): void {
  const hb = <usize>H << 2;
  for (let r = 0; r < B; r++) {
    const zr = z + <usize>r * (hb << 2);
    const o = <usize>r * hb;
    if (mask != 0 && load<f32>(mask + (<usize>r << 2)) == 0) {
      memory.copy(c + o, cPrev + o, hb);
      memory.copy(h + o, hPrev + o, hb);
      memory.fill(tc + o, 0, hb);
      continue;
    }
    for (let j: usize = 0; j < hb; j += 16) {
      const gi = sigmoid4(v128.load(zr + j));
      const gf = sigmoid4(v128.load(zr + hb + j));
      const gg = tanh4(v128.load(zr + 2 * hb + j));
      const go = sigmoid4(v128.load(zr + 3 * hb + j));
      v128.store(zr + j, gi);
      v128.store(zr + hb + j, gf);
      v128.store(zr + 2 * hb + j, gg);
      v128.store(zr + 3 * hb + j, go);
      const cn = f32x4.add(f32x4.mul(gf, v128.load(cPrev + o + j)), f32x4.mul(gi, gg));
      const t = tanh4(cn);
      v128.store(c + o + j, cn);
      v128.store(tc + o + j, t);
      v128.store(h + o + j, f32x4.mul(go, t));
    }
  }
}

/**
 * One backward step's pointwise part. g (B×4H) holds the step's activated gates and is
 * overwritten with dL/dz. dh (B×H) is dL/dh_t in, dc (B×H) dL/dc_t in and dL/dc_{t-1} out. For an
 * unmasked row dh is zeroed (the caller adds dz·Uᵀ for dL/dh_{t-1}); a masked row's dz is zero and
 * its dh and dc pass through unchanged.
 */
export function lstmBackwardStep(g: usize, B: i32, H: i32, cPrev: usize, tc: usize, dh: usize, dc: usize, mask: usize): void {
  const hb = <usize>H << 2;
  const one = v128.load(C, 192);
  const zero = f32x4.splat(0);
  for (let r = 0; r < B; r++) {
    const gr = g + <usize>r * (hb << 2);
    const o = <usize>r * hb;
    if (mask != 0 && load<f32>(mask + (<usize>r << 2)) == 0) {
      memory.fill(gr, 0, hb << 2);
      continue;
    }
    for (let j: usize = 0; j < hb; j += 16) {
      const gi = v128.load(gr + j);
      const gf = v128.load(gr + hb + j);
      const gg = v128.load(gr + 2 * hb + j);
      const go = v128.load(gr + 3 * hb + j);
      const t = v128.load(tc + o + j);
      const dhj = v128.load(dh + o + j);
      const dcj = f32x4.add(v128.load(dc + o + j), f32x4.mul(f32x4.mul(dhj, go), f32x4.sub(one, f32x4.mul(t, t))));
      v128.store(gr + j, f32x4.mul(f32x4.mul(dcj, gg), f32x4.mul(gi, f32x4.sub(one, gi))));
      v128.store(gr + hb + j, f32x4.mul(f32x4.mul(dcj, v128.load(cPrev + o + j)), f32x4.mul(gf, f32x4.sub(one, gf))));
      v128.store(gr + 2 * hb + j, f32x4.mul(f32x4.mul(dcj, gi), f32x4.sub(one, f32x4.mul(gg, gg))));
      v128.store(gr + 3 * hb + j, f32x4.mul(f32x4.mul(dhj, t), f32x4.mul(go, f32x4.sub(one, go))));
      v128.store(dc + o + j, f32x4.mul(dcj, gf));
      v128.store(dh + o + j, zero);
    }
  }
}

// ---- rows, sums, transposes --------------------------------------------------------------------

/** dst row i (E floats) ← table row ids[i], for i < n. */
export function gatherRows(ids: usize, n: i32, table: usize, E: i32, dst: usize): void {
  const eb = <usize>E << 2;
  for (let i = 0; i < n; i++) {
    memory.copy(dst + <usize>i * eb, table + <usize>load<i32>(ids + (<usize>i << 2)) * eb, eb);
  }
}

/** dst row ids[i] += src row i (E floats), for i < n: the Embedding gradient. */
export function scatterAddRows(ids: usize, n: i32, src: usize, E: i32, dst: usize): void {
  const eb = <usize>E << 2;
  const e4 = eb & ~15;
  for (let i = 0; i < n; i++) {
    const s = src + <usize>i * eb;
    const d = dst + <usize>load<i32>(ids + (<usize>i << 2)) * eb;
    let j: usize = 0;
    for (; j < e4; j += 16) v128.store(d + j, f32x4.add(v128.load(d + j), v128.load(s + j)));
    for (; j < eb; j += 4) store<f32>(d + j, load<f32>(d + j) + load<f32>(s + j));
  }
}

/** dst[0..n) += src[0..n). */
export function addInto(dst: usize, src: usize, n: i32): void {
  const nb = <usize>n << 2;
  const n4 = nb & ~15;
  let j: usize = 0;
  for (; j < n4; j += 16) v128.store(dst + j, f32x4.add(v128.load(dst + j), v128.load(src + j)));
  for (; j < nb; j += 4) store<f32>(dst + j, load<f32>(dst + j) + load<f32>(src + j));
}

/** dst[n] += Σ_r src[r·N + n] (column sums of a rows×N matrix; the bias gradient). */
export function colSumAdd(src: usize, rows: i32, N: i32, dst: usize): void {
  const nb = <usize>N << 2;
  const n4 = nb & ~15;
  let j: usize = 0;
  for (; j < n4; j += 16) {
    let s = v128.load(dst + j);
    let p = src + j;
    for (let r = 0; r < rows; r++) {
      s = f32x4.add(s, v128.load(p));
      p += nb;
    }
    v128.store(dst + j, s);
  }
  for (; j < nb; j += 4) {
    let s = load<f32>(dst + j);
    let p = src + j;
    for (let r = 0; r < rows; r++) {
      s += load<f32>(p);
      p += nb;
    }
    store<f32>(dst + j, s);
  }
}

/** dst (cols×rows) ← srcᵀ (src rows×cols). */
export function transpose(src: usize, rows: i32, cols: i32, dst: usize): void {
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      store<f32>(dst + ((<usize>c * <usize>rows + <usize>r) << 2), load<f32>(src + ((<usize>r * <usize>cols + <usize>c) << 2)));
    }
  }
}

// ---- Adam --------------------------------------------------------------------------------------

/**
 * Adam as tfjs applies it: m ← β1·m + c1·g, v ← β2·v + c2·g², w ← w − lr·(m/(1−β1ᵗ)) /
 * (√(v/(1−β2ᵗ)) + ε), with c1 = 1 − β1 and c2 = 1 − β2 rounded from double as tfjs does, and
 * oneMinusAcc1/2 = 1 − β1ᵗ, 1 − β2ᵗ as float32 (tfjs' accBeta variables).
 */
export function adam(w: usize, g: usize, m: usize, v: usize, n: i32, lr: f32, b1: f32, b2: f32, c1: f32, c2: f32, eps: f32, oneMinusAcc1: f32, oneMinusAcc2: f32): void {
  const nb = <usize>n << 2;
  const n4 = nb & ~15;
  const vb1 = f32x4.splat(b1);
  const vb2 = f32x4.splat(b2);
  const vc1 = f32x4.splat(c1);
  const vc2 = f32x4.splat(c2);
  const va1 = f32x4.splat(oneMinusAcc1);
  const va2 = f32x4.splat(oneMinusAcc2);
  const veps = f32x4.splat(eps);
  const vlr = f32x4.splat(-lr);
  let j: usize = 0;
  for (; j < n4; j += 16) {
    const gj = v128.load(g + j);
    const mj = f32x4.add(f32x4.mul(v128.load(m + j), vb1), f32x4.mul(gj, vc1));
    const vj = f32x4.add(f32x4.mul(v128.load(v + j), vb2), f32x4.mul(f32x4.mul(gj, gj), vc2));
    v128.store(m + j, mj);
    v128.store(v + j, vj);
    const step = f32x4.div(f32x4.div(mj, va1), f32x4.add(f32x4.sqrt(f32x4.div(vj, va2)), veps));
    v128.store(w + j, f32x4.add(f32x4.mul(step, vlr), v128.load(w + j)));
  }
  for (; j < nb; j += 4) {
    const gj = load<f32>(g + j);
    const mj = load<f32>(m + j) * b1 + gj * c1;
    const vj = load<f32>(v + j) * b2 + gj * gj * c2;
    store<f32>(m + j, mj);
    store<f32>(v + j, vj);
    const step = mj / oneMinusAcc1 / (Mathf.sqrt(vj / oneMinusAcc2) + eps);
    store<f32>(w + j, step * -lr + load<f32>(w + j));
  }
}
