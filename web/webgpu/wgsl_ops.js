// wgsl_ops.js - the WGSL of the forward pass's small row ops (the GPU side of src/model/ops.c):
// RMS norm, softmax, add / bias / scale / SwiGLU / soft-cap, GeGLU and gather. RoPE is in
// wgsl_rope.js, the KV-cache write in wgsl_kv_write.js, attention in wgsl_attention.js.
// Every shader takes one uniform block of 16 words named P (fields per shader below, see params
// in wgsl_common.js) and plain f32 storage arrays; offsets are in elements.
import { F16_BITS, ROUND_F16, TANH, geluLookupWgsl, params, reduceFn } from './wgsl_common.js';

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
