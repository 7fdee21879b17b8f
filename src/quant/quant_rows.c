// quant_rows.c - the row API: validates sizes and dispatches each type to its quantizer (the
// searching ones on the active search set of quant_search.h, the same bytes as _ref) or
// dequantizer.
#include "quant/kite_quant.h"

#include <math.h>

#include "base/internal.h"
#include "quant/quant_search.h"

// Runs type t's quantizer on n elements and returns true, or returns false when t cannot be
// produced. With n = 0 nothing is touched, which is how kite_quant_can_quantize asks.
static bool quantize_any(kite_type t, const float *x, void *y, int64_t n) {
    switch (t) {
    case KITE_TYPE_F32: if (n) memcpy(y, x, (size_t)n * sizeof(float)); return true;
    case KITE_TYPE_F16: kite_quantize_row_f16_ref(x, y, n); return true;
    case KITE_TYPE_BF16: kite_quantize_row_bf16_ref(x, y, n); return true;
    case KITE_TYPE_Q4_0: kite_quantize_row_q4_0_ref(x, y, n); return true;
    case KITE_TYPE_Q4_1: kite_quantize_row_q4_1_ref(x, y, n); return true;
    case KITE_TYPE_Q5_0: kite_quantize_row_q5_0_ref(x, y, n); return true;
    case KITE_TYPE_Q5_1: kite_quantize_row_q5_1_ref(x, y, n); return true;
    case KITE_TYPE_Q8_0: if (n) kite__quant_search_active()->q8_0(x, y, n); return true;
    case KITE_TYPE_Q2_K: if (n) kite__quantize_row_q2_K_with(x, y, n, kite__quant_search_active()); return true;
    case KITE_TYPE_Q3_K: if (n) kite__quantize_row_q3_K_with(x, y, n, kite__quant_search_active()); return true;
    case KITE_TYPE_Q4_K: if (n) kite__quantize_row_q4_K_with(x, y, n, kite__quant_search_active()); return true;
    case KITE_TYPE_Q5_K: if (n) kite__quantize_row_q5_K_with(x, y, n, kite__quant_search_active()); return true;
    case KITE_TYPE_Q6_K: if (n) kite__quantize_row_q6_K_with(x, y, n, kite__quant_search_active()); return true;
    case KITE_TYPE_IQ4_NL: if (n) kite__quantize_row_iq4_nl_with(x, y, n, NULL, kite__quant_search_active()); return true;
    case KITE_TYPE_IQ4_XS: if (n) kite__quantize_row_iq4_xs_with(x, y, n, NULL, kite__quant_search_active()); return true;
    case KITE_TYPE_TQ1_0: kite_quantize_row_tq1_0_ref(x, y, n); return true;
    case KITE_TYPE_TQ2_0: kite_quantize_row_tq2_0_ref(x, y, n); return true;
    case KITE_TYPE_MXFP4: kite_quantize_row_mxfp4_ref(x, y, n); return true;
    // Q8_K/Q8_1 are activation formats: never written to files (ggml_quantize_chunk has no case)
    default: return false;
    }
}

// Same contract for dequantizers.
static bool dequantize_any(kite_type t, const void *x, float *y, int64_t n) {
    switch (t) {
    case KITE_TYPE_F32: if (n) memcpy(y, x, (size_t)n * sizeof(float)); return true;
    case KITE_TYPE_F16: if (n) kite__quant_search_active()->f16_to_f32(x, y, n); return true;
    case KITE_TYPE_BF16: kite_dequantize_row_bf16_ref(x, y, n); return true;
    case KITE_TYPE_Q4_0: kite_dequantize_row_q4_0_ref(x, y, n); return true;
    case KITE_TYPE_Q4_1: kite_dequantize_row_q4_1_ref(x, y, n); return true;
    case KITE_TYPE_Q5_0: kite_dequantize_row_q5_0_ref(x, y, n); return true;
    case KITE_TYPE_Q5_1: kite_dequantize_row_q5_1_ref(x, y, n); return true;
    case KITE_TYPE_Q8_0: kite_dequantize_row_q8_0_ref(x, y, n); return true;
    case KITE_TYPE_Q2_K: kite_dequantize_row_q2_K_ref(x, y, n); return true;
    case KITE_TYPE_Q3_K: kite_dequantize_row_q3_K_ref(x, y, n); return true;
    case KITE_TYPE_Q4_K: kite_dequantize_row_q4_K_ref(x, y, n); return true;
    case KITE_TYPE_Q5_K: kite_dequantize_row_q5_K_ref(x, y, n); return true;
    case KITE_TYPE_Q6_K: kite_dequantize_row_q6_K_ref(x, y, n); return true;
    case KITE_TYPE_Q8_K: kite_dequantize_row_q8_K_ref(x, y, n); return true;
    case KITE_TYPE_IQ4_NL: kite_dequantize_row_iq4_nl_ref(x, y, n); return true;
    case KITE_TYPE_IQ4_XS: kite_dequantize_row_iq4_xs_ref(x, y, n); return true;
    case KITE_TYPE_IQ2_XXS: kite_dequantize_row_iq2_xxs_ref(x, y, n); return true;
    case KITE_TYPE_IQ2_XS: kite_dequantize_row_iq2_xs_ref(x, y, n); return true;
    case KITE_TYPE_IQ2_S: kite_dequantize_row_iq2_s_ref(x, y, n); return true;
    case KITE_TYPE_IQ3_XXS: kite_dequantize_row_iq3_xxs_ref(x, y, n); return true;
    case KITE_TYPE_IQ3_S: kite_dequantize_row_iq3_s_ref(x, y, n); return true;
    case KITE_TYPE_IQ1_S: kite_dequantize_row_iq1_s_ref(x, y, n); return true;
    case KITE_TYPE_IQ1_M: kite_dequantize_row_iq1_m_ref(x, y, n); return true;
    case KITE_TYPE_TQ1_0: kite_dequantize_row_tq1_0_ref(x, y, n); return true;
    case KITE_TYPE_TQ2_0: kite_dequantize_row_tq2_0_ref(x, y, n); return true;
    case KITE_TYPE_MXFP4: kite_dequantize_row_mxfp4_ref(x, y, n); return true;
    default: return false;
    }
}

// One row of n_per_row values with column weights qw: true when type t takes weights (then the
// row is written; x = NULL only asks), false when its quantizer ignores them (the caller then
// uses quantize_any).
static bool quantize_weighted(kite_type t, const float *x, void *y, int64_t n_per_row, const float *qw, bool *failed) {
    switch (t) {
    case KITE_TYPE_IQ2_XXS: if (x && !kite__quantize_row_iq2_xxs_w_with(x, y, n_per_row, qw, kite__quant_search_active())) *failed = true; return true;
    case KITE_TYPE_IQ2_XS: if (x && !kite__quantize_row_iq2_xs_w_with(x, y, n_per_row, qw, kite__quant_search_active())) *failed = true; return true;
    case KITE_TYPE_IQ1_S: if (x && !kite__quantize_row_iq1_s_w_with(x, y, n_per_row, qw, kite__quant_search_active())) *failed = true; return true;
    case KITE_TYPE_IQ1_M: if (x && !kite__quantize_row_iq1_m_w_with(x, y, n_per_row, qw, kite__quant_search_active())) *failed = true; return true;
    case KITE_TYPE_IQ2_S: if (x && !kite__quantize_row_iq2_s_w_with(x, y, n_per_row, qw, kite__quant_search_active())) *failed = true; return true;
    case KITE_TYPE_IQ3_XXS: if (x && !kite__quantize_row_iq3_xxs_w_with(x, y, n_per_row, qw, kite__quant_search_active())) *failed = true; return true;
    case KITE_TYPE_IQ3_S: if (x && !kite__quantize_row_iq3_s_w_with(x, y, n_per_row, qw, kite__quant_search_active())) *failed = true; return true;
    case KITE_TYPE_Q4_0: if (x) kite__quantize_row_q4_0_w_with(x, y, n_per_row, qw, kite__quant_search_active()); return true;
    case KITE_TYPE_Q4_1: if (x) kite__quantize_row_q4_1_w_with(x, y, n_per_row, qw, kite__quant_search_active()); return true;
    case KITE_TYPE_Q5_0: if (x) kite__quantize_row_q5_0_w_with(x, y, n_per_row, qw, kite__quant_search_active()); return true;
    case KITE_TYPE_Q5_1: if (x) kite__quantize_row_q5_1_w_with(x, y, n_per_row, qw, kite__quant_search_active()); return true;
    case KITE_TYPE_Q2_K: if (x) kite__quantize_row_q2_K_w_with(x, y, n_per_row, qw, kite__quant_search_active()); return true;
    case KITE_TYPE_Q3_K: if (x) kite__quantize_row_q3_K_w_with(x, y, n_per_row, qw, kite__quant_search_active()); return true;
    case KITE_TYPE_Q4_K: if (x) kite__quantize_row_q4_K_w_with(x, y, n_per_row, qw, kite__quant_search_active()); return true;
    case KITE_TYPE_Q5_K: if (x) kite__quantize_row_q5_K_w_with(x, y, n_per_row, qw, kite__quant_search_active()); return true;
    case KITE_TYPE_Q6_K: if (x) kite__quantize_row_q6_K_w_with(x, y, n_per_row, qw, kite__quant_search_active()); return true;
    case KITE_TYPE_IQ4_NL: if (x) kite__quantize_row_iq4_nl_with(x, y, n_per_row, qw, kite__quant_search_active()); return true;
    case KITE_TYPE_IQ4_XS: if (x) kite__quantize_row_iq4_xs_with(x, y, n_per_row, qw, kite__quant_search_active()); return true;
    default: return false;
    }
}

// Types ggml quantizes only with an importance matrix.
static bool needs_weights(kite_type t) { return t == KITE_TYPE_IQ2_XXS || t == KITE_TYPE_IQ2_XS || t == KITE_TYPE_IQ1_S; }

// Grid types whose quantizer takes weights = NULL (then x^2): only the weighted entry point.
static bool weights_optional(kite_type t) {
    return t == KITE_TYPE_IQ3_XXS || t == KITE_TYPE_IQ3_S || t == KITE_TYPE_IQ2_S || t == KITE_TYPE_IQ1_M;
}

bool kite_quant_can_quantize(kite_type t) { return quantize_any(t, NULL, NULL, 0) || needs_weights(t) || weights_optional(t); }

bool kite_quant_needs_imatrix(kite_type t) { return needs_weights(t); }

bool kite_quant_can_dequantize(kite_type t) { return dequantize_any(t, NULL, NULL, 0); }

// True when no value is NaN or infinite (exponent all ones), branch-free so it vectorizes: the
// check runs over every value quantized.
static bool all_finite(const float *x, int64_t n) {
    uint32_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t b;
        memcpy(&b, x + i, sizeof b);
        bad |= (uint32_t)((b & 0x7f800000u) == 0x7f800000u);
    }
    return !bad;
}

kite_status kite_quantize_rows(kite_type t, const float *src, void *dst, int64_t nrows, int64_t n_per_row) {
    return kite_quantize_rows_imatrix(t, src, dst, nrows, n_per_row, NULL);
}

kite_status kite_quantize_rows_imatrix(kite_type t, const float *src, void *dst, int64_t nrows, int64_t n_per_row,
                                       const float *imatrix) {
    const kite_type_traits *tr = kite_type_get((uint32_t)t);
    if (!tr || !kite_quant_can_quantize(t))
        return kite__fail(KITE_ERR_UNSUPPORTED, "quantize: cannot produce type %s (%d) (rows of %lld)",
                          kite_type_name((uint32_t)t), (int)t, (long long)n_per_row);
    if (nrows < 0 || n_per_row < 0 || n_per_row % tr->block_size != 0)
        return kite__fail(KITE_ERR_INVALID, "quantize %s: row length %lld is not a multiple of the block size %u (rows %lld)",
                          tr->name, (long long)n_per_row, tr->block_size, (long long)nrows);
    if (n_per_row != 0 && nrows > INT64_MAX / 4 / n_per_row)
        return kite__fail(KITE_ERR_INVALID, "quantize %s: %lld rows of %lld elements overflow", tr->name,
                          (long long)nrows, (long long)n_per_row);
    const int64_t n = nrows * n_per_row;
    if (tr->quantized && !all_finite(src, n)) {
        // NaN/inf would make ggml's scales NaN and its casts undefined: refuse them with a
        // message that locates the value, rather than write a silently broken tensor.
        for (int64_t i = 0; i < n; i++) {
            if (!isfinite(src[i]))
                return kite__fail(KITE_ERR_INVALID, "quantize %s: row %lld (length %lld) element %lld is %s", tr->name,
                                  (long long)(i / n_per_row), (long long)n_per_row, (long long)(i % n_per_row),
                                  isnan(src[i]) ? "NaN" : "infinite");
        }
    }
    if (imatrix && tr->quantized && nrows > 0)
        for (int64_t i = 0; i < n_per_row; i++)
            if (!isfinite(imatrix[i]))
                return kite__fail(KITE_ERR_INVALID, "quantize %s: importance matrix value %lld (of %lld) is %s", tr->name,
                                  (long long)i, (long long)n_per_row, isnan(imatrix[i]) ? "NaN" : "infinite");
    // the weighted quantizers (also the grid types' own, with weights = NULL): one row per call,
    // as the legacy formats look at the whole row (sigma^2) when weighted
    bool failed = false;
    if (tr->quantized && nrows > 0 && (imatrix || weights_optional(t)) && quantize_weighted(t, NULL, NULL, 0, imatrix, &failed)) {
        const uint64_t rb = kite_type_row_bytes(t, (uint64_t)n_per_row);
        for (int64_t r = 0; r < nrows; r++) {
            quantize_weighted(t, src + r * n_per_row, (uint8_t *)dst + (uint64_t)r * rb, n_per_row, imatrix, &failed);
            if (failed)
                return kite__fail(KITE_ERR_INVALID, "quantize %s: row %lld (length %lld) left a point off the grid", tr->name,
                                  (long long)r, (long long)n_per_row);
        }
        return KITE_OK;
    }
    if (needs_weights(t) && tr->quantized && nrows > 0)
        return kite__fail(KITE_ERR_INVALID, "quantize %s: this type needs an importance matrix (rows of %lld)", tr->name,
                          (long long)n_per_row);
    // Every block is quantized on its own, so all rows can go in one call.
    quantize_any(t, src, dst, n);
    return KITE_OK;
}

kite_status kite_dequantize_row(kite_type t, const void *src, float *dst, int64_t n) {
    const kite_type_traits *tr = kite_type_get((uint32_t)t);
    if (!tr || !kite_quant_can_dequantize(t))
        return kite__fail(KITE_ERR_UNSUPPORTED, "dequantize: cannot read type %s (%d)", kite_type_name((uint32_t)t), (int)t);
    if (n < 0 || n % tr->block_size != 0)
        return kite__fail(KITE_ERR_INVALID, "dequantize %s: length %lld is not a multiple of the block size %u", tr->name,
                          (long long)n, tr->block_size);
    dequantize_any(t, src, dst, n);
    return KITE_OK;
}
