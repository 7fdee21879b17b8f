// attend_fa16_avx512.c - kite_kernels_attend_group of the avx512 and amx sets: FA_F16 groups
// through attend_fa16_x86.inc in 16-lane registers (64 dims of 4 queries per pass), the other
// modes to kite__attend_group_avx512; every query gets kite__attend_head_avx2's bits.
#include <immintrin.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "kernels/attend.h"
#include "kernels/x86_expf.h"

typedef __m512 vf;
#define VW 16
#define V_LOAD _mm512_loadu_ps
#define V_STORE _mm512_storeu_ps
#define V_SET1 _mm512_set1_ps
#define V_FMA _mm512_fmadd_ps
#define V_MUL _mm512_mul_ps
#define V_ADD _mm512_add_ps
#define V_DIV _mm512_div_ps
#define V_LOADH(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p)))
#define V_ROUND(x) _mm512_cvtph_ps(_mm512_cvtps_ph((x), _MM_FROUND_TO_NEAREST_INT))
#define FA16_DB 4
#define FA16_QB 4
#define FA16_EXPF_ROW kite__expf_row_avx512
#define FA16_EXPF_OK kite__expf_vec_ok_avx512

static inline float hsum8(__m256 v) { // the AVX2 op's reduction order
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// kite__attend_head_avx2's dot_ggml on k converted to floats: its register pairs a[2m],
// a[2m + 1] are the two halves of the 16-lane sum m here, added in the same order (as
// attend_avx512.c's MATMUL scores).
static inline float dot_ggml_f32k(const float *q, const float *k, int32_t n) {
    const int32_t np = n & ~63;
    double sum = 0.0;
    if (np > 0) {
        __m512 a[4];
        for (int m = 0; m < 4; m++) a[m] = _mm512_setzero_ps();
        for (int32_t i = 0; i < np; i += 64)
            for (int m = 0; m < 4; m++)
                a[m] = _mm512_fmadd_ps(_mm512_loadu_ps(q + i + 16 * m), _mm512_loadu_ps(k + i + 16 * m), a[m]);
        a[0] = _mm512_add_ps(a[0], a[2]); // sum0 += sum2
        a[1] = _mm512_add_ps(a[1], a[3]); // sum1 += sum3
        a[0] = _mm512_add_ps(a[0], a[1]); // sum0 += sum1
        sum = (double)hsum8(_mm256_add_ps(_mm512_castps512_ps256(a[0]), _mm512_extractf32x8_ps(a[0], 1)));
    }
    for (int32_t i = np; i < n; i++) sum += (double)(q[i] * k[i]);
    return (float)sum;
}
#define FA16_DOT dot_ggml_f32k

#include "kernels/attend_fa16_x86.inc"

void kite__attend_group_fa16_avx512(const kite_attn_group *g) {
    if (!fa16_group(g)) kite__attend_group_avx512(g);
}
