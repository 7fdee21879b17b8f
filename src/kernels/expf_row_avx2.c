// expf_row_avx2.c - kite__expf_row_avx2: libm's expf over a row, 8 lanes at a time
// (x86_expf.h), guarded by a check against expf at first use.
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "kernels/x86_expf.h"

static atomic_int g_ok; // 0: not checked yet, 1: the vector expf agrees with libm's, 2: it does not

// kite__expf_check_args' 4096 arguments, each vector result against expf's bits
static int check(void) {
    float x[4096], y[4096];
    kite__expf_check_args(x);
    int ok = 1;
    for (int i = 0; i < 4096; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        _mm256_storeu_ps(y + i, kite__xexpf8(v));
        const int sp = kite__xexpf8_libm(v);
        for (int l = 0; l < 8; l++) {
            const float want = expf(x[i + l]);
            if (!(sp >> l & 1) && memcmp(&want, &y[i + l], sizeof want) != 0) ok = 2;
        }
    }
    atomic_store(&g_ok, ok);
    return ok;
}

bool kite__expf_vec_ok_avx2(void) {
    int ok = atomic_load_explicit(&g_ok, memory_order_relaxed);
    return (ok ? ok : check()) == 1;
}

void kite__expf_row_avx2(float *x, int32_t n) {
    if (!kite__expf_vec_ok_avx2()) {
        for (int32_t i = 0; i < n; i++) x[i] = expf(x[i]);
        return;
    }
    int32_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        _mm256_storeu_ps(x + i, kite__xexpf8(v));
        const int sp = kite__xexpf8_libm(v);
        if (sp) {
            float a[8];
            _mm256_storeu_ps(a, v);
            for (int l = 0; l < 8; l++)
                if (sp >> l & 1) x[i + l] = expf(a[l]); // |x| >= 88, inf or nan: libm's cases
        }
    }
    for (; i < n; i++) x[i] = expf(x[i]); // fewer than 8 left
}

float kite__softmax_exp_sum_avx2(float *x, int32_t n, float mx) {
    int32_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_sub_ps(_mm256_loadu_ps(x + i), _mm256_set1_ps(mx)));
    for (; i < n; i++) x[i] = x[i] - mx;
    kite__expf_row_avx2(x, n);
    double sum = 0.0;
    for (i = 0; i < n; i++) sum += x[i];
    return (float)(1.0 / sum);
}
