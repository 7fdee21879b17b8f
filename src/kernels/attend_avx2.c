// attend_avx2.c - the attention op for x86 with AVX2, FMA and F16C: the same three rounding modes
// as the scalar op in attend_ref.c, eight head dims per instruction, f16 conversions in hardware.
#include <immintrin.h>
#include <math.h>

#include "kernels/attend.h"

static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline __m256 load_f16(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }
static inline void store_f16(uint16_t *p, __m256 v) {
    _mm_storeu_si128((__m128i *)p, _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
}
// x rounded to f16 and back
static inline __m256 round_f16(__m256 v) { return _mm256_cvtph_ps(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT)); }

// q.k in ggml_vec_dot_f16's order (see kite__dot_f16_ggml): 4 sums of 16 lanes, here each as
// two 8-lane registers; products of f16 values are exact, so FMA or not gives the same sums.
static inline float dot_ggml(const float *q, const uint16_t *k, int32_t n) {
    const int32_t np = n & ~63;
    double sum = 0.0;
    if (np > 0) {
        __m256 a[8];
        for (int j = 0; j < 8; j++) a[j] = _mm256_setzero_ps();
        for (int32_t i = 0; i < np; i += 64)
            for (int j = 0; j < 8; j++)
                a[j] = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8 * j), load_f16(k + i + 8 * j), a[j]);
        for (int j = 0; j < 4; j++) a[j] = _mm256_add_ps(a[j], a[j + 4]); // sum0 += sum2, sum1 += sum3
        a[0] = _mm256_add_ps(a[0], a[2]);                                  // sum0 += sum1 (low lanes)
        a[1] = _mm256_add_ps(a[1], a[3]);                                  // (high lanes)
        sum = (double)hsum(_mm256_add_ps(a[0], a[1]));                     // 16 lanes -> 1
    }
    for (int32_t i = np; i < n; i++) sum += (double)(q[i] * _cvtsh_ss(k[i]));
    return (float)sum;
}

// plain f32 q.k (ggml's tiled flash-attention path converts k to f32 and uses its own order)
static inline float dot_f32(const float *q, const uint16_t *k, int32_t head_dim) {
    __m256 acc = _mm256_setzero_ps();
    for (int32_t d = 0; d < head_dim; d += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), load_f16(k + d), acc);
    return hsum(acc);
}

void kite__attend_head_avx2(kite_attn_mode mode, const float *q, const uint16_t *k, const uint16_t *v,
                            int32_t kv_stride, int32_t n_kv, int32_t head_dim, float scale, float *scores,
                            float *out) {
    if (head_dim % 8 != 0) {
        kite__attend_head_ref(mode, q, k, v, kv_stride, n_kv, head_dim, scale, scores, out);
        return;
    }
    float qr[KITE_ATTN_MAX_HEAD_DIM];
    for (int32_t d = 0; d < head_dim; d += 8) {
        __m256 x = _mm256_loadu_ps(q + d);
        _mm256_storeu_ps(qr + d, mode == KITE_ATTN_FA_F32 ? x : round_f16(x));
    }
    if (mode == KITE_ATTN_FA_F16) {
        // online softmax; the V accumulator lives in f16 as in ggml's flash-attention row
        uint16_t acc[KITE_ATTN_MAX_HEAD_DIM] = {0};
        float m = -INFINITY, sum = 0.0f;
        for (int32_t j = 0; j < n_kv; j++) {
            const uint16_t *kj = k + (int64_t)j * kv_stride, *vj = v + (int64_t)j * kv_stride;
            const float s = dot_ggml(qr, kj, head_dim) * scale;
            float ms = 1.0f, vs = 1.0f;
            if (s > m) {
                ms = expf(m - s);
                m = s;
                const __m256 msv = _mm256_set1_ps(ms);
                for (int32_t d = 0; d < head_dim; d += 8) store_f16(acc + d, _mm256_mul_ps(load_f16(acc + d), msv));
            } else {
                vs = expf(s - m);
            }
            // ggml's vector loop (the first head_dim & ~63 dims) fuses the multiply-add; its
            // scalar tail rounds the product first
            const __m256 vsv = _mm256_set1_ps(vs);
            int32_t d = 0;
            for (; d < (head_dim & ~63); d += 8)
                store_f16(acc + d, _mm256_fmadd_ps(load_f16(vj + d), vsv, load_f16(acc + d)));
            for (; d < head_dim; d += 8) {
                __m256 prod = _mm256_mul_ps(load_f16(vj + d), vsv);
                __asm__("" : "+x"(prod)); // keeps the compiler from fusing it into an FMA
                store_f16(acc + d, _mm256_add_ps(load_f16(acc + d), prod));
            }
            float scaled = sum * ms;
            __asm__("" : "+x"(scaled)); // unfused, as the scalar op computes it
            sum = scaled + vs;
        }
        const __m256 sv = _mm256_set1_ps(sum); // divided, as in attend_ref.c
        for (int32_t d = 0; d < head_dim; d += 8) _mm256_storeu_ps(out + d, _mm256_div_ps(load_f16(acc + d), sv));
        return;
    }
    // scores, softmax, then the probability-weighted sum of values
    for (int32_t j = 0; j < n_kv; j++) {
        const uint16_t *kj = k + (int64_t)j * kv_stride;
        scores[j] = (mode == KITE_ATTN_FA_F32 ? dot_f32(qr, kj, head_dim) : dot_ggml(qr, kj, head_dim)) * scale;
    }
    kite__softmax(scores, n_kv);
    for (int32_t d = 0; d < head_dim; d += 8) _mm256_storeu_ps(out + d, _mm256_setzero_ps());
    for (int32_t j = 0; j < n_kv; j++) {
        const uint16_t *vj = v + (int64_t)j * kv_stride;
        __m256 p = _mm256_set1_ps(scores[j]);
        if (mode == KITE_ATTN_MATMUL) p = round_f16(p);
        for (int32_t d = 0; d < head_dim; d += 8)
            _mm256_storeu_ps(out + d, _mm256_fmadd_ps(p, load_f16(vj + d), _mm256_loadu_ps(out + d)));
    }
}
