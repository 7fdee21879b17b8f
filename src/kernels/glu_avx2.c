// glu_avx2.c - the gated activations' rows 8 lanes at a time (AVX2 + FMA + F16C): SwiGLU on
// x86_expf.h's expf, GeGLU by F16C and a gather from the GELU table; the scalar ops' bits.
#include "base/kite_f16.h"
#include "kernels/kernels_internal.h"
#include "kernels/x86_expf.h"

void kite__swiglu_avx2(float *g, const float *u, int32_t n) {
    if (!kite__expf_vec_ok_avx2()) { // the vector expf is not this libm's: the scalar op
        kite__swiglu_ref(g, u, n);
        return;
    }
    const __m256 one = _mm256_set1_ps(1.0f), neg = _mm256_set1_ps(-0.0f);
    int32_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(g + i);
        const int sp = kite__xexpf8_libm(x);
        // the scalar op's steps per lane: expf(-x), 1 + that, x / that, times u
        const __m256 e = kite__xexpf8(_mm256_xor_ps(x, neg));
        const __m256 s = _mm256_div_ps(x, _mm256_add_ps(one, e));
        _mm256_storeu_ps(g + i, _mm256_mul_ps(s, _mm256_loadu_ps(u + i)));
        if (sp) { // |g| >= 88, inf or nan: libm's cases
            float a[8];
            _mm256_storeu_ps(a, x);
            for (int l = 0; l < 8; l++)
                if (sp >> l & 1) {
                    g[i + l] = a[l];
                    kite__swiglu_ref(g + i + l, u + i + l, 1);
                }
        }
    }
    kite__swiglu_ref(g + i, u + i, n - i); // fewer than 8 left
}

void kite__geglu_avx2(float *g, const float *u, int32_t n, const float *tab) {
    const __m256 lo = _mm256_set1_ps(-10.0f), hi = _mm256_set1_ps(10.0f);
    const __m256i qnan = _mm256_set1_epi32(0x7e00), sign = _mm256_set1_epi32(0x8000);
    int32_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(g + i);
        // F16C rounds to nearest even as kite_f32_to_f16 does (subnormal halves, overflow to inf),
        // except nan: there the index is sign | 0x7e00, as kite_f32_to_f16 gives
        __m256i h = _mm256_cvtepu16_epi32(_mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        const __m256 nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
        if (!_mm256_testz_ps(nan, nan)) {
            const __m256i fix = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(_mm256_castps_si256(x), 16), sign), qnan);
            h = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(h), _mm256_castsi256_ps(fix), nan));
        }
        __m256 y = _mm256_i32gather_ps(tab, h, 4);
        y = _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, hi, _CMP_GE_OQ));   // x >= 10: x
        y = _mm256_andnot_ps(_mm256_cmp_ps(x, lo, _CMP_LE_OQ), y);      // x <= -10: +0
        _mm256_storeu_ps(g + i, _mm256_mul_ps(y, _mm256_loadu_ps(u + i)));
    }
    kite__geglu_ref(g + i, u + i, n - i, tab); // fewer than 8 left
}
