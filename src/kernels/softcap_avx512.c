// softcap_avx512.c - the soft-cap rows with x86_tanh.h's tanh, 16 lanes at a time (the tail
// masked).
#include <immintrin.h>
#include <math.h>

#include "kernels/kernels_internal.h"
#include "kernels/x86_tanh.h"

// tanh_pos.inc on 8 double lanes: xtanh8_pos
#define TANH_POS xtanh8_pos
#define VD __m512d
#define SPLAT _mm512_set1_pd
#define MUL _mm512_mul_pd
#define ADD _mm512_add_pd
#define SUB _mm512_sub_pd
#define DIV _mm512_div_pd
#define MIN _mm512_min_pd
#define MADD _mm512_fmadd_pd
#define NMADD _mm512_fnmadd_pd
#define POW2_LOW(v) \
    _mm512_castsi512_pd(_mm512_add_epi64(_mm512_slli_epi64(_mm512_castpd_si512(v), 52), \
                                         _mm512_set1_epi64(1023ll << 52)))
#define SELECT_LT(a, b, x, y) _mm512_mask_blend_pd(_mm512_cmp_pd_mask(a, b, _CMP_LT_OQ), y, x)
#include "kernels/tanh_pos.inc"

// 8 float lanes: (float)tanh((double)y) in *out; the mask's lanes are not settled (nan, or near a
// float rounding boundary) and need libm's tanh.
static inline __mmask8 xtanh8(__m256 y, __m256 *out) {
    const __m256 sign = _mm256_and_ps(y, _mm256_set1_ps(-0.0f));
    const __m512d t = xtanh8_pos(_mm512_cvtps_pd(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), y)));
    const __m256 f = _mm512_cvtpd_ps(t);
    const __m256 lo = _mm512_cvtpd_ps(_mm512_mul_pd(t, _mm512_set1_pd(1.0 - KITE_XTANH_ERR)));
    const __m256 hi = _mm512_cvtpd_ps(_mm512_mul_pd(t, _mm512_set1_pd(1.0 + KITE_XTANH_ERR)));
    *out = _mm256_or_ps(f, sign);
    return (__mmask8)(_mm256_cmp_ps_mask(lo, hi, _CMP_NEQ_UQ) | _mm256_cmp_ps_mask(y, y, _CMP_UNORD_Q));
}

// 16 float lanes: as xtanh8.
static inline __mmask16 xtanh16(__m512 y, __m512 *out) {
    __m256 lo, hi;
    const __mmask16 m =
        (__mmask16)(xtanh8(_mm512_castps512_ps256(y), &lo) | (unsigned)xtanh8(_mm512_extractf32x8_ps(y, 1), &hi) << 8);
    *out = _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
    return m;
}

void kite__softcap_scaled_avx512(float *x, int32_t n, float inv, float cap, float post) {
    const __m512 vinv = _mm512_set1_ps(inv), vcap = _mm512_set1_ps(cap), vpost = _mm512_set1_ps(post);
    for (int32_t i = 0; i < n; i += 16) {
        const __mmask16 in = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1u);
        const __m512 y = _mm512_mul_ps(_mm512_maskz_loadu_ps(in, x + i), vinv);
        __m512 t;
        const __mmask16 m = xtanh16(y, &t) & in;
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
