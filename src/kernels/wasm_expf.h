// wasm_expf.h - expf on wasm SIMD128 lanes with libm's bits, shared by the wasm kernels and ops.
#ifndef KITE_WASM_EXPF_H
#define KITE_WASM_EXPF_H

#include <stdbool.h>
#include <stdint.h>
#include <wasm_simd128.h>

#include "kernels/expf_data.h"

// musl's expf (wasi-libc's and emscripten's libc; glibc's is the same ARM optimized-routines
// algorithm) step for step: all in double, no fused multiply-add in wasm (table and constants:
// expf_data.h).

// exp of two f64 lanes holding floats x with |x| < 88, before musl's final rounding to float:
// wasm_f32x4_demote_f64x2_zero of it is expf(x) bit for bit (checked under node:wasi against
// expf for every float with |x| < 88). Other inputs are outside the contract (libm's own cases).
static inline v128_t kite__wexpf2_f64(v128_t xd) {
    const v128_t shift = wasm_f64x2_splat(KITE_EXP2F_SHIFT);
    const v128_t z = wasm_f64x2_mul(wasm_f64x2_splat(KITE_EXP2F_INVLN2N), xd);
    v128_t kd = wasm_f64x2_add(z, shift);
    const v128_t ki = kd;
    kd = wasm_f64x2_sub(kd, shift);
    const v128_t r = wasm_f64x2_sub(z, kd);
    const uint64_t k0 = (uint64_t)wasm_i64x2_extract_lane(ki, 0), k1 = (uint64_t)wasm_i64x2_extract_lane(ki, 1);
    const v128_t t = wasm_i64x2_add(wasm_i64x2_make((int64_t)kite__exp2f_tab[k0 % 32], (int64_t)kite__exp2f_tab[k1 % 32]),
                                    wasm_i64x2_shl(ki, 47));
    const v128_t zz = wasm_f64x2_add(wasm_f64x2_mul(wasm_f64x2_splat(KITE_EXP2F_C0), r),
                                     wasm_f64x2_splat(KITE_EXP2F_C1));
    const v128_t r2 = wasm_f64x2_mul(r, r);
    v128_t y = wasm_f64x2_add(wasm_f64x2_mul(wasm_f64x2_splat(KITE_EXP2F_C2), r), wasm_f64x2_splat(1.0));
    y = wasm_f64x2_add(wasm_f64x2_mul(zz, r2), y);
    return wasm_f64x2_mul(y, t);
}

// True when some lane of v has |x| >= 88, is inf or nan: libm's cases, which kite__wexpf4 leaves
// out (callers send those four to expf).
static inline bool kite__wexpf4_libm(v128_t v) {
    return wasm_v128_any_true(
        wasm_i32x4_ge(wasm_v128_and(v, wasm_i32x4_splat(0x7fffffff)), wasm_i32x4_splat(0x42b00000)));
}

// expf of four float lanes, libm's bits, for v where kite__wexpf4_libm(v) is false.
static inline v128_t kite__wexpf4(v128_t v) {
    const v128_t lo = kite__wexpf2_f64(wasm_f64x2_promote_low_f32x4(v));
    const v128_t hi = kite__wexpf2_f64(wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(v, v, 2, 3, 0, 1)));
    return wasm_i32x4_shuffle(wasm_f32x4_demote_f64x2_zero(lo), wasm_f32x4_demote_f64x2_zero(hi), 0, 1, 4, 5);
}

#endif
