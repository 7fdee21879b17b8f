// attend_ref.c - the scalar attention op (the specification every SIMD twin reproduces): causal
// attention of one query head over an f16 KV cache, rounded as ggml's CPU paths round, with the
// soft-capped variant (gemma2) it is built on.
#include "kernels/attend.h"

#include <math.h>
#include <stdbool.h>

void kite__softmax(float *x, int32_t n) {
    float mx = -INFINITY;
    for (int32_t i = 0; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    double sum = 0.0;
    for (int32_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    const float inv = (float)(1.0 / sum);
    for (int32_t i = 0; i < n; i++) x[i] *= inv;
}

// q.k where q holds f16 values (as floats) and k is f16, summed in the order of ggml's
// ggml_vec_dot_f16 in its AVX-512 build: 64-element steps into 4 x 16 lane sums, reduced
// pairwise, then the tail added one by one in double. Each product of two f16 values is exact
// in float, so the sums alone decide the rounding; matching their order makes near-tied greedy
// choices come out as llama.cpp's do.
float kite__dot_f16_ggml(const float *q, const uint16_t *k, int32_t n) {
    const int32_t np = n & ~63;
    double sum = 0.0;
    if (np > 0) {
        float acc[64] = {0}; // sum j (of 4), lane l (of 16) at 16 * j + l
        for (int32_t i = 0; i < np; i += 64)
            for (int t = 0; t < 64; t++) acc[t] += q[i + t] * kite__h2f(k[i + t]);
        float r[16], h[8];
        for (int l = 0; l < 16; l++) r[l] = (acc[l] + acc[32 + l]) + (acc[16 + l] + acc[48 + l]);
        for (int l = 0; l < 8; l++) h[l] = r[l] + r[l + 8];
        for (int l = 0; l < 4; l++) h[l] = h[l] + h[l + 4];
        sum = (double)((h[0] + h[2]) + (h[1] + h[3]));
    }
    for (int32_t i = np; i < n; i++) sum += (double)(q[i] * kite__h2f(k[i]));
    return (float)sum;
}

// ggml's flash-attention row: online softmax over the keys, the V sum accumulated in f16
// (here: floats that always hold f16 values).
static void attend_fa_f16(const float *q16, const uint16_t *k, const uint16_t *v, int32_t kv_stride, int32_t n_kv,
                          int32_t head_dim, float scale, float softcap, float *out) {
    float acc[KITE_ATTN_MAX_HEAD_DIM];
    for (int32_t d = 0; d < head_dim; d++) acc[d] = 0.0f;
    float m = -INFINITY, sum = 0.0f;
    for (int32_t j = 0; j < n_kv; j++) {
        const uint16_t *kj = k + (int64_t)j * kv_stride, *vj = v + (int64_t)j * kv_stride;
        float s = kite__dot_f16_ggml(q16, kj, head_dim);
        s = softcap == 0.0f ? s * scale : softcap * (float)tanh((double)(s * (scale / softcap)));
        float ms = 1.0f, vs = 1.0f; // rescale of the old sum, weight of this value
        if (s > m) {
            ms = expf(m - s);
            m = s;
            for (int32_t d = 0; d < head_dim; d++) acc[d] = kite__f16_round(acc[d] * ms);
        } else {
            vs = expf(s - m);
        }
        for (int32_t d = 0; d < head_dim; d++) acc[d] = kite__f16_round(acc[d] + kite__h2f(vj[d]) * vs);
        sum = sum * ms + vs;
    }
    // a division, not a multiply by 1/sum: only this agrees with llama.cpp's results bit for bit
    // (greedy ids of rand-llama-spm-Q4_0 with flash attention, stories260K's perplexity)
    for (int32_t d = 0; d < head_dim; d++) out[d] = acc[d] / sum;
}

void kite__attend_head_ref(kite_attn_mode mode, const float *q, const uint16_t *k, const uint16_t *v,
                           int32_t kv_stride, int32_t n_kv, int32_t head_dim, float scale, float *scores,
                           float *out) {
    kite__attend_head_capped(mode, q, k, v, kv_stride, n_kv, head_dim, scale, 0.0f, scores, out);
}

void kite__attend_head_capped(kite_attn_mode mode, const float *q, const uint16_t *k, const uint16_t *v,
                              int32_t kv_stride, int32_t n_kv, int32_t head_dim, float scale, float softcap,
                              float *scores, float *out) {
    float qr[KITE_ATTN_MAX_HEAD_DIM];
    for (int32_t d = 0; d < head_dim; d++) qr[d] = mode == KITE_ATTN_FA_F32 ? q[d] : kite__f16_round(q[d]);
    if (mode == KITE_ATTN_FA_F16) {
        attend_fa_f16(qr, k, v, kv_stride, n_kv, head_dim, scale, softcap, out);
        return;
    }
    // scores: scaled dot products with every cached key
    for (int32_t j = 0; j < n_kv; j++) {
        const uint16_t *kj = k + (int64_t)j * kv_stride;
        float dot;
        if (mode == KITE_ATTN_FA_F32) {
            dot = 0.0f;
            for (int32_t d = 0; d < head_dim; d++) dot += qr[d] * kite__h2f(kj[d]);
        } else {
            dot = kite__dot_f16_ggml(qr, kj, head_dim);
        }
        // soft-cap: ggml's matmul path caps the raw product, its flash path the scaled one with
        // the scale divided by the cap; equal for gemma2, whose scale is 1
        if (softcap == 0.0f)
            scores[j] = dot * scale;
        else if (mode == KITE_ATTN_MATMUL)
            scores[j] = softcap * (float)tanh((double)(dot * (1.0f / softcap))) * scale;
        else
            scores[j] = softcap * (float)tanh((double)(dot * (scale / softcap)));
    }
    kite__softmax(scores, n_kv);
    // weighted sum of values
    const bool round_p = mode == KITE_ATTN_MATMUL;
    for (int32_t d = 0; d < head_dim; d++) out[d] = 0.0f;
    for (int32_t j = 0; j < n_kv; j++) {
        const uint16_t *vj = v + (int64_t)j * kv_stride;
        const float p = round_p ? kite__f16_round(scores[j]) : scores[j];
        for (int32_t d = 0; d < head_dim; d++) out[d] += p * kite__h2f(vj[d]);
    }
}
