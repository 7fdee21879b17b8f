// ops.h - the forward pass's small ops besides matmul: RMSNorm, RoPE, GELU/SwiGLU, soft-capping,
// MoE routing, the embedding lookup (internal to src/model). Attention and softmax are kernels
// (kernels/attend.h; the op of the kernel set in use: kite_kernels_attend).
#ifndef KITE_MODEL_OPS_H
#define KITE_MODEL_OPS_H

#include <stdint.h>

#include "base/kite_types.h"
#include "base/kite_base.h"
#include "kernels/attend.h"
#include "kernels/kite_kernels.h"
#include <math.h>

// y = x / sqrt(mean(x^2) + eps) * w over n elements (sum in double, as ggml does). y may be x.
// One row of kite_kernels_rmsnorm_rows (its bits).
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
// weights for every head (qwen3 / gemma3 q and k norms): kite_kernels_rmsnorm_rows, the heads in
// its lanes.
void kite__rmsnorm_heads(float *x, int32_t n_heads, int32_t head_dim, const float *w, float eps);
// The same for n tokens' heads, token t's at x + t * stride (floats), 16 heads (of one token or
// several) per kernel call.
void kite__rmsnorm_heads_rows(float *x, size_t stride, int32_t n, int32_t n_heads, int32_t head_dim, const float *w,
                              float eps);

// GELU as ggml's CPU backend computes it: the tanh approximation
// 0.5x(1 + tanh(sqrt(2/pi) x (1 + 0.044715 x^2))) looked up for x rounded to f16 and the
// result rounded to f16 (ggml's table), 0 for x <= -10 and x for x >= 10.
float kite__gelu_ggml(float x);

// g[i] = gelu(g[i]) * u[i] with kite__gelu_ggml (GeGLU): kite_kernels_geglu on its table (the same
// bits in every kernel set; the x86 sets take 8 / 16 lanes at a time).
void kite__geglu(float *g, const float *u, int32_t n);

// x[i] = cap * tanh(x[i] * (1 / cap)) (logit soft-capping as llama.cpp builds it), cap > 0:
// kite_kernels_softcap (the same bits in every kernel set).
void kite__softcap(float *x, int32_t n, float cap);

// MoE routing of one token: softmax over the n_expert router logits, the k largest
// probabilities (ids[0..k) in descending order, the lower id first on ties), their weights
// renormalised to sum 1 (the sum clamped below at 2^-14, as llama.cpp does). probs needs
// n_expert floats of scratch; logits is left unchanged.
void kite__moe_route(const float *logits, int32_t n_expert, int32_t k, float *probs, int32_t *ids, float *weights);

// g[i] = silu(g[i]) * u[i]: kite_kernels_swiglu (the same bits in every kernel set).
void kite__swiglu(float *g, const float *u, int32_t n);

// x[i] += b[i].
void kite__add(float *x, const float *b, int32_t n);

// Row `row` of an embedding matrix of n_rows rows of n elements in type t and `layout` (X8: a
// repacked tied output head), as f32.
kite_status kite__embed_row(kite_type t, kite_weight_layout layout, const void *data, int32_t n, int32_t n_rows,
                            int32_t row, float *out);

#endif
