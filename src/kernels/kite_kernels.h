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

// True when kite_matmul has kernels for wtype.
bool kite_matmul_supports(kite_type wtype);

// ---- ISA selection -----------------------------------------------------------------------

// Name of the kernel set in use: "scalar", "avx2", "avx512", "neon", "wasm-simd128".
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
