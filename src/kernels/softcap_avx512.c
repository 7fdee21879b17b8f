// softcap_avx512.c - the soft-cap rows with x86_tanh.h's tanh, 16 lanes at a time (the tail
// masked).
#include <math.h>

#include "kernels/kernels_internal.h"
#include "kernels/x86_tanh.h"

void kite__softcap_scaled_avx512(float *x, int32_t n, float inv, float cap, float post) {
    const __m512 vinv = _mm512_set1_ps(inv), vcap = _mm512_set1_ps(cap), vpost = _mm512_set1_ps(post);
    for (int32_t i = 0; i < n; i += 16) {
        const __mmask16 in = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1u);
        const __m512 y = _mm512_mul_ps(_mm512_maskz_loadu_ps(in, x + i), vinv);
        __m512 t;
        const __mmask16 m = kite__xtanh16(y, &t) & in;
        _mm512_mask_storeu_ps(x + i, in, _mm512_mul_ps(_mm512_mul_ps(vcap, t), vpost));
        if (m) { // lanes near a rounding boundary, or nan: libm's tanh
            float a[16];
            _mm512_storeu_ps(a, y);
            for (int l = 0; l < 16; l++)
                if (m >> l & 1) x[i + l] = cap * (float)tanh((double)a[l]) * post;
        }
    }
}

void kite__softcap_avx512(float *x, int32_t n, float cap) {
    kite__softcap_scaled_avx512(x, n, 1.0f / cap, cap, 1.0f);
}
