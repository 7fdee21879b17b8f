// quant_rows.c - the row API: validates sizes and dispatches each type to its _ref (de)quantizer.
#include "quant/kite_quant.h"

#include <math.h>

#include "base/internal.h"

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
    case KITE_TYPE_Q8_0: kite_quantize_row_q8_0_ref(x, y, n); return true;
    case KITE_TYPE_Q2_K: kite_quantize_row_q2_K_ref(x, y, n); return true;
    case KITE_TYPE_Q3_K: kite_quantize_row_q3_K_ref(x, y, n); return true;
    case KITE_TYPE_Q4_K: kite_quantize_row_q4_K_ref(x, y, n); return true;
    case KITE_TYPE_Q5_K: kite_quantize_row_q5_K_ref(x, y, n); return true;
    case KITE_TYPE_Q6_K: kite_quantize_row_q6_K_ref(x, y, n); return true;
    case KITE_TYPE_IQ4_NL: kite_quantize_row_iq4_nl_ref(x, y, n); return true;
    case KITE_TYPE_IQ4_XS: kite_quantize_row_iq4_xs_ref(x, y, n); return true;
    // Q8_K/Q8_1 are activation formats: never written to files (ggml_quantize_chunk has no case)
    default: return false;
    }
}

// Same contract for dequantizers.
static bool dequantize_any(kite_type t, const void *x, float *y, int64_t n) {
    switch (t) {
    case KITE_TYPE_F32: if (n) memcpy(y, x, (size_t)n * sizeof(float)); return true;
    case KITE_TYPE_F16: kite_dequantize_row_f16_ref(x, y, n); return true;
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
    default: return false;
    }
}

bool kite_quant_can_quantize(kite_type t) { return quantize_any(t, NULL, NULL, 0); }

bool kite_quant_can_dequantize(kite_type t) { return dequantize_any(t, NULL, NULL, 0); }

kite_status kite_quantize_rows(kite_type t, const float *src, void *dst, int64_t nrows, int64_t n_per_row) {
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
    if (tr->quantized) {
        // NaN/inf would make ggml's scales NaN and its casts undefined: refuse them with a
        // message that locates the value, rather than write a silently broken tensor.
        for (int64_t i = 0; i < n; i++) {
            if (!isfinite(src[i]))
                return kite__fail(KITE_ERR_INVALID, "quantize %s: row %lld (length %lld) element %lld is %s", tr->name,
                                  (long long)(i / n_per_row), (long long)n_per_row, (long long)(i % n_per_row),
                                  isnan(src[i]) ? "NaN" : "infinite");
        }
    }
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
