// attend_fa16_avx2.c - kite_kernels_attend_group of the avx2 and avxvnni sets: FA_F16 groups
// through attend_fa16_x86.inc in 8-lane registers (16 dims of 4 queries per pass), the other
// modes to kite__attend_group_avx2; every query gets kite__attend_head_avx2's bits.
#include <immintrin.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "kernels/attend.h"
#include "kernels/attend_x86.h"
#include "kernels/kernels_internal.h"
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
#define FA16_SOFTCAP_ROW kite__softcap_scaled_avx2
#define FA16_EXPF_OK kite__expf_vec_ok_avx2

static inline float dot_ggml_f32k(const float *q, const float *k, int32_t n) {
    return kite__dot_ggml_avx2(q, NULL, k, n);
}
#define FA16_DOT dot_ggml_f32k

#include "kernels/attend_fa16_x86.inc"

void kite__attend_group_fa16_avx2(const kite_attn_group *g) {
    if (!fa16_group(g)) kite__attend_group_avx2(g);
}
