// softcap_avx2.c - the soft-cap rows with x86_tanh.h's tanh, 8 lanes at a time.
#include <immintrin.h>
#include <math.h>

#include "kernels/kernels_internal.h"
#include "kernels/x86_tanh.h"

// tanh_pos.inc on 4 double lanes: xtanh4_pos
#define TANH_POS xtanh4_pos
#define VD __m256d
#define SPLAT _mm256_set1_pd
#define MUL _mm256_mul_pd
#define ADD _mm256_add_pd
#define SUB _mm256_sub_pd
#define DIV _mm256_div_pd
#define MIN _mm256_min_pd
#define MADD _mm256_fmadd_pd
#define NMADD _mm256_fnmadd_pd
#define POW2_LOW(v) \
    _mm256_castsi256_pd(_mm256_add_epi64(_mm256_slli_epi64(_mm256_castpd_si256(v), 52), \
                                         _mm256_set1_epi64x(1023ll << 52)))
#define SELECT_LT(a, b, x, y) _mm256_blendv_pd(y, x, _mm256_cmp_pd(a, b, _CMP_LT_OQ))
#include "kernels/tanh_pos.inc"

// 4 float lanes: (float)tanh((double)y) in *out; the return's bit l is set where lane l is not
// settled (nan, or near a float rounding boundary) and needs libm's tanh.
static inline int xtanh4(__m128 y, __m128 *out) {
    const __m128 sign = _mm_and_ps(y, _mm_set1_ps(-0.0f));
    const __m256d t = xtanh4_pos(_mm256_cvtps_pd(_mm_andnot_ps(_mm_set1_ps(-0.0f), y)));
    const __m128 f = _mm256_cvtpd_ps(t);
    const __m128 lo = _mm256_cvtpd_ps(_mm256_mul_pd(t, _mm256_set1_pd(1.0 - KITE_XTANH_ERR)));
    const __m128 hi = _mm256_cvtpd_ps(_mm256_mul_pd(t, _mm256_set1_pd(1.0 + KITE_XTANH_ERR)));
    *out = _mm_or_ps(f, sign);
    const __m128 ok = _mm_and_ps(_mm_cmpeq_ps(lo, hi), _mm_cmpord_ps(y, y));
    return ~_mm_movemask_ps(ok) & 15;
}

// 8 float lanes: as xtanh4 (bit l of the return: lane l needs libm's tanh).
static inline int xtanh8(__m256 y, __m256 *out) {
    __m128 lo, hi;
    const int m = xtanh4(_mm256_castps256_ps128(y), &lo) | xtanh4(_mm256_extractf128_ps(y, 1), &hi) << 4;
    *out = _mm256_insertf128_ps(_mm256_castps128_ps256(lo), hi, 1);
    return m;
}

void kite__softcap_scaled_avx2(float *x, int32_t n, float inv, float cap, float post) {
    const __m256 vinv = _mm256_set1_ps(inv), vcap = _mm256_set1_ps(cap), vpost = _mm256_set1_ps(post);
    int32_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 y = _mm256_mul_ps(_mm256_loadu_ps(x + i), vinv);
        __m256 t;
        const int m = xtanh8(y, &t);
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
