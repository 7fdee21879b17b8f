// wgsl_moe.js - the WGSL of routed experts (qwen3moe; the GPU side of kite__moe_route and the
// CPU backend's moe op): the router's softmax and top-k, the grouping of each expert's tokens
// into one batch, and the weighted sum of each token's expert outputs. The expert matmuls
// themselves are the GEMV / GEMM of wgsl_matmul.js in their indirect mode (MM_ID).
import { params, reduceFn } from './wgsl_common.js';

export const MAX_EXPERTS = 512;

// Routing of n_tok tokens, one workgroup each: softmax over the n_expert router logits (row
// t of L, l_stride floats apart), the k largest probabilities in descending order (the lower
// id first on ties), weights renormalised to sum 1 (the sum clamped below at 2^-14, as
// kite__moe_route). IDS[t * k + j] = expert (i32), WTS[t * k + j] = its weight.
export const MOE_ROUTE = params([['n_tok', 'u32'], ['n_expert', 'u32'], ['k', 'u32'], ['l_off', 'u32'], ['l_stride', 'u32']]) + /* wgsl */ `
@group(0) @binding(0) var<storage, read> L: array<f32>;
@group(0) @binding(1) var<storage, read_write> IDS: array<i32>;
@group(0) @binding(2) var<storage, read_write> WTS: array<f32>;
@group(0) @binding(3) var<uniform> P: Params;
var<workgroup> probs: array<f32, ${MAX_EXPERTS}>;
var<workgroup> red: array<f32, 64>;
var<workgroup> best_v: array<f32, 64>;
var<workgroup> best_i: array<u32, 64>;
var<workgroup> chosen: array<f32, 64>;
${reduceFn('reduce_sum', 64, (a, b) => `${a} + ${b}`)}
${reduceFn('reduce_max', 64, (a, b) => `max(${a}, ${b})`)}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = wid.x + wid.y * nwg.x;
  if (t >= P.n_tok) { return; }
  let lb = P.l_off + t * P.l_stride;
  var m = -3.0e38;
  for (var e = lid; e < P.n_expert; e += 64u) { m = max(m, L[lb + e]); }
  red[lid] = m;
  reduce_max(lid);
  m = red[0];
  workgroupBarrier();
  var s = 0.0;
  for (var e = lid; e < P.n_expert; e += 64u) { let p = exp(L[lb + e] - m); probs[e] = p; s += p; }
  red[lid] = s;
  reduce_sum(lid);
  let inv = 1.0 / red[0];
  for (var e = lid; e < P.n_expert; e += 64u) { probs[e] = probs[e] * inv; }
  for (var j = 0u; j < P.k; j++) {
    workgroupBarrier();
    // each thread's best untaken expert (taken ones hold -1), then a tree keeping the larger
    // probability, the lower id on ties
    var bv = -1.0;
    var bi = 0xffffffffu;
    for (var e = lid; e < P.n_expert; e += 64u) {
      if (probs[e] > bv) { bv = probs[e]; bi = e; }
    }
    best_v[lid] = bv;
    best_i[lid] = bi;
    workgroupBarrier();
    for (var h = 32u; h > 0u; h >>= 1u) {
      if (lid < h) {
        let ov = best_v[lid + h];
        let oi = best_i[lid + h];
        if (ov > best_v[lid] || (ov == best_v[lid] && oi < best_i[lid])) { best_v[lid] = ov; best_i[lid] = oi; }
      }
      workgroupBarrier();
    }
    if (lid == 0u) {
      chosen[j] = best_v[0];
      IDS[t * P.k + j] = i32(best_i[0]);
      probs[best_i[0]] = -1.0;
    }
  }
  workgroupBarrier();
  if (lid == 0u) {
    var sum = 0.0;
    for (var j = 0u; j < P.k; j++) { sum += chosen[j]; }
    let d = max(sum, 6.103515625e-5);
    for (var j = 0u; j < P.k; j++) { WTS[t * P.k + j] = chosen[j] / d; }
  }
}
`;

// The batch of each expert: for expert e, LIST[n_expert + e * list_stride + i] = the slots
// t * k + j (token order) routed to it, LIST[e] = their count. One workgroup; thread e takes
// experts e, e + 64, ...
export const MOE_GROUP = params([['n_tok', 'u32'], ['n_expert', 'u32'], ['k', 'u32'], ['list_stride', 'u32']]) + /* wgsl */ `
@group(0) @binding(0) var<storage, read> IDS: array<i32>;
@group(0) @binding(1) var<storage, read_write> LIST: array<i32>;
@group(0) @binding(2) var<uniform> P: Params;
@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) lid: u32) {
  for (var e = lid; e < P.n_expert; e += 64u) {
    var c = 0u;
    for (var s = 0u; s < P.n_tok * P.k; s++) {
      if (u32(IDS[s]) == e) { LIST[P.n_expert + e * P.list_stride + c] = i32(s); c++; }
    }
    LIST[e] = i32(c);
  }
}
`;

// OUT row t (width floats, from o_off, o_stride apart) = the sum over j < k, in the router's
// order, of Y row t * k + j (width floats) times WTS[t * k + j], each product rounded first
// (as the CPU backend: the weighted rows, then the adds).
export const MOE_COMBINE = params([['n_tok', 'u32'], ['width', 'u32'], ['k', 'u32'], ['o_off', 'u32'], ['o_stride', 'u32']]) + /* wgsl */ `
@group(0) @binding(0) var<storage, read> Y: array<f32>;
@group(0) @binding(1) var<storage, read> WTS: array<f32>;
@group(0) @binding(2) var<storage, read_write> O: array<f32>;
@group(0) @binding(3) var<uniform> P: Params;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= P.n_tok * P.width) { return; }
  let t = i / P.width;
  let c = i % P.width;
  var acc = Y[(t * P.k) * P.width + c] * WTS[t * P.k];
  for (var j = 1u; j < P.k; j++) {
    let p = Y[(t * P.k + j) * P.width + c] * WTS[t * P.k + j];
    acc = acc + p;
  }
  O[P.o_off + t * P.o_stride + c] = acc;
}
`;
