// kite_kernels.h - the compute kernels' public surface: the matmul every layer calls (weights in
// any supported block type x f32 activations, split over a kite_pool's threads) and ISA selection.
#ifndef KITE_KERNELS_H
#define KITE_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "base/kite_base.h"
#include "base/kite_pool.h"
#include "base/kite_types.h"

#ifdef __cplusplus
extern "C" {
#endif

// ---- matmul ----------------------------------------------------------------------------

// Scratch bytes kite_matmul needs for these shapes (activations quantized to the weight
// type's partner format, plus alignment slack). 0 for an unsupported type.
size_t kite_matmul_scratch_size(kite_type wtype, int64_t n_in, int64_t n_tok);

// y[t*n_out + o] = sum_i W[o][i] * x[t*n_in + i] for t < n_tok, o < n_out.
// W is n_out rows of n_in elements stored in wtype exactly as in a GGUF file (row o starts at
// o * kite_type_row_bytes(wtype, n_in)). The activations are converted once per call to the
// partner format ggml uses for that weight type (Q8_0 for Q4_0/Q5_0/Q8_0/IQ4_NL, Q8_1 for
// Q4_1/Q5_1, Q8_K for the k-quants and IQ4_XS, F16 for F16, BF16 for BF16, none for F32), so
// results track llama.cpp's. n_tok == 1 is the decode GEMV; n_tok > 1 runs a GEMM that reuses
// each weight block across several tokens. Rows are split over the pool's threads.
// scratch: at least kite_matmul_scratch_size(...) bytes, any alignment; may be NULL, then the
// call allocates (slower: keep a scratch buffer per context). y must not alias x or scratch.
// Returns KITE_ERR_UNSUPPORTED for a type without kernels, KITE_ERR_INVALID for bad shapes
// (n_in not a multiple of the block size, negative sizes, scratch too small).
kite_status kite_matmul(kite_pool *pool, kite_type wtype, const void *w, int64_t n_in, int64_t n_out,
                        const float *x, int64_t n_tok, float *y, void *scratch, size_t scratch_size);

// Weight layouts kite_matmul_layout reads:
//   KITE_LAYOUT_ROWS: as in a GGUF file (kite_matmul's W).
//   KITE_LAYOUT_X8:   made by kite_matmul_repack_x8 for a type kite_matmul_x8_type accepts: each
//                     group of 8 rows (rows 8g..8g+7, the same bytes as those rows in the row
//                     layout) interleaved block by block so a GEMV decodes 8 rows from one
//                     stream; the last n_out % 8 rows stay in the row layout.
typedef enum kite_weight_layout { KITE_LAYOUT_ROWS = 0, KITE_LAYOUT_X8 = 1 } kite_weight_layout;

// As kite_matmul, with W in `layout` (the same results, bit for bit, in either layout).
kite_status kite_matmul_layout(kite_pool *pool, kite_type wtype, kite_weight_layout layout, const void *w,
                               int64_t n_in, int64_t n_out, const float *x, int64_t n_tok, float *y, void *scratch,
                               size_t scratch_size);

// Most matrices one kite_matmul_parts call takes.
#define KITE_MATMUL_PARTS_MAX 4

// One matrix of a kite_matmul_parts call: n_out rows of wtype in `layout` (as kite_matmul_layout's
// W); row t of its product goes to y + t * y_stride (y_stride >= n_out floats).
typedef struct kite_matmul_part {
    kite_type wtype;
    kite_weight_layout layout;
    const void *w;
    int64_t n_out;
    float *y;
    int64_t y_stride;
} kite_matmul_part;

// Called by whichever thread finished them once rows [r0, r1) of `part`'s product (part -1:
// of every part, in a lockstep call) are final for every token; calls for distinct ranges may
// run at once on different threads.
typedef void (*kite_matmul_done)(void *user, int part, int64_t r0, int64_t r1);

// The products of x (n_tok rows of n_in) with n_parts (1..KITE_MATMUL_PARTS_MAX) matrices, in one
// pool run: x is converted once and the threads take chunks of rows of any part, so a layer's
// q, k and v (or gate and up) cost one dispatch. Each part's results are kite_matmul_layout's,
// bit for bit, at any thread count. lockstep: the parts have equal n_out and a chunk is the
// same rows of each (done sees both halves of gate and up together). done (may be NULL) runs on
// each chunk's rows after they are computed. Parts whose types take different activation
// formats run one call each (done then sees each part, or each lockstep range, whole). scratch
// as kite_matmul's for parts[0]'s type; errors as kite_matmul_layout's, KITE_ERR_INVALID for a
// bad part count or lockstep parts of unequal n_out.
kite_status kite_matmul_parts(kite_pool *pool, const kite_matmul_part *parts, int n_parts, bool lockstep, int64_t n_in,
                              const float *x, int64_t n_tok, kite_matmul_done done, void *user, void *scratch,
                              size_t scratch_size);

// True when wtype has an X8 layout (Q4_K, Q5_K, Q6_K, Q8_0, IQ4_XS, Q4_0, IQ4_NL, Q5_0, Q4_1,
// Q5_1, IQ3_XXS, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_S, IQ1_S, IQ1_M, Q3_K, Q2_K; n_in a multiple of its
// block, 256 or 32).
bool kite_matmul_x8_type(kite_type wtype);

// True when the kernel set in use decodes wtype from the X8 layout directly (the x86 sets: Q4_K,
// Q5_K, Q6_K, Q8_0, IQ4_XS, Q2_K, Q4_0, IQ4_NL, Q5_0, Q4_1, Q5_1; wasm: those and IQ3_XXS,
// IQ2_XXS, IQ2_XS, IQ2_S, IQ3_S, IQ1_S, IQ1_M, Q3_K); elsewhere an X8 matrix still works, read
// back into rows per tile.
bool kite_matmul_prefers_x8(kite_type wtype);

// Writes the n_out x n_in matrix src (row layout) to dst in the X8 layout (the same size);
// dst may be src. KITE_ERR_UNSUPPORTED for a type without an X8 layout, KITE_ERR_INVALID for a
// bad shape, KITE_ERR_NOMEM when the group buffer cannot be allocated.
kite_status kite_matmul_repack_x8(kite_type wtype, const void *src, void *dst, int64_t n_in, int64_t n_out);

// Row r (0 <= r < n_out) of the n_out x n_in X8 matrix w, in the row layout, into dst (the row's
// kite_type_row_bytes): an embedding lookup in a repacked matrix. KITE_ERR_UNSUPPORTED for a type
// without an X8 layout, KITE_ERR_INVALID for a bad shape or row.
kite_status kite_matmul_x8_row(kite_type wtype, const void *w, int64_t n_in, int64_t n_out, int64_t r, void *dst);

// True when kite_matmul has kernels for wtype.
bool kite_matmul_supports(kite_type wtype);

// The activation (partner) format kite_matmul converts x to for weight type wtype, as ggml's
// vec_dot_type: Q8_0, Q8_1, Q8_K, F16, BF16 or F32; KITE_TYPE_COUNT when wtype has no kernels.
kite_type kite_matmul_act_type(kite_type wtype);

// ---- attention ---------------------------------------------------------------------------

// Largest head size the attention op handles (it keeps one head on the stack).
#define KITE_ATTN_MAX_HEAD_DIM 512

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
// out = softmax(scale * q.k_j) . v_j, rounded as `mode` says. k and v point at the head's first
// cache row, kv_stride is the elements between cache rows, head_dim <= KITE_ATTN_MAX_HEAD_DIM,
// n_kv >= 1; scores is scratch of n_kv floats; out gets head_dim floats (not aliasing q).
typedef void (*kite_attend_fn)(kite_attn_mode mode, const float *q, const uint16_t *k, const uint16_t *v,
                               int32_t kv_stride, int32_t n_kv, int32_t head_dim, float scale, float *scores,
                               float *out);

// The attention op of the kernel set in use (see kite_kernels_isa; KITE_FORCE_SCALAR=1 selects
// the scalar op). Never NULL. The NEON and wasm ops give the scalar op's bits in every mode; the
// AVX2 op (x86 sets) sums with FMA and 8-lane partial sums, so its results may differ from the
// scalar op's in the last bits.
kite_attend_fn kite_kernels_attend(void);

// dst[i] = kite_f32_to_f16(src[i]) for i < n, bit for bit (nan included: sign | 0x7e00), with
// F16C where the kernel set in use has it (the KV cache's writes).
void kite_kernels_f32_to_f16_row(const float *src, uint16_t *dst, int32_t n);

// Several query heads against one KV head at once, each with exactly the bits kite_kernels_attend's
// op gives it alone (the x86 and wasm sets load and convert each cache row once for the whole group).
// Query i sees rows 0..n_kv[i]-1 of the head whose first cache row k and v point at; q[i] and
// out[i] (head_dim floats each, not aliasing) are its input and output; scores is scratch of
// n_q * scores_stride floats, scores_stride >= every n_kv[i] >= 1; 1 <= n_q <= KITE_ATTN_GROUP_MAX.
#define KITE_ATTN_GROUP_MAX 8
typedef struct kite_attn_group {
    kite_attn_mode mode;
    int32_t n_q, head_dim, kv_stride, scores_stride;
    float scale;
    // attention-logit soft-capping (gemma2), 0 = off: each score becomes softcap * tanh(s /
    // softcap) before the softmax, as kite__attend_head_capped (attend.h) forms it. The x86, wasm
    // and NEON sets' group ops cap in vector lanes with libm's tanh bits (x86: on the AVX2 op's
    // dots; wasm, NEON: the scalar op's bits); the scalar set runs kite__attend_head_capped query
    // by query.
    float softcap;
    const uint16_t *k, *v;
    const float *q[KITE_ATTN_GROUP_MAX];
    float *out[KITE_ATTN_GROUP_MAX];
    int32_t n_kv[KITE_ATTN_GROUP_MAX];
    float *scores;
} kite_attn_group;
void kite_kernels_attend_group(const kite_attn_group *g);

// ---- gated activations -------------------------------------------------------------------

// The SwiGLU gate of a feed-forward row: g[i] = g[i] / (1 + expf(-g[i])) * u[i] for i < n, each
// operation rounded to float in that order, with libm's expf (glibc natively, musl in wasm): the
// same bits in every kernel set (the wasm and NEON sets take 4 lanes at a time, the x86 sets 8 /
// 16). g and u hold n floats.
void kite_kernels_swiglu(float *g, const float *u, int32_t n);

// The GeGLU gate of a feed-forward row with ggml's tabulated GELU: for i < n, with x = g[i], y =
// x <= -10 ? 0 : x >= 10 ? x : tab[kite_f32_to_f16(x)] (nan: the index sign | 0x7e00), then g[i]
// = y * u[i]. tab holds 65536 floats, the GELU of every f16 bit pattern (the caller's; model/ops.c
// makes it). The same bits in every kernel set (the x86 sets take 8 / 16 lanes at a time).
void kite_kernels_geglu(float *g, const float *u, int32_t n, const float *tab);

// ---- soft-capping ------------------------------------------------------------------------

// Logit soft-capping (gemma2's and gemma3's output): with inv = 1.0f / cap, x[i] = cap *
// (float)tanh((double)(x[i] * inv)) for i < n, the products rounded to float and tanh libm's: the
// same bits in every kernel set (the x86 sets take 8 / 16 lanes at a time, the wasm and NEON sets
// 4). cap > 0.
void kite_kernels_softcap(float *x, int32_t n, float cap);

// ---- RMS norm ----------------------------------------------------------------------------

// RMS norm of `rows` rows of n floats with the same n weights w: for each r < rows, y[r][i] =
// x[r][i] * scale * w[i] with scale = 1.0f / sqrtf((float)(sum / n) + eps), sum the row's
// (double)x * x added in element order in double (ggml's bits). The same bits in every kernel set
// (the x86 and NEON sets take up to 16 rows at once, the wasm sets 8, each in a vector lane). y[r]
// may be x[r]; otherwise no y row overlaps any x row.
void kite_kernels_rmsnorm_rows(float *const *y, const float *const *x, const float *w, int32_t n, int32_t rows,
                               float eps);

// ---- ISA selection -----------------------------------------------------------------------

// Name of the kernel set in use: "scalar", "avx2", "avxvnni", "avx512", "amx", "neon", "wasm-simd128".
// Chosen once on first use: the best the CPU and OS support; KITE_FORCE_SCALAR=1 in the
// environment forces "scalar".
const char *kite_kernels_isa(void);

// Number of kernel sets this host can run (always >= 1: "scalar" is index 0), and the name
// of set i (NULL when out of range). For tests and benchmarks.
int kite_kernels_isa_count(void);
const char *kite_kernels_isa_name(int i);

// Makes the named set the one in use for the whole process (tests and benchmarks only: not
// while other threads run matmuls). Returns KITE_ERR_UNSUPPORTED when the host cannot run it.
kite_status kite_kernels_set_isa(const char *name);

#ifdef __cplusplus
}
#endif
#endif
