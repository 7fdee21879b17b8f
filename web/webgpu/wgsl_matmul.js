// wgsl_matmul.js - the WGSL of the weight kernels, one shader per block type (the decoder of
// wgsl_dequant.js pasted in): y = W x for one token (GEMV), Y = X W^T for many (tiled GEMM),
// and get-rows (embedding lookup). A weight may span several buffers (split at row boundaries,
// see device.js): each kernel is dispatched once per piece, with the piece's first row `row0`.
//
// Shared uniform block of the three (16 u32):
//   rows     rows of this piece          cols     elements per row (a multiple of 32 but for
//                                        the float types, whose last unit is padded with 0)
//   rb       bytes per row               row0     first row of this piece in the whole tensor
//   ntok     tokens (columns of X)       x_off    first float of X;  y_off  first float of Y
//   y_stride floats between two tokens' outputs in Y (the whole tensor's row count for matmul)
//   x_stride floats between two tokens' inputs in X
//   id       0: a plain weight; 1: indirect (MM_ID below: the matrices of routed experts)
//   e_rows   rows of one expert's matrix     x_div    slot s reads X row s / x_div
//   n_expert experts                         l_stride LIST entries per expert
//   gemv_rows rows per workgroup of the subgroup GEMV (gemvRows)
//   epi      the epilogue of a plain weight (id 0): 0 Y = sum; EPI_ADD: Y += sum (a residual
//            add: Y + sum, the add kernel's one rounding); EPI_GLU: the rows are gate and up
//            rows interleaved in pairs (gluRows: gate 2p, 2p + 1, up 2p, 2p + 1 at rows
//            4p .. 4p + 3) and output p of a pair is silu(gate) * up (the SwiGLU kernel's
//            formula) at Y column row / 2 (y_stride: the FFN's width); pieces of whole quads;
//            EPI_GEGLU: as EPI_GLU with gelu(gate) * up, GELU looked up in ggml's table (EP
//            below, the GeGLU kernel's lookup); EPI_BIAS: Y = sum + EP[row] (a bias: EP holds
//            f32 bits, one per row of the whole tensor; the bias op's one rounding)
//
// Binding 5, EP (u32): the epilogue's operand (EPI_GEGLU: the GELU table; EPI_BIAS: the bias),
// a dummy otherwise. The grid formats' grids are binding 6.
//
// Indirect mode (the experts of a MoE layer: one weight of n_expert * e_rows rows, expert e's
// matrix from row e * e_rows) reads binding 4, IDS (i32):
//   GEMV: one slot per workgroup row (grid y): expert IDS[slot], input X row slot / x_div,
//         output Y row slot (y_stride apart), e_rows values;
//   GEMM: one expert per grid z: its batch (MOE_GROUP in wgsl_moe.js) is IDS[e] slots listed
//         at IDS[n_expert + e * l_stride ..]; each slot as in the GEMV.
// A piece computes the rows of the whole tensor that lie in it; the others are left alone.
import { decodeWgsl } from './wgsl_dequant.js';
import { TYPES } from './types.js';
import { F16_BITS, ROUND_F16, geluLookupWgsl } from './wgsl_common.js';

// wElem: W's element type ('u32': bytes of GGUF blocks; 'f16': F16 rows read as f16 storage
// by the shader-f16 variants, whose WGSL starts with `enable f16;`)
const params = (wElem = 'u32') => /* wgsl */ `${wElem === 'f16' ? 'enable f16;\n' : ''}
struct Params {
  rows: u32, cols: u32, rb: u32, row0: u32,
  ntok: u32, x_off: u32, y_off: u32, y_stride: u32,
  x_stride: u32, id: u32, e_rows: u32, x_div: u32,
  n_expert: u32, l_stride: u32, gemv_rows: u32, epi: u32,
};
@group(0) @binding(0) var<storage, read> W: array<${wElem}>;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(3) var<uniform> P: Params;
@group(0) @binding(5) var<storage, read> EP: array<u32>;
const EPI_ADD = 1u;
const EPI_GLU = 2u;
const EPI_GEGLU = 3u;
const EPI_BIAS = 4u;
${ROUND_F16}${F16_BITS}${geluLookupWgsl('gelu', 'EP')}
// the gated activation of a gate|up pair: silu(g) * u (EPI_GLU, the SwiGLU kernel's formula)
// or gelu(g) * u (EPI_GEGLU, the GeGLU kernel's lookup in ggml's table)
fn glu(g: f32, u: f32) -> f32 {
  if (P.epi != EPI_GEGLU) { return g / (1.0 + exp(-g)) * u; }
  return gelu(g) * u;
}
// Y[i] = v, Y[i] += v (EPI_ADD) or Y[i] = v + the bias of the tensor's row (EPI_BIAS)
fn put(i: u32, row: u32, v: f32) {
  if (P.epi == EPI_ADD) {
    Y[i] = Y[i] + v;
  } else if (P.epi == EPI_BIAS) {
    Y[i] = v + bitcast<f32>(EP[row]);
  } else {
    Y[i] = v;
  }
}
`;
// Params.epi values
export const EPI_ADD = 1;
export const EPI_GLU = 2;
export const EPI_GEGLU = 3;
export const EPI_BIAS = 4;

// The rows of a gate and an up matrix (f rows each, f even, rowBytes bytes a row) as one
// EPI_GLU weight's: gate 2p, 2p + 1, up 2p, 2p + 1 at rows 4p .. 4p + 3.
export function gluRows(gate, up, f, rowBytes) {
  if (f % 2) throw new Error(`WebGPU: a fused gate/up needs an even width, not ${f}`);
  const out = new Uint8Array(2 * f * rowBytes);
  for (let p = 0; p < f / 2; p++) {
    out.set(gate.subarray(2 * p * rowBytes, (2 * p + 2) * rowBytes), 4 * p * rowBytes);
    out.set(up.subarray(2 * p * rowBytes, (2 * p + 2) * rowBytes), (4 * p + 2) * rowBytes);
  }
  return out;
}
const IDS = /* wgsl */ `
@group(0) @binding(4) var<storage, read> IDS: array<i32>;
`;

// GEMV, two forms. Both read each weight byte once per token, a row's consecutive 32-element
// units going to consecutive threads (coalesced), and x through the caches (every workgroup
// reads all of x; a copy in workgroup memory would cost a barrier per workgroup, which is what
// the subgroup form avoids). A thread works on GEMV_RS = 4 rows at once: each x value it loads
// (a unit of 32 kept in registers, or a word's one or two) feeds the 4 rows' products.
//  - subgroups (the device's subgroups are runs of consecutive threads, see probeSubgroups in
//    device.js): each subgroup computes 4 whole rows on its own: lane l dots units l, l+size,
//    ... of each row with x, subgroupAdd sums the lanes, lane 0 writes. No workgroup memory, no
//    barrier. A workgroup of GEMV_WG threads computes P.gemv_rows consecutive rows (the JS side
//    sets 4 GEMV_WG / subgroup size: 4 rows per subgroup); its subgroups take the groups of 4
//    rows sg, sg + n_sg, ... of them, so a pipeline given another subgroup size than the
//    probe's still covers every row. F32, F16 and BF16 rows that start on a 32-bit word are
//    read as words instead of units: lane l takes words l, l + size, ... (one or two products
//    added per word).
//  - otherwise: GEMV_ROWS = 4 rows per workgroup; thread t dots units t, t+WG, ... of every
//    row, then a shared-memory tree adds the WG partial sums of each row.
// Per row the summation order is the one-row kernel's (a unit's 32 products, then the unit sums
// of a lane in order; words: a word's products, then the word sums in order).
// cpuRounding (GEMV and GEMM; a diagnostic, see kernelSpecs): the F16 kernels round x to f16
// first, as the CPU path (and ggml's) converts activations for F16 weights.
// (The shader-f16 variants of the F16 kernels, `f16` below, round x so too, in normal use.)
export const GEMV_WG = 64;
export const GEMV_ROWS = 4;
export const GEMV_RS = 4;

// Rows per GEMV workgroup: 4 GEMV_WG / subgroup size with subgroups (sgSize > 0), else GEMV_ROWS.
export function gemvRows(sgSize) {
  return sgSize > 0 ? Math.max(1, GEMV_WG / sgSize) * GEMV_RS : GEMV_ROWS;
}

// f16 (shader-f16; F16 weights only, not with cpuRounding): the F16 rows are read as f16
// storage (W: array<f16>) instead of halves unpacked from u32 words, and x is rounded to f16
// (to nearest even: round_f16), as the GEMM's f16 tiles hold it (and as llama.cpp's CPU
// converts activations for F16 weights): one token or many, the same products; each f16 x f16
// product is exact in f32, the sums f32 as before.
export function gemvWgsl(type, { subgroups = false, cpuRounding = false, f16 = false } = {}) {
  const h = f16 && type === 'f16' && !cpuRounding;
  // rows of float types may end inside a unit: x is read as 0 there (it may hold anything)
  let xv = TYPES[type].block === 1 ? 'select(0.0, X[xb + j], u * 32u + j < P.cols)' : 'X[xb + j]';
  if ((cpuRounding || h) && type === 'f16') xv = `round_f16(${xv})`;
  const head = (subgroups ? 'enable subgroups;\n' : '') + params(h ? 'f16' : 'u32') + IDS + decodeWgsl(type, { gridBinding: 6, f16: h }) + /* wgsl */ `
const WG = ${GEMV_WG}u;
const RS = ${GEMV_RS}u;
const NONE = 0xffffffffu;
// the piece's row of output row r (of this workgroup's matrix), or NONE when it is not in
// this piece
fn piece_row(e: u32, r: u32) -> u32 {
  if (P.id == 0u) { return select(NONE, r, r < P.rows); }
  if (r >= P.e_rows) { return NONE; }
  let g = e * P.e_rows + r;
  return select(NONE, g - P.row0, g >= P.row0 && g < P.row0 + P.rows);
}
var<private> acc: array<f32, ${GEMV_RS}>; // this thread's sums of its rows
fn any_row(rows: array<u32, ${GEMV_RS}>) -> bool {
  for (var a = 0u; a < RS; a++) { if (rows[a] != NONE) { return true; } }
  return false;
}
var<private> xu: array<f32, 32>;          // x of the unit at hand
// adds this thread's share of the dots of the piece's rows rows[a] (NONE: skipped) with x from
// x0, units u0, u0 + step, ..., to acc[a]
fn rows_dot(rows: array<u32, ${GEMV_RS}>, x0: u32, u0: u32, step: u32) {
  let units = (P.cols + 31u) / 32u;
  for (var u = u0; u < units; u += step) {
    let xb = x0 + u * 32u;
    for (var j = 0u; j < 32u; j++) { xu[j] = ${xv}; }
    for (var a = 0u; a < RS; a++) {
      if (rows[a] == NONE) { continue; }
      decode(rows[a] * P.rb, u);
      var s = 0.0;
      for (var j = 0u; j < 32u; j++) { s += dq[j] * xu[j]; }
      acc[a] += s;
    }
  }
}`;
  const locate = /* wgsl */ `
  var g = wid.x + wid.y * nwg.x;
  var e = 0u;
  var x0 = P.x_off;
  var y0 = P.y_off + P.row0;
  if (P.id != 0u) { // slot wid.y of a routed batch
    g = wid.x;
    e = u32(IDS[wid.y]);
    x0 = P.x_off + (wid.y / P.x_div) * P.x_stride;
    y0 = P.y_off + wid.y * P.y_stride;
  }`;
  // The float types' rows as 32-bit words when every row starts on a word (rb % 4 == 0): lane
  // l takes words l, l + size, ... (consecutive lanes, consecutive words), no unit decoder; a
  // row past the piece reads the first row (its sum is not written).
  const load = {
    f32: 'let x = X[x0 + k];',
    f16: h ? 'let xa = round_f16(X[x0 + 2u * k]);\n      let xb = round_f16(X[x0 + 2u * k + 1u]);' : 'let xa = X[x0 + 2u * k];\n      let xb = X[x0 + 2u * k + 1u];',
    bf16: 'let xa = X[x0 + 2u * k];\n      let xb = X[x0 + 2u * k + 1u];',
  }[type];
  const word = {
    f32: (a) => `acc[${a}] += bitcast<f32>(W[wb${a} + k]) * x;`,
    f16: (a) => (h ? `let w${a} = vec2<f32>(f32(W[2u * (wb${a} + k)]), f32(W[2u * (wb${a} + k) + 1u]));`
      : `let w${a} = unpack2x16float(W[wb${a} + k]);`) + ` acc[${a}] += w${a}.x * xa + w${a}.y * xb;`,
    bf16: (a) => `let v${a} = W[wb${a} + k]; acc[${a}] += bitcast<f32>(v${a} << 16u) * xa + bitcast<f32>(v${a} & 0xffff0000u) * xb;`,
  }[type];
  const R = [...Array(GEMV_RS).keys()];
  const rowDot = word && !(cpuRounding && type === 'f16') ? /* wgsl */ `
fn rows_dot_sg(rows: array<u32, ${GEMV_RS}>, x0: u32, u0: u32, step: u32) {
  if (P.rb % 4u != 0u) { rows_dot(rows, x0, u0, step); return; }
  var any = NONE; // a row of the piece, read in place of the others
  for (var a = 0u; a < RS; a++) { if (any == NONE) { any = rows[a]; } }
  ${R.map((a) => `let wb${a} = select(any, rows[${a}], rows[${a}] != NONE) * P.rb / 4u;`).join('\n  ')}
  let words = P.rb / 4u;
  for (var k = u0; k < words; k += step) {
      ${load}
      ${R.map(word).join('\n      ')}
  }
}` : /* wgsl */ `
fn rows_dot_sg(rows: array<u32, ${GEMV_RS}>, x0: u32, u0: u32, step: u32) { rows_dot(rows, x0, u0, step); }`;
  if (subgroups) {
    return head + rowDot + /* wgsl */ `
@compute @workgroup_size(${GEMV_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sid: u32,
        @builtin(subgroup_size) sgs: u32) {${locate}
  let rpw = P.gemv_rows;
  let n_sg = max(WG / sgs, 1u);
  let sg = lid / sgs;
  for (var i = 0u; i < rpw; i += n_sg * RS) {
    let r0 = g * rpw + i + sg * RS; // this subgroup's first row
    var rows: array<u32, ${GEMV_RS}>;
    for (var a = 0u; a < RS; a++) {
      rows[a] = NONE;
      if (i + sg * RS + a < rpw) { rows[a] = piece_row(e, r0 + a); }
      acc[a] = 0.0;
    }
    if (any_row(rows)) { rows_dot_sg(rows, x0, sid, sgs); }
    ${R.map((a) => `let s${a} = subgroupAdd(acc[${a}]);`).join('\n    ')}
    if (sid == 0u && (P.epi == EPI_GLU || P.epi == EPI_GEGLU)) { // rows r0 .. r0 + 3: a quad (r0 % 4 == 0, whole quads a piece)
      let yg = P.y_off + (P.row0 + r0) / 2u;
      if (rows[0] != NONE) { Y[yg] = glu(s0, s2); }
      if (rows[1] != NONE) { Y[yg + 1u] = glu(s1, s3); }
    } else if (sid == 0u) {
      ${R.map((a) => `if (rows[${a}] != NONE) { put(y0 + r0 + ${a}u, P.row0 + r0 + ${a}u, s${a}); }`).join('\n      ')}
    }
  }
}
`;
  }
  return head + /* wgsl */ `
const R = ${GEMV_ROWS}u;
var<workgroup> red: array<f32, ${GEMV_WG * GEMV_ROWS}>;
@compute @workgroup_size(${GEMV_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {${locate}
  var rows: array<u32, ${GEMV_RS}>;
  for (var r = 0u; r < R; r++) {
    rows[r] = piece_row(e, g * R + r);
    acc[r] = 0.0;
  }
  rows_dot(rows, x0, lid, WG);
  for (var r = 0u; r < R; r++) { red[r * WG + lid] = acc[r]; }
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h >>= 1u) {
    if (lid < h) {
      for (var r = 0u; r < R; r++) { red[r * WG + lid] += red[r * WG + lid + h]; }
    }
    workgroupBarrier();
  }
  if (P.epi == EPI_GLU || P.epi == EPI_GEGLU) { // rows g R .. g R + 3: a quad
    if (lid < 2u && piece_row(e, g * R + lid) != NONE) {
      Y[P.y_off + (P.row0 + g * R) / 2u + lid] = glu(red[lid * WG], red[(lid + 2u) * WG]);
    }
  } else if (lid < R && piece_row(e, g * R + lid) != NONE) {
    put(y0 + g * R + lid, P.row0 + g * R + lid, red[lid * WG]);
  }
}
`;
}

// GEMM (several tokens; plain weights and routed experts alike): a workgroup of GEMM_WG = 64
// threads computes a tile of GEMM_BM rows x GEMM_BN tokens (64 x 64), each thread 8 rows x 8
// tokens in registers. Per step of K (one 32-element unit), each thread decodes one unit (a
// row of the tile) into workgroup memory and loads its share of the X tile (consecutive
// threads, consecutive floats of a token's x: coalesced); after a barrier every thread runs
// the 32 values of the step: per value 2 + 2 vec4 loads from workgroup memory (its 8 rows, its
// 8 tokens) feed 64 products. Both tiles are stored K-major (value k of the tile's 64 rows, or
// 64 tokens, side by side), so a thread's loads are vec4s: rows 4 tr .. 4 tr + 3 and
// 32 + 4 tr .. (tr = lid % 8), tokens 4 tc .. and 32 + 4 tc .. (tc = lid / 8); the threads of
// a 32-wide warp read 8 (rows) and 4 (tokens) distinct vec4s; the decode's stores fill
// consecutive words. 16 KiB of workgroup memory (WebGPU's default limit), two
// barriers per 32 values of K. Each output is one f32 sum over K in order (the products added
// one by one: depth cols + 1 in the tests' bound); with cpuRounding, each unit's sum apart, then
// added (the old tiled GEMM's order, closer to the CPU's blocked F16 dot).
// Rows and tokens past the tile's ends are zeros in workgroup memory and are not written.
export const GEMM_BM = 64;
export const GEMM_BN = 64;
export const GEMM_WG = 64;

// f16 (shader-f16; F16 weights only, not with cpuRounding): the F16 rows are read as f16
// storage and both tiles are vec4<f16> in workgroup memory (8 KiB): the weights exactly, the
// activations rounded to f16 (to nearest even, round_f16's bits: as llama.cpp's CPU converts
// activations to f16 for F16 weights); each f16 x f16 product is exact in f32 and the sums
// are f32 as above, so each output is the f32 GEMM of the rounded activations.
export function gemmWgsl(type, { cpuRounding = false, f16 = false } = {}) {
  const TM = 8, TN = 8, WGX = GEMM_BM / TM, WGY = GEMM_BN / TN; // 8 x 8 threads
  const BM4 = GEMM_BM / 4, BN4 = GEMM_BN / 4;
  const h = f16 && type === 'f16' && !cpuRounding;
  const xr = h ? 'f16(round_f16(v))' : cpuRounding && type === 'f16' ? 'round_f16(v)' : 'v';
  const tile = h ? 'vec4<f16>' : 'vec4<f32>', tv = h ? (e) => `vec4<f32>(${e})` : (e) => e, wv = h ? (e) => `f16(${e})` : (e) => e;
  // the step's inner loop and the final stores, unrolled: accumulator c{r}_{j} holds tile
  // row 4 (i WGX + tr) + c (r = 4 i + c) for the 4 tokens of b{j}
  // (cpuRounding: each unit's 32 products summed apart, then added to the total, as the CPU's
  // F16 dot sums its blocks: the diagnostic's order; s{r}_{j} the unit's sums)
  const acc = cpuRounding ? 's' : 'c';
  const body = [], decl = [], store = [], unitStart = [], unitEnd = [];
  for (let i = 0; i < TM / 4; i++) body.push(`let a${i} = ${tv(`ws[kb + ${i * WGX}u + tr]`)};`);
  for (let j = 0; j < TN / 4; j++) body.push(`let b${j} = ${tv(`xs[kx + ${j * WGY}u + tc]`)};`);
  for (let i = 0; i < TM / 4; i++) {
    for (let c = 0; c < 4; c++) {
      for (let j = 0; j < TN / 4; j++) {
        const r = `${i * 4 + c}_${j}`;
        decl.push(`var c${r} = vec4<f32>(0.0);`);
        if (cpuRounding) {
          decl.push(`var s${r} = vec4<f32>(0.0);`);
          unitStart.push(`s${r} = vec4<f32>(0.0);`);
          unitEnd.push(`c${r} += s${r};`);
        }
        body.push(`${acc}${r} += a${i}.${'xyzw'[c]} * b${j};`);
        store.push(`c${r}`);
      }
    }
  }
  return params(h ? 'f16' : 'u32') + IDS + decodeWgsl(type, { gridBinding: 6, f16: h }) + /* wgsl */ `
const BM = ${GEMM_BM}u;
const BN = ${GEMM_BN}u;
const WG = ${GEMM_WG}u;
var<workgroup> ws: array<${tile}, ${32 * BM4}>; // [k][row / 4]
var<workgroup> xs: array<${tile}, ${32 * BN4}>; // [k][token / 4]
// X row and Y row of token i of this workgroup's batch (a slot in indirect mode)
fn x_row(e: u32, i: u32) -> u32 {
  if (P.id == 0u) { return i; }
  return u32(IDS[P.n_expert + e * P.l_stride + i]) / P.x_div;
}
fn y_row(e: u32, i: u32) -> u32 {
  if (P.id == 0u) { return i; }
  return u32(IDS[P.n_expert + e * P.l_stride + i]);
}
// the piece's row of output row r, or 0xffffffff when it is not in this piece
fn piece_row(e: u32, r: u32) -> u32 {
  if (P.id == 0u) { return select(0xffffffffu, r, r < P.rows); }
  if (r >= P.e_rows) { return 0xffffffffu; }
  let g = e * P.e_rows + r;
  return select(0xffffffffu, g - P.row0, g >= P.row0 && g < P.row0 + P.rows);
}
// this workgroup's expert, first row, first token and token count (set once by main)
var<private> g_e: u32;
var<private> g_r0: u32;
var<private> g_t0: u32;
var<private> g_nt: u32;
// the sums of tile row r for tile tokens t .. t + 3
fn store_out(r: u32, t: u32, v: vec4<f32>) {
  let row = g_r0 + r;
  if (piece_row(g_e, row) == 0xffffffffu) { return; }
  let col = select(P.row0 + row, row, P.id != 0u);
  for (var c = 0u; c < 4u; c++) {
    if (g_t0 + t + c < g_nt) {
      put(P.y_off + y_row(g_e, g_t0 + t + c) * P.y_stride + col, col, v[c]);
    }
  }
}
// EPI_GLU: tile rows r .. r + 3 (a quad) for tile tokens t .. t + 3: gate sums g0, g1, up
// sums u0, u1 of its two outputs
fn store_glu(r: u32, t: u32, g0: vec4<f32>, g1: vec4<f32>, u0: vec4<f32>, u1: vec4<f32>) {
  let row = g_r0 + r;
  if (piece_row(g_e, row) == 0xffffffffu) { return; }
  let col = (P.row0 + row) / 2u;
  for (var c = 0u; c < 4u; c++) {
    if (g_t0 + t + c < g_nt) {
      let i = P.y_off + (g_t0 + t + c) * P.y_stride + col;
      Y[i] = glu(g0[c], u0[c]);
      Y[i + 1u] = glu(g1[c], u1[c]);
    }
  }
}
@compute @workgroup_size(${GEMM_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let e = wid.z;
  let nt = select(P.ntok, u32(IDS[e]), P.id != 0u); // uniform: a uniform and a read-only load
  let r0 = wid.x * BM;
  let t0 = wid.y * BN;
  if (t0 >= nt) { return; }
  g_e = e;
  g_r0 = r0;
  g_t0 = t0;
  g_nt = nt;
  let units = (P.cols + 31u) / 32u;
  let tr = lid % ${WGX}u;
  let tc = lid / ${WGX}u;
  let wrow = piece_row(e, r0 + lid); // the row this thread decodes (WG == BM)
  ${decl.join('\n  ')}
  for (var u = 0u; u < units; u++) {
    if (wrow != 0xffffffffu) {
      decode(wrow * P.rb, u);
      for (var j = 0u; j < 32u; j++) { ws[j * ${BM4}u + lid / 4u][lid % 4u] = ${wv('dq[j]')}; }
    } else {
      for (var j = 0u; j < 32u; j++) { ws[j * ${BM4}u + lid / 4u][lid % 4u] = ${wv('0.0')}; }
    }
    // X: item i is floats 4 (i % 8) .. + 3 of the step for token i / 8 (8 threads read a
    // token's 32 consecutive floats)
    for (var i = lid; i < BN * 8u; i += WG) {
      let t = i / 8u;
      let k0 = u * 32u + 4u * (i % 8u);
      var xb = 0u;
      if (t0 + t < nt) { xb = P.x_off + x_row(e, t0 + t) * P.x_stride + k0; }
      for (var c = 0u; c < 4u; c++) {
        var v = 0.0;
        if (t0 + t < nt && k0 + c < P.cols) { v = X[xb + c]; }
        xs[(4u * (i % 8u) + c) * ${BN4}u + t / 4u][t % 4u] = ${xr};
      }
    }
    workgroupBarrier();${unitStart.length ? '\n    ' + unitStart.join('\n    ') : ''}
    for (var k = 0u; k < 32u; k++) {
      let kb = k * ${BM4}u;
      let kx = k * ${BN4}u;
      ${body.join('\n      ')}
    }${unitEnd.length ? '\n    ' + unitEnd.join('\n    ') : ''}
    workgroupBarrier();
  }
  // the sums out (one loop, not unrolled: the code stays small); sums i: rows 4 (i / 8 % 2 * 8
  // + tr) + i / 2 % 4 of the tile, tokens 4 (i % 2 * 8 + tc) ..
  var sums = array<vec4<f32>, ${store.length}>(${store.join(', ')});
  if (P.epi == EPI_GLU || P.epi == EPI_GEGLU) { // rows 4 (i / 8 % 2 * 8 + tr) + 0 .. 3 are sums i, i + 2, i + 4, i + 6 (i / 2 % 4 == 0)
    for (var i = 0u; i < ${store.length}u; i++) {
      if ((i / 2u) % 4u != 0u) { continue; }
      store_glu(4u * ((i / 8u) * ${WGX}u + tr), 4u * ((i % 2u) * ${WGY}u + tc), sums[i], sums[i + 2u], sums[i + 4u], sums[i + 6u]);
    }
    return;
  }
  for (var i = 0u; i < ${store.length}u; i++) {
    store_out(4u * ((i / 8u) * ${WGX}u + tr) + (i / 2u) % 4u, 4u * ((i % 2u) * ${WGY}u + tc), sums[i]);
  }
}
`;
}

// get-rows: X holds the row ids as u32 bit patterns (ntok of them from x_off); thread i
// decodes unit i % units of id i / units into Y[y_off + id_index * y_stride + ...] when that
// row lies in this piece. Exact: the values are the decoder's. f16 (shader-f16, F16 rows):
// read as f16 storage (the tests' bit-exact check of f16 storage reads, subnormals included).
export function getRowsWgsl(type, { f16 = false } = {}) {
  const h = f16 && type === 'f16';
  return params(h ? 'f16' : 'u32') + decodeWgsl(type, { gridBinding: 4, f16: h }) + /* wgsl */ `
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  let units = (P.cols + 31u) / 32u;
  let k = i / units;
  if (k >= P.ntok) { return; }
  let u = i % units;
  let id = bitcast<u32>(X[P.x_off + k]);
  if (id < P.row0 || id >= P.row0 + P.rows) { return; }
  decode((id - P.row0) * P.rb, u);
  let yb = P.y_off + k * P.y_stride + u * 32u;
  for (var j = 0u; j < 32u; j++) {
    if (u * 32u + j < P.cols) { Y[yb + j] = dq[j]; }
  }
}
`;
}
