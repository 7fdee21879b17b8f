// glu_neon.c - the SwiGLU rows for aarch64 NEON, 4 lanes at a time on neon_expf.h's expf (where
// its check at first use passed): the scalar op's add, divide and multiply per lane in its order
// (no fused multiply-add), so kite__swiglu_ref's bits. GeGLU stays the scalar op (a table lookup
// per element, and NEON has no gather).
#include <math.h>

#include "kernels/kernels_internal.h"
#include "kernels/neon_expf.h"

void kite__swiglu_neon(float *g, const float *u, int32_t n) {
    if (!kite__expf_vec_ok_neon()) { // the vector expf is not this libm's: the scalar op
        kite__swiglu_ref(g, u, n);
        return;
    }
    const float32x4_t one = vdupq_n_f32(1.0f);
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float32x4_t x = vld1q_f32(g + i);
        // the scalar op's steps per lane: expf(-x), 1 + that, x / that, times u
        const float32x4_t e = kite__nexpf4(vnegq_f32(x));
        const float32x4_t s = vdivq_f32(x, vaddq_f32(one, e));
        vst1q_f32(g + i, vmulq_f32(s, vld1q_f32(u + i)));
        if (vmaxvq_u32(kite__nexpf4_libm(x))) { // |g| >= 88, inf or nan: libm's cases
            float a[4];
            vst1q_f32(a, x);
            for (int l = 0; l < 4; l++)
                if (!(fabsf(a[l]) < 88.0f)) {
                    g[i + l] = a[l];
                    kite__swiglu_ref(g + i + l, u + i + l, 1);
                }
        }
    }
    kite__swiglu_ref(g + i, u + i, n - i); // fewer than 4 left
}
