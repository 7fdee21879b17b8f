// softcap_avx2.c - the soft-cap rows with x86_tanh.h's tanh, 8 lanes at a time.
#include <math.h>

#include "kernels/kernels_internal.h"
#include "kernels/x86_tanh.h"

void kite__softcap_scaled_avx2(float *x, int32_t n, float inv, float cap, float post) {
    const __m256 vinv = _mm256_set1_ps(inv), vcap = _mm256_set1_ps(cap), vpost = _mm256_set1_ps(post);
    int32_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 y = _mm256_mul_ps(_mm256_loadu_ps(x + i), vinv);
        __m256 t;
        const int m = kite__xtanh8(y, &t);
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_mul_ps(vcap, t), vpost));
        if (m) { // lanes near a rounding boundary, or nan: libm's tanh
            float a[8];
            _mm256_storeu_ps(a, y);
            for (int l = 0; l < 8; l++)
                if (m >> l & 1) x[i + l] = cap * (float)tanh((double)a[l]) * post;
        }
    }
    for (; i < n; i++) x[i] = cap * (float)tanh((double)(x[i] * inv)) * post; // fewer than 8 left
}

void kite__softcap_avx2(float *x, int32_t n, float cap) { kite__softcap_scaled_avx2(x, n, 1.0f / cap, cap, 1.0f); }
