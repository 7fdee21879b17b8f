// kite_quant.h - block quantization: the scalar _ref quantizers/dequantizers (the specification,
// byte-exact with ggml's) and the row API the file-level quantizer builds on.
#ifndef KITE_QUANT_H
#define KITE_QUANT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/kite_base.h"
#include "base/kite_types.h"
#include "blocks/kite_blocks.h"

#ifdef __cplusplus
extern "C" {
#endif

// ---- row API (validates its parameters: safe on hostile sizes) ------------------------

// True when kite_quantize_rows can produce type t (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1,
// Q8_0, Q2_K..Q6_K, IQ4_NL, IQ4_XS, TQ1_0, TQ2_0, MXFP4, IQ3_XXS, IQ3_S, IQ2_S, IQ1_M; IQ2_XXS,
// IQ2_XS, IQ1_S with an importance matrix only).
bool kite_quant_can_quantize(kite_type t);

// True when type t can only be produced with an importance matrix (IQ2_XXS, IQ2_XS, IQ1_S: ggml
// refuses them without one); kite_quantize_rows then fails with KITE_ERR_INVALID.
bool kite_quant_needs_imatrix(kite_type t);

// True when kite_dequantize_row can read type t (the above plus Q8_K, IQ2_XXS, IQ2_XS, IQ2_S,
// IQ3_XXS, IQ3_S, IQ1_S, IQ1_M, TQ1_0, TQ2_0, MXFP4).
bool kite_quant_can_dequantize(kite_type t);

// Quantizes nrows rows of n_per_row floats (src, row-major) into dst, which must hold
// nrows * kite_type_row_bytes(t, n_per_row) bytes. Writes the same bytes as ggml's
// ggml_quantize_chunk / quantize_<type>(src, dst, nrows, n_per_row, imatrix = NULL), i.e. what
// llama-quantize writes without an importance matrix.
// Errors: KITE_ERR_UNSUPPORTED for a type it cannot produce; KITE_ERR_INVALID when n_per_row is
// not a multiple of the block size, a count is negative or overflows, or (block types only) an
// input value is NaN or infinite. The message names the type and row length. dst may be partly
// written on error.
kite_status kite_quantize_rows(kite_type t, const float *src, void *dst, int64_t nrows, int64_t n_per_row);

// As kite_quantize_rows, with an importance matrix: imatrix holds n_per_row weights, one per
// column (llama-imatrix's mean squared activation), shared by every row. Writes the same bytes
// as ggml_quantize_chunk(type, src, dst, 0, nrows, n_per_row, imatrix); imatrix = NULL is
// kite_quantize_rows. Types whose ggml quantizer ignores the weights (F32, F16, BF16, Q8_0)
// ignore them too. Extra error: KITE_ERR_INVALID when an imatrix value is NaN or infinite.
kite_status kite_quantize_rows_imatrix(kite_type t, const float *src, void *dst, int64_t nrows, int64_t n_per_row,
                                       const float *imatrix);

// Dequantizes n elements (a whole number of blocks) of type t at src into dst; bit-exact with
// ggml's dequantize_row_<type> (ggml_fp16_to_fp32_row / ggml_bf16_to_fp32_row for F16 / BF16).
// Errors: KITE_ERR_UNSUPPORTED for an unknown type, KITE_ERR_INVALID when n is negative or not
// a multiple of the block size.
kite_status kite_dequantize_row(kite_type t, const void *src, float *dst, int64_t n);

// ---- reference quantizers (scalar, the specification) ---------------------------------
// n is the element count and must be a multiple of the block size (32, or QK_K = 256); these
// are internal building blocks, so that is a programmer invariant (KITE_ASSERT), and inputs are
// assumed finite. Each gives the same bytes as ggml's quantize_<type>(..., imatrix = NULL)
// applied to n/n_per_row rows (every block is quantized on its own, so the row split does not
// matter). Where that differs from ggml's quantize_row_<type>_ref, the comment says so.

// The activation formats (Q8_0, Q8_1, Q8_K) are in blocks/kite_blocks.h.
// Legacy 32-value formats: one scale (and min) per block from the block's extremes.
void kite_quantize_row_q4_0_ref(const float *x, block_q4_0 *y, int64_t n);
void kite_quantize_row_q4_1_ref(const float *x, block_q4_1 *y, int64_t n);
void kite_quantize_row_q5_0_ref(const float *x, block_q5_0 *y, int64_t n);
void kite_quantize_row_q5_1_ref(const float *x, block_q5_1 *y, int64_t n);

// k-quants: 256-value super-blocks with quantized sub-block scales (searched, not just amax).
void kite_quantize_row_q2_K_ref(const float *x, block_q2_K *y, int64_t n);
void kite_quantize_row_q3_K_ref(const float *x, block_q3_K *y, int64_t n);
void kite_quantize_row_q4_K_ref(const float *x, block_q4_K *y, int64_t n);
void kite_quantize_row_q5_K_ref(const float *x, block_q5_K *y, int64_t n);
void kite_quantize_row_q6_K_ref(const float *x, block_q6_K *y, int64_t n);

// Non-linear 4-bit. Both follow quantize_iq4_nl / quantize_iq4_xs (the file path, which tries
// 15 scales per block); ggml's quantize_row_iq4_nl_ref tries none and gives other bytes.
void kite_quantize_row_iq4_nl_ref(const float *x, block_iq4_nl *y, int64_t n);
void kite_quantize_row_iq4_xs_ref(const float *x, block_iq4_xs *y, int64_t n);

// With an importance matrix: one row of n_per_row values (a multiple of the block size) and
// its n_per_row column weights qw (finite, not NULL), as ggml's quantize_row_<type>_impl with
// quant_weights. The legacy formats and the k-quants weigh each value by
// qw * sqrt(sigma2 + x^2) (sigma2 from the row, resp. the super-block), pick block scales with
// weighted searches and the k-quants' sub-block scales on weighted grids; Q6_K uses qw as is.
void kite_quantize_row_q4_0_w_ref(const float *x, block_q4_0 *y, int64_t n_per_row, const float *qw);
void kite_quantize_row_q4_1_w_ref(const float *x, block_q4_1 *y, int64_t n_per_row, const float *qw);
void kite_quantize_row_q5_0_w_ref(const float *x, block_q5_0 *y, int64_t n_per_row, const float *qw);
void kite_quantize_row_q5_1_w_ref(const float *x, block_q5_1 *y, int64_t n_per_row, const float *qw);
void kite_quantize_row_q2_K_w_ref(const float *x, block_q2_K *y, int64_t n_per_row, const float *qw);
void kite_quantize_row_q3_K_w_ref(const float *x, block_q3_K *y, int64_t n_per_row, const float *qw);
void kite_quantize_row_q4_K_w_ref(const float *x, block_q4_K *y, int64_t n_per_row, const float *qw);
void kite_quantize_row_q5_K_w_ref(const float *x, block_q5_K *y, int64_t n_per_row, const float *qw);
void kite_quantize_row_q6_K_w_ref(const float *x, block_q6_K *y, int64_t n_per_row, const float *qw);
void kite_quantize_row_iq4_nl_w_ref(const float *x, block_iq4_nl *y, int64_t n_per_row, const float *qw);
void kite_quantize_row_iq4_xs_w_ref(const float *x, block_iq4_xs *y, int64_t n_per_row, const float *qw);

// The IQ2 grid formats, which need the weights (ggml asserts them): per 8 values a point of
// a 3-level grid and a sign pattern, scales searched per 32 (IQ2_XXS) or 16 (IQ2_XS) values.
// Return false where ggml would abort (a point left off the grid; not seen with finite inputs
// and weights >= 0), with y partly written.
bool kite_quantize_row_iq2_xxs_w_ref(const float *x, block_iq2_xxs *y, int64_t n_per_row, const float *qw);
bool kite_quantize_row_iq2_xs_w_ref(const float *x, block_iq2_xs *y, int64_t n_per_row, const float *qw);
// IQ2_S: 10-bit grid indices and explicit signs; with weights, or without (then 0.25 sigma2 + x^2).
bool kite_quantize_row_iq2_s_ref(const float *x, block_iq2_s *y, int64_t n);
bool kite_quantize_row_iq2_s_w_ref(const float *x, block_iq2_s *y, int64_t n_per_row, const float *qw);

// IQ3_XXS / IQ3_S: per 4 values a point of an 8-level grid, scales per 32; with weights qw or
// (the _ref ones) without, as ggml's quantize_iq3_xxs / quantize_iq3_s. False as above.
bool kite_quantize_row_iq3_xxs_ref(const float *x, block_iq3_xxs *y, int64_t n);
bool kite_quantize_row_iq3_s_ref(const float *x, block_iq3_s *y, int64_t n);
bool kite_quantize_row_iq3_xxs_w_ref(const float *x, block_iq3_xxs *y, int64_t n_per_row, const float *qw);
bool kite_quantize_row_iq3_s_w_ref(const float *x, block_iq3_s *y, int64_t n_per_row, const float *qw);

// IQ1_S (weights required) / IQ1_M (optional: x^2 without): per 8 values a point of the -1/0/1
// grid and a shift of +-1/8; the three-way split of each block found exactly. False as above.
bool kite_quantize_row_iq1_s_w_ref(const float *x, block_iq1_s *y, int64_t n_per_row, const float *qw);
bool kite_quantize_row_iq1_m_ref(const float *x, block_iq1_m *y, int64_t n);
bool kite_quantize_row_iq1_m_w_ref(const float *x, block_iq1_m *y, int64_t n_per_row, const float *qw);

// Ternary and microscaled: TQ1_0 / TQ2_0 store round(x / amax) in -1..1 (5 trits per byte /
// 2 bits); MXFP4 the nearest E2M1 level under 2^(floor(log2 amax) - 2). Same bytes as ggml's
// quantize_row_<type>_ref, which its file path uses too (no importance matrix).
void kite_quantize_row_tq1_0_ref(const float *x, block_tq1_0 *y, int64_t n);
void kite_quantize_row_tq2_0_ref(const float *x, block_tq2_0 *y, int64_t n);
void kite_quantize_row_mxfp4_ref(const float *x, block_mxfp4 *y, int64_t n);

// Plain types: round to nearest even (base/kite_f16.h), as ggml_fp32_to_fp16_row / _bf16_row_ref.
void kite_quantize_row_f16_ref(const float *x, kite_f16 *y, int64_t n);
void kite_quantize_row_bf16_ref(const float *x, kite_bf16 *y, int64_t n);

// ---- reference dequantizers: bit-exact with ggml's dequantize_row_<type> ----------------
void kite_dequantize_row_q4_0_ref(const block_q4_0 *x, float *y, int64_t n);
void kite_dequantize_row_q4_1_ref(const block_q4_1 *x, float *y, int64_t n);
void kite_dequantize_row_q5_0_ref(const block_q5_0 *x, float *y, int64_t n);
void kite_dequantize_row_q5_1_ref(const block_q5_1 *x, float *y, int64_t n);
void kite_dequantize_row_q8_0_ref(const block_q8_0 *x, float *y, int64_t n);
void kite_dequantize_row_q2_K_ref(const block_q2_K *x, float *y, int64_t n);
void kite_dequantize_row_q3_K_ref(const block_q3_K *x, float *y, int64_t n);
void kite_dequantize_row_q4_K_ref(const block_q4_K *x, float *y, int64_t n);
void kite_dequantize_row_q5_K_ref(const block_q5_K *x, float *y, int64_t n);
void kite_dequantize_row_q6_K_ref(const block_q6_K *x, float *y, int64_t n);
void kite_dequantize_row_q8_K_ref(const block_q8_K *x, float *y, int64_t n);
void kite_dequantize_row_iq4_nl_ref(const block_iq4_nl *x, float *y, int64_t n);
void kite_dequantize_row_iq4_xs_ref(const block_iq4_xs *x, float *y, int64_t n);
void kite_dequantize_row_iq2_xxs_ref(const block_iq2_xxs *x, float *y, int64_t n);
void kite_dequantize_row_iq2_xs_ref(const block_iq2_xs *x, float *y, int64_t n);
void kite_dequantize_row_iq2_s_ref(const block_iq2_s *x, float *y, int64_t n);
void kite_dequantize_row_iq3_xxs_ref(const block_iq3_xxs *x, float *y, int64_t n);
void kite_dequantize_row_iq3_s_ref(const block_iq3_s *x, float *y, int64_t n);
void kite_dequantize_row_iq1_s_ref(const block_iq1_s *x, float *y, int64_t n);
void kite_dequantize_row_iq1_m_ref(const block_iq1_m *x, float *y, int64_t n);
void kite_dequantize_row_tq1_0_ref(const block_tq1_0 *x, float *y, int64_t n);
void kite_dequantize_row_tq2_0_ref(const block_tq2_0 *x, float *y, int64_t n);
void kite_dequantize_row_mxfp4_ref(const block_mxfp4 *x, float *y, int64_t n);
void kite_dequantize_row_f16_ref(const kite_f16 *x, float *y, int64_t n);
void kite_dequantize_row_bf16_ref(const kite_bf16 *x, float *y, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
