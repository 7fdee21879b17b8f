// softcap_wasm.c - the soft-cap rows for wasm SIMD128 (both wasm sets), 4
// floats at a time on f64x2 lanes, with x86_tanh.h's method (the same formulas and bound;
// multiply then add where x86 fuses, still far inside the bound): a lane is kept only where every
// double within KITE_XTANH_ERR of its tanh rounds to one float, the others (and nan) take libm's
// tanh. kite__softcap_ref's bits (test_softcap under node:wasi; KITE_TANH_ALL=1 for all 2^32).
#include <math.h>
#include <wasm_simd128.h>

#include "kernels/kernels_internal.h"
#include "kernels/x86_tanh.h"

// tanh_pos.inc on 2 double lanes (multiply then add; the products by LN2_HI are exact)
#define TANH_POS wtanh2_pos
#define VD v128_t
#define SPLAT wasm_f64x2_splat
#define MUL wasm_f64x2_mul
#define ADD wasm_f64x2_add
#define SUB wasm_f64x2_sub
#define DIV wasm_f64x2_div
#define MIN wasm_f64x2_pmin
#define MADD(a, b, c) wasm_f64x2_add(wasm_f64x2_mul(a, b), c)
#define NMADD(a, b, c) wasm_f64x2_sub(c, wasm_f64x2_mul(a, b))
#define POW2_LOW(v) wasm_i64x2_add(wasm_i64x2_shl(v, 52), wasm_i64x2_splat(1023ll << 52))
#define SELECT_LT(a, b, x, y) wasm_v128_bitselect(x, y, wasm_f64x2_lt(a, b))
#include "kernels/tanh_pos.inc"

// 2 lanes' tanh rounded to float (lanes 0-1 of *f) and the same of the bound's two ends (*lo, *hi)
static inline void wtanh2(v128_t a, v128_t *f, v128_t *lo, v128_t *hi) {
    const v128_t t = wtanh2_pos(a);
    *f = wasm_f32x4_demote_f64x2_zero(t);
    *lo = wasm_f32x4_demote_f64x2_zero(wasm_f64x2_mul(t, wasm_f64x2_splat(1.0 - KITE_XTANH_ERR)));
    *hi = wasm_f32x4_demote_f64x2_zero(wasm_f64x2_mul(t, wasm_f64x2_splat(1.0 + KITE_XTANH_ERR)));
}

void kite__softcap_scaled_wasm(float *x, int32_t n, float inv, float cap, float post) {
    const v128_t vinv = wasm_f32x4_splat(inv), vcap = wasm_f32x4_splat(cap), sgn = wasm_f32x4_splat(-0.0f);
    const v128_t vpost = wasm_f32x4_splat(post);
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const v128_t y = wasm_f32x4_mul(wasm_v128_load(x + i), vinv);
        const v128_t ay = wasm_v128_andnot(y, sgn);
        v128_t f0, l0, h0, f1, l1, h1;
        wtanh2(wasm_f64x2_promote_low_f32x4(ay), &f0, &l0, &h0);
        wtanh2(wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(ay, ay, 2, 3, 2, 3)), &f1, &l1, &h1);
        const v128_t lo = wasm_i32x4_shuffle(l0, l1, 0, 1, 4, 5), hi = wasm_i32x4_shuffle(h0, h1, 0, 1, 4, 5);
        const v128_t ok = wasm_v128_and(wasm_f32x4_eq(lo, hi), wasm_f32x4_eq(y, y));
        // a lane near a rounding boundary, or nan: the four by the scalar op from memory (the settled
        // lanes' bits are the same), never a lane read back from y: that is an i64-indexed
        // extract_vector_elt in wasm64, which clang 14's instruction selection cannot do
        if (!wasm_i32x4_all_true(ok)) {
            kite__softcap_scaled_ref(x + i, 4, inv, cap, post);
            continue;
        }
        const v128_t t = wasm_v128_or(wasm_i32x4_shuffle(f0, f1, 0, 1, 4, 5), wasm_v128_and(y, sgn));
        wasm_v128_store(x + i, wasm_f32x4_mul(wasm_f32x4_mul(vcap, t), vpost));
    }
    kite__softcap_scaled_ref(x + i, n - i, inv, cap, post); // fewer than 4 left
}

void kite__softcap_wasm(float *x, int32_t n, float cap) { kite__softcap_scaled_wasm(x, n, 1.0f / cap, cap, 1.0f); }
