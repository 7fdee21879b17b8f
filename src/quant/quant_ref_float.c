// quant_ref_float.c - the plain 16-bit types F16 and BF16, rows in both directions.
#include "quant/kite_quant.h"

void kite_quantize_row_f16_ref(const float *restrict x, kite_f16 *restrict y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = kite_f32_to_f16(x[i]);
}

void kite_quantize_row_bf16_ref(const float *restrict x, kite_bf16 *restrict y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = kite_f32_to_bf16(x[i]);
}

void kite_dequantize_row_f16_ref(const kite_f16 *restrict x, float *restrict y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = kite_f16_to_f32(x[i]);
}

void kite_dequantize_row_bf16_ref(const kite_bf16 *restrict x, float *restrict y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = kite_bf16_to_f32(x[i]);
}
