// ops.c - plain-C ops of the forward pass (written so the compiler can vectorize the loops).
#include "model/ops.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "base/kite_f16.h"
#include "base/internal.h"
#include "kernels/kite_kernels.h"
#include "quant/kite_quant.h"

void kite__rmsnorm(float *y, const float *x, const float *w, int32_t n, float eps) {
    kite_kernels_rmsnorm_rows(&y, &x, w, n, 1, eps);
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
    kite__rmsnorm_heads_rows(x, 0, 1, n_heads, head_dim, w, eps);
}

void kite__rmsnorm_heads_rows(float *x, size_t stride, int32_t n, int32_t n_heads, int32_t head_dim, const float *w,
                              float eps) {
    enum { CHUNK = 16 }; // heads per kernel call, of one token or several
    float *y[CHUNK];
    int32_t m = 0;
    for (int32_t t = 0; t < n; t++)
        for (int32_t h = 0; h < n_heads; h++) {
            y[m++] = x + (size_t)t * stride + (size_t)h * (size_t)head_dim;
            if (m == CHUNK) kite_kernels_rmsnorm_rows(y, (const float *const *)y, w, head_dim, m, eps), m = 0;
        }
    if (m) kite_kernels_rmsnorm_rows(y, (const float *const *)y, w, head_dim, m, eps);
}

// GELU of an f16 value h: ggml's formula in float, its tanh taken in double and rounded once
// (glibc's and musl's tanhf may differ in the last bit; the f16 rounding after it hides that
// either way), the result rounded to f16.
static float gelu_of_f16(float h) {
    const float inner = 0.79788456080286535587989211986876f * h * (1.0f + 0.044715f * h * h);
    return kite__f16_round(0.5f * h * (1.0f + (float)tanh((double)inner)));
}

// ggml's table: gelu_of_f16 for every f16 bit pattern (256 KiB), made on first use; threads
// that race each make one and the first published wins (the others free theirs).
static _Atomic(float *) gelu_table;

static const float *gelu_lut(void) {
    float *t = atomic_load_explicit(&gelu_table, memory_order_acquire);
    if (t) return t;
    float *mine = malloc(65536 * sizeof *mine);
    if (!mine) return NULL;
    for (uint32_t b = 0; b < 65536; b++) mine[b] = gelu_of_f16(kite_f16_to_f32((kite_f16)b));
    float *none = NULL;
    if (atomic_compare_exchange_strong_explicit(&gelu_table, &none, mine, memory_order_acq_rel, memory_order_acquire))
        return mine;
    free(mine);
    return none; // the table another thread published
}

float kite__gelu_ggml(float x) {
    if (x <= -10.0f) return 0.0f;
    if (x >= 10.0f) return x;
    const float *t = gelu_lut();
    return t ? t[kite_f32_to_f16(x)] : gelu_of_f16(kite__f16_round(x));
}

void kite__geglu(float *g, const float *u, int32_t n) {
    const float *t = gelu_lut();
    if (t) {
        kite_kernels_geglu(g, u, n, t);
        return;
    }
    for (int32_t i = 0; i < n; i++) { // no table (out of memory): each value's GELU computed
        const float x = g[i];
        const float y = x <= -10.0f ? 0.0f : x >= 10.0f ? x : gelu_of_f16(kite__f16_round(x));
        g[i] = y * u[i];
    }
}

void kite__softcap(float *x, int32_t n, float cap) { kite_kernels_softcap(x, n, cap); }

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

void kite__swiglu(float *g, const float *u, int32_t n) { kite_kernels_swiglu(g, u, n); }

void kite__add(float *x, const float *b, int32_t n) {
    for (int32_t i = 0; i < n; i++) x[i] += b[i];
}

kite_status kite__embed_row(kite_type t, kite_weight_layout layout, const void *data, int32_t n, int32_t n_rows,
                            int32_t row, float *out) {
    const uint64_t rb = kite_type_row_bytes(t, (uint64_t)n);
    if (layout == KITE_LAYOUT_X8) { // the row read back into the row layout first
        uint8_t *tmp = malloc((size_t)rb);
        if (!tmp) return kite__fail(KITE_ERR_NOMEM, "embedding: out of memory");
        kite_status s = kite_matmul_x8_row(t, data, n, n_rows, row, tmp);
        if (s == KITE_OK) s = kite_dequantize_row(t, tmp, out, n);
        free(tmp);
        return s;
    }
    const uint8_t *src = (const uint8_t *)data + rb * (uint64_t)row;
    if (t == KITE_TYPE_F32) {
        memcpy(out, src, (size_t)n * sizeof(float));
        return KITE_OK;
    }
    return kite_dequantize_row(t, src, out, n);
}
