// attend_fa16_avx512.c - kite_kernels_attend_group of the avx512 and amx sets: FA_F16 groups
// through attend_fa16_x86.inc in 16-lane registers (64 dims of 4 queries per pass), the other
// modes to kite__attend_group_avx512; every query gets kite__attend_head_avx2's bits.
#include <immintrin.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "kernels/attend.h"
#include "kernels/attend_x86.h"
#include "kernels/kernels_internal.h"
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
#define FA16_SOFTCAP_ROW kite__softcap_scaled_avx512
#define FA16_EXPF_OK kite__expf_vec_ok_avx512

#define FA16_DOT kite__dot_ggml_f32k_avx512

// 16 keys' FA16_DOT at once, for head sizes that are multiples of 64 (no scalar tail): each
// key's 16-lane sum as dot_ggml_f32k's, then the horizontal sums of all 16 folded together,
// each fold the same lane pairs added as kite__hsum8's (lo + hi halves of 8, of 4, then 2, then 1),
// so each key gets its own sum's bits; s[t] = sum_t * scale.
static void scores16(const float *q, const float *kf, int32_t hd, float scale, float *s) {
    __m512 v[16];
    for (int t = 0; t < 16; t++) {
        const float *k = kf + (size_t)t * (size_t)hd;
        __m512 a[4];
        for (int m = 0; m < 4; m++) a[m] = _mm512_setzero_ps();
        for (int32_t i = 0; i < hd; i += 64)
            for (int m = 0; m < 4; m++)
                a[m] = _mm512_fmadd_ps(_mm512_loadu_ps(q + i + 16 * m), _mm512_loadu_ps(k + i + 16 * m), a[m]);
        a[0] = _mm512_add_ps(a[0], a[2]);
        a[1] = _mm512_add_ps(a[1], a[3]);
        v[t] = _mm512_add_ps(a[0], a[1]);
    }
    // 16 lanes -> 8: A_p = [t(2p), t(2p + 1)], t(k)_i = v(k)_i + v(k)_(i+8)
    __m512 A[8];
    for (int p = 0; p < 8; p++)
        A[p] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * p], v[2 * p + 1], 0x44),
                             _mm512_shuffle_f32x4(v[2 * p], v[2 * p + 1], 0xee));
    // 8 -> 4: B_q's 128-bit lane l is key 4q + l, u_i = t_i + t_(i+4)
    __m512 B[4];
    for (int q4 = 0; q4 < 4; q4++)
        B[q4] = _mm512_add_ps(_mm512_shuffle_f32x4(A[2 * q4], A[2 * q4 + 1], 0x88),
                              _mm512_shuffle_f32x4(A[2 * q4], A[2 * q4 + 1], 0xdd));
    // 4 -> 2: C_r's lane l holds w(8r + l)_0..1, w(8r + 4 + l)_0..1, w_i = u_i + u_(i+2)
    __m512 C[2];
    for (int r = 0; r < 2; r++)
        C[r] = _mm512_add_ps(_mm512_shuffle_ps(B[2 * r], B[2 * r + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_ps(B[2 * r], B[2 * r + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    // 2 -> 1: element 4l + m is key 4m + l's w_0 + w_1
    const __m512 D = _mm512_add_ps(_mm512_shuffle_ps(C[0], C[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                   _mm512_shuffle_ps(C[0], C[1], _MM_SHUFFLE(3, 1, 3, 1)));
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    _mm512_storeu_ps(s, _mm512_mul_ps(_mm512_permutexvar_ps(order, D), _mm512_set1_ps(scale)));
}
#define FA16_SCORES16 scores16

#include "kernels/attend_fa16_x86.inc"

void kite__attend_group_fa16_avx512(const kite_attn_group *g) {
    if (!fa16_group(g)) kite__attend_group_avx512(g);
}
