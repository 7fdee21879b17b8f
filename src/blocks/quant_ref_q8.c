// quant_ref_q8.c - the 8-bit formats: Q8_0/Q8_1 (32 values) and Q8_K (256), scalar reference.
#include "blocks/kite_blocks.h"

#include "base/internal.h"
#include "blocks/block_util.h"

// Largest |x| of a block. The comparison order (keep a when a > |x|) matches ggml's MAX so
// even a NaN propagates the same way.
static float block_amax(const float *x, int n) {
    float amax = 0.0f;
    for (int j = 0; j < n; j++) {
        float a = fabsf(x[j]);
        amax = amax > a ? amax : a;
    }
    return amax;
}

void kite_quantize_row_q8_0_ref(const float *restrict x, block_q8_0 *restrict y, int64_t n) {
    KITE_ASSERT(n % QK8_0 == 0);
    for (int64_t i = 0; i < n / QK8_0; i++, x += QK8_0) {
        // 127, not 128: the grid is symmetric so -amax and +amax both fit.
        const float d = block_amax(x, QK8_0) / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = kite_f32_to_f16(d);
        for (int j = 0; j < QK8_0; j++) y[i].qs[j] = kite__trunc_i8(roundf(x[j] * id));
    }
}

void kite_quantize_row_q8_1_ref(const float *restrict x, block_q8_1 *restrict y, int64_t n) {
    KITE_ASSERT(n % QK8_1 == 0);
    for (int64_t i = 0; i < n / QK8_1; i++, x += QK8_1) {
        const float d = block_amax(x, QK8_1) / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        int sum = 0;
        for (int j = 0; j < QK8_1; j++) {
            y[i].qs[j] = kite__trunc_i8(roundf(x[j] * id));
            sum += y[i].qs[j];
        }
        y[i].d = kite_f32_to_f16(d);
        y[i].s = kite_f32_to_f16((float)sum * d); // the min term of Q4_1/Q5_1 dots: sum(x) ~ s
    }
}

void kite_quantize_row_q8_K_ref(const float *restrict x, block_q8_K *restrict y, int64_t n) {
    KITE_ASSERT(n % QK_K == 0);
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        // the signed value of largest magnitude (first one wins on ties)
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < QK_K; j++) {
            float a = fabsf(x[j]);
            if (a > amax) { amax = a; max = x[j]; }
        }
        if (amax == 0.0f) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        // -127/max: the extreme maps to exactly -127, never -128, which keeps q symmetric for
        // the SIMD dot kernels (ggml made the same choice for IQ2_XXS).
        const float iscale = -127.0f / max;
        for (int j = 0; j < QK_K; j++) {
            int v = kite__nearest_int(iscale * x[j]);
            y[i].qs[j] = (int8_t)(v < 127 ? v : 127);
        }
        for (int g = 0; g < QK_K / 16; g++) {
            int sum = 0;
            for (int j = 0; j < 16; j++) sum += y[i].qs[16 * g + j];
            y[i].bsums[g] = (int16_t)sum;
        }
        y[i].d = 1.0f / iscale;
    }
}
