// quant_search_wasm.c - the quantizers' searches (quant_search_simd128.inc) built for wasm
// SIMD128: the primitives are the plain IEEE lane operations (no relaxed ones, whose results the
// engine may choose; the relaxed builds' one exception, i8x16.relaxed_swizzle, only ever gets
// indices below 16, where every engine gives the same bytes), so the bytes equal the scalar
// reference on every engine.
// Not in the memory64 build: LLVM 14's wasm64 back end aborts on it ("Cannot select:
// extract_vector_elt ... Constant:i64<0>"), so wasm64 keeps the scalar searches.
#if !defined(__wasm64__)
#include <wasm_simd128.h>

#include <stdbool.h>
#include <stdint.h>

#define AI static inline __attribute__((always_inline))

typedef v128_t VF;
typedef v128_t VI;
typedef v128_t VM;
typedef v128_t VB;

AI VF vf_set1(float a) { return wasm_f32x4_splat(a); }
AI VF vf_make(float a, float b, float c, float d) { return wasm_f32x4_make(a, b, c, d); }
AI VF vf_load(const float *p) { return wasm_v128_load(p); }
AI VF vf_zero(void) { return wasm_f32x4_splat(0.0f); }
AI void vf_store(float *p, VF v) { wasm_v128_store(p, v); }
AI VF vf_add(VF a, VF b) { return wasm_f32x4_add(a, b); }
AI VF vf_sub(VF a, VF b) { return wasm_f32x4_sub(a, b); }
AI VF vf_mul(VF a, VF b) { return wasm_f32x4_mul(a, b); }
AI VF vf_div(VF a, VF b) { return wasm_f32x4_div(a, b); }
AI VF vf_abs(VF a) { return wasm_f32x4_abs(a); } // clears the sign bit, as fabsf
AI VF vf_neg(VF a) { return wasm_f32x4_neg(a); } // flips the sign bit
AI VM vm_lt(VF a, VF b) { return wasm_f32x4_lt(a, b); }
AI VM vm_gt(VF a, VF b) { return wasm_f32x4_gt(a, b); }
AI VM vm_le(VF a, VF b) { return wasm_f32x4_le(a, b); }
AI VM vm_eq(VF a, VF b) { return wasm_f32x4_eq(a, b); }
AI VM vm_not(VM a) { return wasm_v128_not(a); }
AI VM vm_and(VM a, VM b) { return wasm_v128_and(a, b); }
AI VM vm_or(VM a, VM b) { return wasm_v128_or(a, b); }
AI VM vm_andnot(VM a, VM b) { return wasm_v128_andnot(a, b); }
AI int vm_bits(VM m) { return (int)wasm_i32x4_bitmask(m); }
AI VF vf_sel(VM m, VF a, VF b) { return wasm_v128_bitselect(a, b, m); }
AI VI vi_sel(VM m, VI a, VI b) { return wasm_v128_bitselect(a, b, m); }
AI VI vi_set1(int a) { return wasm_i32x4_splat(a); }
AI VI vi_add(VI a, VI b) { return wasm_i32x4_add(a, b); }
AI VI vi_sub(VI a, VI b) { return wasm_i32x4_sub(a, b); }
AI VI vi_min(VI a, VI b) { return wasm_i32x4_min(a, b); }
AI VI vi_max(VI a, VI b) { return wasm_i32x4_max(a, b); }
AI VI vi_and(VI a, VI b) { return wasm_v128_and(a, b); }
AI VI vi_or(VI a, VI b) { return wasm_v128_or(a, b); }
AI VI vi_shl4(VI a) { return wasm_i32x4_shl(a, 4); }
AI VI vi_from_mask(VM m) { return m; }
AI VI vi_bits_of(VF v) { return v; }
AI VF vf_from_i(VI v) { return wasm_f32x4_convert_i32x4(v); }
AI VI vi_trunc(VF v) { return wasm_i32x4_trunc_sat_f32x4(v); }

AI void store_u8x4(uint8_t *dst, VI v) {
    v128_t h = wasm_i16x8_narrow_i32x4(v, v);
    v128_t b = wasm_u8x16_narrow_i16x8(h, h);
    wasm_v128_store32_lane(dst, b, 0);
}

AI VF vf_pmin(VF a, VF b) { return wasm_f32x4_pmin(a, b); } // b < a ? b : a: one minps on x86
AI float vf_hmin(VF v) {
    v = vf_pmin(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
    v = vf_pmin(v, wasm_i32x4_shuffle(v, v, 1, 0, 3, 2));
    return wasm_f32x4_extract_lane(v, 0);
}

AI VB vb_load(const uint8_t *p) { return wasm_v128_load(p); }
AI VB vb_load8(const uint8_t *p) { return wasm_v128_load64_zero(p); }
AI VB vb_or(VB a, VB b) { return wasm_v128_or(a, b); }
AI VB vb_shl2(VB a) { return wasm_i16x8_shl(a, 2); } // bytes below 64 carry nothing into the next
// Relaxed swizzle is pshufb alone in V8 (swizzle adds a saturating add for indices from 16).
#ifdef __wasm_relaxed_simd__
AI VB vb_lookup16(VB t, VB i) { return wasm_i8x16_relaxed_swizzle(t, i); }
#else
AI VB vb_lookup16(VB t, VB i) { return wasm_i8x16_swizzle(t, i); }
#endif
AI VF vf_lookup16(VB t, VB i) { return vb_lookup16(t, i); }
// swizzle gives 0 for indices from 16: i ^ 16 moves t1's indices to 0..15 and t0's out of range.
AI VF vf_lookup32(VB t0, VB t1, VB i) {
    return wasm_v128_or(wasm_i8x16_swizzle(t0, i), wasm_i8x16_swizzle(t1, wasm_v128_xor(i, wasm_i8x16_splat(16))));
}

// Halves to floats with integer operations: the exponent and mantissa shifted into place read as
// a float 2^-112 times the value (a subnormal half becomes a float subnormal, which wasm keeps:
// no flush to zero), and the multiplication by 2^112 is exact; then the sign. Infinities and
// NaNs (exponent 31) are left to the scalar conversion.
AI bool f16x4_to_f32(const uint16_t *x, float *y) {
    const v128_t h = wasm_u32x4_load16x4(x);
    const v128_t e = wasm_v128_and(h, wasm_i32x4_splat(0x7c00));
    if (wasm_v128_any_true(wasm_i32x4_eq(e, wasm_i32x4_splat(0x7c00)))) return false;
    const v128_t mag = wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_splat(0x7fff)), 13);
    const v128_t f = wasm_f32x4_mul(mag, wasm_f32x4_splat(0x1p112f));
    const v128_t sign = wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_splat(0x8000)), 16);
    wasm_v128_store(y, wasm_v128_or(f, sign));
    return true;
}

#define KITE_QS_ISA wasm
#define KITE_QS_ISA_NAME "wasm"
#include "quant/quant_search_simd128.inc"
#endif
