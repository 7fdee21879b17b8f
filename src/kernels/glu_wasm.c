// glu_wasm.c - the gated activations' rows for wasm SIMD128 (both wasm sets): the SwiGLU gate 4
// lanes at a time, kite__swiglu_ref's bits (wasm_expf.h's expf is libm's; the add, divide and
// multiply are the scalar ones per lane, in the same order, and wasm has no fused multiply-add).
#include "kernels/kernels_internal.h"
#include "kernels/wasm_expf.h"

void kite__swiglu_wasm(float *g, const float *u, int32_t n) {
    int32_t k = 0;
    for (; k + 4 <= n; k += 4) {
        const v128_t x = wasm_v128_load(g + k);
        if (kite__wexpf4_libm(x)) { // |g| >= 88, inf or nan: libm's cases
            kite__swiglu_ref(g + k, u + k, 4);
            continue;
        }
        const v128_t e = kite__wexpf4(wasm_f32x4_neg(x));
        const v128_t s = wasm_f32x4_div(x, wasm_f32x4_add(wasm_f32x4_splat(1.0f), e));
        wasm_v128_store(g + k, wasm_f32x4_mul(s, wasm_v128_load(u + k)));
    }
    kite__swiglu_ref(g + k, u + k, n - k);
}
