// wgsl_common.js - WGSL pieces the shader files share: the uniform block every shader takes
// (params), a workgroup tree reduction, x rounded to f16 and its f16 bits as the CPU rounds,
// tanh in f32, and the lookup of ggml's GELU table (for GeGLU in wgsl_ops.js and the matmul
// epilogue in wgsl_matmul.js).

// A uniform struct of 16 scalars: fields [name, 'u32' | 'f32'], padded to 16.
export function params(fields) {
  const all = [...fields];
  while (all.length < 16) all.push([`pad${all.length}`, 'u32']);
  return `struct Params { ${all.map(([n, t]) => `${n}: ${t}`).join(', ')} };\n`;
}

// Workgroup tree reduction over N threads of `red` (sum or max), result in red[0].
export function reduceFn(name, n, op) {
  return /* wgsl */ `
fn ${name}(lid: u32) {
  workgroupBarrier();
  for (var h = ${n / 2}u; h > 0u; h >>= 1u) {
    if (lid < h) { red[lid] = ${op('red[lid]', 'red[lid + h]')}; }
    workgroupBarrier();
  }
}`;
}

// x rounded to f16 (to nearest even; past the largest half, infinity), as the CPU path rounds
// activations and the f32 KV cache (the kernels' cpuRounding diagnostic). Integer operations on
// the bits, and for the halves' subnormal range an exact scaling by 2^24 and WGSL's round()
// (ties to even): unpack2x16float(pack2x16float(x)) is folded to x by some compilers (Mesa's
// lavapipe), and quantizeToF16 may flush subnormals.
export const ROUND_F16 = /* wgsl */ `
fn round_f16(x: f32) -> f32 {
  let b = bitcast<u32>(x);
  let sign = b & 0x80000000u;
  let a = b & 0x7fffffffu;
  if (a >= 0x477ff000u) { return select(bitcast<f32>(sign | 0x7f800000u), x, a > 0x7f800000u); }
  if (a < 0x38800000u) { return bitcast<f32>(sign | bitcast<u32>(round(bitcast<f32>(a) * 16777216.0) * (1.0 / 16777216.0))); }
  return bitcast<f32>(sign | ((a + 0xfffu + ((a >> 13u) & 1u)) & 0xffffe000u));
}
`;

// The f16 bits of x (kite_f32_to_f16's: to nearest even, past the largest half infinity, NaN
// sign | 0x7e00), by integer operations on round_f16's result (which ROUND_F16 declares):
// pack2x16float's rounding is the implementation's (SwiftShader truncates in the halves'
// subnormal range).
export const F16_BITS = /* wgsl */ `
fn f16_bits(x: f32) -> u32 {
  let b = bitcast<u32>(round_f16(x));
  let sign = (b >> 16u) & 0x8000u;
  let a = b & 0x7fffffffu;
  if (a > 0x7f800000u) { return sign | 0x7e00u; }
  if (a >= 0x47800000u) { return sign | 0x7c00u; }
  if (a < 0x38800000u) { return sign | u32(bitcast<f32>(a) * 16777216.0); } // k 2^-24, exact
  return sign | ((a - 0x38000000u) >> 13u);
}
`;

// tanh(z) in f32 to a few ulp: an odd Taylor polynomial below |z| = 0.25 (where 1 - e^-2|z|
// would cancel), (1 - e) / (1 + e) with e = exp(-2|z|) above (no overflow for large |z|).
// WGSL's own tanh is only bounded through sinh / cosh.
export const TANH = /* wgsl */ `
fn tanh_f32(z: f32) -> f32 {
  let a = abs(z);
  var t: f32;
  if (a < 0.25) {
    let q = a * a;
    t = a + a * q * (-0.33333333333 + q * (0.13333333333 + q * (-0.053968253968 + q * (0.021869488536 + q * -0.0088632355299))));
  } else {
    let e = exp(-2.0 * a);
    t = (1.0 - e) / (1.0 + e);
  }
  return select(t, -t, z < 0.0);
}
`;

// WGSL: fn name(x), ggml's GELU as the GeGLU op takes it: 0 at or below -10, x from 10 on (and
// NaN), else the table (buf: u32 pairs of halves, geluTable in kernels.js) at x rounded to f16
// (f16_bits: the includer declares ROUND_F16 and F16_BITS).
export const geluLookupWgsl = (name, buf) => /* wgsl */ `
fn ${name}(x: f32) -> f32 {
  if (x <= -10.0) { return 0.0; }
  if (x < 10.0) {
    let h = f16_bits(x);
    return unpack2x16float(${buf}[h >> 1u])[h & 1u];
  }
  return x;
}`;
