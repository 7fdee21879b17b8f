// attend_avx512.c - kite_kernels_attend_group for x86 hosts with AVX-512: the AVX2 op's results
// bit for bit (kite__attend_head_avx2's sums, term by term and in its order), in 16-lane
// registers: two cache rows' 8-lane FA_F32 sums side by side in one register (their reductions
// as vertical adds across registers, 16 scores at a time), ggml's 16-lane dot sums (MATMUL) as
// the AVX2 op's register pairs, and 16 dims per FMA in the value sums.
#include <immintrin.h>
#include <math.h>
#include <stdbool.h>

#include "kernels/attend.h"
#include "kernels/attend_x86.h"
#include "kernels/kernels_internal.h"
#include "kernels/x86_expf.h"

static inline __m512 load_f16x16(const uint16_t *p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}

#define KITE_INLINE static inline __attribute__((always_inline))

enum { VB = 6 }; // queries per pass over a row (value sums): 4 accumulators each in 64-dim blocks

enum { SB = 6 }; // queries per pass over 8 rows (FA_F32 scores): 4 accumulators each

// FA_F32 scores of queries 0..nb-1 with rows j0..j1-1, j1 - j0 a multiple of 8, keys across
// lanes: qt[i] holds query i in turns of 8 dims, each twice (q[0..7], q[0..7], q[8..15], ...),
// and the accumulator of query i and row pair m holds the AVX2 op's 8-lane sum for row j + 2m in
// lanes 0-7, for row j + 2m + 1 in lanes 8-15 (one conversion of two rows' 8 dims for all nb
// queries). kite__hsum8's three additions then run as vertical adds across registers, each as
// kite__hsum8 takes it (first operand first): for 8 rows and two queries, 16 scores in one register.
KITE_INLINE void scores_f32_rows(int nb, const float *const *qt, float *const *s, const uint16_t *k,
                                 int32_t kv_stride, int32_t j0, int32_t j1, int32_t head_dim, float scale) {
    // after the reduction, 128-bit chunk c holds (query a row c, a row c + 4, b row c, b row c + 4)
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    const __m512 sc = _mm512_set1_ps(scale);
    for (int32_t j = j0; j < j1; j += 8) {
        const uint16_t *kj = k + (int64_t)j * kv_stride;
        __m512 acc[SB][4];
        for (int i = 0; i < nb; i++)
            for (int m = 0; m < 4; m++) acc[i][m] = _mm512_setzero_ps();
        for (int32_t d = 0; d < head_dim; d += 8) {
            __m512 qv[SB];
            for (int i = 0; i < nb; i++) qv[i] = _mm512_loadu_ps(qt[i] + 2 * d);
            for (int m = 0; m < 4; m++) {
                const uint16_t *r = kj + (int64_t)(2 * m) * kv_stride + d;
                const __m512 kv = _mm512_cvtph_ps(_mm256_inserti128_si256(
                    _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)r)),
                    _mm_loadu_si128((const __m128i *)(r + kv_stride)), 1));
                for (int i = 0; i < nb; i++) acc[i][m] = _mm512_fmadd_ps(qv[i], kv, acc[i][m]);
            }
        }
        __m512 t[SB + 1];
        for (int i = 0; i < nb; i++) {
            // kite__hsum8's first add, lanes 0-3 + lanes 4-7 of each row: chunks (row 0..3), (row 4..7)
            const __m512 r03 = _mm512_add_ps(_mm512_shuffle_f32x4(acc[i][0], acc[i][1], _MM_SHUFFLE(2, 0, 2, 0)),
                                             _mm512_shuffle_f32x4(acc[i][0], acc[i][1], _MM_SHUFFLE(3, 1, 3, 1)));
            const __m512 r47 = _mm512_add_ps(_mm512_shuffle_f32x4(acc[i][2], acc[i][3], _MM_SHUFFLE(2, 0, 2, 0)),
                                             _mm512_shuffle_f32x4(acc[i][2], acc[i][3], _MM_SHUFFLE(3, 1, 3, 1)));
            // its second, lanes 0-1 + lanes 2-3: chunk c (row c: 2 sums, row c + 4: 2 sums)
            t[i] = _mm512_add_ps(
                _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(r03), _mm512_castps_pd(r47))),
                _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(r03), _mm512_castps_pd(r47))));
        }
        t[nb] = t[nb - 1]; // an odd last query pairs with itself
        for (int i = 0; i < nb; i += 2) {
            // its third, lane 0 + lane 1, for queries i and i + 1 at once
            __m512 f = _mm512_add_ps(_mm512_shuffle_ps(t[i], t[i + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                                     _mm512_shuffle_ps(t[i], t[i + 1], _MM_SHUFFLE(3, 1, 3, 1)));
            f = _mm512_permutexvar_ps(order, _mm512_mul_ps(f, sc));
            _mm256_storeu_ps(s[i] + j, _mm512_castps512_ps256(f));
            if (i + 1 < nb) _mm256_storeu_ps(s[i + 1] + j, _mm512_extractf32x8_ps(f, 1));
        }
    }
}

static void scores_f32_rows_n(int nb, const float *const *qt, float *const *s, const uint16_t *k,
                              int32_t kv_stride, int32_t j0, int32_t j1, int32_t head_dim, float scale) {
    switch (nb) {
    case 6: scores_f32_rows(6, qt, s, k, kv_stride, j0, j1, head_dim, scale); break;
    case 5: scores_f32_rows(5, qt, s, k, kv_stride, j0, j1, head_dim, scale); break;
    case 4: scores_f32_rows(4, qt, s, k, kv_stride, j0, j1, head_dim, scale); break;
    case 3: scores_f32_rows(3, qt, s, k, kv_stride, j0, j1, head_dim, scale); break;
    case 2: scores_f32_rows(2, qt, s, k, kv_stride, j0, j1, head_dim, scale); break;
    default: scores_f32_rows(1, qt, s, k, kv_stride, j0, j1, head_dim, scale); break;
    }
}

// FA_F32 scores of one query with rows j0..j1-1 (the AVX2 op's dot_f32)
static void scores_f32_one(const float *q, float *s, const uint16_t *k, int32_t kv_stride, int32_t j0, int32_t j1,
                           int32_t head_dim, float scale) {
    for (int32_t j = j0; j < j1; j++) {
        const uint16_t *kj = k + (int64_t)j * kv_stride;
        __m256 acc = _mm256_setzero_ps();
        for (int32_t d = 0; d < head_dim; d += 8)
            acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), kite__load_f16x8(kj + d), acc);
        s[j] = kite__hsum8(acc) * scale;
    }
}


// out[i] = sum over rows j < n_min of p[i][j] * v_j for queries 0..nb-1: each (query, dim) sum
// from zero with one FMA per row in row order, as the AVX2 op's value loop (lane width does not
// enter: no sum crosses lanes).
KITE_INLINE void values(int nb, const float *const *p, float *const *out, int32_t n_min, const uint16_t *v,
                        int32_t kv_stride, int32_t head_dim) {
    int32_t d = 0;
    for (; d + 64 <= head_dim; d += 64) {
        __m512 a[VB][4];
        for (int i = 0; i < nb; i++)
            for (int m = 0; m < 4; m++) a[i][m] = _mm512_setzero_ps();
        for (int32_t j = 0; j < n_min; j++) {
            const uint16_t *vj = v + (int64_t)j * kv_stride + d;
            __m512 vr[4];
            for (int m = 0; m < 4; m++) vr[m] = load_f16x16(vj + 16 * m);
            for (int i = 0; i < nb; i++) {
                const __m512 pi = _mm512_set1_ps(p[i][j]);
                for (int m = 0; m < 4; m++) a[i][m] = _mm512_fmadd_ps(pi, vr[m], a[i][m]);
            }
        }
        for (int i = 0; i < nb; i++)
            for (int m = 0; m < 4; m++) _mm512_storeu_ps(out[i] + d + 16 * m, a[i][m]);
    }
    if (d + 32 <= head_dim) {
        __m512 a0[VB], a1[VB];
        for (int i = 0; i < nb; i++) a0[i] = a1[i] = _mm512_setzero_ps();
        for (int32_t j = 0; j < n_min; j++) {
            const uint16_t *vj = v + (int64_t)j * kv_stride + d;
            const __m512 v0 = load_f16x16(vj), v1 = load_f16x16(vj + 16);
            for (int i = 0; i < nb; i++) {
                const __m512 pi = _mm512_set1_ps(p[i][j]);
                a0[i] = _mm512_fmadd_ps(pi, v0, a0[i]);
                a1[i] = _mm512_fmadd_ps(pi, v1, a1[i]);
            }
        }
        for (int i = 0; i < nb; i++) {
            _mm512_storeu_ps(out[i] + d, a0[i]);
            _mm512_storeu_ps(out[i] + d + 16, a1[i]);
        }
        d += 32;
    }
    if (d + 16 <= head_dim) {
        __m512 a0[VB];
        for (int i = 0; i < nb; i++) a0[i] = _mm512_setzero_ps();
        for (int32_t j = 0; j < n_min; j++) {
            const __m512 v0 = load_f16x16(v + (int64_t)j * kv_stride + d);
            for (int i = 0; i < nb; i++) a0[i] = _mm512_fmadd_ps(_mm512_set1_ps(p[i][j]), v0, a0[i]);
        }
        for (int i = 0; i < nb; i++) _mm512_storeu_ps(out[i] + d, a0[i]);
        d += 16;
    }
    if (d < head_dim) { // 8 dims left
        __m256 a0[VB];
        for (int i = 0; i < nb; i++) a0[i] = _mm256_setzero_ps();
        for (int32_t j = 0; j < n_min; j++) {
            const __m256 v0 = kite__load_f16x8(v + (int64_t)j * kv_stride + d);
            for (int i = 0; i < nb; i++) a0[i] = _mm256_fmadd_ps(_mm256_set1_ps(p[i][j]), v0, a0[i]);
        }
        for (int i = 0; i < nb; i++) _mm256_storeu_ps(out[i] + d, a0[i]);
    }
}

static void values_n(int nb, const float *const *p, float *const *out, int32_t n_min, const uint16_t *v,
                     int32_t kv_stride, int32_t head_dim) {
    switch (nb) {
    case 6: values(6, p, out, n_min, v, kv_stride, head_dim); break;
    case 5: values(5, p, out, n_min, v, kv_stride, head_dim); break;
    case 4: values(4, p, out, n_min, v, kv_stride, head_dim); break;
    case 3: values(3, p, out, n_min, v, kv_stride, head_dim); break;
    case 2: values(2, p, out, n_min, v, kv_stride, head_dim); break;
    default: values(1, p, out, n_min, v, kv_stride, head_dim); break;
    }
}

// kite__softmax bit for bit, its maximum taken 16 lanes at a time: the largest value is the
// same in any order (nan never wins either way: max_ps returns its second operand, the running
// maximum, when x is nan), and where +0 and -0 tie, either gives the same x - max for every x;
// then the same exp and double sum in row order, and the same products.
static void softmax(float *x, int32_t n) {
    __m512 m16 = _mm512_set1_ps(-INFINITY);
    int32_t i = 0;
    for (; i + 16 <= n; i += 16) m16 = _mm512_max_ps(_mm512_loadu_ps(x + i), m16);
    float mx = _mm512_reduce_max_ps(m16);
    for (; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    const float inv = kite__softmax_exp_sum_avx512(x, n, mx); // libm's expf in vector lanes
    const __m512 inv16 = _mm512_set1_ps(inv);
    for (i = 0; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), inv16));
    for (; i < n; i++) x[i] *= inv;
}

void kite__attend_group_avx512(const kite_attn_group *g) {
    const int32_t hd = g->head_dim, nq = g->n_q;
    if (hd % 8 != 0 || g->mode == KITE_ATTN_FA_F16) { // per query: the online softmax branches per row
        kite__attend_group_each_capped(kite__attend_head_capped_avx2, g);
        return;
    }
    const bool f32 = g->mode == KITE_ATTN_FA_F32;
    const float sc = g->softcap == 0.0f ? g->scale : 1.0f; // soft-capped: the dots, capped below
    float *s[KITE_ATTN_GROUP_MAX];
    int32_t n_min = g->n_kv[0], n_max = g->n_kv[0];
    for (int32_t i = 0; i < nq; i++) {
        s[i] = g->scores + (size_t)i * (size_t)g->scores_stride;
        n_min = g->n_kv[i] < n_min ? g->n_kv[i] : n_min;
        n_max = g->n_kv[i] > n_max ? g->n_kv[i] : n_max;
    }
    if (f32) { // see scores_f32_rows; the rows past the last whole 8 each query alone
        float qt[KITE_ATTN_GROUP_MAX][2 * KITE_ATTN_MAX_HEAD_DIM];
        const float *qp[KITE_ATTN_GROUP_MAX];
        for (int32_t i = 0; i < nq; i++) {
            for (int32_t d = 0; d < hd; d += 8) {
                const __m256 x = _mm256_loadu_ps(g->q[i] + d);
                _mm256_storeu_ps(qt[i] + 2 * d, x);
                _mm256_storeu_ps(qt[i] + 2 * d + 8, x);
            }
            qp[i] = qt[i];
        }
        const int32_t n8 = n_min & ~7;
        for (int32_t i0 = 0; i0 < nq; i0 += SB)
            scores_f32_rows_n(nq - i0 < SB ? nq - i0 : SB, qp + i0, s + i0, g->k, g->kv_stride, 0, n8, hd, sc);
        for (int32_t i = 0; i < nq; i++)
            if (g->n_kv[i] > n8) scores_f32_one(g->q[i], s[i], g->k, g->kv_stride, n8, g->n_kv[i], hd, sc);
    } else { // MATMUL: each query rounded to f16
        float qbuf[KITE_ATTN_GROUP_MAX][KITE_ATTN_MAX_HEAD_DIM];
        for (int32_t i = 0; i < nq; i++)
            for (int32_t d = 0; d < hd; d += 8)
                _mm256_storeu_ps(qbuf[i] + d, kite__round_f16x8(_mm256_loadu_ps(g->q[i] + d)));
        float kf[KITE_ATTN_MAX_HEAD_DIM];
        for (int32_t j = 0; j < n_max; j++) {
            const uint16_t *kj = g->k + (int64_t)j * g->kv_stride;
            for (int32_t d = 0; d < hd; d += 8) _mm256_storeu_ps(kf + d, kite__load_f16x8(kj + d));
            for (int32_t i = 0; i < nq; i++)
                if (j < g->n_kv[i]) s[i][j] = kite__dot_ggml_f32k_avx512(qbuf[i], kf, hd) * sc;
        }
    }
    for (int32_t i = 0; i < nq; i++) {
        if (g->softcap != 0.0f) // as kite__attend_head_capped_avx2 caps
            kite__attend_cap_scores(kite__softcap_scaled_avx512, g->mode, s[i], g->n_kv[i], g->scale, g->softcap);
        softmax(s[i], g->n_kv[i]);
        if (!f32) kite__round_f16_row_avx2(s[i], g->n_kv[i]); // MATMUL: once here rather than per use
    }
    for (int32_t i0 = 0; i0 < nq; i0 += VB)
        values_n(nq - i0 < VB ? nq - i0 : VB, (const float *const *)s + i0, g->out + i0, n_min, g->v, g->kv_stride, hd);
    for (int32_t i = 0; i < nq; i++)
        if (g->n_kv[i] > n_min)
            kite__attend_values_rest_avx2(s[i], g->out[i], n_min, g->n_kv[i], g->v, g->kv_stride, hd);
}
