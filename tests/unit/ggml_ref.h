// ggml_ref.h - loads llama.cpp's own quantizers from node-llama-cpp's libggml-base.so (dlopen),
// so tests compare our bytes with the real reference. Header-only; tests link ${CMAKE_DL_LIBS}.
#ifndef KITE_TEST_GGML_REF_H
#define KITE_TEST_GGML_REF_H

#include <stdint.h>

#include "llama_lib.h"

typedef size_t (*ggml_quantize_fn)(const float *src, void *dst, int64_t nrow, int64_t n_per_row,
                                   const float *imatrix);
typedef void (*ggml_row_fn)(const void *src, void *dst, int64_t n); // quantize_row_*_ref / dequantize_row_*

// Returns the dlopen handle of libggml-base.so, or NULL (see llama_lib_open: CI=true on x86-64
// sets *ci_fail, elsewhere the caller skips).
static inline void *ggml_ref_open(int *ci_fail) { return llama_lib_open("libggml-base.so", ci_fail); }

// A symbol of the reference library, or NULL (then the caller reports the failure).
static inline void *ggml_ref_sym(void *h, const char *name) { return llama_lib_sym(h, name); }

#endif
