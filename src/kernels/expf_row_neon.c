// expf_row_neon.c - kite__expf_row_neon: libm's expf over a row, 4 lanes at a time (neon_expf.h),
// guarded by a check against expf at first use.
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "kernels/neon_expf.h"

static atomic_int g_ok; // 0: not checked yet, 1: the vector expf agrees with libm's, 2: it does not

// kite__expf_check_args' 4096 arguments, each vector result against expf's bits
static int check(void) {
    float x[4096], y[4096];
    kite__expf_check_args(x);
    int ok = 1;
    for (int i = 0; i < 4096; i += 4) {
        const float32x4_t v = vld1q_f32(x + i);
        vst1q_f32(y + i, kite__nexpf4(v));
        uint32_t sp[4];
        vst1q_u32(sp, kite__nexpf4_libm(v));
        for (int l = 0; l < 4; l++) {
            const float want = expf(x[i + l]);
            if (!sp[l] && memcmp(&want, &y[i + l], sizeof want) != 0) ok = 2;
        }
    }
    atomic_store(&g_ok, ok);
    return ok;
}

bool kite__expf_vec_ok_neon(void) {
    int ok = atomic_load_explicit(&g_ok, memory_order_relaxed);
    return (ok ? ok : check()) == 1;
}

void kite__expf_row_neon(float *x, int32_t n) {
    if (!kite__expf_vec_ok_neon()) {
        for (int32_t i = 0; i < n; i++) x[i] = expf(x[i]);
        return;
    }
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float32x4_t v = vld1q_f32(x + i);
        vst1q_f32(x + i, kite__nexpf4(v));
        if (vmaxvq_u32(kite__nexpf4_libm(v))) {
            float a[4];
            vst1q_f32(a, v);
            for (int l = 0; l < 4; l++)
                if (!(fabsf(a[l]) < 88.0f)) x[i + l] = expf(a[l]); // |x| >= 88, inf or nan: libm's cases
        }
    }
    for (; i < n; i++) x[i] = expf(x[i]); // fewer than 4 left
}

float kite__softmax_exp_sum_neon(float *x, int32_t n, float mx) {
    const float32x4_t m4 = vdupq_n_f32(mx);
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(x + i, vsubq_f32(vld1q_f32(x + i), m4));
    for (; i < n; i++) x[i] = x[i] - mx;
    kite__expf_row_neon(x, n);
    double sum = 0.0;
    for (i = 0; i < n; i++) sum += x[i];
    return (float)(1.0 / sum);
}
