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

/** First byte the host may use. */
export function heapBase(): usize {
  return (__heap_base + 15) & ~15;
}

// ---- activations on f32x4 ------------------------------------------------------------------

// Vector constants live in a data segment and are read with v128.load: V8 materialises each
// v128.const with several instructions at every use, a memory operand costs one load.
const C: usize = memory.data<f32>([
  -87.0, -87.0, -87.0, -87.0, // 0: exp input floor
  88.0, 88.0, 88.0, 88.0, // 16: exp input ceiling
  1.44269504088896341, 1.44269504088896341, 1.44269504088896341, 1.44269504088896341, // 32: log2(e)
  12582912.0, 12582912.0, 12582912.0, 12582912.0, // 48: 1.5·2^23 (round to nearest)
  0.693359375, 0.693359375, 0.693359375, 0.693359375, // 64: ln2 high
  -2.12194440e-4, -2.12194440e-4, -2.12194440e-4, -2.12194440e-4, // 80: ln2 low
  1.9875691500e-4, 1.9875691500e-4, 1.9875691500e-4, 1.9875691500e-4, // 96: p0
  1.3981999507e-3, 1.3981999507e-3, 1.3981999507e-3, 1.3981999507e-3, // 112: p1
  8.3334519073e-3, 8.3334519073e-3, 8.3334519073e-3, 8.3334519073e-3, // 128: p2
  4.1665795894e-2, 4.1665795894e-2, 4.1665795894e-2, 4.1665795894e-2, // 144: p3
  1.6666665459e-1, 1.6666665459e-1, 1.6666665459e-1, 1.6666665459e-1, // 160: p4
  5.0000001201e-1, 5.0000001201e-1, 5.0000001201e-1, 5.0000001201e-1, // 176: p5
  1.0, 1.0, 1.0, 1.0, // 192: one
  8388735.0, 8388735.0, 8388735.0, 8388735.0, // 208: 2^23 + 127 (exponent bias)
  -2.0, -2.0, -2.0, -2.0, // 224
  0.2, 0.2, 0.2, 0.2, // 240: hard sigmoid slope
  0.5, 0.5, 0.5, 0.5, // 256
  -0.0, -0.0, -0.0, -0.0, // 272: sign bit
], 16);

// exp(x) for float32, Cephes-style range reduction + degree-6 polynomial (~1 ulp on the range).
@inline
function exp4(x0: v128): v128 {
  // pmin/pmax map to single minps/maxps (min/max carry NaN/-0 fix-ups).
  const x = f32x4.pmin(f32x4.pmax(x0, v128.load(C, 0)), v128.load(C, 16));
  // Round to nearest with the 1.5·2^23 trick.
  const magic = v128.load(C, 48);
  const fx = f32x4.sub(f32x4.add(f32x4.mul(x, v128.load(C, 32)), magic), magic);
  let r = f32x4.sub(x, f32x4.mul(fx, v128.load(C, 64)));
  r = f32x4.sub(r, f32x4.mul(fx, v128.load(C, 80)));
  let p = v128.load(C, 96);
  p = f32x4.add(f32x4.mul(p, r), v128.load(C, 112));
  p = f32x4.add(f32x4.mul(p, r), v128.load(C, 128));
  p = f32x4.add(f32x4.mul(p, r), v128.load(C, 144));
  p = f32x4.add(f32x4.mul(p, r), v128.load(C, 160));
  p = f32x4.add(f32x4.mul(p, r), v128.load(C, 176));
  const y = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(p, r), r), r), v128.load(C, 192));
  // fx + (2^23 + 127) has bit pattern 0x4B000000 + fx + 127; << 23 leaves (fx + 127) << 23 = 2^fx.
  const n = i32x4.shl(f32x4.add(fx, v128.load(C, 208)), 23);
  return f32x4.mul(y, n);
}

@inline
function sigmoid4(x: v128): v128 {
  const one = v128.load(C, 192);
  return f32x4.div(one, f32x4.add(one, exp4(f32x4.neg(x))));
}

@inline
function tanh4(x: v128): v128 {
  const one = v128.load(C, 192);
  const sign = v128.load(C, 272);
  const t = exp4(f32x4.mul(v128.andnot(x, sign), v128.load(C, 224)));
  const y = f32x4.div(f32x4.sub(one, t), f32x4.add(one, t));
  // Copy the sign of x onto |tanh(x)|.
  return v128.or(y, v128.and(x, sign));
}

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
  for (let j = 0; j < n; j++) {
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
 * LSTM row with Keras' default activations (tanh, sigmoid), sharing divisions: with
 * σ(x) = 1/(1 + e^−x) and tanh(x) = sign(x)(1 − t)/(1 + t), t = e^−2|x|,
 *   i·tanh(g) = sign(g)(1 − t_g) / ((1 + a_i)(1 + t_g)),  f·c₋₁ = c₋₁ / (1 + a_f),
 *   h = o·tanh(c) = sign(c)(1 − t_c) / ((1 + a_o)(1 + t_c)),
 * three divisions per 4 units instead of five. Products stay finite: a ≤ e^87, 1 + t ≤ 2.
 */
@inline
function lstmTanhSigmoidRow(gr: usize, hb: usize, cp: usize, hp: usize, hBytes: usize): void {
  const one = v128.load(C, 192);
  const sign = v128.load(C, 272);
  const m2 = v128.load(C, 224);
  for (let u: usize = 0; u < hb; u += 16) {
    const ai = f32x4.add(one, exp4(f32x4.neg(v128.load(gr + u))));
    const af = f32x4.add(one, exp4(f32x4.neg(v128.load(gr + hb + u))));
    const xg = v128.load(gr + 2 * hb + u);
    const ao = f32x4.add(one, exp4(f32x4.neg(v128.load(gr + 3 * hb + u))));
    const tg = exp4(f32x4.mul(v128.andnot(xg, sign), m2));
    const ig = v128.or(
      f32x4.div(f32x4.sub(one, tg), f32x4.mul(ai, f32x4.add(one, tg))),
      v128.and(xg, sign),
    );
    const c = f32x4.add(f32x4.div(v128.load(cp + u), af), ig);
    const tc = exp4(f32x4.mul(v128.andnot(c, sign), m2));
    const h = v128.or(f32x4.div(f32x4.sub(one, tc), f32x4.mul(ao, f32x4.add(one, tc))), v128.and(c, sign));
    storeUnits(cp, u, hBytes, c);
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
