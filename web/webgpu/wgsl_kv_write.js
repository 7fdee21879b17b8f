// wgsl_kv_write.js - the WGSL of the KV-cache write: rows of K or V (or both in one dispatch)
// rounded to f16 into the cache, kept as f32, as packed f16 pairs or as f16 storage.
import { F16_BITS, ROUND_F16, params } from './wgsl_common.js';

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
