// Float32 exp, sigmoid and tanh on f32x4, shared by the stepping kernel (kernel.ts) and the
// training kernel (train.ts): one definition, so both compute the same bits for the same input.

// Vector constants live in a data segment and are read with v128.load: V8 materialises each
// v128.const with several instructions at every use, a memory operand costs one load.
export const C: usize = memory.data<f32>([
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
export function exp4(x0: v128): v128 {
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
export function sigmoid4(x: v128): v128 {
  const one = v128.load(C, 192);
  return f32x4.div(one, f32x4.add(one, exp4(f32x4.neg(x))));
}

@inline
export function tanh4(x: v128): v128 {
  const one = v128.load(C, 192);
  const sign = v128.load(C, 272);
  const t = exp4(f32x4.mul(v128.andnot(x, sign), v128.load(C, 224)));
  const y = f32x4.div(f32x4.sub(one, t), f32x4.add(one, t));
  // Copy the sign of x onto |tanh(x)|.
  return v128.or(y, v128.and(x, sign));
}
