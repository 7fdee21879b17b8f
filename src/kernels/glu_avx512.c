// glu_avx512.c - the gated activations' rows 16 lanes at a time (AVX-512 F + DQ): SwiGLU on
// x86_expf.h's expf, GeGLU by vcvtps2ph and a gather from the GELU table; the scalar ops' bits.
#include "base/kite_f16.h"
#include "kernels/kernels_internal.h"
#include "kernels/x86_expf.h"

void kite__swiglu_avx512(float *g, const float *u, int32_t n) {
    if (!kite__expf_vec_ok_avx512()) { // the vector expf is not this libm's: the scalar op
        kite__swiglu_ref(g, u, n);
        return;
    }
    const __m512 one = _mm512_set1_ps(1.0f);
    const __m512i neg = _mm512_set1_epi32((int)0x80000000u);
    int32_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 x = _mm512_loadu_ps(g + i);
        const __mmask16 sp = kite__xexpf16_libm(x);
        // the scalar op's steps per lane: expf(-x), 1 + that, x / that, times u
        const __m512 e = kite__xexpf16(_mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(x), neg)));
        const __m512 s = _mm512_div_ps(x, _mm512_add_ps(one, e));
        _mm512_storeu_ps(g + i, _mm512_mul_ps(s, _mm512_loadu_ps(u + i)));
        if (sp) { // |g| >= 88, inf or nan: libm's cases
            float a[16];
            _mm512_storeu_ps(a, x);
            for (int l = 0; l < 16; l++)
                if (sp >> l & 1) {
                    g[i + l] = a[l];
                    kite__swiglu_ref(g + i + l, u + i + l, 1);
                }
        }
    }
    kite__swiglu_ref(g + i, u + i, n - i); // fewer than 16 left
}

void kite__geglu_avx512(float *g, const float *u, int32_t n, const float *tab) {
    const __m512 lo = _mm512_set1_ps(-10.0f), hi = _mm512_set1_ps(10.0f);
    const __m512i qnan = _mm512_set1_epi32(0x7e00), sign = _mm512_set1_epi32(0x8000);
    int32_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 x = _mm512_loadu_ps(g + i);
        // vcvtps2ph rounds to nearest even as kite_f32_to_f16 does (subnormal halves, overflow to
        // inf), except nan: there the index is sign | 0x7e00, as kite_f32_to_f16 gives
        __m512i h = _mm512_cvtepu16_epi32(_mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        const __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
        h = _mm512_mask_mov_epi32(h, nan, _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(_mm512_castps_si512(x), 16), sign), qnan));
        __m512 y = _mm512_i32gather_ps(h, tab, 4);
        y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, hi, _CMP_GE_OQ), x);     // x >= 10: x
        y = _mm512_maskz_mov_ps(~_mm512_cmp_ps_mask(x, lo, _CMP_LE_OQ), y);     // x <= -10: +0
        _mm512_storeu_ps(g + i, _mm512_mul_ps(y, _mm512_loadu_ps(u + i)));
    }
    kite__geglu_ref(g + i, u + i, n - i, tab); // fewer than 16 left
}
