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

// WGSL for `decode` of one type (see the top of this file).
export function decodeWgsl(type) {
  const body = DECODERS[type];
  if (!body) throw new Error(`WebGPU: no decoder for ${type}`);
  let extra = '';
  if (type === 'iq4_nl' || type === 'iq4_xs') extra += IQ4_TABLE;
  if (type === 'q4_K' || type === 'q5_K') extra += SCALE_MIN_K4;
  return COMMON + extra + body + '\n';
}
