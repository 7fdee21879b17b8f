// ops.h - the forward pass's small ops besides matmul: RMSNorm, RoPE, softmax, SwiGLU, the
// embedding lookup and causal attention over the F16 KV cache (internal to src/model).
#ifndef KITE_MODEL_OPS_H
#define KITE_MODEL_OPS_H

#include <stdint.h>

#include "base/kite_types.h"
#include "base/kite_base.h"
#include <math.h>

// Largest head size the attention op handles (it keeps one head on the stack).
#define KITE_ATTN_MAX_HEAD_DIM 512

// y = x / sqrt(mean(x^2) + eps) * w over n elements (sum in double, as ggml does). y may be x.
void kite__rmsnorm(float *y, const float *x, const float *w, int32_t n, float eps);

// Fills cs[0..n_rot) with interleaved (cos, sin) of pos * base^(-2i/n_rot) * freq_scale /
// factors[i] for the n_rot/2 rotation frequencies, both multiplied by attn_factor. The angle is
// stepped by repeated multiplication in float, as ggml's rope cache is, so rotations match it.
void kite__rope_cache(float *cs, int32_t pos, int32_t n_rot, float base, float freq_scale, float attn_factor,
                      const float *factors);

// Rotates the first n_rot dims of each of n_heads vectors of head_dim floats in place:
// pairs (2i, 2i+1) normally, (i, i + n_rot/2) for neox.
void kite__rope_apply(float *x, int32_t n_heads, int32_t head_dim, int32_t n_rot, const float *cs, bool neox);

// RMSNorm of each of n_heads vectors of head_dim floats in place, with the same head_dim
// weights for every head (qwen3 / gemma3 q and k norms).
void kite__rmsnorm_heads(float *x, int32_t n_heads, int32_t head_dim, const float *w, float eps);

// GELU as ggml's CPU backend computes it: the tanh approximation
// 0.5x(1 + tanh(sqrt(2/pi) x (1 + 0.044715 x^2))) looked up for x rounded to f16 and the
// result rounded to f16 (ggml's table), 0 for x <= -10 and x for x >= 10.
float kite__gelu_ggml(float x);

// g[i] = gelu(g[i]) * u[i] with kite__gelu_ggml (GeGLU).
void kite__geglu(float *g, const float *u, int32_t n);

// x[i] = cap * tanh(x[i] * (1 / cap)) (logit soft-capping as llama.cpp builds it), cap > 0.
void kite__softcap(float *x, int32_t n, float cap);

// MoE routing of one token: softmax over the n_expert router logits, the k largest
// probabilities (ids[0..k) in descending order, the lower id first on ties), their weights
// renormalised to sum 1 (the sum clamped below at 2^-14, as llama.cpp does). probs needs
// n_expert floats of scratch; logits is left unchanged.
void kite__moe_route(const float *logits, int32_t n_expert, int32_t k, float *probs, int32_t *ids, float *weights);

// x[i] = exp(x[i] - max) / sum over n (sum in double).
void kite__softmax(float *x, int32_t n);

// g[i] = silu(g[i]) * u[i].
void kite__swiglu(float *g, const float *u, int32_t n);

// x[i] += b[i].
void kite__add(float *x, const float *b, int32_t n);

// Row `row` of an embedding matrix of n-wide rows in type t, as f32.
kite_status kite__embed_row(kite_type t, const void *data, int32_t n, int32_t row, float *out);

// f16 bits -> float without a table, written as selects so that loops over rows vectorize
// (wasm SIMD128 included).
typedef union kite__fu {
    float f;
    uint32_t u;
} kite__fu;

static inline float kite__h2f(uint16_t h) {
    const uint32_t mag = h & 0x7fff;
    // normal numbers: rebias the exponent; inf / nan: exponent all ones
    const uint32_t normal = (mag << 13) + (112u << 23) + ((0u - (mag >= 0x7c00)) & (112u << 23));
    const kite__fu sub = {.f = (float)(int32_t)mag * 5.9604644775390625e-8f}; // zero / subnormal
    const uint32_t is_sub = 0u - (mag < 0x400); // all ones or zero: a select without a branch
    kite__fu r = {.u = (sub.u & is_sub) | (normal & ~is_sub)};
    r.u |= (uint32_t)(h & 0x8000) << 16;
    return r.f;
}

// x rounded to the nearest f16 value (ties to even), kept as a float: adding then subtracting
// 2^(e+13), where 2^e is x's binade (at least 2^-14, the f16 subnormal step's), leaves exactly
// the f16 precision and lets the FPU round. Magnitudes that round to 65520 or more become inf
// (nan stays nan). Selects are bit masks: floating-point ternaries would keep the loops scalar.
static inline float kite__f16_round(float x) {
    const kite__fu in = {.f = x};
    const uint32_t a = in.u & 0x7fffffffu, e = a >> 23;
    const kite__fu ax = {.u = a}, m = {.u = ((e < 113 ? 113 : e) + 13) << 23};
    const kite__fu r = {.f = (ax.f + m.f) - m.f};
    const uint32_t big = 0u - (a >= 0x477ff000u), nan = 0u - (a > 0x7f800000u);
    const uint32_t special = (a & nan) | (0x7f800000u & ~nan);
    kite__fu out = {.u = (r.u & ~big) | (special & big)};
    out.u |= in.u & 0x80000000u;
    return out.f;
}

// How attention rounds, following the ggml CPU path llama.cpp would take, so that greedy tokens
// match it even where two logits nearly tie (random-weight models have many such ties):
typedef enum kite_attn_mode {
    KITE_ATTN_MATMUL, // no flash attention: q and the softmax probabilities rounded to f16
                      // (ggml multiplies them with the f16 cache in f16 x f16 dot products)
    KITE_ATTN_FA_F16, // flash attention, ggml's per-row path: q rounded to f16, online
                      // softmax, the V accumulator kept in f16
    KITE_ATTN_FA_F32, // flash attention, ggml's tiled prefill path: all in f32
} kite_attn_mode;

// One query head against positions 0..n_kv-1 of one KV head of a layer's f16 cache:
// out = softmax(scale * q.k_j) . v_j, rounded as `mode` says. kv_stride is the elements between
// cache rows; scores needs n_kv floats.
void kite__attend_head(kite_attn_mode mode, const float *q, const uint16_t *k, const uint16_t *v, int32_t kv_stride,
                       int32_t n_kv, int32_t head_dim, float scale, float *scores, float *out);

// kite__attend_head with attention-logit soft-capping (gemma2): each score s becomes
// softcap * tanh(s / softcap) before the softmax, as ggml does on both of its paths; softcap 0
// is kite__attend_head. (Sliding windows need no op of their own: the caller passes the
// window's first cache row and its length.)
void kite__attend_head_capped(kite_attn_mode mode, const float *q, const uint16_t *k, const uint16_t *v,
                              int32_t kv_stride, int32_t n_kv, int32_t head_dim, float scale, float softcap,
                              float *scores, float *out);

// q.k for an f16-valued q and an f16 k, summed in ggml's order (see ops.c).
float kite__dot_f16_ggml(const float *q, const uint16_t *k, int32_t n);

typedef void (*kite_attend_fn)(kite_attn_mode mode, const float *q, const uint16_t *k, const uint16_t *v,
                               int32_t kv_stride, int32_t n_kv, int32_t head_dim, float scale, float *scores,
                               float *out);

#if defined(__x86_64__) && !defined(__EMSCRIPTEN__)
// The same with AVX2 + FMA + F16C (attn_avx2.c); falls back to the scalar op for head sizes
// that are not a multiple of 8.
void kite__attend_head_avx2(kite_attn_mode mode, const float *q, const uint16_t *k, const uint16_t *v,
                            int32_t kv_stride, int32_t n_kv, int32_t head_dim, float scale, float *scores,
                            float *out);
#endif

#ifdef __wasm_simd128__
// The same with wasm SIMD128 (attn_wasm.c), bit for bit in every mode; head sizes that are not
// a multiple of 8 go to the scalar op.
void kite__attend_head_wasm(kite_attn_mode mode, const float *q, const uint16_t *k, const uint16_t *v,
                            int32_t kv_stride, int32_t n_kv, int32_t head_dim, float scale, float *scores,
                            float *out);
#endif

// The attention op for this host: the AVX2 one when the kernels run an x86 SIMD set (so
// KITE_FORCE_SCALAR=1 selects the scalar op here too), else the scalar one.
kite_attend_fn kite__attend_select(void);

#endif
