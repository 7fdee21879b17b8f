// ops.c - plain-C ops of the forward pass (written so the compiler can vectorize the loops).
#include "model/ops.h"

#include <math.h>

#include "base/f16.h"
#include "base/internal.h"
#include "kernels/kite_kernels.h"
#include "quant/kite_quant.h"

void kite__rmsnorm(float *y, const float *x, const float *w, int32_t n, float eps) {
    double sum = 0.0;
    for (int32_t i = 0; i < n; i++) sum += (double)x[i] * x[i];
    const float scale = 1.0f / sqrtf((float)(sum / n) + eps);
    for (int32_t i = 0; i < n; i++) y[i] = x[i] * scale * w[i];
}

void kite__rope_cache(float *cs, int32_t pos, int32_t n_rot, float base, float freq_scale, float attn_factor,
                      const float *factors) {
    const float step = powf(base, -2.0f / (float)n_rot);
    float theta = (float)pos;
    // cos/sin in double, rounded once: glibc's cosf/sinf and musl's (wasm) differ in the
    // last bit for about 1% of angles, which split native and wasm greedy paths; the double
    // versions agree on both and still give llama.cpp's tokens on every shared model.
    for (int32_t i = 0; i < n_rot / 2; i++) {
        const float t = freq_scale * (factors ? theta / factors[i] : theta);
        cs[2 * i] = (float)cos((double)t) * attn_factor;
        cs[2 * i + 1] = (float)sin((double)t) * attn_factor;
        theta *= step;
    }
}

void kite__rope_apply(float *x, int32_t n_heads, int32_t head_dim, int32_t n_rot, const float *cs, bool neox) {
    const int32_t half = n_rot / 2;
    for (int32_t h = 0; h < n_heads; h++) {
        float *v = x + (int64_t)h * head_dim;
        for (int32_t i = 0; i < half; i++) {
            // neox rotates dim i with dim i + n_rot/2; normal rope rotates neighbours
            const int32_t a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
            const float c = cs[2 * i], s = cs[2 * i + 1], x0 = v[a], x1 = v[b];
            v[a] = x0 * c - x1 * s;
            v[b] = x0 * s + x1 * c;
        }
    }
}

void kite__rmsnorm_heads(float *x, int32_t n_heads, int32_t head_dim, const float *w, float eps) {
    for (int32_t h = 0; h < n_heads; h++) kite__rmsnorm(x + (int64_t)h * head_dim, x + (int64_t)h * head_dim, w, head_dim, eps);
}

float kite__gelu_ggml(float x) {
    if (x <= -10.0f) return 0.0f;
    if (x >= 10.0f) return x;
    const float h = kite__f16_round(x);
    // ggml's formula in float, its tanh taken in double and rounded once (glibc's and musl's
    // tanhf may differ in the last bit; the f16 rounding after it hides that either way)
    const float inner = 0.79788456080286535587989211986876f * h * (1.0f + 0.044715f * h * h);
    return kite__f16_round(0.5f * h * (1.0f + (float)tanh((double)inner)));
}

void kite__geglu(float *g, const float *u, int32_t n) {
    for (int32_t i = 0; i < n; i++) g[i] = kite__gelu_ggml(g[i]) * u[i];
}

void kite__softcap(float *x, int32_t n, float cap) {
    const float inv = 1.0f / cap;
    for (int32_t i = 0; i < n; i++) x[i] = cap * (float)tanh((double)(x[i] * inv));
}

void kite__moe_route(const float *logits, int32_t n_expert, int32_t k, float *probs, int32_t *ids, float *weights) {
    memcpy(probs, logits, (size_t)n_expert * sizeof(float));
    kite__softmax(probs, n_expert);
    // top-k by selection: k is small (2-8 of up to a few hundred experts)
    for (int32_t j = 0; j < k; j++) {
        int32_t best = -1;
        for (int32_t e = 0; e < n_expert; e++) {
            bool taken = false;
            for (int32_t i = 0; i < j; i++) taken |= ids[i] == e;
            if (!taken && (best < 0 || probs[e] > probs[best])) best = e;
        }
        ids[j] = best;
        weights[j] = probs[best];
    }
    double sum = 0.0;
    for (int32_t j = 0; j < k; j++) sum += weights[j];
    const float s = KITE_MAX((float)sum, 6.103515625e-5f);
    for (int32_t j = 0; j < k; j++) weights[j] /= s;
}

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

void kite__swiglu(float *g, const float *u, int32_t n) {
    for (int32_t i = 0; i < n; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

void kite__add(float *x, const float *b, int32_t n) {
    for (int32_t i = 0; i < n; i++) x[i] += b[i];
}

kite_status kite__embed_row(kite_type t, const void *data, int32_t n, int32_t row, float *out) {
    const uint64_t rb = kite_type_row_bytes(t, (uint64_t)n);
    const uint8_t *src = (const uint8_t *)data + rb * (uint64_t)row;
    if (t == KITE_TYPE_F32) {
        memcpy(out, src, (size_t)n * sizeof(float));
        return KITE_OK;
    }
    return kite_dequantize_row(t, src, out, n);
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

void kite__attend_head(kite_attn_mode mode, const float *q, const uint16_t *k, const uint16_t *v, int32_t kv_stride,
                       int32_t n_kv, int32_t head_dim, float scale, float *scores, float *out) {
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

kite_attend_fn kite__attend_select(void) {
#if defined(__x86_64__) && !defined(__EMSCRIPTEN__)
    const char *isa = kite_kernels_isa();
    if (!strcmp(isa, "avx2") || !strcmp(isa, "avx512")) return kite__attend_head_avx2;
#endif
#ifdef __wasm_simd128__
    if (strcmp(kite_kernels_isa(), "scalar") != 0) return kite__attend_head_wasm; // KITE_FORCE_SCALAR keeps the scalar op
#endif
    return kite__attend_head;
}
