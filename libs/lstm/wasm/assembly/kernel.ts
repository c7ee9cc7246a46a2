// streamcell LSTM/GRU step kernel, WebAssembly SIMD (f32x4).
//
// Vectorised across the units dimension only, never across keys: each key goes through exactly
// the same sequence of float operations whatever other keys share the batch, so results are
// bit-identical for any batch composition. There is no fused multiply-add in WASM SIMD, so the
// rounding of every product and sum is fixed by the code order below.
//
// All memory is managed by the JS host (libs/lstm/src/engine/wasm-stepper.ts): pointers are byte
// offsets into this module's linear memory. Matrices are packed "chunk-major": columns in chunks of
// 8 (a final chunk may be 4 wide), each chunk holding all K rows contiguously. Matrix-product inputs
// are "key-interleaved": keys in blocks of 4, block q row r holding the 4 keys' values at
// ((q·rows + r)·4 + lane) floats; every key, including a partial last block's, runs through the
// same 4-lane code, so its arithmetic never depends on its block or lane.
//
// Activation codes (must match ActivationCode in activation.ts):
//   0 linear, 1 tanh, 2 sigmoid, 3 hard_sigmoid (Keras 2: clip(0.2x + 0.5, 0, 1)), 4 relu.

import { C, exp4, sigmoid4, tanh4 } from './activations';

/** First byte the host may use. */
export function heapBase(): usize {
  return (__heap_base + 15) & ~15;
}

// ---- activations on f32x4 ------------------------------------------------------------------

// exp4, sigmoid4, tanh4 and their constants C (activations.ts) are shared with train.ts.

@inline
function act4(x: v128, code: i32): v128 {
  if (code == 1) return tanh4(x);
  if (code == 2) return sigmoid4(x);
  if (code == 3) {
    const y = f32x4.add(f32x4.mul(x, v128.load(C, 240)), v128.load(C, 256));
    return f32x4.pmin(f32x4.pmax(y, f32x4.splat(0.0)), v128.load(C, 192));
  }
  if (code == 4) return f32x4.max(x, f32x4.splat(0.0));
  return x;
}

/** Applies activation `code` to `len` floats at `p` (len a multiple of 4), in place (used by tests). */
export function activateInPlace(p: usize, len: i32, code: i32): void {
  const end = p + (<usize>len << 2);
  for (let q = p; q < end; q += 16) v128.store(q, act4(v128.load(q), code));
}

// ---- gathers -------------------------------------------------------------------------------

/**
 * Writes the indices of active keys to idx and returns their count. mask (1 byte per key) and
 * tokens (i32 per key, token 0 = masked) are optional (0 = absent).
 */
export function buildIndex(batch: i32, mask: usize, tokens: usize, idx: usize): i32 {
  let n = 0;
  for (let b = 0; b < batch; b++) {
    if (mask != 0 && load<u8>(mask + <usize>b) == 0) continue;
    if (tokens != 0 && load<i32>(tokens + (<usize>b << 2)) == 0) continue;
    store<i32>(idx + (<usize>n << 2), b);
    n++;
  }
  return n;
}

/** Address of key j's value at row `row` in a key-interleaved buffer with `rows` rows per block. */
@inline
function lanePtr(buf: usize, rows: i32, row: i32, j: i32): usize {
  return buf + ((((<usize>(j >> 2) * <usize>rows + <usize>row) << 2) + <usize>(j & 3)) << 2);
}

/** Zeroes the unused lanes of the last block (keys n .. 4·ceil(n/4)) in rows [row, row + len). */
function zeroPadLanes(n: i32, buf: usize, rows: i32, row: i32, len: i32): void {
  const n4 = (n + 3) & ~3;
  for (let j = n; j < n4; j++) {
    const d = lanePtr(buf, rows, row, j);
    for (let r = 0; r < len; r++) store<f32>(d + (<usize>r << 4), 0);
  }
}

/**
 * Key-interleaved dst (rows per block `rows`, starting at row `row`) ← len floats of src row
 * idx[j] (stride srcStride floats), for j < n.
 */
export function fillRows(
  n: i32, idx: usize, src: usize, srcStride: i32, len: i32, dst: usize, rows: i32, row: i32,
): void {
  const ss = <usize>srcStride << 2;
  // Whole blocks of 4 keys: 4×4 transposes, rows 4 at a time (the copy is exact either way).
  const full = n & ~3;
  const len4 = <usize>(len & ~3) << 2;
  if (len4 != 0) {
    for (let j = 0; j < full; j += 4) {
      const s0 = src + <usize>load<i32>(idx + (<usize>j << 2)) * ss;
      const s1 = src + <usize>load<i32>(idx + (<usize>j << 2), 4) * ss;
      const s2 = src + <usize>load<i32>(idx + (<usize>j << 2), 8) * ss;
      const s3 = src + <usize>load<i32>(idx + (<usize>j << 2), 12) * ss;
      const d = lanePtr(dst, rows, row, j);
      for (let r: usize = 0; r < len4; r += 16) {
        const a = v128.load(s0 + r);
        const b = v128.load(s1 + r);
        const c = v128.load(s2 + r);
        const e = v128.load(s3 + r);
        const t0 = v128.shuffle<f32>(a, b, 0, 4, 1, 5);
        const t1 = v128.shuffle<f32>(a, b, 2, 6, 3, 7);
        const t2 = v128.shuffle<f32>(c, e, 0, 4, 1, 5);
        const t3 = v128.shuffle<f32>(c, e, 2, 6, 3, 7);
        const q = d + (r << 2);
        v128.store(q, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
        v128.store(q, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7), 16);
        v128.store(q, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5), 32);
        v128.store(q, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7), 48);
      }
    }
  }
  const r0 = len4 != 0 ? len & ~3 : 0;
  for (let j = 0; j < full; j++) {
    const s = src + <usize>load<i32>(idx + (<usize>j << 2)) * ss;
    const d = lanePtr(dst, rows, row, j);
    for (let r = r0; r < len; r++) store<f32>(d + (<usize>r << 4), load<f32>(s + (<usize>r << 2)));
  }
  for (let j = full; j < n; j++) {
    const s = src + <usize>load<i32>(idx + (<usize>j << 2)) * ss;
    const d = lanePtr(dst, rows, row, j);
    for (let r = 0; r < len; r++) store<f32>(d + (<usize>r << 4), load<f32>(s + (<usize>r << 2)));
  }
  zeroPadLanes(n, dst, rows, row, len);
}

/** As fillRows, the source row being the embedding row of token tokens[idx[j]] (E floats). */
export function fillTokenRows(
  n: i32, idx: usize, tokens: usize, emb: usize, E: i32, dst: usize, rows: i32, row: i32,
): void {
  const eb = <usize>E << 2;
  for (let j = 0; j < n; j++) {
    const b = <usize>load<i32>(idx + (<usize>j << 2));
    const s = emb + <usize>load<i32>(tokens + (b << 2)) * eb;
    const d = lanePtr(dst, rows, row, j);
    for (let r = 0; r < E; r++) store<f32>(d + (<usize>r << 4), load<f32>(s + (<usize>r << 2)));
  }
  zeroPadLanes(n, dst, rows, row, E);
}

// ---- matrix product --------------------------------------------------------------------------

/**
 * out[j, 0:N] = bias[0:N] + in[j, row:row+K] · W for j < n (rounded up to a multiple of 4: out
 * needs room for those rows). `inp` is key-interleaved with `rows` rows per block; W is packed
 * chunk-major, N a multiple of 4; bias padded to N (0 = no bias). Accumulation order per key:
 * bias, then rows 0..K-1, each as acc + (x·w) rounded separately.
 */
export function gemm(
  inp: usize, rows: i32, row: i32, K: i32, w: usize, N: i32, bias: usize, out: usize, outStride: i32, n: i32,
): void {
  const outS = <usize>outStride << 2;
  const blockBytes = <usize>rows << 4;
  const kBytes = <usize>K << 4;
  const nc8 = N >> 3;
  const hasTail = (N & 7) != 0;
  const chunk8 = <usize>K << 5;
  const tailW = w + <usize>nc8 * chunk8;
  const tailCol = <usize>nc8 << 5;
  const zero = f32x4.splat(0.0);
  const blocks = (n + 3) >> 2;
  for (let q = 0; q < blocks; q++) {
    const ib = inp + <usize>q * blockBytes + (<usize>row << 4);
    const end = ib + kBytes;
    const o0 = out + <usize>(q << 2) * outS;
    const o1 = o0 + outS;
    const o2 = o1 + outS;
    const o3 = o2 + outS;
    for (let c = 0; c < nc8; c++) {
      const col = <usize>c << 5;
      let wp = w + <usize>c * chunk8;
      let b0 = zero;
      let b1 = zero;
      if (bias != 0) {
        b0 = v128.load(bias + col);
        b1 = v128.load(bias + col, 16);
      }
      let a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1, a30 = b0, a31 = b1;
      for (let p = ib; p < end; p += 16) {
        const w0 = v128.load(wp);
        const w1 = v128.load(wp, 16);
        let s = v128.load32_splat(p);
        a00 = f32x4.add(a00, f32x4.mul(s, w0));
        a01 = f32x4.add(a01, f32x4.mul(s, w1));
        s = v128.load32_splat(p, 4);
        a10 = f32x4.add(a10, f32x4.mul(s, w0));
        a11 = f32x4.add(a11, f32x4.mul(s, w1));
        s = v128.load32_splat(p, 8);
        a20 = f32x4.add(a20, f32x4.mul(s, w0));
        a21 = f32x4.add(a21, f32x4.mul(s, w1));
        s = v128.load32_splat(p, 12);
        a30 = f32x4.add(a30, f32x4.mul(s, w0));
        a31 = f32x4.add(a31, f32x4.mul(s, w1));
        wp += 32;
      }
      v128.store(o0 + col, a00);
      v128.store(o0 + col, a01, 16);
      v128.store(o1 + col, a10);
      v128.store(o1 + col, a11, 16);
      v128.store(o2 + col, a20);
      v128.store(o2 + col, a21, 16);
      v128.store(o3 + col, a30);
      v128.store(o3 + col, a31, 16);
    }
    if (hasTail) {
      const b0 = bias != 0 ? v128.load(bias + tailCol) : zero;
      let a0 = b0, a1 = b0, a2 = b0, a3 = b0;
      let wp = tailW;
      for (let p = ib; p < end; p += 16) {
        const w0 = v128.load(wp);
        a0 = f32x4.add(a0, f32x4.mul(v128.load32_splat(p), w0));
        a1 = f32x4.add(a1, f32x4.mul(v128.load32_splat(p, 4), w0));
        a2 = f32x4.add(a2, f32x4.mul(v128.load32_splat(p, 8), w0));
        a3 = f32x4.add(a3, f32x4.mul(v128.load32_splat(p, 12), w0));
        wp += 16;
      }
      v128.store(o0 + tailCol, a0);
      v128.store(o1 + tailCol, a1);
      v128.store(o2 + tailCol, a2);
      v128.store(o3 + tailCol, a3);
    }
  }
}

// ---- cell pointwise parts ------------------------------------------------------------------
// Gate rows hold `gates` blocks of Hp floats (Hp = units rounded up to 4). Vectors are written
// straight into the key's state row; the last vector of a row is stored lane by lane when H is
// not a multiple of 4, so padding lanes never reach the state.

@inline
function storeUnits(dst: usize, u: usize, hBytes: usize, v: v128): void {
  if (u + 16 <= hBytes) {
    v128.store(dst + u, v);
  } else {
    store<f32>(dst + u, f32x4.extract_lane(v, 0));
    if (u + 4 < hBytes) store<f32>(dst + u + 4, f32x4.extract_lane(v, 1));
    if (u + 8 < hBytes) store<f32>(dst + u + 8, f32x4.extract_lane(v, 2));
  }
}

/**
 * exp4 of four independent vectors, their instructions interleaved so the CPU overlaps the four
 * dependency chains (one exp4 chain alone is latency-bound). Each lane takes exactly exp4's
 * operations in exp4's order, so the results are bit-identical to four exp4 calls.
 */
@inline
function exp4x4(x0: v128, x1: v128, x2: v128, x3: v128, d0: usize, d1: usize, d2: usize, d3: usize): void {
  const lo = v128.load(C, 0);
  const hi = v128.load(C, 16);
  const l2e = v128.load(C, 32);
  const magic = v128.load(C, 48);
  const y0 = f32x4.pmin(f32x4.pmax(x0, lo), hi);
  const y1 = f32x4.pmin(f32x4.pmax(x1, lo), hi);
  const y2 = f32x4.pmin(f32x4.pmax(x2, lo), hi);
  const y3 = f32x4.pmin(f32x4.pmax(x3, lo), hi);
  const f0 = f32x4.sub(f32x4.add(f32x4.mul(y0, l2e), magic), magic);
  const f1 = f32x4.sub(f32x4.add(f32x4.mul(y1, l2e), magic), magic);
  const f2 = f32x4.sub(f32x4.add(f32x4.mul(y2, l2e), magic), magic);
  const f3 = f32x4.sub(f32x4.add(f32x4.mul(y3, l2e), magic), magic);
  const ln2h = v128.load(C, 64);
  const ln2l = v128.load(C, 80);
  let r0 = f32x4.sub(y0, f32x4.mul(f0, ln2h));
  let r1 = f32x4.sub(y1, f32x4.mul(f1, ln2h));
  let r2 = f32x4.sub(y2, f32x4.mul(f2, ln2h));
  let r3 = f32x4.sub(y3, f32x4.mul(f3, ln2h));
  r0 = f32x4.sub(r0, f32x4.mul(f0, ln2l));
  r1 = f32x4.sub(r1, f32x4.mul(f1, ln2l));
  r2 = f32x4.sub(r2, f32x4.mul(f2, ln2l));
  r3 = f32x4.sub(r3, f32x4.mul(f3, ln2l));
  let c = v128.load(C, 96);
  let p0 = c, p1 = c, p2 = c, p3 = c;
  for (let k: usize = 112; k <= 176; k += 16) {
    // Unrolled by the optimiser (constant trip count): p = p·r + coefficient k.
    c = v128.load(C + k);
    p0 = f32x4.add(f32x4.mul(p0, r0), c);
    p1 = f32x4.add(f32x4.mul(p1, r1), c);
    p2 = f32x4.add(f32x4.mul(p2, r2), c);
    p3 = f32x4.add(f32x4.mul(p3, r3), c);
  }
  const one = v128.load(C, 192);
  const q0 = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(p0, r0), r0), r0), one);
  const q1 = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(p1, r1), r1), r1), one);
  const q2 = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(p2, r2), r2), r2), one);
  const q3 = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(p3, r3), r3), r3), one);
  const bias = v128.load(C, 208);
  v128.store(d0, f32x4.mul(q0, i32x4.shl(f32x4.add(f0, bias), 23)));
  v128.store(d1, f32x4.mul(q1, i32x4.shl(f32x4.add(f1, bias), 23)));
  v128.store(d2, f32x4.mul(q2, i32x4.shl(f32x4.add(f2, bias), 23)));
  v128.store(d3, f32x4.mul(q3, i32x4.shl(f32x4.add(f3, bias), 23)));
}

/**
 * LSTM row with Keras' default activations (tanh, sigmoid), sharing divisions: with
 * σ(x) = 1/(1 + e^−x) and tanh(x) = sign(x)(1 − t)/(1 + t), t = e^−2|x|,
 *   i·tanh(g) = sign(g)(1 − t_g) / ((1 + a_i)(1 + t_g)),  f·c₋₁ = c₋₁ / (1 + a_f),
 *   h = o·tanh(c) = sign(c)(1 − t_c) / ((1 + a_o)(1 + t_c)),
 * three divisions per 4 units instead of five. Products stay finite: a ≤ e^87, 1 + t ≤ 2.
 *
 * Done in passes over the gate row gr (4 blocks of hb bytes), which serves as scratch, so that
 * independent exponentials run interleaved instead of as one long dependency chain per vector:
 *   A: a_i, a_f, a_o and t_g (t_g carrying g's sign bit; an exp is never negative) in place;
 *   B: c from them → state and the f block;  C: t_c → the i block, four vectors at a time;
 *   D: h (sign from the f block's c) → state.
 * Every lane takes the same operations in the same order as a single-pass evaluation would.
 */
@inline
function lstmTanhSigmoidRow(gr: usize, hb: usize, cp: usize, hp: usize, hBytes: usize): void {
  const one = v128.load(C, 192);
  const sign = v128.load(C, 272);
  const m2 = v128.load(C, 224);
  const gf = gr + hb;
  const gg = gr + 2 * hb;
  const go = gr + 3 * hb;
  for (let u: usize = 0; u < hb; u += 16) {
    const xg = v128.load(gg + u);
    exp4x4(
      f32x4.neg(v128.load(gr + u)),
      f32x4.neg(v128.load(gf + u)),
      f32x4.mul(v128.andnot(xg, sign), m2),
      f32x4.neg(v128.load(go + u)),
      gr + u, gf + u, gg + u, go + u,
    );
    v128.store(gg + u, v128.or(v128.load(gg + u), v128.and(xg, sign)));
  }
  for (let u: usize = 0; u < hb; u += 16) {
    const ai = f32x4.add(one, v128.load(gr + u));
    const af = f32x4.add(one, v128.load(gf + u));
    const v = v128.load(gg + u);
    const tg = v128.andnot(v, sign);
    const ig = v128.or(f32x4.div(f32x4.sub(one, tg), f32x4.mul(ai, f32x4.add(one, tg))), v128.and(v, sign));
    const c = f32x4.add(f32x4.div(v128.load(cp + u), af), ig);
    storeUnits(cp, u, hBytes, c);
    v128.store(gf + u, c);
  }
  // Groups of four vectors; a short last group repeats its last vector (same input, same output).
  const last = hb - 16;
  for (let u: usize = 0; u < hb; u += 64) {
    const u1 = min(u + 16, last);
    const u2 = min(u + 32, last);
    const u3 = min(u + 48, last);
    const c0 = v128.load(gf + u);
    const c1 = v128.load(gf + u1);
    const c2 = v128.load(gf + u2);
    const c3 = v128.load(gf + u3);
    exp4x4(
      f32x4.mul(v128.andnot(c0, sign), m2),
      f32x4.mul(v128.andnot(c1, sign), m2),
      f32x4.mul(v128.andnot(c2, sign), m2),
      f32x4.mul(v128.andnot(c3, sign), m2),
      gr + u, gr + u1, gr + u2, gr + u3,
    );
  }
  for (let u: usize = 0; u < hb; u += 16) {
    const ao = f32x4.add(one, v128.load(go + u));
    const c = v128.load(gf + u);
    const tc = v128.load(gr + u);
    const h = v128.or(f32x4.div(f32x4.sub(one, tc), f32x4.mul(ao, f32x4.add(one, tc))), v128.and(c, sign));
    storeUnits(hp, u, hBytes, h);
  }
}

/** LSTM: gates i,f,c,o in g (n rows of 4·Hp) → c and h of key idx[j] in its state row. */
export function lstmPointwise(
  n: i32, idx: usize, g: usize, Hp: i32, H: i32, state: usize, S: i32, hOff: i32, cOff: i32,
  act: i32, rec: i32,
): void {
  const hb = <usize>Hp << 2;
  const rowB = hb << 2;
  const hBytes = <usize>H << 2;
  const sS = <usize>S << 2;
  for (let j = 0; j < n; j++) {
    const gr = g + <usize>j * rowB;
    const sp = state + <usize>load<i32>(idx + (<usize>j << 2)) * sS;
    const cp = sp + (<usize>cOff << 2);
    const hp = sp + (<usize>hOff << 2);
    if (act == 1 && rec == 2) {
      lstmTanhSigmoidRow(gr, hb, cp, hp, hBytes);
      continue;
    }
    for (let u: usize = 0; u < hb; u += 16) {
      const i = act4(v128.load(gr + u), rec);
      const f = act4(v128.load(gr + hb + u), rec);
      const cc = act4(v128.load(gr + 2 * hb + u), act);
      const o = act4(v128.load(gr + 3 * hb + u), rec);
      const c = f32x4.add(f32x4.mul(f, v128.load(cp + u)), f32x4.mul(i, cc));
      const h = f32x4.mul(o, act4(c, act));
      storeUnits(cp, u, hBytes, c);
      storeUnits(hp, u, hBytes, h);
    }
  }
}

/** GRU reset_after=true: gx = x·W + b_in, gh = h·U + b_rec (n rows of 3·Hp each) → h. */
export function gruPointwiseAfter(
  n: i32, idx: usize, gx: usize, gh: usize, Hp: i32, H: i32, state: usize, S: i32, hOff: i32,
  act: i32, rec: i32,
): void {
  const hb = <usize>Hp << 2;
  const rowB = hb * 3;
  const hBytes = <usize>H << 2;
  const sS = <usize>S << 2;
  const one = v128.load(C, 192);
  for (let j = 0; j < n; j++) {
    const xr = gx + <usize>j * rowB;
    const hr = gh + <usize>j * rowB;
    const hp = state + <usize>load<i32>(idx + (<usize>j << 2)) * sS + (<usize>hOff << 2);
    for (let u: usize = 0; u < hb; u += 16) {
      const z = act4(f32x4.add(v128.load(xr + u), v128.load(hr + u)), rec);
      const r = act4(f32x4.add(v128.load(xr + hb + u), v128.load(hr + hb + u)), rec);
      const hh = act4(f32x4.add(v128.load(xr + 2 * hb + u), f32x4.mul(r, v128.load(hr + 2 * hb + u))), act);
      const h = f32x4.add(f32x4.mul(z, v128.load(hp + u)), f32x4.mul(f32x4.sub(one, z), hh));
      storeUnits(hp, u, hBytes, h);
    }
  }
}

/**
 * GRU reset_after=false, first half: z → gx's z block, r·h_prev → rh (key-interleaved, Hp rows
 * per block). The host then computes gh's candidate block = rh · U_h and calls gruFinalBefore.
 */
export function gruGatesBefore(
  n: i32, idx: usize, gx: usize, gh: usize, Hp: i32, state: usize, S: i32, hOff: i32, rh: usize, rec: i32,
): void {
  const hb = <usize>Hp << 2;
  const rowB = hb * 3;
  const sS = <usize>S << 2;
  for (let j = 0; j < n; j++) {
    const xr = gx + <usize>j * rowB;
    const hr = gh + <usize>j * rowB;
    const d = lanePtr(rh, Hp, 0, j);
    const hp = state + <usize>load<i32>(idx + (<usize>j << 2)) * sS + (<usize>hOff << 2);
    for (let u: usize = 0; u < hb; u += 16) {
      const z = act4(f32x4.add(v128.load(xr + u), v128.load(hr + u)), rec);
      const r = act4(f32x4.add(v128.load(xr + hb + u), v128.load(hr + hb + u)), rec);
      v128.store(xr + u, z);
      const v = f32x4.mul(r, v128.load(hp + u));
      const q = d + (u << 2);
      store<f32>(q, f32x4.extract_lane(v, 0));
      store<f32>(q + 16, f32x4.extract_lane(v, 1));
      store<f32>(q + 32, f32x4.extract_lane(v, 2));
      store<f32>(q + 48, f32x4.extract_lane(v, 3));
    }
  }
  zeroPadLanes(n, rh, Hp, 0, Hp);
}

/** GRU reset_after=false, second half: hh = act(gx_h + gh_h), h = z·h_prev + (1 − z)·hh. */
export function gruFinalBefore(
  n: i32, idx: usize, gx: usize, gh: usize, Hp: i32, H: i32, state: usize, S: i32, hOff: i32, act: i32,
): void {
  const hb = <usize>Hp << 2;
  const rowB = hb * 3;
  const hBytes = <usize>H << 2;
  const sS = <usize>S << 2;
  const one = v128.load(C, 192);
  for (let j = 0; j < n; j++) {
    const xr = gx + <usize>j * rowB;
    const hr = gh + <usize>j * rowB;
    const hp = state + <usize>load<i32>(idx + (<usize>j << 2)) * sS + (<usize>hOff << 2);
    for (let u: usize = 0; u < hb; u += 16) {
      const z = v128.load(xr + u);
      const hh = act4(f32x4.add(v128.load(xr + 2 * hb + u), v128.load(hr + 2 * hb + u)), act);
      const h = f32x4.add(f32x4.mul(z, v128.load(hp + u)), f32x4.mul(f32x4.sub(one, z), hh));
      storeUnits(hp, u, hBytes, h);
    }
  }
}
