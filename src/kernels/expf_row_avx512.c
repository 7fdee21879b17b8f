// expf_row_avx512.c - kite__expf_row_avx512: libm's expf over a row, 16 lanes at a time
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
    for (int i = 0; i < 4096; i += 16) {
        const __m512 v = _mm512_loadu_ps(x + i);
        _mm512_storeu_ps(y + i, kite__xexpf16(v));
        const __mmask16 sp = kite__xexpf16_libm(v);
        for (int l = 0; l < 16; l++) {
            const float want = expf(x[i + l]);
            if (!(sp >> l & 1) && memcmp(&want, &y[i + l], sizeof want) != 0) ok = 2;
        }
    }
    atomic_store(&g_ok, ok);
    return ok;
}

bool kite__expf_vec_ok_avx512(void) {
    int ok = atomic_load_explicit(&g_ok, memory_order_relaxed);
    return (ok ? ok : check()) == 1;
}

void kite__expf_row_avx512(float *x, int32_t n) {
    if (!kite__expf_vec_ok_avx512()) {
        for (int32_t i = 0; i < n; i++) x[i] = expf(x[i]);
        return;
    }
    for (int32_t i = 0; i < n; i += 16) {
        const __mmask16 in = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1u);
        const __m512 v = _mm512_maskz_loadu_ps(in, x + i);
        _mm512_mask_storeu_ps(x + i, in, kite__xexpf16(v));
        const __mmask16 sp = kite__xexpf16_libm(v) & in;
        if (sp) {
            float a[16];
            _mm512_storeu_ps(a, v);
            for (int l = 0; l < 16; l++)
                if (sp >> l & 1) x[i + l] = expf(a[l]); // |x| >= 88, inf or nan: libm's cases
        }
    }
}

float kite__softmax_exp_sum_avx512(float *x, int32_t n, float mx) {
    int32_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, _mm512_sub_ps(_mm512_loadu_ps(x + i), _mm512_set1_ps(mx)));
    for (; i < n; i++) x[i] = x[i] - mx;
    kite__expf_row_avx512(x, n);
    double sum = 0.0;
    for (i = 0; i < n; i++) sum += x[i];
    return (float)(1.0 / sum);
}
