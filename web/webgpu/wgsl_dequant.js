// wgsl_dequant.js - WGSL decoders of the GGUF block types, the shader side of
// src/quant/dequant_*.c: the same operations in the same order, so that a decoded value is
// bit-identical to the C _ref's (f32 products and one subtraction/addition per value).
//
// decodeWgsl(type) returns WGSL that declares, over a storage binding `W: array<u32>` declared
// by the caller:
//   var<private> dq: array<f32, 32>;
//   fn decode(rb: u32, u: u32)  -- fills dq with elements 32u..32u+31 of the row whose first
//                                 byte is rb (byte offset into W).
// The caller declares `P.cols` (the row length). Every type is read in 32-element units (a Q4_0 block, an eighth of a Q4_K super-block, ...),
// so one thread decodes one unit and the threads of a workgroup walk a row's units in order:
// neighbouring threads read neighbouring bytes.

import { GRID_OFFSETS } from './iq_grids.js';

const COMMON = /* wgsl */ `
var<private> dq: array<f32, 32>;
// byte o of W
fn b8(o: u32) -> u32 { return (W[o >> 2u] >> ((o & 3u) * 8u)) & 0xffu; }
// the f16 at even byte o of W, as f32 (exact)
fn h16(o: u32) -> f32 { return unpack2x16float((W[o >> 2u] >> ((o & 2u) * 8u)) & 0xffffu).x; }
// 4 bytes from any byte o of W, little-endian
fn w32(o: u32) -> u32 {
  let s = (o & 3u) * 8u;
  let a = W[o >> 2u];
  if (s == 0u) { return a; }
  return (a >> s) | (W[(o >> 2u) + 1u] << (32u - s));
}
`;

// MXFP4's E2M1 values, doubled (kite__kvalues_fp4); the E8M0 scale is halved to match
const KV_FP4 = /* wgsl */ `
const KV_FP4 = array<f32, 16>(0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 0.0, -1.0, -2.0, -3.0, -4.0, -6.0, -8.0, -12.0);
`;

const IQ4_TABLE = /* wgsl */ `
const KV_IQ4 = array<f32, 16>(-127.0, -104.0, -83.0, -65.0, -49.0, -35.0, -22.0, -10.0,
                              1.0, 13.0, 25.0, 38.0, 53.0, 69.0, 89.0, 113.0);
`;

// Q4_K / Q5_K scale and min j (0..7) from the 12 packed bytes at byte o (src/blocks/block_util.h).
const SCALE_MIN_K4 = /* wgsl */ `
fn scale_min_k4(j: u32, o: u32) -> vec2<u32> {
  if (j < 4u) { return vec2<u32>(b8(o + j) & 63u, b8(o + j + 4u) & 63u); }
  let sc = (b8(o + j + 4u) & 0xfu) | ((b8(o + j - 4u) >> 6u) << 4u);
  let m = (b8(o + j + 4u) >> 4u) | ((b8(o + j) >> 6u) << 4u);
  return vec2<u32>(sc, m);
}
`;

const DECODERS = {
  // The float types allow rows of any length (stories260K's n_ff is 172): elements past P.cols
  // (the caller's row length) decode as 0, and a row may start at any even byte.
  f32: `
fn decode(rb: u32, u: u32) {
  let w = (rb >> 2u) + u * 32u;
  for (var j = 0u; j < 32u; j++) { dq[j] = select(0.0, bitcast<f32>(W[w + j]), u * 32u + j < P.cols); }
}`,
  f16: `
fn decode(rb: u32, u: u32) {
  if ((rb & 3u) == 0u && u * 32u + 32u <= P.cols) {
    let w = (rb >> 2u) + u * 16u;
    for (var j = 0u; j < 16u; j++) {
      let v = unpack2x16float(W[w + j]);
      dq[2u * j] = v.x;
      dq[2u * j + 1u] = v.y;
    }
    return;
  }
  for (var j = 0u; j < 32u; j++) { dq[j] = select(0.0, h16(rb + 2u * (u * 32u + j)), u * 32u + j < P.cols); }
}`,
  bf16: `
fn decode(rb: u32, u: u32) {
  if ((rb & 3u) == 0u && u * 32u + 32u <= P.cols) {
    let w = (rb >> 2u) + u * 16u;
    for (var j = 0u; j < 16u; j++) {
      let v = W[w + j];
      dq[2u * j] = bitcast<f32>(v << 16u);
      dq[2u * j + 1u] = bitcast<f32>(v & 0xffff0000u);
    }
    return;
  }
  for (var j = 0u; j < 32u; j++) {
    let o = rb + 2u * (u * 32u + j);
    let h = (W[o >> 2u] >> ((o & 2u) * 8u)) & 0xffffu;
    dq[j] = select(0.0, bitcast<f32>(h << 16u), u * 32u + j < P.cols);
  }
}`,
  q4_0: `
fn decode(rb: u32, u: u32) {
  let o = rb + u * 18u;
  let d = h16(o);
  for (var j = 0u; j < 4u; j++) {
    let q = w32(o + 2u + 4u * j);
    for (var k = 0u; k < 4u; k++) {
      let b = (q >> (8u * k)) & 0xffu;
      dq[4u * j + k] = f32(i32(b & 15u) - 8) * d;
      dq[4u * j + k + 16u] = f32(i32(b >> 4u) - 8) * d;
    }
  }
}`,
  q4_1: `
fn decode(rb: u32, u: u32) {
  let o = rb + u * 20u;
  let d = h16(o);
  let m = h16(o + 2u);
  for (var j = 0u; j < 4u; j++) {
    let q = w32(o + 4u + 4u * j);
    for (var k = 0u; k < 4u; k++) {
      let b = (q >> (8u * k)) & 0xffu;
      dq[4u * j + k] = f32(b & 15u) * d + m;
      dq[4u * j + k + 16u] = f32(b >> 4u) * d + m;
    }
  }
}`,
  q5_0: `
fn decode(rb: u32, u: u32) {
  let o = rb + u * 22u;
  let d = h16(o);
  let qh = w32(o + 2u);
  for (var j = 0u; j < 4u; j++) {
    let q = w32(o + 6u + 4u * j);
    for (var k = 0u; k < 4u; k++) {
      let l = 4u * j + k;
      let b = (q >> (8u * k)) & 0xffu;
      let q0 = (b & 15u) | (((qh >> l) & 1u) << 4u);
      let q1 = (b >> 4u) | (((qh >> (l + 16u)) & 1u) << 4u);
      dq[l] = f32(i32(q0) - 16) * d;
      dq[l + 16u] = f32(i32(q1) - 16) * d;
    }
  }
}`,
  q5_1: `
fn decode(rb: u32, u: u32) {
  let o = rb + u * 24u;
  let d = h16(o);
  let m = h16(o + 2u);
  let qh = w32(o + 4u);
  for (var j = 0u; j < 4u; j++) {
    let q = w32(o + 8u + 4u * j);
    for (var k = 0u; k < 4u; k++) {
      let l = 4u * j + k;
      let b = (q >> (8u * k)) & 0xffu;
      let q0 = (b & 15u) | (((qh >> l) & 1u) << 4u);
      let q1 = (b >> 4u) | (((qh >> (l + 16u)) & 1u) << 4u);
      dq[l] = f32(q0) * d + m;
      dq[l + 16u] = f32(q1) * d + m;
    }
  }
}`,
  q8_0: `
fn decode(rb: u32, u: u32) {
  let o = rb + u * 34u;
  let d = h16(o);
  for (var j = 0u; j < 8u; j++) {
    let q = w32(o + 2u + 4u * j);
    for (var k = 0u; k < 4u; k++) {
      dq[4u * j + k] = f32(bitcast<i32>(q << (24u - 8u * k)) >> 24u) * d;
    }
  }
}`,
  iq4_nl: `
fn decode(rb: u32, u: u32) {
  let o = rb + u * 18u;
  let d = h16(o);
  for (var j = 0u; j < 4u; j++) {
    let q = w32(o + 2u + 4u * j);
    for (var k = 0u; k < 4u; k++) {
      let b = (q >> (8u * k)) & 0xffu;
      dq[4u * j + k] = d * KV_IQ4[b & 15u];
      dq[4u * j + k + 16u] = d * KV_IQ4[b >> 4u];
    }
  }
}`,
  // TQ2_0 (66 bytes: qs[64], d): unit s of a super-block is bits 2(s%4) of qs[32(s/4) + m]
  tq2_0: `
fn decode(rb: u32, u: u32) {
  let o = rb + (u >> 3u) * 66u;
  let s = u & 7u;
  let d = h16(o + 64u);
  let q0 = o + 32u * (s >> 2u);
  let sh = 2u * (s & 3u);
  for (var m = 0u; m < 32u; m++) { dq[m] = f32(i32((b8(q0 + m) >> sh) & 3u) - 1) * d; }
}`,
  // TQ1_0 (54 bytes: qs[48], qh[4], d): base-3 digits, 5 per qs byte and 4 per qh byte (digit
  // k of byte q: (q * 3^k mod 256) * 3 >> 8). Elements 0..159: digit e/32 of qs[e%32];
  // 160..239 (r = e-160): digit r/16 of qs[32 + r%16]; 240..255 (r = e-240): digit r/4 of qh[r%4].
  tq1_0: `
fn decode(rb: u32, u: u32) {
  let o = rb + (u >> 3u) * 54u;
  let d = h16(o + 52u);
  for (var i = 0u; i < 32u; i++) {
    let e = 32u * (u & 7u) + i;
    var byte: u32;
    var k: u32;
    if (e < 160u) {
      byte = o + e % 32u;
      k = e / 32u;
    } else if (e < 240u) {
      byte = o + 32u + (e - 160u) % 16u;
      k = (e - 160u) / 16u;
    } else {
      byte = o + 48u + (e - 240u) % 4u;
      k = (e - 240u) / 4u;
    }
    let v = (b8(byte) * POW3[k]) & 0xffu;
    dq[i] = f32(i32((v * 3u) >> 8u) - 1) * d;
  }
}`,
  // MXFP4 (17 bytes: e, qs[16]; rows start at any byte): x = 2^(e-128) * KV_FP4[q], low nibbles
  // elements 0..15, high 16..31; the scale is kite__e8m0_to_f32_half's bits.
  mxfp4: `
fn decode(rb: u32, u: u32) {
  let o = rb + u * 17u;
  let e = b8(o);
  var bits = (e - 1u) << 23u;
  if (e < 2u) { bits = 0x00200000u << e; }
  let d = bitcast<f32>(bits);
  for (var j = 0u; j < 16u; j++) {
    let q = b8(o + 1u + j);
    dq[j] = KV_FP4[q & 15u] * d;
    dq[j + 16u] = KV_FP4[q >> 4u] * d;
  }
}`,
  // 32-element unit s of a super-block: half s/4, 2-bit field s%4 of bytes qs[32*half + l],
  // scales 2s (l < 16) and 2s+1.
  q2_K: `
fn decode(rb: u32, u: u32) {
  let o = rb + (u >> 3u) * 84u;
  let s = u & 7u;
  let d = h16(o + 80u);
  let dmin = h16(o + 82u);
  let sh = 2u * (s & 3u);
  let qo = o + 16u + 32u * (s >> 2u);
  for (var part = 0u; part < 2u; part++) {
    let sc = b8(o + 2u * s + part);
    let dl = d * f32(sc & 15u);
    let ml = dmin * f32(sc >> 4u);
    for (var j = 0u; j < 4u; j++) {
      let q = w32(qo + 16u * part + 4u * j);
      for (var k = 0u; k < 4u; k++) {
        dq[16u * part + 4u * j + k] = dl * f32((q >> (8u * k + sh)) & 3u) - ml;
      }
    }
  }
}`,
  // hmask[l] bit s is bit 2 of element 32s + l (clear: subtract 4); scales as q3_k_scales.
  q3_K: `
fn q3_scale(o: u32, k: u32) -> i32 {
  var lo: u32;
  if (k < 8u) { lo = b8(o + 96u + k) & 15u; } else { lo = b8(o + 96u + k - 8u) >> 4u; }
  let hi = (b8(o + 96u + 8u + (k & 3u)) >> (2u * (k >> 2u))) & 3u;
  return i32(lo | (hi << 4u)) - 32;
}
fn decode(rb: u32, u: u32) {
  let o = rb + (u >> 3u) * 110u;
  let s = u & 7u;
  let d = h16(o + 108u);
  let sh = 2u * (s & 3u);
  let qo = o + 32u + 32u * (s >> 2u);
  for (var part = 0u; part < 2u; part++) {
    let dl = d * f32(q3_scale(o, 2u * s + part));
    for (var j = 0u; j < 4u; j++) {
      let q = w32(qo + 16u * part + 4u * j);
      let hm = w32(o + 16u * part + 4u * j);
      for (var k = 0u; k < 4u; k++) {
        var v = i32((q >> (8u * k + sh)) & 3u);
        if (((hm >> (8u * k + s)) & 1u) == 0u) { v = v - 4; }
        dq[16u * part + 4u * j + k] = dl * f32(v);
      }
    }
  }
}`,
  // unit s: chunk s/2's 32 bytes, low nibbles for even s, high for odd; scale/min pair s.
  q4_K: `
fn decode(rb: u32, u: u32) {
  let o = rb + (u >> 3u) * 144u;
  let s = u & 7u;
  let d = h16(o);
  let dmin = h16(o + 2u);
  let sm = scale_min_k4(s, o + 4u);
  let d1 = d * f32(sm.x);
  let m1 = dmin * f32(sm.y);
  let sh = 4u * (s & 1u);
  let qo = o + 16u + 32u * (s >> 1u);
  for (var j = 0u; j < 8u; j++) {
    let q = w32(qo + 4u * j);
    for (var k = 0u; k < 4u; k++) {
      dq[4u * j + k] = d1 * f32((q >> (8u * k + sh)) & 15u) - m1;
    }
  }
}`,
  // as Q4_K; the fifth bit of element 32s + l is bit s of qh[l].
  q5_K: `
fn decode(rb: u32, u: u32) {
  let o = rb + (u >> 3u) * 176u;
  let s = u & 7u;
  let d = h16(o);
  let dmin = h16(o + 2u);
  let sm = scale_min_k4(s, o + 4u);
  let d1 = d * f32(sm.x);
  let m1 = dmin * f32(sm.y);
  let sh = 4u * (s & 1u);
  let qo = o + 48u + 32u * (s >> 1u);
  for (var j = 0u; j < 8u; j++) {
    let q = w32(qo + 4u * j);
    let h = w32(o + 16u + 4u * j);
    for (var k = 0u; k < 4u; k++) {
      let v = ((q >> (8u * k + sh)) & 15u) + (((h >> (8u * k + s)) & 1u) << 4u);
      dq[4u * j + k] = d1 * f32(v) - m1;
    }
  }
}`,
  // unit s: half s/4, group g = s%4 (elements l, l+32, l+64, l+96 of the half): low bits from
  // ql[64*half + 32*(g&1) + l] (low nibble for g < 2), high bits 2g of qh[32*half + l];
  // scale 8*half + l/16 + 2g; value (d * scale) * (q - 32).
  q6_K: `
fn decode(rb: u32, u: u32) {
  let o = rb + (u >> 3u) * 210u;
  let s = u & 7u;
  let half = s >> 2u;
  let g = s & 3u;
  let d = h16(o + 208u);
  let lo = o + 64u * half + 32u * (g & 1u);
  let nsh = 4u * (g >> 1u);
  let ho = o + 128u + 32u * half;
  for (var part = 0u; part < 2u; part++) {
    let scb = b8(o + 192u + 8u * half + part + 2u * g);
    let sc = f32(bitcast<i32>(scb << 24u) >> 24u);
    for (var j = 0u; j < 4u; j++) {
      let l = 16u * part + 4u * j;
      let q = w32(lo + l);
      let h = w32(ho + l);
      for (var k = 0u; k < 4u; k++) {
        let v = ((q >> (8u * k + nsh)) & 15u) | (((h >> (8u * k + 2u * g)) & 3u) << 4u);
        dq[l + k] = d * sc * f32(i32(v) - 32);
      }
    }
  }
}`,
  // unit b: 6-bit scale from scales_l (nibble b%2 of byte b/2) and scales_h (bits 2b..2b+1).
  iq4_xs: `
fn decode(rb: u32, u: u32) {
  let o = rb + (u >> 3u) * 136u;
  let b = u & 7u;
  let d = h16(o);
  let sh = (W[(o + 2u) >> 2u] >> (((o + 2u) & 2u) * 8u)) & 0xffffu;
  let ls = ((b8(o + 4u + (b >> 1u)) >> (4u * (b & 1u))) & 15u) | (((sh >> (2u * b)) & 3u) << 4u);
  let dl = d * f32(i32(ls) - 32);
  for (var j = 0u; j < 4u; j++) {
    let q = w32(o + 8u + 16u * b + 4u * j);
    for (var k = 0u; k < 4u; k++) {
      let x = (q >> (8u * k)) & 0xffu;
      dq[4u * j + k] = dl * KV_IQ4[x & 15u];
      dq[4u * j + k + 16u] = dl * KV_IQ4[x >> 4u];
    }
  }
}`,
};


// ---- the grid formats: G (the grids of iq_grids.js, bound by the caller at GRID_BINDING) ----
// Each decoder follows its kite_dequantize_row_<type>_ref (src/quant/dequant_iq.c) operation by
// operation: x = dl * grid byte * sign, or dl * (grid value + delta) for IQ1_S / IQ1_M.
const IQ_DECODERS = {
  // IQ2_XXS (66 bytes: d, then per 32 values a word of 4 grid indices and a word of 4 sign
  // indices + a 4-bit scale)
  iq2_xxs: `
fn decode(rb: u32, u: u32) {
  let o = rb + (u >> 3u) * 66u + 2u + 8u * (u & 7u);
  let d = h16(o - 2u - 8u * (u & 7u));
  let idx = w32(o);
  let hi = w32(o + 4u);
  let db = d * (0.5 + f32(hi >> 28u)) * 0.25;
  for (var l = 0u; l < 4u; l++) {
    let p = (idx >> (8u * l)) & 0xffu;
    let signs = ksigns((hi >> (7u * l)) & 127u);
    for (var j = 0u; j < 8u; j++) { dq[8u * l + j] = db * f32(g8(GRID_IQ2XXS, p, j)) * sgn(signs, j); }
  }
}`,
  // IQ2_XS (74 bytes: d, qs u16[32] (9-bit grid index | 7-bit sign index << 9), scales[8])
  iq2_xs: `
fn decode(rb: u32, u: u32) {
  let o = rb + (u >> 3u) * 74u;
  let ib = u & 7u;
  let d = h16(o);
  let sc = b8(o + 66u + ib);
  let db0 = d * (0.5 + f32(sc & 15u)) * 0.25;
  let db1 = d * (0.5 + f32(sc >> 4u)) * 0.25;
  for (var l = 0u; l < 4u; l++) {
    let q = u16at(o + 2u + 2u * (4u * ib + l));
    let db = select(db1, db0, l < 2u);
    let signs = ksigns(q >> 9u);
    for (var j = 0u; j < 8u; j++) { dq[8u * l + j] = db * f32(g8(GRID_IQ2XS, q & 511u, j)) * sgn(signs, j); }
  }
}`,
  // IQ2_S (82 bytes: d, qs[32] low index bytes, signs[32], qh[8], scales[8])
  iq2_s: `
fn decode(rb: u32, u: u32) {
  let o = rb + (u >> 3u) * 82u;
  let ib = u & 7u;
  let d = h16(o);
  let sc = b8(o + 74u + ib);
  let db0 = d * (0.5 + f32(sc & 15u)) * 0.25;
  let db1 = d * (0.5 + f32(sc >> 4u)) * 0.25;
  let qh = b8(o + 66u + ib);
  for (var l = 0u; l < 4u; l++) {
    let p = b8(o + 2u + 4u * ib + l) | ((qh << (8u - 2u * l)) & 0x300u);
    let signs = b8(o + 34u + 4u * ib + l);
    let db = select(db1, db0, l < 2u);
    for (var j = 0u; j < 8u; j++) { dq[8u * l + j] = db * f32(g8(GRID_IQ2S, p, j)) * sgn(signs, j); }
  }
}`,
  // IQ3_XXS (98 bytes: d, qs[64] grid indices, then per 32 values a word of 4 sign indices and
  // a 4-bit scale)
  iq3_xxs: `
fn decode(rb: u32, u: u32) {
  let o = rb + (u >> 3u) * 98u;
  let ib = u & 7u;
  let d = h16(o);
  let aux = w32(o + 66u + 4u * ib);
  let db = d * (0.5 + f32(aux >> 28u)) * 0.5;
  for (var l = 0u; l < 4u; l++) {
    let signs = ksigns((aux >> (7u * l)) & 127u);
    let p1 = b8(o + 2u + 8u * ib + 2u * l);
    let p2 = b8(o + 3u + 8u * ib + 2u * l);
    for (var j = 0u; j < 4u; j++) {
      dq[8u * l + j] = db * f32(g4(GRID_IQ3XXS, p1, j)) * sgn(signs, j);
      dq[8u * l + j + 4u] = db * f32(g4(GRID_IQ3XXS, p2, j)) * sgn(signs, j + 4u);
    }
  }
}`,
  // IQ3_S (110 bytes: d, qs[64], qh[8], signs[32], scales[4])
  iq3_s: `
fn decode(rb: u32, u: u32) {
  let o = rb + (u >> 3u) * 110u;
  let ib = u & 7u;
  let d = h16(o);
  let s = (b8(o + 106u + ib / 2u) >> (4u * (ib % 2u))) & 15u;
  let db = d * f32(1u + 2u * s);
  let qh = b8(o + 66u + ib);
  for (var l = 0u; l < 4u; l++) {
    let p1 = b8(o + 2u + 8u * ib + 2u * l) | ((qh << (8u - 2u * l)) & 256u);
    let p2 = b8(o + 3u + 8u * ib + 2u * l) | ((qh << (7u - 2u * l)) & 256u);
    let signs = b8(o + 74u + 4u * ib + l);
    for (var j = 0u; j < 4u; j++) {
      dq[8u * l + j] = db * f32(g4(GRID_IQ3S, p1, j)) * sgn(signs, j);
      dq[8u * l + j + 4u] = db * f32(g4(GRID_IQ3S, p2, j)) * sgn(signs, j + 4u);
    }
  }
}`,
  // IQ1_S (50 bytes: d, qs[32] low index bytes, qh u16[8]: 3 index bits per value group, a
  // 3-bit scale, the shift's sign)
  iq1_s: `
fn decode(rb: u32, u: u32) {
  let o = rb + (u >> 3u) * 50u;
  let ib = u & 7u;
  let d = h16(o);
  let qh = u16at(o + 34u + 2u * ib);
  let dl = d * f32(2u * ((qh >> 12u) & 7u) + 1u);
  let delta = select(0.125, -0.125, (qh & 0x8000u) != 0u);
  for (var l = 0u; l < 4u; l++) {
    let p = b8(o + 2u + 4u * ib + l) | (((qh >> (3u * l)) & 7u) << 8u);
    for (var j = 0u; j < 8u; j++) { dq[8u * l + j] = dl * (f32(g8s(GRID_IQ1S, p, j)) + delta); }
  }
}`,
  // IQ1_M (56 bytes: qs[32], qh[16] (3 index bits + the shift's sign per 8 values), scales[8]:
  // 3-bit scales per 16 values and the f16 super-block scale in the top nibbles of its words)
  iq1_m: `
fn decode(rb: u32, u: u32) {
  let o = rb + (u >> 3u) * 56u;
  let ib = u & 7u;
  let s0 = u16at(o + 48u);
  let s1 = u16at(o + 50u);
  let s2 = u16at(o + 52u);
  let s3 = u16at(o + 54u);
  let d = unpack2x16float((s0 >> 12u) | ((s1 >> 8u) & 0xf0u) | ((s2 >> 4u) & 0xf00u) | (s3 & 0xf000u)).x;
  let sc = u16at(o + 48u + 2u * (ib / 2u));
  let dl0 = d * f32(2u * ((sc >> (6u * (ib % 2u))) & 7u) + 1u);
  let dl1 = d * f32(2u * ((sc >> (6u * (ib % 2u) + 3u)) & 7u) + 1u);
  for (var l = 0u; l < 4u; l++) {
    let h = b8(o + 32u + 2u * ib + l / 2u) >> (4u * (l % 2u));
    let p = b8(o + 4u * ib + l) | ((h & 7u) << 8u);
    let delta = select(0.125, -0.125, (h & 8u) != 0u);
    let dl = select(dl1, dl0, l < 2u);
    for (var j = 0u; j < 8u; j++) { dq[8u * l + j] = dl * (f32(g8s(GRID_IQ1S, p, j)) + delta); }
  }
}`,
};

// The grid binding and its readers (byte j of point p; g8s: as a signed byte).
function gridWgsl(binding) {
  const c = Object.entries(GRID_OFFSETS).map(([k, v]) => `const GRID_${k.toUpperCase()} = ${v}u;`).join('\n');
  return /* wgsl */ `
@group(0) @binding(${binding}) var<storage, read> G: array<u32>;
${c}
fn g8(base: u32, p: u32, j: u32) -> u32 { return (G[base + 2u * p + (j >> 2u)] >> (8u * (j & 3u))) & 0xffu; }
fn g8s(base: u32, p: u32, j: u32) -> i32 { return bitcast<i32>(G[base + 2u * p + (j >> 2u)] << (24u - 8u * (j & 3u))) >> 24u; }
fn g4(base: u32, p: u32, j: u32) -> u32 { return (G[base + p] >> (8u * j)) & 0xffu; }
// kite__ksigns_iq2xs[i]: the 7 stored sign bits and an 8th that makes the count even
fn ksigns(i: u32) -> u32 { return i | ((countOneBits(i) & 1u) << 7u); }
// -1 where bit j of signs is set, else 1
fn sgn(signs: u32, j: u32) -> f32 { return select(1.0, -1.0, ((signs >> j) & 1u) != 0u); }
// the u16 at even byte o
fn u16at(o: u32) -> u32 { return (W[o >> 2u] >> ((o & 2u) * 8u)) & 0xffffu; }
`;
}

// The block types whose decoders read the grids (their kernels bind G).
export const GRID_TYPES = Object.keys(IQ_DECODERS);

// F16 rows where the caller declares `W: array<f16>` (shader-f16: the f16 variants of the
// matmuls): element e of the row whose first byte is rb is W[rb / 2 + e], converted exactly.
const F16_STORAGE = /* wgsl */ `
var<private> dq: array<f32, 32>;
fn decode(rb: u32, u: u32) {
  let e = (rb >> 1u) + u * 32u;
  for (var j = 0u; j < 32u; j++) { dq[j] = select(0.0, f32(W[e + j]), u * 32u + j < P.cols); }
}
`;

// WGSL for `decode` of one type (see the top of this file). gridBinding: the binding of G for
// the grid formats (GRID_TYPES). f16 (type 'f16' only): W is declared array<f16> (the caller
// enables f16), not array<u32>.
export function decodeWgsl(type, { gridBinding = 5, f16 = false } = {}) {
  if (f16) {
    if (type !== 'f16') throw new Error(`WebGPU: no f16-storage decoder for ${type}`);
    return F16_STORAGE;
  }
  const body = DECODERS[type] ?? IQ_DECODERS[type];
  if (!body) throw new Error(`WebGPU: no decoder for ${type}`);
  let extra = IQ_DECODERS[type] ? gridWgsl(gridBinding) : '';
  if (type === 'iq4_nl' || type === 'iq4_xs') extra += IQ4_TABLE;
  if (type === 'q4_K' || type === 'q5_K') extra += SCALE_MIN_K4;
  if (type === 'mxfp4') extra += KV_FP4;
  if (type === 'tq1_0') extra += 'const POW3 = array<u32, 5>(1u, 3u, 9u, 27u, 81u);\n';
  return COMMON + extra + body + '\n';
}
