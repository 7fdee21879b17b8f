// dequant_legacy.c - reference dequantizers of the 32-value formats Q4_0..Q8_0 and IQ4_NL
// (bit-exact with ggml's dequantize_row_*: same operations in the same order).
#include "quant/kite_quant.h"

#include "base/internal.h"
#include "blocks/block_util.h"

static uint32_t load_qh(const uint8_t qh[4]) {
    return (uint32_t)qh[0] | ((uint32_t)qh[1] << 8) | ((uint32_t)qh[2] << 16) | ((uint32_t)qh[3] << 24);
}

void kite_dequantize_row_q4_0_ref(const block_q4_0 *restrict x, float *restrict y, int64_t n) {
    KITE_ASSERT(n % QK4_0 == 0);
    for (int64_t i = 0; i < n / QK4_0; i++, y += QK4_0) {
        const float d = kite_f16_to_f32(x[i].d);
        for (int j = 0; j < 16; j++) {
            y[j] = (float)((x[i].qs[j] & 0x0F) - 8) * d;
            y[j + 16] = (float)((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

void kite_dequantize_row_q4_1_ref(const block_q4_1 *restrict x, float *restrict y, int64_t n) {
    KITE_ASSERT(n % QK4_1 == 0);
    for (int64_t i = 0; i < n / QK4_1; i++, y += QK4_1) {
        const float d = kite_f16_to_f32(x[i].d), m = kite_f16_to_f32(x[i].m);
        for (int j = 0; j < 16; j++) {
            y[j] = (float)(x[i].qs[j] & 0x0F) * d + m;
            y[j + 16] = (float)(x[i].qs[j] >> 4) * d + m;
        }
    }
}

void kite_dequantize_row_q5_0_ref(const block_q5_0 *restrict x, float *restrict y, int64_t n) {
    KITE_ASSERT(n % QK5_0 == 0);
    for (int64_t i = 0; i < n / QK5_0; i++, y += QK5_0) {
        const float d = kite_f16_to_f32(x[i].d);
        const uint32_t qh = load_qh(x[i].qh);
        for (int j = 0; j < 16; j++) {
            int q0 = (x[i].qs[j] & 0x0F) | (int)(((qh >> j) & 1) << 4);
            int q1 = (x[i].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
            y[j] = (float)(q0 - 16) * d;
            y[j + 16] = (float)(q1 - 16) * d;
        }
    }
}

void kite_dequantize_row_q5_1_ref(const block_q5_1 *restrict x, float *restrict y, int64_t n) {
    KITE_ASSERT(n % QK5_1 == 0);
    for (int64_t i = 0; i < n / QK5_1; i++, y += QK5_1) {
        const float d = kite_f16_to_f32(x[i].d), m = kite_f16_to_f32(x[i].m);
        const uint32_t qh = load_qh(x[i].qh);
        for (int j = 0; j < 16; j++) {
            int q0 = (x[i].qs[j] & 0x0F) | (int)(((qh >> j) & 1) << 4);
            int q1 = (x[i].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
            y[j] = (float)q0 * d + m;
            y[j + 16] = (float)q1 * d + m;
        }
    }
}

void kite_dequantize_row_q8_0_ref(const block_q8_0 *restrict x, float *restrict y, int64_t n) {
    KITE_ASSERT(n % QK8_0 == 0);
    for (int64_t i = 0; i < n / QK8_0; i++, y += QK8_0) {
        const float d = kite_f16_to_f32(x[i].d);
        for (int j = 0; j < QK8_0; j++) y[j] = (float)x[i].qs[j] * d;
    }
}

void kite_dequantize_row_iq4_nl_ref(const block_iq4_nl *restrict x, float *restrict y, int64_t n) {
    KITE_ASSERT(n % QK4_NL == 0);
    for (int64_t i = 0; i < n / QK4_NL; i++, y += QK4_NL) {
        const float d = kite_f16_to_f32(x[i].d);
        for (int j = 0; j < 16; j++) {
            y[j] = d * (float)kite__kvalues_iq4nl[x[i].qs[j] & 0x0F];
            y[j + 16] = d * (float)kite__kvalues_iq4nl[x[i].qs[j] >> 4];
        }
    }
}
