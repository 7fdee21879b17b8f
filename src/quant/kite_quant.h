// kite_quant.h - block quantization: the scalar _ref quantizers/dequantizers (the specification,
// byte-exact with ggml's) and the row API the file-level quantizer and the kernels build on.
#ifndef KITE_QUANT_H
#define KITE_QUANT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/kite_base.h"
#include "base/kite_types.h"
#include "quant/blocks.h"

#ifdef __cplusplus
extern "C" {
#endif

// ---- activation formats (quantize the f32 operand of a dot product) -------------------
// n is the element count and must be a multiple of the block size (32, or 256 for Q8_K);
// these are internal building blocks, so that is a programmer invariant (KITE_ASSERT).

// Q8_0: per 32 values d = amax/127, q = round(x/d). Same bytes as ggml's quantize_row_q8_0_ref.
void kite_quantize_row_q8_0_ref(const float *x, block_q8_0 *y, int64_t n);

// Q8_1: as Q8_0 plus s = d * sum(q). Same bytes as ggml's quantize_row_q8_1_ref.
void kite_quantize_row_q8_1_ref(const float *x, block_q8_1 *y, int64_t n);

// Q8_K: per 256 values d = max/-127 (f32, signed), q = nearest(x/d) clamped to 127, bsums over
// each 16. Same bytes as ggml's quantize_row_q8_K_ref (an all-zero block gets bsums = 0, where
// ggml leaves them unwritten).
void kite_quantize_row_q8_K_ref(const float *x, block_q8_K *y, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
