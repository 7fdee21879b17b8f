// wgsl_rope.js - the WGSL of RoPE: the table of cos / sin (kite__rope_cache on the GPU), the
// rotation of q and k (also both in one dispatch), and the per-head RMS norm then RoPE of qwen3's
// and gemma3's q and k. Uniform block P and storage arrays as in wgsl_ops.js.
import { params, reduceFn } from './wgsl_common.js';

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
