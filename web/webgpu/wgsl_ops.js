// wgsl_ops.js - the WGSL of the forward pass's small ops (the GPU side of src/model/ops.c):
// RMS norm, RoPE (cache and rotation), softmax, SwiGLU, GeGLU, add, the KV-cache write and
// causal GQA attention over the F16-valued KV cache (kept as f32 or as packed f16 pairs).
// Every shader takes one uniform block of 16 words named P (fields per shader below) and
// plain f32 storage arrays; offsets are in elements.

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

// y[r] = x[r] * (1 / sqrt(mean(x[r]^2) + eps)) * w, one workgroup per row r (of nrows). Rows
// come in groups of `heads` (1: plain rows): row r is the (r % heads)-th run of n values of
// token r / heads, tokens x_stride / y_stride floats apart (the per-head q/k norms of qwen3 and
// gemma3 are heads = n_head rows of head_dim per token). In place (inplace true): bindings X
// (read_write), W, P and y_off/y_stride address X. add (not in place): y[r] += the normed row
// instead (y + x * scale * w, the add op's one rounding: gemma's post-norms before the
// residual add).
// subgroups (the device's subgroups are runs of consecutive threads, see probeSubgroups in
// device.js): instead one subgroup per row, a workgroup of 64 threads `rows_per_wg` rows (64 /
// subgroup size; its subgroups take rows sg, sg + n_sg, ...): lane l sums the squares of
// elements l, l + size, ..., subgroupAdd adds the lanes. No workgroup memory, no barrier.
export function rmsnormWgsl(inplace, { subgroups = false } = {}) {
  const binds = inplace
    ? `@group(0) @binding(0) var<storage, read_write> X: array<f32>;
@group(0) @binding(1) var<storage, read> Wt: array<f32>;
@group(0) @binding(2) var<uniform> P: Params;
fn store(i: u32, v: f32) { X[i] = v; }`
    : `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> Wt: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(3) var<uniform> P: Params;
fn store(i: u32, v: f32) { if (P.add != 0u) { Y[i] = Y[i] + v; } else { Y[i] = v; } }`;
  const head = params([['n', 'u32'], ['nrows', 'u32'], ['eps', 'f32'], ['x_off', 'u32'], ['y_off', 'u32'],
    ['x_stride', 'u32'], ['y_stride', 'u32'], ['heads', 'u32'], ['rows_per_wg', 'u32'], ['add', 'u32']]) + binds;
  if (subgroups) {
    return 'enable subgroups;\ndiagnostic(off, subgroup_uniformity);\n' + head + /* wgsl */ `
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sid: u32,
        @builtin(subgroup_size) sgs: u32) {
  let n_sg = max(64u / sgs, 1u);
  for (var i = lid / sgs; i < P.rows_per_wg; i += n_sg) {
    let r = (wid.x + wid.y * nwg.x) * P.rows_per_wg + i;
    if (r >= P.nrows) { break; }
    let xb = P.x_off + (r / P.heads) * P.x_stride + (r % P.heads) * P.n;
    let yb = P.y_off + (r / P.heads) * P.y_stride + (r % P.heads) * P.n;
    var s = 0.0;
    for (var k = sid; k < P.n; k += sgs) { let v = X[xb + k]; s += v * v; }
    let scale = 1.0 / sqrt(subgroupAdd(s) / f32(P.n) + P.eps);
    for (var k = sid; k < P.n; k += sgs) { store(yb + k, X[xb + k] * scale * Wt[k]); }
  }
}
`;
  }
  return head + /* wgsl */ `
var<workgroup> red: array<f32, 256>;
${reduceFn('reduce_sum', 256, (a, b) => `${a} + ${b}`)}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let r = wid.x + wid.y * nwg.x;
  if (r >= P.nrows) { return; }
  let xb = P.x_off + (r / P.heads) * P.x_stride + (r % P.heads) * P.n;
  let yb = P.y_off + (r / P.heads) * P.y_stride + (r % P.heads) * P.n;
  var s = 0.0;
  for (var i = lid; i < P.n; i += 256u) { let v = X[xb + i]; s += v * v; }
  red[lid] = s;
  reduce_sum(lid);
  let scale = 1.0 / sqrt(red[0] / f32(P.n) + P.eps);
  for (var i = lid; i < P.n; i += 256u) { store(yb + i, X[xb + i] * scale * Wt[i]); }
}
`;
}

// Softmax of nrows rows of n in place (one workgroup per row).
export const SOFTMAX = params([['n', 'u32'], ['x_off', 'u32']]) + /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> X: array<f32>;
@group(0) @binding(1) var<uniform> P: Params;
var<workgroup> red: array<f32, 256>;
${reduceFn('reduce_sum', 256, (a, b) => `${a} + ${b}`)}
${reduceFn('reduce_max', 256, (a, b) => `max(${a}, ${b})`)}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let b = P.x_off + wid.x * P.n;
  var m = -3.0e38;
  for (var i = lid; i < P.n; i += 256u) { m = max(m, X[b + i]); }
  red[lid] = m;
  reduce_max(lid);
  m = red[0];
  workgroupBarrier();
  var s = 0.0;
  for (var i = lid; i < P.n; i += 256u) { let e = exp(X[b + i] - m); X[b + i] = e; s += e; }
  red[lid] = s;
  reduce_sum(lid);
  let inv = 1.0 / red[0];
  for (var i = lid; i < P.n; i += 256u) { X[b + i] = X[b + i] * inv; }
}
`;

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
const TANH = /* wgsl */ `
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

// Elementwise ops over rows of `width` values (n = rows * width in all): mode 0 add
// (y = a + b), 1 SwiGLU (y = silu(a) * b), 3 bias (y = a + b[c]: one row of b for every row),
// 4 scale (y = a * s), 5 soft-cap (y = s * tanh(a * inv), inv = 1 / s as an f32). Rows are
// a_stride / b_stride / y_stride floats apart. In place (y = a, inplace true): bindings Y, B,
// P, and a_off/a_stride address Y. (GeGLU is GEGLU below: it needs ggml's table.)
export function elemwiseWgsl(inplace) {
  const binds = inplace
    ? `@group(0) @binding(0) var<storage, read_write> Y: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<uniform> P: Params;
fn load_a(i: u32) -> f32 { return Y[i]; }`
    : `@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(3) var<uniform> P: Params;
fn load_a(i: u32) -> f32 { return A[i]; }`;
  return params([['n', 'u32'], ['mode', 'u32'], ['a_off', 'u32'], ['b_off', 'u32'], ['y_off', 'u32'], ['width', 'u32'],
    ['a_stride', 'u32'], ['b_stride', 'u32'], ['y_stride', 'u32'], ['s', 'f32'], ['inv', 'f32']]) + binds + TANH + /* wgsl */ `
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= P.n) { return; }
  let r = i / P.width;
  let c = i % P.width;
  let a = load_a(P.a_off + r * P.a_stride + c);
  var y: f32;
  if (P.mode == 5u) {
    y = P.s * tanh_f32(a * P.inv);
  } else if (P.mode == 4u) {
    y = a * P.s;
  } else if (P.mode == 3u) {
    y = a + B[P.b_off + c];
  } else {
    let b = B[P.b_off + r * P.b_stride + c];
    if (P.mode == 0u) {
      y = a + b;
    } else {
      y = a / (1.0 + exp(-a)) * b;
    }
  }
  Y[P.y_off + r * P.y_stride + c] = y;
}
`;
}

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

// GeGLU as ggml's CPU backend computes it (kite__gelu_ggml): y = gelu(a) * b where gelu is 0
// for a <= -10, a for a >= 10, else the table T of gelu at every f16 value (65536 f16 packed
// in pairs, see geluTable in kernels.js) looked up at a rounded to f16. Rows as elemwise.
// In place (y = a): bindings Y, B, T, P.
export function gegluWgsl(inplace) {
  const binds = inplace
    ? `@group(0) @binding(0) var<storage, read_write> Y: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read> T: array<u32>;
@group(0) @binding(3) var<uniform> P: Params;
fn load_a(i: u32) -> f32 { return Y[i]; }`
    : `@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(3) var<storage, read> T: array<u32>;
@group(0) @binding(4) var<uniform> P: Params;
fn load_a(i: u32) -> f32 { return A[i]; }`;
  return params([['n', 'u32'], ['mode', 'u32'], ['a_off', 'u32'], ['b_off', 'u32'], ['y_off', 'u32'], ['width', 'u32'],
    ['a_stride', 'u32'], ['b_stride', 'u32'], ['y_stride', 'u32']]) + binds + ROUND_F16 + F16_BITS + geluLookupWgsl('gelu', 'T') + /* wgsl */ `
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= P.n) { return; }
  let r = i / P.width;
  let c = i % P.width;
  Y[P.y_off + r * P.y_stride + c] = gelu(load_a(P.a_off + r * P.a_stride + c)) * B[P.b_off + r * P.b_stride + c];
}
`;
}

// dst row i = src row IDS[ids_off + i] (i < n rows of width), rows src_stride / dst_stride
// apart: an exact copy.
export const GATHER = params([['n', 'u32'], ['width', 'u32'], ['src_off', 'u32'], ['src_stride', 'u32'], ['dst_off', 'u32'],
  ['dst_stride', 'u32'], ['ids_off', 'u32']]) + /* wgsl */ `
@group(0) @binding(0) var<storage, read> S: array<f32>;
@group(0) @binding(1) var<storage, read_write> D: array<f32>;
@group(0) @binding(2) var<storage, read> IDS: array<i32>;
@group(0) @binding(3) var<uniform> P: Params;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= P.n * P.width) { return; }
  let r = i / P.width;
  let c = i % P.width;
  D[P.dst_off + r * P.dst_stride + c] = S[P.src_off + u32(IDS[P.ids_off + r]) * P.src_stride + c];
}
`;

// The RoPE table kite__rope_cache fills, on the GPU: CS[t * n_rot + 2i, +1] = (cos, sin) of
// freq_scale * theta_i / factor_i (theta_i = pos_t * step^i by repeated f32 multiplication, as
// the C does), times attn_factor. has_factors 0 ignores F. WGSL bounds cos/sin only to 2^-11
// absolute (SwiftShader's are off by 1e-4), so they are computed here: the angle reduced by
// pi/2 in three parts (Cody-Waite, fused), then minimax polynomials on [-pi/4, pi/4] (the
// classic single-precision ones), good to about 1 ulp.
export const ROPE_CACHE = params([['n_tok', 'u32'], ['n_rot', 'u32'], ['step', 'f32'], ['freq_scale', 'f32'],
  ['attn_factor', 'f32'], ['has_factors', 'u32'], ['pos_off', 'u32']]) + /* wgsl */ `
@group(0) @binding(0) var<storage, read> POS: array<i32>;
@group(0) @binding(1) var<storage, read> F: array<f32>;
@group(0) @binding(2) var<storage, read_write> CS: array<f32>;
@group(0) @binding(3) var<uniform> P: Params;
// (cos a, sin a)
fn cos_sin(a: f32) -> vec2<f32> {
  let q = round(a * 0.63661977236758134);
  var r = fma(-q, 1.5703125, a);
  r = fma(-q, 4.837512969970703125e-4, r);
  r = fma(-q, 7.54978995489188216e-8, r);
  let z = r * r;
  let s = r + r * z * (-1.6666654611e-1 + z * (8.3321608736e-3 + z * -1.9515295891e-4));
  let c = 1.0 - 0.5 * z + z * z * (4.166664568298827e-2 + z * (-1.388731625493765e-3 + z * 2.443315711809948e-5));
  let k = i32(q) & 3;
  if (k == 0) { return vec2<f32>(c, s); }
  if (k == 1) { return vec2<f32>(-s, c); }
  if (k == 2) { return vec2<f32>(-c, -s); }
  return vec2<f32>(s, -c);
}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let half = P.n_rot / 2u;
  let t = gid.x / half;
  let i = gid.x % half;
  if (t >= P.n_tok) { return; }
  var theta = f32(POS[P.pos_off + t]);
  for (var k = 0u; k < i; k++) { theta = theta * P.step; }
  var a: f32;
  if (P.has_factors != 0u) { a = P.freq_scale * (theta / F[i]); } else { a = P.freq_scale * theta; }
  let cs = cos_sin(a);
  CS[2u * (t * half + i)] = cs.x * P.attn_factor;
  CS[2u * (t * half + i) + 1u] = cs.y * P.attn_factor;
}
`;

// WGSL: work item idx rotates its pair of buf's rows (offset off, rows stride apart, heads
// nHead a token) by the table's cos and sin (the body of ropeWgsl's branches).
const rotate = (buf, off, stride, nHead) => /* wgsl */ `
    let r = rot(idx / half, idx % half, ${nHead});
    let base = ${off} + r.x * ${stride} + r.y;
    let c = CS[P.cs_off + r.x * P.n_rot + 2u * (idx % half)];
    let s = CS[P.cs_off + r.x * P.n_rot + 2u * (idx % half) + 1u];
    let x0 = ${buf}[base + r.z];
    let x1 = ${buf}[base + r.w];
    ${buf}[base + r.z] = x0 * c - x1 * s;
    ${buf}[base + r.w] = x0 * s + x1 * c;`;

// Rotates the first n_rot dims of n_head heads of head_dim per token (tokens x_stride floats
// apart) with the table CS (n_rot floats per token from cs_off): pairs (2i, 2i+1), or
// (i, i + n_rot/2) when neox.
// pair (ROPE2): a second tensor of the same tokens in one dispatch, X2 (binding 3; n_head2
// heads, from x2_off, rows x2_stride apart), after the first's work items (q and k of a layer).
export function ropeWgsl({ pair = false } = {}) {
  return params([['n_tok', 'u32'], ['n_head', 'u32'], ['head_dim', 'u32'], ['n_rot', 'u32'],
    ['neox', 'u32'], ['x_off', 'u32'], ['cs_off', 'u32'], ['x_stride', 'u32'],
    ['n_head2', 'u32'], ['x2_off', 'u32'], ['x2_stride', 'u32']]) + /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> X: array<f32>;
@group(0) @binding(1) var<storage, read> CS: array<f32>;
@group(0) @binding(2) var<uniform> P: Params;
${pair ? '@group(0) @binding(3) var<storage, read_write> X2: array<f32>;' : ''}
// pair i of head th % n_head of token th / n_head: its dims a, b and its cos and sin
fn rot(th: u32, i: u32, n_head: u32) -> vec4<u32> {
  let t = th / n_head;
  var a = 2u * i;
  var b = 2u * i + 1u;
  if (P.neox != 0u) { a = i; b = i + P.n_rot / 2u; }
  return vec4<u32>(t, (th % n_head) * P.head_dim, a, b);
}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let half = P.n_rot / 2u;
  var idx = gid.x + gid.y * nwg.x * 64u;
  let n1 = P.n_tok * P.n_head * half;
  if (idx < n1) {${rotate('X', 'P.x_off', 'P.x_stride', 'P.n_head')}
    return;
  }${pair ? `
  idx -= n1;
  if (idx < P.n_tok * P.n_head2 * half) {${rotate('X2', 'P.x2_off', 'P.x2_stride', 'P.n_head2')}
  }` : ''}
}
`;
}

// Per-head RMS norm, then RoPE, of a layer's q and k in one dispatch (qwen3's and gemma3's q
// and k norms before their rotation): row r < n_tok * n_head is head r % n_head of token
// r / n_head of X (rows x_stride apart from x_off), the next n_tok * n_head2 rows the heads of
// X2 (x2_off, x2_stride; same_buf: in X, as k in a fused q|k|v row). Each row (head_dim
// floats) is normed as the RMS norm kernel does (x * scale * w, W1 for the first tensor, W2
// for the second; norm1 / norm2 0: not normed), then its first n_rot dims rotated as ROPE does
// with the table CS (n_rot floats per token from cs_off). With subgroups one subgroup per row
// (rows_per_wg a workgroup, as the RMS norm), else a workgroup of 64 per row.
export function ropeNormWgsl({ subgroups = false } = {}) {
  return (subgroups ? 'enable subgroups;\ndiagnostic(off, subgroup_uniformity);\n' : '') + params([['n_tok', 'u32'], ['n_head', 'u32'], ['head_dim', 'u32'], ['n_rot', 'u32'],
    ['neox', 'u32'], ['x_off', 'u32'], ['cs_off', 'u32'], ['x_stride', 'u32'],
    ['n_head2', 'u32'], ['x2_off', 'u32'], ['x2_stride', 'u32'], ['eps', 'f32'],
    ['norm1', 'u32'], ['norm2', 'u32'], ['same_buf', 'u32'], ['rows_per_wg', 'u32']]) + /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> X: array<f32>;
@group(0) @binding(1) var<storage, read> CS: array<f32>;
@group(0) @binding(2) var<uniform> P: Params;
@group(0) @binding(3) var<storage, read_write> X2: array<f32>;
@group(0) @binding(4) var<storage, read> W1: array<f32>;
@group(0) @binding(5) var<storage, read> W2: array<f32>;
// the row at hand: its first float, its token, which tensor (0, 1) and whether it is normed
struct Row { base: u32, t: u32, second: bool, norm: bool };
fn row_of(r: u32) -> Row {
  let n1 = P.n_tok * P.n_head;
  if (r < n1) { return Row(P.x_off + (r / P.n_head) * P.x_stride + (r % P.n_head) * P.head_dim, r / P.n_head, false, P.norm1 != 0u); }
  let r2 = r - n1;
  return Row(P.x2_off + (r2 / P.n_head2) * P.x2_stride + (r2 % P.n_head2) * P.head_dim, r2 / P.n_head2, true, P.norm2 != 0u);
}
fn ld(w: Row, k: u32) -> f32 {
  if (w.second && P.same_buf == 0u) { return X2[w.base + k]; }
  return X[w.base + k];
}
fn st(w: Row, k: u32, v: f32) {
  if (w.second && P.same_buf == 0u) { X2[w.base + k] = v; } else { X[w.base + k] = v; }
}
// dim k of the row, normed (x * scale * w) where the row is
fn normed(w: Row, k: u32, scale: f32) -> f32 {
  let v = ld(w, k);
  if (!w.norm) { return v; }
  if (w.second) { return v * scale * W2[k]; }
  return v * scale * W1[k];
}
// the row's pairs p0, p0 + step, ... rotated and its dims past n_rot n_rot + p0, ... normed
fn finish(w: Row, scale: f32, p0: u32, step: u32) {
  let half = P.n_rot / 2u;
  for (var i = p0; i < half; i += step) {
    var a = 2u * i;
    var b = 2u * i + 1u;
    if (P.neox != 0u) { a = i; b = i + half; }
    let c = CS[P.cs_off + w.t * P.n_rot + 2u * i];
    let s = CS[P.cs_off + w.t * P.n_rot + 2u * i + 1u];
    let x0 = normed(w, a, scale);
    let x1 = normed(w, b, scale);
    st(w, a, x0 * c - x1 * s);
    st(w, b, x0 * s + x1 * c);
  }
  if (w.norm) {
    for (var k = P.n_rot + p0; k < P.head_dim; k += step) { st(w, k, normed(w, k, scale)); }
  }
}
` + (subgroups ? /* wgsl */ `
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sid: u32,
        @builtin(subgroup_size) sgs: u32) {
  let n_sg = max(64u / sgs, 1u);
  let nrows = P.n_tok * (P.n_head + P.n_head2);
  for (var i = lid / sgs; i < P.rows_per_wg; i += n_sg) {
    let r = (wid.x + wid.y * nwg.x) * P.rows_per_wg + i;
    if (r >= nrows) { break; }
    let w = row_of(r);
    var s = 0.0;
    if (w.norm) { for (var k = sid; k < P.head_dim; k += sgs) { let v = ld(w, k); s += v * v; } }
    let scale = 1.0 / sqrt(subgroupAdd(s) / f32(P.head_dim) + P.eps);
    finish(w, scale, sid, sgs);
  }
}
` : /* wgsl */ `
var<workgroup> red: array<f32, 64>;
${reduceFn('reduce_sum', 64, (a, b) => `${a} + ${b}`)}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let r = wid.x + wid.y * nwg.x;
  if (r >= P.n_tok * (P.n_head + P.n_head2)) { return; }
  let w = row_of(r);
  var s = 0.0;
  if (w.norm) { for (var k = lid; k < P.head_dim; k += 64u) { let v = ld(w, k); s += v * v; } }
  red[lid] = s;
  reduce_sum(lid);
  let scale = 1.0 / sqrt(red[0] / f32(P.head_dim) + P.eps);
  finish(w, scale, lid, 64u);
}
`);
}
export const ROPE = ropeWgsl();

// KV cache element storage: 'f32' (one f32 per value) or 'f16' (two f16 per u32).
function kvAccess(kind, name, access, f16 = false) {
  if (kind === 'f16' && f16) {
    return `@group(0) @binding(BIND) var<storage, ${access}> ${name}: array<f16>;
fn ${name}_at(e: u32) -> f32 { return f32(${name}[e]); }`;
  }
  if (kind === 'f32') {
    return `@group(0) @binding(BIND) var<storage, ${access}> ${name}: array<f32>;
fn ${name}_at(e: u32) -> f32 { return ${name}[e]; }`;
  }
  return `@group(0) @binding(BIND) var<storage, ${access}> ${name}: array<u32>;
fn ${name}_at(e: u32) -> f32 { return unpack2x16float(${name}[e >> 1u])[e & 1u]; }`;
}

// Writes n_tok rows of `width` values (from src_off) into the cache, token t at row
// SEQ[t] * n_ctx + POS[t] (POS, SEQ: i32 from meta_off; has_seq 0: sequence 0), rounded to f16
// (round to nearest even: round_f16, f16_bits). With 'f16' storage width is even.
// pair: the K and the V write of a layer in one dispatch: S2 (binding 5) into C2 (binding 6),
// its rows src2_stride floats apart from src2_off, after the first's work items.
// f16 (shader-f16, kind 'f16'): the cache is f16 storage (array<f16>, the same bytes as the
// packed pairs), each value stored as f16(round_f16(x)): the rounding on the bits, then an
// exact conversion (WGSL leaves f32 -> f16 conversion's rounding to the implementation).
export function kvWriteWgsl(kind, { pair = false, f16 = false } = {}) {
  const h = f16 && kind === 'f16';
  const elem = kind === 'f32' ? 'f32' : h ? 'f16' : 'u32';
  const head = (h ? 'enable f16;\n' : '') + params([['n_tok', 'u32'], ['width', 'u32'], ['n_ctx', 'u32'], ['src_off', 'u32'], ['meta_off', 'u32'],
    ['has_seq', 'u32'], ['c_off', 'u32'], ['src_stride', 'u32'], ['src2_off', 'u32'], ['src2_stride', 'u32']]) + /* wgsl */ `
@group(0) @binding(0) var<storage, read> S: array<f32>;
@group(0) @binding(1) var<storage, read_write> C: array<${elem}>;
@group(0) @binding(2) var<storage, read> POS: array<i32>;
@group(0) @binding(3) var<storage, read> SEQ: array<i32>;
@group(0) @binding(4) var<uniform> P: Params;
${pair ? `@group(0) @binding(5) var<storage, read> S2: array<f32>;
@group(0) @binding(6) var<storage, read_write> C2: array<${elem}>;` : ''}
fn cache_row(t: u32) -> u32 {
  var s = 0u;
  if (P.has_seq != 0u) { s = u32(SEQ[P.meta_off + t]); }
  return s * P.n_ctx + u32(POS[P.meta_off + t]);
}
`;
  // work item i of one tensor (a value, or a pair of values for 'f16') from src into cache
  const write = (src, cache, off, stride) => (kind === 'f32' ? /* wgsl */ `
    let t = i / P.width;
    let c = i % P.width;
    ${cache}[P.c_off + cache_row(t) * P.width + c] = round_f16(${src}[${off} + t * ${stride} + c]);` : /* wgsl */ `
    let t = (2u * i) / P.width;
    let c = (2u * i) % P.width;
    let sb = ${off} + t * ${stride} + c;${h ? `
    let cb = P.c_off + cache_row(t) * P.width + c;
    ${cache}[cb] = f16(round_f16(${src}[sb]));
    ${cache}[cb + 1u] = f16(round_f16(${src}[sb + 1u]));` : `
    ${cache}[(P.c_off + cache_row(t) * P.width + c) / 2u] = f16_bits(${src}[sb]) | (f16_bits(${src}[sb + 1u]) << 16u);`}`);
  const items = kind === 'f32' ? 'P.n_tok * P.width' : '(P.n_tok * P.width) / 2u';
  return head + ROUND_F16 + (kind === 'f16' && !h ? F16_BITS : '') + /* wgsl */ `
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  var i = gid.x + gid.y * nwg.x * 64u;
  let n = ${items};
  if (i < n) {${write('S', 'C', 'P.src_off', 'P.src_stride')}
    return;
  }${pair ? `
  i -= n;
  if (i < n) {${write('S2', 'C2', 'P.src2_off', 'P.src2_stride')}
  }` : ''}
}
`;
}

// Causal GQA attention: token t (of n_tok) of sequence SEQ[t] at position POS[t] and head h
// attend to cache rows SEQ[t] * n_ctx + start..POS[t] of KV head h / (n_head / n_kv_head),
// start = max(0, POS[t] + 1 - window) with a sliding window (window 0: start 0):
// out = softmax(score) . v with score = scale * q.k, or softcap * tanh(scale * q.k) when
// softcap is set (gemma2; the caller passes scale / softcap as `scale` then, as ggml's flash
// path does). In f32 with an online softmax over chunks of 64 positions (one workgroup per
// token and head; thread j scores position j of a chunk, then each thread sums dims lid,
// lid+64, ...). Q and OUT: rows of n_head x head_dim (head_dim <= 512), q_stride / o_stride
// floats apart; cache rows kv_stride values apart, from element c_off.
// cpuRounding (a diagnostic, see kernelSpecs): instead, the CPU's flash-attention row
// (kite__attend_head_capped in src/kernels/attend_ref.c, mode KITE_ATTN_FA_F16): q rounded to
// f16, keys one by one with an online softmax, the V sum rounded to f16 after every key;
// thread d computes dimension d on its own (slow: it recomputes every score).
// The same attention with subgroups (the device's subgroups are runs of consecutive threads,
// see probeSubgroups in device.js): each subgroup computes one (token, head) pair on its own, a
// workgroup of 64 threads P.pairs of them (64 / subgroup size; its subgroups take pairs sg,
// sg + n_sg, ...). Per chunk of `size` positions lane j scores position j, subgroupMax and
// subgroupAdd give the chunk's maximum and sum, and lane l sums dims l, l + size, ... of the V
// rows with each position's probability (subgroupShuffle). No workgroup memory, no barrier.
// Needs head_dim <= ATTN_SG_DIMS * size (the lanes' accumulators).
export const ATTN_SG_DIMS = 16;
export function attentionSgWgsl(kind, { f16 = false } = {}) {
  const h = f16 && kind === 'f16';
  return (h ? 'enable f16;\n' : '') + 'enable subgroups;\ndiagnostic(off, subgroup_uniformity);\n' + params([['n_tok', 'u32'], ['n_head', 'u32'], ['n_kv_head', 'u32'], ['head_dim', 'u32'],
    ['n_ctx', 'u32'], ['kv_stride', 'u32'], ['scale', 'f32'], ['q_off', 'u32'], ['o_off', 'u32'],
    ['meta_off', 'u32'], ['has_seq', 'u32'], ['c_off', 'u32'], ['q_stride', 'u32'], ['o_stride', 'u32'],
    ['window', 'u32'], ['softcap', 'f32']]) + TANH + /* wgsl */ `
struct Pairs { pairs: u32 };
@group(0) @binding(0) var<storage, read> Q: array<f32>;
${kvAccess(kind, 'K', 'read', h).replace('BIND', '1')}
${kvAccess(kind, 'V', 'read', h).replace('BIND', '2')}
@group(0) @binding(3) var<storage, read_write> O: array<f32>;
@group(0) @binding(4) var<storage, read> POS: array<i32>;
@group(0) @binding(5) var<storage, read> SEQ: array<i32>;
@group(0) @binding(6) var<uniform> P: Params;
@group(0) @binding(7) var<uniform> PW: Pairs;
const A = ${ATTN_SG_DIMS}u;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sid: u32,
        @builtin(subgroup_size) sgs: u32) {
  let per = PW.pairs;
  let n_sg = max(64u / sgs, 1u);
  let sg = lid / sgs;
  let hd = P.head_dim;
  let na = min((hd + sgs - 1u) / sgs, A); // accumulators in use: dims sid + a * sgs < hd
  for (var i = sg; i < per; i += n_sg) {
    let g = (wid.x + wid.y * nwg.x) * per + i; // token * n_head + head
    if (g >= P.n_tok * P.n_head) { break; }
    let t = g / P.n_head;
    let h = g % P.n_head;
    let kvh = h / (P.n_head / P.n_kv_head);
    let qb = P.q_off + t * P.q_stride + h * hd;
    var seq = 0u;
    if (P.has_seq != 0u) { seq = u32(SEQ[P.meta_off + t]); }
    let cb = P.c_off + seq * P.n_ctx * P.kv_stride + kvh * hd;
    let end = u32(POS[P.meta_off + t]) + 1u;
    var start = 0u;
    if (P.window > 0u && end > P.window) { start = end - P.window; }
    var acc: array<f32, A>;
    for (var a = 0u; a < A; a++) { acc[a] = 0.0; }
    var m = -3.0e38;
    var l = 0.0;
    for (var j0 = start; j0 < end; j0 += sgs) {
      let j = j0 + sid;
      var s = -3.0e38;
      if (j < end) {
        let kb = cb + j * P.kv_stride;
        var dot = 0.0;
        for (var d = 0u; d < hd; d++) { dot += Q[qb + d] * K_at(kb + d); }
        if (P.softcap > 0.0) { s = P.softcap * tanh_f32(dot * P.scale); } else { s = dot * P.scale; }
      }
      let mn = max(m, subgroupMax(s));
      var p = 0.0;
      if (j < end) { p = exp(s - mn); }
      let corr = exp(m - mn);
      l = l * corr + subgroupAdd(p);
      m = mn;
      for (var a = 0u; a < na; a++) { acc[a] *= corr; }
      let cnt = min(sgs, end - j0);
      for (var jj = 0u; jj < cnt; jj++) {
        let pj = subgroupShuffle(p, jj);
        let vb = cb + (j0 + jj) * P.kv_stride;
        for (var a = 0u; a < na; a++) {
          let d = sid + a * sgs;
          if (d < hd) { acc[a] += pj * V_at(vb + d); }
        }
      }
    }
    let ob = P.o_off + t * P.o_stride + h * hd;
    for (var a = 0u; a < na; a++) {
      let d = sid + a * sgs;
      if (d < hd) { O[ob + d] = acc[a] / l; }
    }
  }
}
`;
}

// Prefill attention, tiled (flash-attention style): a workgroup of 64 threads computes ATTN_TILE_Q
// = 16 consecutive query tokens of one head, so each K and V value it brings into workgroup
// memory serves 16 queries (the per-query kernels read the cache once per query). The queries
// stay in workgroup memory; keys come in chunks of min(32, 1472 / head_dim), K then V through
// one buffer, as f32 (the cache's f16 values converted once there). Thread 4 q + p (q < 16,
// p < 4) works for query q: it scores keys p, p + 4, ... of the chunk (each query pair loaded
// once for its keys) and publishes its largest score; after a barrier it takes the query's
// maximum from the 4 threads', writes the probabilities of its own keys (one exp per score)
// and the group brings V in; after another, it adds p * v over the chunk's keys into its share
// of the output, pairs p, p + 4, ... (dims 2 (p + 4 a), + 1), with the online softmax's
// correction and sum. Four barriers a chunk: K in, maxima out, probabilities and V in, sums
// done. Keys outside a query's causal range or window are masked (probability 0). The tile's
// keys run from the least start to the last position of its tokens. One sequence (no SEQ
// binding: the caller keeps multi-sequence steps on the per-query kernels), head_dim even and
// at most 8 * pairs (a thread's pairs of the output, kept in registers: one shader per
// `pairs` of ATTN_TILE_PAIRS, heads up to 32, 64 and 128; attnTilePairs picks it), 16 KiB of workgroup memory. Bindings
// and uniforms as attentionWgsl's less SEQ (P is binding 5); grid: (ceil(n_tok / 16), n_head).
// The per-thread scores and sums are named registers (the loops over them unrolled here), not
// arrays indexed in loops, which compilers may leave in memory.
export const ATTN_TILE_Q = 16;
export const ATTN_TILE_PAIRS = [4, 8, 16];
// Heads narrower than this go to the per-query subgroup kernel where the device has subgroups:
// measured on SwiftShader (128 tokens x 8 heads, GPU-process CPU), heads of 8 took 54 ms tiled
// against 30 per query, 16 88 against 45, 32 70 against 95 (the tiled kernel's per-score costs
// outweigh what sharing K and V saves when a head is that small).
export const ATTN_TILE_MIN_DIM_SG = 32;
export const ATTN_TILE_MAX_DIM = 8 * ATTN_TILE_PAIRS.at(-1);
// The tiled kernel's `pairs` for heads of headDim (0: none fits).
export function attnTilePairs(headDim) {
  return ATTN_TILE_PAIRS.find((n) => 8 * n >= headDim) ?? 0;
}
export function attentionTiledWgsl(kind, { pairs = 16, f16 = false } = {}) {
  const h = f16 && kind === 'f16';
  const pair = (name) => (kind === 'f32'
    ? `fn ${name}_pair(e: u32) -> vec2<f32> { return vec2<f32>(${name}[e], ${name}[e + 1u]); }`
    : h ? `fn ${name}_pair(e: u32) -> vec2<f32> { return vec2<f32>(f32(${name}[e]), f32(${name}[e + 1u])); }`
      : `fn ${name}_pair(e: u32) -> vec2<f32> { return unpack2x16float(${name}[e >> 1u]); }`);
  const elem = kind === 'f32' ? 'f32' : h ? 'f16' : 'u32';
  const QP = ATTN_TILE_Q * 4 * pairs; // query pairs in workgroup memory
  const KVP = (16384 - QP * 8 - ATTN_TILE_Q * 32 * 4 - ATTN_TILE_Q * 4 * 4) / 8; // K / V pairs: the rest of 16 KiB
  const C = [...Array(8).keys()], A = [...Array(pairs).keys()];
  const sc = C.map((c) => `var sc${c} = 0.0;`).join(' ');
  const scores = C.map((c) => `${c < 2 ? '' : `if (${c * 4}u + part < nk) { `}let k${c} = kv[(part + ${4 * c}u) * hw + w]; sc${c} += q2.x * k${c}.x + q2.y * k${c}.y;${c < 2 ? '' : ' }'}`).join('\n        ');
  const accs = A.map((a) => `var acc${a} = vec2<f32>(0.0);`).join(' ');
  const guard = (a, body) => (a === 0 ? body : `if (${a}u < na) { ${body} }`);
  const scale = A.map((a) => guard(a, `acc${a} *= corr;`)).join('\n    ');
  const pv = A.map((a) => guard(a, `acc${a} += p * kv[j * hw + part + ${4 * a}u];`)).join('\n      ');
  const out = A.map((a) => guard(a, `O[ob + ${8 * a}u + 2u * part] = acc${a}.x / l; O[ob + ${8 * a}u + 2u * part + 1u] = acc${a}.y / l;`)).join('\n    ');
  return (h ? 'enable f16;\n' : '') + params([['n_tok', 'u32'], ['n_head', 'u32'], ['n_kv_head', 'u32'], ['head_dim', 'u32'],
    ['n_ctx', 'u32'], ['kv_stride', 'u32'], ['scale', 'f32'], ['q_off', 'u32'], ['o_off', 'u32'],
    ['meta_off', 'u32'], ['has_seq', 'u32'], ['c_off', 'u32'], ['q_stride', 'u32'], ['o_stride', 'u32'],
    ['window', 'u32'], ['softcap', 'f32']]) + TANH + /* wgsl */ `
@group(0) @binding(0) var<storage, read> Q: array<f32>;
@group(0) @binding(1) var<storage, read> K: array<${elem}>;
@group(0) @binding(2) var<storage, read> V: array<${elem}>;
@group(0) @binding(3) var<storage, read_write> O: array<f32>;
@group(0) @binding(4) var<storage, read> POS: array<i32>;
@group(0) @binding(5) var<uniform> P: Params;
// cache elements e, e + 1 (e even)
${pair('K')}
${pair('V')}
const BQ = ${ATTN_TILE_Q}u; // queries per workgroup
const TQ = 4u;   // threads per query
const SK = 32u;  // most keys per chunk
const KVP = ${KVP}u; // pairs of a K or V chunk
const NONE = -3.0e38;
var<workgroup> qs: array<vec2<f32>, ${QP}>; // [query][pair]
var<workgroup> kv: array<vec2<f32>, ${KVP}>; // [key][pair]: the chunk's K, then its V
var<workgroup> ps: array<f32, ${ATTN_TILE_Q * 32}>; // [query][key]: the chunk's probabilities
var<workgroup> mx4: array<f32, ${ATTN_TILE_Q * 4}>; // [query][thread]: largest scores
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let hd = P.head_dim;
  let hw = hd / 2u;
  let nk = min(SK, KVP / hw);
  let h = wid.y;
  let t0 = wid.x * BQ;
  let cb = P.c_off + (h / (P.n_head / P.n_kv_head)) * hd;
  let qi = lid / TQ;
  let part = lid % TQ;
  let t = t0 + qi;
  let live = t < P.n_tok;
  // the tile's keys: from the least start to the last end of its tokens (uniform: positions
  // are read-only, at the workgroup's indices)
  var kstart = 0xffffffffu;
  var kend = 0u;
  for (var i = 0u; i < BQ; i++) {
    if (t0 + i < P.n_tok) {
      let e = u32(POS[P.meta_off + t0 + i]) + 1u;
      var s = 0u;
      if (P.window > 0u && e > P.window) { s = e - P.window; }
      kstart = min(kstart, s);
      kend = max(kend, e);
    }
  }
  // this thread's query's keys
  var qend = 0u;
  var qstart = 0u;
  if (live) {
    qend = u32(POS[P.meta_off + t]) + 1u;
    if (P.window > 0u && qend > P.window) { qstart = qend - P.window; }
  }
  for (var i = lid; i < BQ * hw; i += 64u) {
    let r = i / hw;
    var v = vec2<f32>(0.0);
    if (t0 + r < P.n_tok) {
      let e = P.q_off + (t0 + r) * P.q_stride + h * hd + 2u * (i % hw);
      v = vec2<f32>(Q[e], Q[e + 1u]);
    }
    qs[i] = v;
  }
  let na = (hw - part + TQ - 1u) / TQ; // output pairs of this thread: part + 4 a, a < na
  ${accs}
  var m = NONE;
  var l = 0.0;
  for (var j0 = kstart; j0 < kend; j0 += nk) {
    let cnt = min(nk, kend - j0);
    for (var i = lid; i < nk * hw; i += 64u) {
      var x = vec2<f32>(0.0);
      if (i / hw < cnt) { x = K_pair(cb + (j0 + i / hw) * P.kv_stride + 2u * (i % hw)); }
      kv[i] = x;
    }
    workgroupBarrier();
    // scores of keys part + 4 c (c < 8) of the chunk for this thread's query (nk >= 8)
    ${sc}
    for (var w = 0u; w < hw; w++) {
      let q2 = qs[qi * hw + w];
      ${scores}
    }
    var sa = array<f32, 8>(${C.map((c) => `sc${c}`).join(', ')});
    var mine = NONE;
    for (var c = 0u; c < 8u; c++) {
      let j = part + TQ * c;
      if (j < cnt && j0 + j >= qstart && j0 + j < qend) {
        if (P.softcap > 0.0) { sa[c] = P.softcap * tanh_f32(sa[c] * P.scale); } else { sa[c] = sa[c] * P.scale; }
        mine = max(mine, sa[c]);
      } else {
        sa[c] = NONE;
      }
    }
    mx4[lid] = mine;
    workgroupBarrier();
    let mn = max(m, max(max(mx4[qi * TQ], mx4[qi * TQ + 1u]), max(mx4[qi * TQ + 2u], mx4[qi * TQ + 3u])));
    for (var c = 0u; c < 8u; c++) {
      let j = part + TQ * c;
      if (j < nk) { ps[qi * SK + j] = select(0.0, exp(sa[c] - mn), sa[c] > -1.0e38); }
    }
    for (var i = lid; i < nk * hw; i += 64u) {
      var x = vec2<f32>(0.0);
      if (i / hw < cnt) { x = V_pair(cb + (j0 + i / hw) * P.kv_stride + 2u * (i % hw)); }
      kv[i] = x;
    }
    workgroupBarrier();
    let corr = exp(m - mn);
    l *= corr;
    ${scale}
    for (var j = 0u; j < cnt; j++) {
      let p = ps[qi * SK + j];
      l += p;
      ${pv}
    }
    m = mn;
    workgroupBarrier();
  }
  if (live) {
    let ob = P.o_off + t * P.o_stride + h * hd;
    ${out}
  }
}
`;
}

export function attentionWgsl(kind, { cpuRounding = false, f16 = false } = {}) {
  const h = f16 && kind === 'f16' && !cpuRounding;
  const cpuRow = /* wgsl */ `
  for (var i = 0u; i < 8u; i++) {
    let d = lid + 64u * i;
    if (d < hd) {
      var a = 0.0;
      var m = -3.0e38;
      var sum = 0.0;
      for (var j = kr.x; j < n; j++) {
        let kb = cb + j * P.kv_stride;
        var dot = 0.0;
        for (var e = 0u; e < hd; e++) { dot += round_f16(qs[e]) * K_at(kb + e); }
        var s = dot * P.scale;
        if (P.softcap > 0.0) { s = P.softcap * tanh_f32(dot * P.scale); }
        var ms = 1.0;
        var vs = 1.0;
        if (s > m) {
          ms = exp(m - s);
          m = s;
          a = round_f16(a * ms);
        } else {
          vs = exp(s - m);
        }
        a = round_f16(a + V_at(cb + j * P.kv_stride + d) * vs);
        sum = sum * ms + vs;
      }
      O[P.o_off + t * P.o_stride + h * hd + d] = a / sum;
    }
  }
  return;`;
  return (h ? 'enable f16;\n' : '') + params([['n_tok', 'u32'], ['n_head', 'u32'], ['n_kv_head', 'u32'], ['head_dim', 'u32'],
    ['n_ctx', 'u32'], ['kv_stride', 'u32'], ['scale', 'f32'], ['q_off', 'u32'], ['o_off', 'u32'],
    ['meta_off', 'u32'], ['has_seq', 'u32'], ['c_off', 'u32'], ['q_stride', 'u32'], ['o_stride', 'u32'],
    ['window', 'u32'], ['softcap', 'f32']]) + TANH + ROUND_F16 + /* wgsl */ `
@group(0) @binding(0) var<storage, read> Q: array<f32>;
${kvAccess(kind, 'K', 'read', h).replace('BIND', '1')}
${kvAccess(kind, 'V', 'read', h).replace('BIND', '2')}
@group(0) @binding(3) var<storage, read_write> O: array<f32>;
@group(0) @binding(4) var<storage, read> POS: array<i32>;
@group(0) @binding(5) var<storage, read> SEQ: array<i32>;
@group(0) @binding(6) var<uniform> P: Params;
var<workgroup> qs: array<f32, 512>;
var<workgroup> ps: array<f32, 64>;
var<workgroup> red: array<f32, 64>;
var<workgroup> key_range: vec2<u32>;
${reduceFn('reduce_sum', 64, (a, b) => `${a} + ${b}`)}
${reduceFn('reduce_max', 64, (a, b) => `max(${a}, ${b})`)}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nwg.x; // token * n_head + head
  if (g >= P.n_tok * P.n_head) { return; }
  let t = g / P.n_head;
  let h = g % P.n_head;
  let hd = P.head_dim;
  let kvh = h / (P.n_head / P.n_kv_head);
  let qb = P.q_off + t * P.q_stride + h * hd;
  var seq = 0u;
  if (P.has_seq != 0u) { seq = u32(SEQ[P.meta_off + t]); }
  let cb = P.c_off + seq * P.n_ctx * P.kv_stride + kvh * hd;
  for (var d = lid; d < hd; d += 64u) { qs[d] = Q[qb + d]; }
  if (lid == 0u) {
    let end = u32(POS[P.meta_off + t]) + 1u;
    var start = 0u;
    if (P.window > 0u && end > P.window) { start = end - P.window; }
    key_range = vec2<u32>(start, end);
  }
  let kr = workgroupUniformLoad(&key_range); // a barrier too; uniform, so loops may hold barriers
  let n = kr.y;${cpuRounding ? cpuRow : ''}
  var acc: array<f32, 8>;
  for (var i = 0u; i < 8u; i++) { acc[i] = 0.0; }
  var m = -3.0e38;
  var l = 0.0;
  for (var j0 = kr.x; j0 < n; j0 += 64u) {
    let j = j0 + lid;
    var s = -3.0e38;
    if (j < n) {
      let kb = cb + j * P.kv_stride;
      var dot = 0.0;
      for (var d = 0u; d < hd; d++) { dot += qs[d] * K_at(kb + d); }
      if (P.softcap > 0.0) { s = P.softcap * tanh_f32(dot * P.scale); } else { s = dot * P.scale; }
    }
    red[lid] = s;
    reduce_max(lid);
    let mn = max(m, red[0]);
    workgroupBarrier();
    var p = 0.0;
    if (j < n) { p = exp(s - mn); }
    ps[lid] = p;
    red[lid] = p;
    reduce_sum(lid);
    let corr = exp(m - mn);
    l = l * corr + red[0];
    m = mn;
    let cnt = min(64u, n - j0);
    for (var i = 0u; i < 8u; i++) {
      let d = lid + 64u * i;
      if (d < hd) {
        var a = acc[i] * corr;
        for (var jj = 0u; jj < cnt; jj++) { a += ps[jj] * V_at(cb + (j0 + jj) * P.kv_stride + d); }
        acc[i] = a;
      }
    }
    workgroupBarrier();
  }
  let ob = P.o_off + t * P.o_stride + h * hd;
  for (var i = 0u; i < 8u; i++) {
    let d = lid + 64u * i;
    if (d < hd) { O[ob + d] = acc[i] / l; }
  }
}
`;
}
