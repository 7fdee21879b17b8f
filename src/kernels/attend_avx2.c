// attend_avx2.c - the attention op for x86 with AVX2, FMA and F16C: the same three rounding modes
// as the scalar op in attend_ref.c, eight head dims per instruction, f16 conversions in hardware.
#include <immintrin.h>
#include <math.h>
#include <stdbool.h>

#include "kernels/attend.h"
#include "kernels/attend_x86.h"
#include "kernels/kernels_internal.h"
#include "kernels/x86_expf.h"

static inline void store_f16(uint16_t *p, __m256 v) {
    _mm_storeu_si128((__m128i *)p, _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
}

static inline float dot_ggml(const float *q, const uint16_t *k, int32_t n) {
    return kite__dot_ggml_avx2(q, k, NULL, n);
}

// plain f32 q.k (ggml's tiled flash-attention path converts k to f32 and uses its own order)
static inline float dot_f32(const float *q, const uint16_t *k, int32_t head_dim) {
    __m256 acc = _mm256_setzero_ps();
    for (int32_t d = 0; d < head_dim; d += 8)
        acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), kite__load_f16x8(k + d), acc);
    return kite__hsum8(acc);
}

void kite__attend_head_avx2(kite_attn_mode mode, const float *q, const uint16_t *k, const uint16_t *v,
                            int32_t kv_stride, int32_t n_kv, int32_t head_dim, float scale, float *scores,
                            float *out) {
    kite__attend_head_capped_avx2(mode, q, k, v, kv_stride, n_kv, head_dim, scale, 0.0f, scores, out);
}

void kite__attend_head_capped_avx2(kite_attn_mode mode, const float *q, const uint16_t *k, const uint16_t *v,
                                   int32_t kv_stride, int32_t n_kv, int32_t head_dim, float scale, float softcap,
                                   float *scores, float *out) {
    if (head_dim % 8 != 0) {
        kite__attend_head_capped(mode, q, k, v, kv_stride, n_kv, head_dim, scale, softcap, scores, out);
        return;
    }
    float qr[KITE_ATTN_MAX_HEAD_DIM];
    for (int32_t d = 0; d < head_dim; d += 8) {
        __m256 x = _mm256_loadu_ps(q + d);
        _mm256_storeu_ps(qr + d, mode == KITE_ATTN_FA_F32 ? x : kite__round_f16x8(x));
    }
    if (mode == KITE_ATTN_FA_F16) {
        // online softmax; the V accumulator lives in f16 as in ggml's flash-attention row
        uint16_t acc[KITE_ATTN_MAX_HEAD_DIM] = {0};
        float m = -INFINITY, sum = 0.0f;
        for (int32_t j = 0; j < n_kv; j++) {
            const uint16_t *kj = k + (int64_t)j * kv_stride, *vj = v + (int64_t)j * kv_stride;
            const float dot = dot_ggml(qr, kj, head_dim);
            const float s =
                softcap == 0.0f ? dot * scale : softcap * (float)tanh((double)(dot * (scale / softcap)));
            float ms = 1.0f, vs = 1.0f;
            if (s > m) {
                ms = expf(m - s);
                m = s;
                const __m256 msv = _mm256_set1_ps(ms);
                for (int32_t d = 0; d < head_dim; d += 8)
                    store_f16(acc + d, _mm256_mul_ps(kite__load_f16x8(acc + d), msv));
            } else {
                vs = expf(s - m);
            }
            // ggml's vector loop (the first head_dim & ~63 dims) fuses the multiply-add; its
            // scalar tail rounds the product first
            const __m256 vsv = _mm256_set1_ps(vs);
            int32_t d = 0;
            for (; d < (head_dim & ~63); d += 8)
                store_f16(acc + d, _mm256_fmadd_ps(kite__load_f16x8(vj + d), vsv, kite__load_f16x8(acc + d)));
            for (; d < head_dim; d += 8) {
                __m256 prod = _mm256_mul_ps(kite__load_f16x8(vj + d), vsv);
                __asm__("" : "+x"(prod)); // keeps the compiler from fusing it into an FMA
                store_f16(acc + d, _mm256_add_ps(kite__load_f16x8(acc + d), prod));
            }
            float scaled = sum * ms;
            __asm__("" : "+x"(scaled)); // unfused, as the scalar op computes it
            sum = scaled + vs;
        }
        const __m256 sv = _mm256_set1_ps(sum); // divided, as in attend_ref.c
        for (int32_t d = 0; d < head_dim; d += 8)
            _mm256_storeu_ps(out + d, _mm256_div_ps(kite__load_f16x8(acc + d), sv));
        return;
    }
    // scores, softmax, then the probability-weighted sum of values
    for (int32_t j = 0; j < n_kv; j++) {
        const uint16_t *kj = k + (int64_t)j * kv_stride;
        scores[j] = (mode == KITE_ATTN_FA_F32 ? dot_f32(qr, kj, head_dim) : dot_ggml(qr, kj, head_dim)) *
                    (softcap == 0.0f ? scale : 1.0f);
    }
    if (softcap != 0.0f) kite__attend_cap_scores(kite__softcap_scaled_avx2, mode, scores, n_kv, scale, softcap);
    kite__softmax(scores, n_kv);
    for (int32_t d = 0; d < head_dim; d += 8) _mm256_storeu_ps(out + d, _mm256_setzero_ps());
    for (int32_t j = 0; j < n_kv; j++) {
        const uint16_t *vj = v + (int64_t)j * kv_stride;
        __m256 p = _mm256_set1_ps(scores[j]);
        if (mode == KITE_ATTN_MATMUL) p = kite__round_f16x8(p);
        for (int32_t d = 0; d < head_dim; d += 8)
            _mm256_storeu_ps(out + d, _mm256_fmadd_ps(p, kite__load_f16x8(vj + d), _mm256_loadu_ps(out + d)));
    }
}

// ---- several queries per KV head (kite_kernels_attend_group) -------------------------------
// Each query's sums keep kite__attend_head_avx2's order and rounding exactly; only the loads
// and f16 conversions of the cache rows are shared.

enum { QB = 4 }; // queries whose sums share one pass over a row (their registers fit at once)

#define KITE_INLINE static inline __attribute__((always_inline))

// FA_F32 scores of queries q[0..nb-1] with rows j0..j1-1: each sum as dot_f32's.
KITE_INLINE void scores_f32(int nb, const float *const *q, float *const *s, const uint16_t *k, int32_t kv_stride,
                            int32_t j0, int32_t j1, int32_t head_dim, float scale) {
    for (int32_t j = j0; j < j1; j++) {
        const uint16_t *kj = k + (int64_t)j * kv_stride;
        __m256 acc[QB];
        for (int i = 0; i < nb; i++) acc[i] = _mm256_setzero_ps();
        for (int32_t d = 0; d < head_dim; d += 8) {
            const __m256 kd = kite__load_f16x8(kj + d);
            for (int i = 0; i < nb; i++) acc[i] = _mm256_fmadd_ps(_mm256_loadu_ps(q[i] + d), kd, acc[i]);
        }
        for (int i = 0; i < nb; i++) s[i][j] = kite__hsum8(acc[i]) * scale;
    }
}

enum { RB = 3 }; // queries per pass over 4 rows (FA_F32 scores by rows): 4 accumulators each

// FA_F32 scores of queries q[0..nb-1] with rows j0..j1-1, j1 - j0 a multiple of 4: dot_f32's
// 8-lane sums of 4 rows for each query (each row converted once for all nb), then kite__hsum8's three
// additions as vertical adds across registers, each as kite__hsum8 takes it (first operand first): 4
// rows of two queries per register.
KITE_INLINE void scores_f32_rows(int nb, const float *const *q, float *const *s, const uint16_t *k,
                                 int32_t kv_stride, int32_t j0, int32_t j1, int32_t head_dim, float scale) {
    // after the reduction: (query a row 0, row 2, b row 0, row 2 | a row 1, row 3, b row 1, row 3)
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    const __m256 sc = _mm256_set1_ps(scale);
    for (int32_t j = j0; j < j1; j += 4) {
        const uint16_t *kj = k + (int64_t)j * kv_stride;
        __m256 acc[RB][4];
        for (int i = 0; i < nb; i++)
            for (int r = 0; r < 4; r++) acc[i][r] = _mm256_setzero_ps();
        for (int32_t d = 0; d < head_dim; d += 8)
            for (int r = 0; r < 4; r++) {
                const __m256 kd = kite__load_f16x8(kj + (int64_t)r * kv_stride + d);
                for (int i = 0; i < nb; i++) acc[i][r] = _mm256_fmadd_ps(_mm256_loadu_ps(q[i] + d), kd, acc[i][r]);
            }
        __m256 t[RB + 1];
        for (int i = 0; i < nb; i++) {
            // kite__hsum8's first add, lanes 0-3 + lanes 4-7: (row 0 | row 1), (row 2 | row 3)
            const __m256 r01 = _mm256_add_ps(_mm256_permute2f128_ps(acc[i][0], acc[i][1], 0x20),
                                             _mm256_permute2f128_ps(acc[i][0], acc[i][1], 0x31));
            const __m256 r23 = _mm256_add_ps(_mm256_permute2f128_ps(acc[i][2], acc[i][3], 0x20),
                                             _mm256_permute2f128_ps(acc[i][2], acc[i][3], 0x31));
            // its second, lanes 0-1 + lanes 2-3: (row 0: 2 sums, row 2: 2 | row 1: 2, row 3: 2)
            t[i] = _mm256_add_ps(_mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(r01), _mm256_castps_pd(r23))),
                                 _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(r01), _mm256_castps_pd(r23))));
        }
        t[nb] = t[nb - 1]; // an odd last query pairs with itself
        for (int i = 0; i < nb; i += 2) {
            // its third, lane 0 + lane 1, for queries i and i + 1 at once
            __m256 f = _mm256_add_ps(_mm256_shuffle_ps(t[i], t[i + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                                     _mm256_shuffle_ps(t[i], t[i + 1], _MM_SHUFFLE(3, 1, 3, 1)));
            f = _mm256_permutevar8x32_ps(_mm256_mul_ps(f, sc), order);
            _mm_storeu_ps(s[i] + j, _mm256_castps256_ps128(f));
            if (i + 1 < nb) _mm_storeu_ps(s[i + 1] + j, _mm256_extractf128_ps(f, 1));
        }
    }
}

// dot_ggml with k already converted to floats
static inline float dot_ggml_f32k(const float *q, const float *k, int32_t n) {
    return kite__dot_ggml_avx2(q, NULL, k, n);
}

// out[i] = sum over rows j < n_min of p[i][j] * v_j for queries 0..nb-1, every (query, dim)
// summed over j in order with one FMA per row from zero, as kite__attend_head_avx2's value loop,
// each row converted once for all of them.
KITE_INLINE void values(int nb, const float *const *p, float *const *out, int32_t n_min, const uint16_t *v,
                        int32_t kv_stride, int32_t head_dim) {
    int32_t d = 0;
    for (; d + 16 <= head_dim; d += 16) {
        __m256 a0[QB], a1[QB];
        for (int i = 0; i < nb; i++) a0[i] = a1[i] = _mm256_setzero_ps();
        for (int32_t j = 0; j < n_min; j++) {
            const uint16_t *vj = v + (int64_t)j * kv_stride + d;
            const __m256 v0 = kite__load_f16x8(vj), v1 = kite__load_f16x8(vj + 8);
            for (int i = 0; i < nb; i++) {
                const __m256 pi = _mm256_broadcast_ss(p[i] + j);
                a0[i] = _mm256_fmadd_ps(pi, v0, a0[i]);
                a1[i] = _mm256_fmadd_ps(pi, v1, a1[i]);
            }
        }
        for (int i = 0; i < nb; i++) {
            _mm256_storeu_ps(out[i] + d, a0[i]);
            _mm256_storeu_ps(out[i] + d + 8, a1[i]);
        }
    }
    if (d < head_dim) { // the last 8 dims of a head size that is an odd multiple of 8
        __m256 a0[QB];
        for (int i = 0; i < nb; i++) a0[i] = _mm256_setzero_ps();
        for (int32_t j = 0; j < n_min; j++) {
            const __m256 v0 = kite__load_f16x8(v + (int64_t)j * kv_stride + d);
            for (int i = 0; i < nb; i++) a0[i] = _mm256_fmadd_ps(_mm256_broadcast_ss(p[i] + j), v0, a0[i]);
        }
        for (int i = 0; i < nb; i++) _mm256_storeu_ps(out[i] + d, a0[i]);
    }
}

// The block helpers above with a constant query count, so that their accumulators stay in registers.
static void scores_f32_rows_n(int nb, const float *const *q, float *const *s, const uint16_t *k, int32_t kv_stride,
                              int32_t j0, int32_t j1, int32_t head_dim, float scale) {
    switch (nb) {
    case 3: scores_f32_rows(3, q, s, k, kv_stride, j0, j1, head_dim, scale); break;
    case 2: scores_f32_rows(2, q, s, k, kv_stride, j0, j1, head_dim, scale); break;
    default: scores_f32_rows(1, q, s, k, kv_stride, j0, j1, head_dim, scale); break;
    }
}

static void values_n(int nb, const float *const *p, float *const *out, int32_t n_min, const uint16_t *v,
                     int32_t kv_stride, int32_t head_dim) {
    switch (nb) {
    case 4: values(4, p, out, n_min, v, kv_stride, head_dim); break;
    case 3: values(3, p, out, n_min, v, kv_stride, head_dim); break;
    case 2: values(2, p, out, n_min, v, kv_stride, head_dim); break;
    default: values(1, p, out, n_min, v, kv_stride, head_dim); break;
    }
}

// kite__softmax bit for bit, its maximum taken 8 lanes at a time: the largest value is the
// same in any order (nan never wins either way: max_ps returns its second operand, the running
// maximum, when x is nan), and where +0 and -0 tie, either gives the same x - max for every x;
// then the same exp and double sum in row order, and the same products.
static void softmax(float *x, int32_t n) {
    __m256 m8 = _mm256_set1_ps(-INFINITY);
    int32_t i = 0;
    for (; i + 8 <= n; i += 8) m8 = _mm256_max_ps(_mm256_loadu_ps(x + i), m8);
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m8), _mm256_extractf128_ps(m8, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    float mx = _mm_cvtss_f32(m4);
    for (; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    const float inv = kite__softmax_exp_sum_avx2(x, n, mx); // libm's expf in vector lanes
    const __m256 inv8 = _mm256_set1_ps(inv);
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv8));
    for (; i < n; i++) x[i] *= inv;
}

void kite__attend_group_avx2(const kite_attn_group *g) {
    const int32_t hd = g->head_dim, nq = g->n_q;
    if (hd % 8 != 0 || g->mode == KITE_ATTN_FA_F16) { // per query: the online softmax branches per row
        kite__attend_group_each_capped(kite__attend_head_capped_avx2, g);
        return;
    }
    const bool f32 = g->mode == KITE_ATTN_FA_F32;
    const float sc = g->softcap == 0.0f ? g->scale : 1.0f; // soft-capped: the dots, capped below
    float qr[KITE_ATTN_GROUP_MAX][KITE_ATTN_MAX_HEAD_DIM]; // MATMUL: q rounded to f16
    const float *q[KITE_ATTN_GROUP_MAX];
    float *s[KITE_ATTN_GROUP_MAX];
    int32_t n_min = g->n_kv[0], n_max = g->n_kv[0];
    for (int32_t i = 0; i < nq; i++) {
        s[i] = g->scores + (size_t)i * (size_t)g->scores_stride;
        n_min = g->n_kv[i] < n_min ? g->n_kv[i] : n_min;
        n_max = g->n_kv[i] > n_max ? g->n_kv[i] : n_max;
        if (f32) {
            q[i] = g->q[i];
            continue;
        }
        for (int32_t d = 0; d < hd; d += 8)
            _mm256_storeu_ps(qr[i] + d, kite__round_f16x8(_mm256_loadu_ps(g->q[i] + d)));
        q[i] = qr[i];
    }
    // scores, softmax, then the probability-weighted sum of values, as kite__attend_head_avx2
    if (f32) {
        // 4 rows at a time by scores_f32_rows, the rest each query alone
        const int32_t n4 = n_min & ~3;
        for (int32_t i0 = 0; i0 < nq; i0 += RB)
            scores_f32_rows_n(nq - i0 < RB ? nq - i0 : RB, q + i0, s + i0, g->k, g->kv_stride, 0, n4, hd, sc);
        for (int32_t i = 0; i < nq; i++)
            scores_f32(1, q + i, s + i, g->k, g->kv_stride, n4, g->n_kv[i], hd, sc);
    } else {
        float kf[KITE_ATTN_MAX_HEAD_DIM];
        for (int32_t j = 0; j < n_max; j++) {
            const uint16_t *kj = g->k + (int64_t)j * g->kv_stride;
            for (int32_t d = 0; d < hd; d += 8) _mm256_storeu_ps(kf + d, kite__load_f16x8(kj + d));
            for (int32_t i = 0; i < nq; i++)
                if (j < g->n_kv[i]) s[i][j] = dot_ggml_f32k(q[i], kf, hd) * sc;
        }
    }
    for (int32_t i = 0; i < nq; i++) {
        if (g->softcap != 0.0f)
            kite__attend_cap_scores(kite__softcap_scaled_avx2, g->mode, s[i], g->n_kv[i], g->scale, g->softcap);
        softmax(s[i], g->n_kv[i]);
        if (!f32) kite__round_f16_row_avx2(s[i], g->n_kv[i]); // MATMUL: once here rather than per use
    }
    for (int32_t i0 = 0; i0 < nq; i0 += QB)
        values_n(nq - i0 < QB ? nq - i0 : QB, (const float *const *)s + i0, g->out + i0, n_min, g->v, g->kv_stride, hd);
    for (int32_t i = 0; i < nq; i++)
        if (g->n_kv[i] > n_min)
            kite__attend_values_rest_avx2(s[i], g->out[i], n_min, g->n_kv[i], g->v, g->kv_stride, hd);
}
