// kite_kernels.h - the compute kernels' public surface: a thread pool, the matmul every layer
// calls (weights in any supported block type x f32 activations), and ISA selection.
#ifndef KITE_KERNELS_H
#define KITE_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "base/kite_base.h"
#include "base/kite_types.h"

#ifdef __cplusplus
extern "C" {
#endif

// ---- thread pool -----------------------------------------------------------------------

typedef struct kite_pool kite_pool;

// A pool of n_threads threads in all: the caller of kite_pool_run plus n_threads - 1 workers.
// Workers spin briefly between jobs (per-token dispatch costs about a microsecond), then sleep.
// Returns NULL when n_threads < 1, on allocation/thread-creation failure, or in a build
// without threads (KITE_THREADS undefined); a NULL pool is valid everywhere and means "inline".
kite_pool *kite_pool_new(int n_threads);

// Stops and joins the workers and frees the pool. NULL is a no-op. Not while a run is active.
void kite_pool_free(kite_pool *p);

// Threads of the pool (1 for NULL).
int kite_pool_size(const kite_pool *p);

// Runs fn(ctx, ith, nth) on every thread of the pool (ith = 0 is the calling thread) and
// returns when all have finished. p NULL => fn(ctx, 0, 1) inline. One run at a time per pool:
// do not call kite_pool_run on the same pool from inside fn or from two threads at once.
void kite_pool_run(kite_pool *p, void (*fn)(void *ctx, int ith, int nth), void *ctx);

// Like kite_pool_run for work that threads take from a shared counter: fn runs on the caller
// and on each worker that arrives before the caller's fn has returned; a worker that arrives
// later (descheduled on a busy machine, a slow core) skips the run instead of stalling it.
// Contract: any single call of fn must finish all work still untaken when it returns.
void kite_pool_run_shared(kite_pool *p, void (*fn)(void *ctx, int ith, int nth), void *ctx);

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
