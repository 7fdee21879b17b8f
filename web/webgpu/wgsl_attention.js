// wgsl_attention.js - the WGSL of causal GQA attention over the F16-valued KV cache (kept as f32
// or as packed f16 pairs, or f16 storage): per query (subgroup and workgroup forms) and tiled
// for prompts. Uniform block P and storage arrays as in wgsl_ops.js.
import { ROUND_F16, TANH, params, reduceFn } from './wgsl_common.js';

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

// The uniform block of the three attention kernels (the tiled one has no SEQ binding and reads
// no has_seq).
const ATTN_PARAMS = params([['n_tok', 'u32'], ['n_head', 'u32'], ['n_kv_head', 'u32'], ['head_dim', 'u32'],
    ['n_ctx', 'u32'], ['kv_stride', 'u32'], ['scale', 'f32'], ['q_off', 'u32'], ['o_off', 'u32'],
    ['meta_off', 'u32'], ['has_seq', 'u32'], ['c_off', 'u32'], ['q_stride', 'u32'], ['o_stride', 'u32'],
    ['window', 'u32'], ['softcap', 'f32']]);

// The per-query kernels' bindings: Q, the K / V cache (kvAccess), O, POS, SEQ and P.
function queryBindings(kind, h) {
  return `@group(0) @binding(0) var<storage, read> Q: array<f32>;
${kvAccess(kind, 'K', 'read', h).replace('BIND', '1')}
${kvAccess(kind, 'V', 'read', h).replace('BIND', '2')}
@group(0) @binding(3) var<storage, read_write> O: array<f32>;
@group(0) @binding(4) var<storage, read> POS: array<i32>;
@group(0) @binding(5) var<storage, read> SEQ: array<i32>;
@group(0) @binding(6) var<uniform> P: Params;`;
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
  return (h ? 'enable f16;\n' : '') + 'enable subgroups;\ndiagnostic(off, subgroup_uniformity);\n' + ATTN_PARAMS + TANH + /* wgsl */ `
struct Pairs { pairs: u32 };
${queryBindings(kind, h)}
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
  return (h ? 'enable f16;\n' : '') + ATTN_PARAMS + TANH + /* wgsl */ `
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
  return (h ? 'enable f16;\n' : '') + ATTN_PARAMS + TANH + ROUND_F16 + /* wgsl */ `
${queryBindings(kind, h)}
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
