// attend_fa16_avx2.c - kite_kernels_attend_group of the avx2 and avxvnni sets: FA_F16 groups
// through attend_fa16_x86.inc in 8-lane registers (16 dims of 4 queries per pass), the other
// modes to kite__attend_group_avx2; every query gets kite__attend_head_avx2's bits.
#include <immintrin.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "kernels/attend.h"
#include "kernels/x86_expf.h"

typedef __m256 vf;
#define VW 8
#define V_LOAD _mm256_loadu_ps
#define V_STORE _mm256_storeu_ps
#define V_SET1 _mm256_set1_ps
#define V_FMA _mm256_fmadd_ps
#define V_MUL _mm256_mul_ps
#define V_ADD _mm256_add_ps
#define V_DIV _mm256_div_ps
#define V_LOADH(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
#define V_ROUND(x) _mm256_cvtph_ps(_mm256_cvtps_ph((x), _MM_FROUND_TO_NEAREST_INT))
#define FA16_DB 2
#define FA16_QB 4
#define FA16_EXPF_ROW kite__expf_row_avx2
#define FA16_EXPF_OK kite__expf_vec_ok_avx2

static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// kite__attend_head_avx2's dot_ggml (ggml_vec_dot_f16's order) on k converted to floats
static inline float dot_ggml_f32k(const float *q, const float *k, int32_t n) {
    const int32_t np = n & ~63;
    double sum = 0.0;
    if (np > 0) {
        __m256 a[8];
        for (int j = 0; j < 8; j++) a[j] = _mm256_setzero_ps();
        for (int32_t i = 0; i < np; i += 64)
            for (int j = 0; j < 8; j++)
                a[j] = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8 * j), _mm256_loadu_ps(k + i + 8 * j), a[j]);
        for (int j = 0; j < 4; j++) a[j] = _mm256_add_ps(a[j], a[j + 4]); // sum0 += sum2, sum1 += sum3
        a[0] = _mm256_add_ps(a[0], a[2]);                                  // sum0 += sum1 (low lanes)
        a[1] = _mm256_add_ps(a[1], a[3]);                                  // (high lanes)
        sum = (double)hsum(_mm256_add_ps(a[0], a[1]));                     // 16 lanes -> 1
    }
    for (int32_t i = np; i < n; i++) sum += (double)(q[i] * k[i]);
    return (float)sum;
}
#define FA16_DOT dot_ggml_f32k

#include "kernels/attend_fa16_x86.inc"

void kite__attend_group_fa16_avx2(const kite_attn_group *g) {
    if (!fa16_group(g)) kite__attend_group_avx2(g);
}
