// wasm_f16.h - f16 -> f32 for wasm SIMD128 lanes, shared by the wasm kernels and wasm ops.
#ifndef KITE_WASM_F16_H
#define KITE_WASM_F16_H

#include <wasm_simd128.h>

// Four halves sitting in the high 16 bits of u32 lanes -> floats, bit-exact with kite_f16_to_f32
// for every input. The half's magnitude bits shifted into a float's place are its value times
// 2^-112 (normals and subnormals alike: the engine keeps denormals), so one exact multiply fixes
// the exponent; an all-ones half exponent (inf / nan) lands on 2^16 * 1.m, whose exponent field
// OR 0xff gives inf / nan with the same mantissa.
static inline v128_t kite__h2f4_hi(v128_t x) {
    const v128_t e = wasm_i32x4_splat(0x7c000000);
    const v128_t mag = wasm_u32x4_shr(wasm_v128_and(x, wasm_i32x4_splat(0x7fff0000)), 3);
    v128_t f = wasm_f32x4_mul(mag, wasm_f32x4_splat(0x1p112f));
    f = wasm_v128_or(f, wasm_v128_and(wasm_i32x4_eq(wasm_v128_and(x, e), e), wasm_i32x4_splat(0x7f800000)));
    return wasm_v128_or(f, wasm_v128_and(x, wasm_i32x4_splat((int32_t)0x80000000u)));
}

// Eight halves at p -> two float vectors (elements 0..3, 4..7).
static inline void kite__h2f8_wasm(const void *p, v128_t *lo, v128_t *hi) {
    const v128_t h = wasm_v128_load(p), z = wasm_i16x8_splat(0);
    *lo = kite__h2f4_hi(wasm_i16x8_shuffle(z, h, 0, 8, 1, 9, 2, 10, 3, 11));
    *hi = kite__h2f4_hi(wasm_i16x8_shuffle(z, h, 4, 12, 5, 13, 6, 14, 7, 15));
}

// Four halves, sign-extended into i32 lanes -> floats, for halves known finite: shifted left
// by 13, a half's magnitude bits land in a float's place (its value times 2^-112, normals and
// subnormals alike: the engine keeps denormals) and its sign in bits 28..31, of which the mask
// keeps bit 31; one exact multiply fixes the exponent and keeps the sign (-0 included). The
// same bits as kite__h2f4_hi for every finite half.
static inline v128_t kite__h2f4_finite_wasm(v128_t x) {
    const v128_t f = wasm_v128_and(wasm_i32x4_shl(x, 13), wasm_i32x4_splat((int32_t)0x8fffe000u));
    return wasm_f32x4_mul(f, wasm_f32x4_splat(0x1p112f));
}

// Lanes of 8 halves whose exponent is all ones (inf / nan): all ones there.
static inline v128_t kite__h2f_special8_wasm(v128_t h) {
    const v128_t e = wasm_i16x8_splat(0x7c00);
    return wasm_i16x8_eq(wasm_v128_and(h, e), e);
}

// Eight halves (already loaded) -> two float vectors, for halves known finite
// (kite__h2f_special8_wasm all zero).
static inline void kite__h2f8_finite_wasm(v128_t h, v128_t *lo, v128_t *hi) {
    *lo = kite__h2f4_finite_wasm(wasm_i32x4_extend_low_i16x8(h));
    *hi = kite__h2f4_finite_wasm(wasm_i32x4_extend_high_i16x8(h));
}

// Eight halves at p -> two float vectors, kite_f16_to_f32's bits: the finite-only conversion
// unless one of them is inf / nan (then the general one).
static inline void kite__h2f8_any_wasm(const void *p, v128_t *lo, v128_t *hi) {
    const v128_t h = wasm_v128_load(p);
    if (wasm_v128_any_true(kite__h2f_special8_wasm(h))) kite__h2f8_wasm(p, lo, hi);
    else kite__h2f8_finite_wasm(h, lo, hi);
}

#endif
