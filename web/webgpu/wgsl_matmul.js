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
import { ROUND_F16 } from './wgsl_ops.js';

const PARAMS = /* wgsl */ `
struct Params {
  rows: u32, cols: u32, rb: u32, row0: u32,
  ntok: u32, x_off: u32, y_off: u32, y_stride: u32,
  x_stride: u32, id: u32, e_rows: u32, x_div: u32,
  n_expert: u32, l_stride: u32, gemv_rows: u32, p15: u32,
};
@group(0) @binding(0) var<storage, read> W: array<u32>;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(3) var<uniform> P: Params;
`;
const IDS = /* wgsl */ `
@group(0) @binding(4) var<storage, read> IDS: array<i32>;
`;

// GEMV, two forms. Both read each weight byte once per token, a row's consecutive 32-element
// units going to consecutive threads (coalesced), and x through the caches (every workgroup
// reads all of x; a copy in workgroup memory would cost a barrier per workgroup, which is what
// the subgroup form avoids).
//  - subgroups (the device's subgroups are runs of consecutive threads, see probeSubgroups in
//    device.js): each subgroup computes whole rows on its own: lane l dots units l, l+size, ...
//    of the row with x, subgroupAdd sums the lanes, lane 0 writes. No workgroup memory, no
//    barrier. A workgroup of GEMV_WG threads computes P.gemv_rows consecutive rows (the JS side sets
//    GEMV_WG / subgroup size: one row per subgroup); its subgroups take rows sg, sg + n_sg, ...
//    of them, so a pipeline given another subgroup size than the probe's still covers every
//    row. F32, F16 and BF16 rows that start on a 32-bit word are read as words instead of
//    units: lane l takes words l, l + size, ... (one or two products added per word).
//  - otherwise: GEMV_ROWS rows per workgroup; thread t dots units t, t+WG, ... of every row,
//    then a shared-memory tree adds the WG partial sums of each row.
// cpuRounding (GEMV and GEMM; a diagnostic, see kernelSpecs): the F16 kernels round x to f16
// first, as the CPU path (and ggml's) converts activations for F16 weights.
export const GEMV_WG = 64;
export const GEMV_ROWS = 4;

// Rows per GEMV workgroup: GEMV_WG / subgroup size with subgroups (sgSize > 0), else GEMV_ROWS.
export function gemvRows(sgSize) {
  return sgSize > 0 ? Math.max(1, GEMV_WG / sgSize) : GEMV_ROWS;
}

export function gemvWgsl(type, { subgroups = false, cpuRounding = false } = {}) {
  // rows of float types may end inside a unit: x is read as 0 there (it may hold anything)
  let xv = TYPES[type].block === 1 ? 'select(0.0, X[xb + j], u * 32u + j < P.cols)' : 'X[xb + j]';
  if (cpuRounding && type === 'f16') xv = `round_f16(${xv})`;
  const head = PARAMS + IDS + ROUND_F16 + decodeWgsl(type) + /* wgsl */ `
const WG = ${GEMV_WG}u;
// the piece's row of output row r (of this workgroup's matrix), or 0xffffffff when it is not
// in this piece
fn piece_row(e: u32, r: u32) -> u32 {
  if (P.id == 0u) { return select(0xffffffffu, r, r < P.rows); }
  if (r >= P.e_rows) { return 0xffffffffu; }
  let g = e * P.e_rows + r;
  return select(0xffffffffu, g - P.row0, g >= P.row0 && g < P.row0 + P.rows);
}
// the dot of the piece's row 'row' with x from x0, units u0, u0 + step, ...
fn row_dot(row: u32, x0: u32, u0: u32, step: u32) -> f32 {
  let units = (P.cols + 31u) / 32u;
  var acc = 0.0;
  for (var u = u0; u < units; u += step) {
    decode(row * P.rb, u);
    let xb = x0 + u * 32u;
    var s = 0.0;
    for (var j = 0u; j < 32u; j++) { s += dq[j] * ${xv}; }
    acc += s;
  }
  return acc;
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
  // l takes words l, l + size, ... (consecutive lanes, consecutive words), no unit decoder.
  const word = {
    f32: 'let w = bitcast<f32>(W[wb + k]); acc += w * X[x0 + k];',
    f16: 'let w = unpack2x16float(W[wb + k]); acc += w.x * X[x0 + 2u * k] + w.y * X[x0 + 2u * k + 1u];',
    bf16: 'let v = W[wb + k]; acc += bitcast<f32>(v << 16u) * X[x0 + 2u * k] + bitcast<f32>(v & 0xffff0000u) * X[x0 + 2u * k + 1u];',
  }[type];
  const rowDot = word && !(cpuRounding && type === 'f16') ? /* wgsl */ `
fn row_dot_sg(row: u32, x0: u32, u0: u32, step: u32) -> f32 {
  if (P.rb % 4u != 0u) { return row_dot(row, x0, u0, step); }
  let wb = row * P.rb / 4u;
  let words = P.rb / 4u;
  var acc = 0.0;
  for (var k = u0; k < words; k += step) { ${word} }
  return acc;
}` : /* wgsl */ `
fn row_dot_sg(row: u32, x0: u32, u0: u32, step: u32) -> f32 { return row_dot(row, x0, u0, step); }`;
  if (subgroups) {
    return 'enable subgroups;\n' + head + rowDot + /* wgsl */ `
@compute @workgroup_size(${GEMV_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sid: u32,
        @builtin(subgroup_size) sgs: u32) {${locate}
  let rpw = P.gemv_rows;
  let n_sg = max(WG / sgs, 1u);
  let sg = lid / sgs;
  for (var i = 0u; i < rpw; i += n_sg) {
    let r = g * rpw + i + sg;
    var row = 0xffffffffu;
    if (i + sg < rpw) { row = piece_row(e, r); }
    var acc = 0.0;
    if (row != 0xffffffffu) { acc = row_dot_sg(row, x0, sid, sgs); }
    let s = subgroupAdd(acc);
    if (sid == 0u && row != 0xffffffffu) { Y[y0 + r] = s; }
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
  for (var r = 0u; r < R; r++) {
    let row = piece_row(e, g * R + r);
    var acc = 0.0;
    if (row != 0xffffffffu) { acc = row_dot(row, x0, lid, WG); }
    red[r * WG + lid] = acc;
  }
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h >>= 1u) {
    if (lid < h) {
      for (var r = 0u; r < R; r++) { red[r * WG + lid] += red[r * WG + lid + h]; }
    }
    workgroupBarrier();
  }
  if (lid < R && piece_row(e, g * R + lid) != 0xffffffffu) { Y[y0 + g * R + lid] = red[lid * WG]; }
}
`;
}

// GEMM: a workgroup computes a tile of GEMM_TN rows x GEMM_TM tokens; per step of K (kUnits
// 32-element units), GEMM_TN * kUnits threads decode one unit each into shared memory and all
// threads load the X tile, then each thread accumulates 4 rows x 2 tokens from shared memory
// (per element, 4 weights and 2 inputs loaded once for the 8 products; each unit's sums apart,
// then added to the accumulators: the same order whatever kUnits). Two barriers per step:
// kUnits 2 (a 64-wide step, 24960 bytes of workgroup memory) halves them where the device
// allows more than WebGPU's default 16 KiB (gemmKUnits), kUnits 1 takes 12672 bytes.
export const GEMM_TN = 64;
export const GEMM_TM = 32;

// Workgroup bytes of the tiled GEMM with kUnits units per step of K.
export function gemmStorageBytes(kUnits) {
  return (GEMM_TN + GEMM_TM) * (32 * kUnits + 1) * 4;
}
// Units per step of K of the tiled GEMM on a device with `storage` bytes of workgroup memory.
export function gemmKUnits(storage) {
  return storage >= gemmStorageBytes(2) ? 2 : 1;
}

export function gemmWgsl(type, { cpuRounding = false, kUnits = 1 } = {}) {
  const xr = cpuRounding && type === 'f16' ? 'round_f16(v)' : 'v';
  return PARAMS + IDS + ROUND_F16 + decodeWgsl(type) + /* wgsl */ `
const TN = ${GEMM_TN}u;
const TM = ${GEMM_TM}u;
const KU = ${kUnits}u;
const KW = ${32 * kUnits}u;      // elements of K per step
const S = ${32 * kUnits + 1}u;  // floats per row of ws / xs (odd: rows in distinct banks)
var<workgroup> ws: array<f32, ${GEMM_TN * (32 * kUnits + 1)}>;
var<workgroup> xs: array<f32, ${GEMM_TM * (32 * kUnits + 1)}>;
var<workgroup> n_tok: u32;
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
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let e = wid.z;
  if (lid == 0u) { n_tok = select(P.ntok, u32(IDS[e]), P.id != 0u); }
  let nt = workgroupUniformLoad(&n_tok);
  let rbase = wid.x * TN;
  let tbase = wid.y * TM;
  if (tbase >= nt) { return; }
  let units = (P.cols + 31u) / 32u;
  let tr = lid & 15u;  // rows tr, tr+16, tr+32, tr+48 of the tile
  let tt = lid >> 4u;  // tokens tt, tt+16
  var acc: array<f32, 8>;
  for (var i = 0u; i < 8u; i++) { acc[i] = 0.0; }
  // thread lid < TN * KU decodes unit lid / TN of the step for row lid % TN
  let dr = lid % TN;
  let du = lid / TN;
  var wrow = 0xffffffffu;
  if (lid < TN * KU) { wrow = piece_row(e, rbase + dr); }
  for (var u = 0u; u < units; u += KU) {
    if (lid < TN * KU) {
      let wb = dr * S + du * 32u;
      if (wrow != 0xffffffffu && u + du < units) {
        decode(wrow * P.rb, u + du);
        for (var j = 0u; j < 32u; j++) { ws[wb + j] = dq[j]; }
      } else {
        for (var j = 0u; j < 32u; j++) { ws[wb + j] = 0.0; }
      }
    }
    // consecutive threads, consecutive floats of a token's x
    for (var i = lid; i < TM * KW; i += 256u) {
      let t = i / KW;
      let j = i % KW;
      var v = 0.0;
      if (tbase + t < nt && u * 32u + j < P.cols) { v = X[P.x_off + x_row(e, tbase + t) * P.x_stride + u * 32u + j]; }
      xs[t * S + j] = ${xr};
    }
    workgroupBarrier();
    // register blocking: per element j, 4 weights and 2 inputs from shared memory feed 8
    // products (the sums of one unit in s0 / s1, then added to acc; units past the row's end
    // are zeros and add 0)
    for (var uu = 0u; uu < KU; uu++) {
      var s0 = vec4<f32>(0.0);
      var s1 = vec4<f32>(0.0);
      for (var j = uu * 32u; j < uu * 32u + 32u; j++) {
        let w = vec4<f32>(ws[tr * S + j], ws[(tr + 16u) * S + j], ws[(tr + 32u) * S + j], ws[(tr + 48u) * S + j]);
        s0 += w * xs[tt * S + j];
        s1 += w * xs[(tt + 16u) * S + j];
      }
      for (var a = 0u; a < 4u; a++) {
        acc[a * 2u] += s0[a];
        acc[a * 2u + 1u] += s1[a];
      }
    }
    workgroupBarrier();
  }
  for (var a = 0u; a < 4u; a++) {
    for (var b = 0u; b < 2u; b++) {
      let r = rbase + tr + 16u * a;
      let t = tbase + tt + 16u * b;
      if (piece_row(e, r) != 0xffffffffu && t < nt) {
        let col = select(P.row0 + r, r, P.id != 0u);
        Y[P.y_off + y_row(e, t) * P.y_stride + col] = acc[a * 2u + b];
      }
    }
  }
}
`;
}

// GEMM with subgroups (plain weights only; routed experts keep the tiled GEMM): the GEMV above
// over GEMM_SG_ROWS rows x GEMM_SG_TOK tokens at once, so no workgroup memory and no barrier
// (on SwiftShader a workgroup with a barrier costs 20-40 us, one without about 0.5 us). Each
// subgroup computes GEMM_SG_ROWS consecutive rows for the workgroup's GEMM_SG_TOK tokens
// (grid y): lane l takes units l, l+size, ... of each row (consecutive lanes, consecutive
// units: coalesced), decodes each once and dots it with the x of every token (through the
// caches); float rows read as words: lane l takes words l, l+size, ... of the rows, and each x
// value loaded feeds GEMM_SG_ROWS products. subgroupAdd sums the lanes per (row, token), lane 0
// writes. Per output the sums are the GEMV's: a unit's 32 products in order added to the
// lane's accumulator (words: one or two products a word), then the subgroup sum.
// A workgroup takes P.gemv_rows groups of GEMM_SG_ROWS rows; workgroups are spread over grid
// x and z (g = x + z * nx) so that long weights fit the grid's limits.
export const GEMM_SG_TOK = 8;
export const GEMM_SG_ROWS = 4;

export function gemmSgWgsl(type, { cpuRounding = false } = {}) {
  let xv = TYPES[type].block === 1 ? 'select(0.0, X[xb + j], u * 32u + j < P.cols)' : 'X[xb + j]';
  if (cpuRounding && type === 'f16') xv = `round_f16(${xv})`;
  const R = GEMM_SG_ROWS;
  const rows = [...Array(R).keys()];
  // word k of the group's row a (a row past the piece reads row r0: its sums are not written)
  const word = {
    f32: (a) => `let w${a} = bitcast<f32>(W[wb${a} + k]);`,
    f16: (a) => `let w${a} = unpack2x16float(W[wb${a} + k]);`,
    bf16: (a) => `let v${a} = W[wb${a} + k]; let w${a} = vec2<f32>(bitcast<f32>(v${a} << 16u), bitcast<f32>(v${a} & 0xffff0000u));`,
  }[type];
  const dot = type === 'f32'
    ? (a) => `acc[${a}u * TT + t] += w${a} * x0;`
    : (a) => `acc[${a}u * TT + t] += w${a}.x * x0 + w${a}.y * x1;`;
  const words = word && !(cpuRounding && type === 'f16') ? /* wgsl */ `
  if (P.rb % 4u == 0u) {
    ${rows.map((a) => `let wb${a} = select(r0, r0 + ${a}u, r0 + ${a}u < P.rows) * P.rb / 4u;`).join('\n    ')}
    for (var k = sid; k < P.rb / 4u; k += sgs) {
      ${rows.map(word).join('\n      ')}
      for (var t = 0u; t < nt; t++) {
        let xo = P.x_off + (t0 + t) * P.x_stride;
        ${type === 'f32' ? 'let x0 = X[xo + k];' : 'let x0 = X[xo + 2u * k];\n        let x1 = X[xo + 2u * k + 1u];'}
        ${rows.map(dot).join('\n        ')}
      }
    }
    return;
  }` : '';
  return 'enable subgroups;\n' + PARAMS + ROUND_F16 + decodeWgsl(type, { gridBinding: 4 }) + /* wgsl */ `
const WG = ${GEMV_WG}u;
const TT = ${GEMM_SG_TOK}u;
const RS = ${R}u;
var<private> acc: array<f32, ${R * GEMM_SG_TOK}>;
// this lane's partial sums of rows r0 .. r0 + RS - 1 (those in the piece) for tokens
// t0 .. t0 + nt - 1 into acc (row a, token t at a * TT + t)
fn lane_dots(r0: u32, t0: u32, nt: u32, sid: u32, sgs: u32) {${words}
  let units = (P.cols + 31u) / 32u;
  for (var a = 0u; a < RS; a++) {
    if (r0 + a >= P.rows) { break; }
    for (var u = sid; u < units; u += sgs) {
      decode((r0 + a) * P.rb, u);
      for (var t = 0u; t < nt; t++) {
        let xb = P.x_off + (t0 + t) * P.x_stride + u * 32u;
        var s = 0.0;
        for (var j = 0u; j < 32u; j++) { s += dq[j] * ${xv}; }
        acc[a * TT + t] += s;
      }
    }
  }
}
@compute @workgroup_size(${GEMV_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sid: u32,
        @builtin(subgroup_size) sgs: u32) {
  let g = wid.x + wid.z * nwg.x;
  let t0 = wid.y * TT;
  let nt = min(TT, P.ntok - min(t0, P.ntok));
  let rpw = P.gemv_rows;
  let n_sg = max(WG / sgs, 1u);
  let sg = lid / sgs;
  for (var i = 0u; i < rpw; i += n_sg) {
    let r0 = (g * rpw + i + sg) * RS;
    let live = i + sg < rpw && r0 < P.rows;
    for (var q = 0u; q < RS * TT; q++) { acc[q] = 0.0; }
    if (live) { lane_dots(r0, t0, nt, sid, sgs); }
    for (var a = 0u; a < RS; a++) {
      for (var t = 0u; t < TT; t++) {
        let s = subgroupAdd(acc[a * TT + t]);
        if (sid == 0u && live && r0 + a < P.rows && t < nt) { Y[P.y_off + (t0 + t) * P.y_stride + P.row0 + r0 + a] = s; }
      }
    }
  }
}
`;
}

// get-rows: X holds the row ids as u32 bit patterns (ntok of them from x_off); thread i
// decodes unit i % units of id i / units into Y[y_off + id_index * y_stride + ...] when that
// row lies in this piece. Exact: the values are the decoder's.
export function getRowsWgsl(type) {
  return PARAMS + decodeWgsl(type, { gridBinding: 4 }) + /* wgsl */ `
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
