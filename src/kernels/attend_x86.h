// attend_x86.h - the sums the x86 attention ops share (attend_avx2.c, attend_avx512.c and the
// FA_F16 group ops attend_fa16_avx2.c / _avx512.c): the 8-lane horizontal sum and ggml's
// f16 dot-product order, so that each op gives kite__attend_head_avx2's bits. Include only from
// files compiled with AVX2 + FMA + F16C (the AVX-512 sums with AVX-512F/DQ too).
#ifndef KITE_ATTEND_X86_H
#define KITE_ATTEND_X86_H

#include <immintrin.h>
#include <stdint.h>

// 8 halves at p as floats.
static inline __m256 kite__load_f16x8(const uint16_t *p) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

// v's lanes rounded to f16 and back (F16C rounds to nearest even: kite__f16_round's bits).
static inline __m256 kite__round_f16x8(__m256 v) {
    return _mm256_cvtph_ps(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
}

// x[j] rounded to f16 and back for j < n (the MATMUL mode's probabilities, once per row).
static inline void kite__round_f16_row_avx2(float *x, int32_t n) {
    int32_t j = 0;
    for (; j + 8 <= n; j += 8) _mm256_storeu_ps(x + j, kite__round_f16x8(_mm256_loadu_ps(x + j)));
    for (; j < n; j++) x[j] = _cvtsh_ss(_cvtss_sh(x[j], _MM_FROUND_TO_NEAREST_INT));
}

// out += the terms p[j] * v_j of rows j0..j1-1 for one query: kite__attend_head_avx2's value sums
// (8 dims per register, one FMA per row, in row order) continued from out; head_dim a multiple of 8.
static inline void kite__attend_values_rest_avx2(const float *p, float *out, int32_t j0, int32_t j1, const uint16_t *v,
                                                 int32_t kv_stride, int32_t head_dim) {
    for (int32_t d = 0; d < head_dim; d += 8) {
        __m256 acc = _mm256_loadu_ps(out + d);
        for (int32_t j = j0; j < j1; j++)
            acc = _mm256_fmadd_ps(_mm256_broadcast_ss(p + j), kite__load_f16x8(v + (int64_t)j * kv_stride + d), acc);
        _mm256_storeu_ps(out + d, acc);
    }
}

// The 8 lanes of v summed as ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)): the AVX2 op's
// reduction order, which every x86 score follows.
static inline float kite__hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// q.k in ggml_vec_dot_f16's order (see kite__dot_f16_ggml): 4 sums of 16 lanes, here each as
// two 8-lane registers; products of f16 values are exact, so FMA or not gives the same sums.
// k is f16 (k16) or already converted to floats (kf, the same values: the same sums).
static inline __attribute__((always_inline)) float kite__dot_ggml_avx2(const float *q, const uint16_t *k16,
                                                                       const float *kf, int32_t n) {
    const int32_t np = n & ~63;
    double sum = 0.0;
    if (np > 0) {
        __m256 a[8];
        for (int j = 0; j < 8; j++) a[j] = _mm256_setzero_ps();
        for (int32_t i = 0; i < np; i += 64)
            for (int j = 0; j < 8; j++)
                a[j] = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8 * j),
                                       k16 ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k16 + i + 8 * j)))
                                           : _mm256_loadu_ps(kf + i + 8 * j),
                                       a[j]);
        for (int j = 0; j < 4; j++) a[j] = _mm256_add_ps(a[j], a[j + 4]); // sum0 += sum2, sum1 += sum3
        a[0] = _mm256_add_ps(a[0], a[2]);                                  // sum0 += sum1 (low lanes)
        a[1] = _mm256_add_ps(a[1], a[3]);                                  // (high lanes)
        sum = (double)kite__hsum8(_mm256_add_ps(a[0], a[1]));              // 16 lanes -> 1
    }
    for (int32_t i = np; i < n; i++) sum += (double)(q[i] * (k16 ? _cvtsh_ss(k16[i]) : kf[i]));
    return (float)sum;
}

#if defined(__AVX512F__) && defined(__AVX512DQ__)
// kite__dot_ggml_avx2 on k converted to floats, in 16-lane registers: its register pairs a[2m],
// a[2m + 1] are the two halves of the 16-lane sum m here, added in the same order.
static inline float kite__dot_ggml_f32k_avx512(const float *q, const float *k, int32_t n) {
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
        sum = (double)kite__hsum8(_mm256_add_ps(_mm512_castps512_ps256(a[0]), _mm512_extractf32x8_ps(a[0], 1)));
    }
    for (int32_t i = np; i < n; i++) sum += (double)(q[i] * k[i]);
    return (float)sum;
}
#endif

#endif
