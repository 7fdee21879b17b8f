// attend.h - the attention ops behind kite_kernels_attend (internal to src/kernels; the tests
// call them directly): the scalar op, its SIMD twins, and the f16 helpers they share.
#ifndef KITE_KERNELS_ATTEND_H
#define KITE_KERNELS_ATTEND_H

#include <math.h>
#include <stdint.h>

#include "kernels/kite_kernels.h"

// The scalar op (a kite_attend_fn): the specification the SIMD twins reproduce.
void kite__attend_head_ref(kite_attn_mode mode, const float *q, const uint16_t *k, const uint16_t *v,
                           int32_t kv_stride, int32_t n_kv, int32_t head_dim, float scale, float *scores,
                           float *out);

// kite__attend_head_ref with attention-logit soft-capping (gemma2): each score s becomes
// softcap * tanh(s / softcap) before the softmax, as ggml does on both of its paths; softcap 0
// is kite__attend_head_ref. The wasm group op reproduces it bit for bit with soft-capping on;
// kite__attend_head_capped_avx2 is the x86 ops' version. (Sliding windows need no op of their
// own: the caller passes the window's first cache row and its length.)
void kite__attend_head_capped(kite_attn_mode mode, const float *q, const uint16_t *k, const uint16_t *v,
                              int32_t kv_stride, int32_t n_kv, int32_t head_dim, float scale, float softcap,
                              float *scores, float *out);

// x[i] = exp(x[i] - max) / sum over n (sum in double).
void kite__softmax(float *x, int32_t n);

// q.k for an f16-valued q and an f16 k, summed in ggml's order (see attend_ref.c).
float kite__dot_f16_ggml(const float *q, const uint16_t *k, int32_t n);

// SIMD twins (compiled only where the ISA exists). Head sizes that are not a multiple of 8 go
// to the scalar op.
// AVX2 + FMA + F16C (attend_avx2.c): FMA and 8-lane sums, within 2e-3 of the scalar op.
void kite__attend_head_avx2(kite_attn_mode mode, const float *q, const uint16_t *k, const uint16_t *v,
                            int32_t kv_stride, int32_t n_kv, int32_t head_dim, float scale, float *scores,
                            float *out);
// kite__attend_head_avx2 with attention-logit soft-capping: the score of each key is formed from
// the AVX2 op's own dot product as kite__attend_head_capped forms it from the scalar one (MATMUL:
// softcap * tanh(dot * (1 / softcap)) * scale; the flash modes: softcap * tanh(dot * (scale /
// softcap))), tanh x86_tanh.h's with libm's bits; softcap 0 is kite__attend_head_avx2.
void kite__attend_head_capped_avx2(kite_attn_mode mode, const float *q, const uint16_t *k, const uint16_t *v,
                                   int32_t kv_stride, int32_t n_kv, int32_t head_dim, float scale, float softcap,
                                   float *scores, float *out);
// A single-query op with a soft-cap argument (kite__attend_head_capped, kite__attend_head_capped_avx2).
typedef void (*kite__attend_capped_fn)(kite_attn_mode mode, const float *q, const uint16_t *k, const uint16_t *v,
                                       int32_t kv_stride, int32_t n_kv, int32_t head_dim, float scale,
                                       float softcap, float *scores, float *out);
// A group query by query through one single-query op (the group ops' fallback for the cases they
// do not batch, and kite_kernels_attend_group's for the sets without a group op); g->softcap is
// not read.
void kite__attend_group_each(kite_attend_fn op, const kite_attn_group *g);
// The same through a soft-capping op, each query with g->softcap.
void kite__attend_group_each_capped(kite__attend_capped_fn op, const kite_attn_group *g);
// A set's soft-cap row op: x[i] = cap * (float)tanh((double)(x[i] * inv)) * post, libm's bits.
typedef void (*kite__softcap_row_fn)(float *x, int32_t n, float inv, float cap, float post);
// One query's dot products x[0..n) made into its soft-capped scores through the set's row op, as
// kite__attend_head_capped forms them (MATMUL: capped, then times scale; the flash modes: scale
// inside the tanh).
void kite__attend_cap_scores(kite__softcap_row_fn row, kite_attn_mode mode, float *x, int32_t n, float scale,
                             float softcap);

// The softmax's middle, shared by the SIMD group ops: x[i] = exp(x[i] - mx), summed in double in
// row order; returns 1 / sum rounded to float (each probability is then x[i] * it).
static inline float kite__softmax_exp_sum(float *x, int32_t n, float mx) {
    double sum = 0.0;
    for (int32_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    return (float)(1.0 / sum);
}

// kite_kernels_attend_group for the AVX2 op: each query gets kite__attend_head_avx2's bits.
void kite__attend_group_avx2(const kite_attn_group *g);
// The same with AVX-512 (attend_avx512.c; the avx512 and amx sets): the same bits again.
void kite__attend_group_avx512(const kite_attn_group *g);
// The avx2 / avx512 sets' kite_kernels_attend_group (attend_fa16_avx2.c, attend_fa16_avx512.c):
// FA_F16 groups (head size a multiple of 8 / 16) batched, each query's output still exactly
// kite__attend_head_avx2's; the other modes and sizes go to kite__attend_group_avx2 / _avx512.
void kite__attend_group_fa16_avx2(const kite_attn_group *g);
void kite__attend_group_fa16_avx512(const kite_attn_group *g);
// kite_kernels_f32_to_f16_row with AVX2 + F16C (f16_row_avx2.c).
void kite__f32_to_f16_row_avx2(const float *src, uint16_t *dst, int32_t n);
// wasm SIMD128 (attend_wasm.c): the scalar op's bits in every mode.
void kite__attend_head_wasm(kite_attn_mode mode, const float *q, const uint16_t *k, const uint16_t *v,
                            int32_t kv_stride, int32_t n_kv, int32_t head_dim, float scale, float *scores,
                            float *out);
// kite_kernels_attend_group for wasm (attend_wasm.c): each query gets kite__attend_head_wasm's
// bits, i.e. the scalar op's; the queries share each cache row's conversion. With g->softcap:
// kite__attend_head_capped's bits.
void kite__attend_group_wasm(const kite_attn_group *g);
// NEON (attend_neon.c): the scalar op's bits in every mode.
void kite__attend_head_neon(kite_attn_mode mode, const float *q, const uint16_t *k, const uint16_t *v,
                            int32_t kv_stride, int32_t n_kv, int32_t head_dim, float scale, float *scores,
                            float *out);
// The same with soft-capping: kite__attend_head_capped's bits (softcap 0: kite__attend_head_neon).
void kite__attend_head_capped_neon(kite_attn_mode mode, const float *q, const uint16_t *k, const uint16_t *v,
                                   int32_t kv_stride, int32_t n_kv, int32_t head_dim, float scale, float softcap,
                                   float *scores, float *out);
// kite_kernels_attend_group for NEON: each query through kite__attend_head_capped_neon with
// g->softcap, so kite__attend_head_capped's bits.
void kite__attend_group_neon(const kite_attn_group *g);

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

#endif
