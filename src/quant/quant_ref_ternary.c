// quant_ref_ternary.c - reference quantizers of TQ1_0 / TQ2_0 (values -1, 0, 1 times the block's
// absolute max) and MXFP4 (E2M1 levels under a power-of-two scale), as ggml's _ref ones (its file
// path uses them too: these formats take no importance matrix).
#include "quant/kite_quant.h"

#include "base/internal.h"
#include "blocks/iq_tables.h"
#include "blocks/block_util.h"

static float block_amax(const float *x, int n) {
    float amax = 0.0f;
    for (int j = 0; j < n; j++) amax = KITE_MAX(amax, fabsf(x[j]));
    return amax;
}

// -1, 0, 1 -> 0, 1, 2 (lroundf: halves away from zero)
static inline int trit(float v) { return (int)lroundf(v) + 1; }

// n trits (first most significant) as a base-3 fraction of 256, rounded up: the dequantizer
// reads digit k back as (q * 3^k mod 256) * 3 >> 8.
static inline uint8_t pack_trits(const float *x, int stride, int n, float id, int extra_shift) {
    uint8_t q = 0;
    for (int k = 0; k < n; k++) q = (uint8_t)(q * 3 + trit(x[k * stride] * id));
    if (extra_shift) q = (uint8_t)(q * 3);
    return (uint8_t)(((uint16_t)q * 256 + (243 - 1)) / 243);
}

void kite_quantize_row_tq1_0_ref(const float *restrict x, block_tq1_0 *restrict y, int64_t n) {
    KITE_ASSERT(n % QK_K == 0);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = block_amax(x, QK_K);
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = kite_f32_to_f16(d);
        for (int m = 0; m < 32; m++) y[i].qs[m] = pack_trits(x + m, 32, 5, id, 0);
        x += 5 * 32;
        for (int m = 0; m < 16; m++) y[i].qs[32 + m] = pack_trits(x + m, 16, 5, id, 0);
        x += 5 * 16;
        // 4 trits per byte, the first moved to the top trit
        for (int j = 0; j < 4; j++) y[i].qh[j] = pack_trits(x + j, 4, 4, id, 1);
        x += 16;
    }
}

void kite_quantize_row_tq2_0_ref(const float *restrict x, block_tq2_0 *restrict y, int64_t n) {
    KITE_ASSERT(n % QK_K == 0);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = block_amax(x, QK_K);
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = kite_f32_to_f16(d);
        for (int j = 0; j < QK_K / 4; j += 32) {
            for (int m = 0; m < 32; m++) {
                uint8_t q = 0;
                for (int k = 0; k < 4; k++) q = (uint8_t)(q + ((trit(x[m + 32 * k] * id) & 3) << (2 * k)));
                y[i].qs[j + m] = q;
            }
            x += 128;
        }
    }
}

// Nearest E2M1 level to x at scale e (the first of equals wins).
static int best_fp4(float x, float e) {
    int best = 0;
    float best_err = fabsf((float)kite__kvalues_fp4[0] * e - x);
    for (int i = 1; i < 16; i++) {
        float err = fabsf((float)kite__kvalues_fp4[i] * e - x);
        if (err < best_err) {
            best = i;
            best_err = err;
        }
    }
    return best;
}

void kite_quantize_row_mxfp4_ref(const float *restrict x, block_mxfp4 *restrict y, int64_t n) {
    KITE_ASSERT(n % QK_MXFP4 == 0);
    for (int64_t i = 0; i < n / QK_MXFP4; i++, x += QK_MXFP4) {
        const float amax = block_amax(x, QK_MXFP4);
        // exponent so that amax lands on the top level (6 = 1.5 * 2^2): floor(log2 amax) - 2,
        // biased by 127; ggml converts through int (a tiny amax wraps, as on its x86 build)
        const uint8_t e = amax > 0.0f ? (uint8_t)(int32_t)(floorf(log2f(amax)) - 2.0f + 127.0f) : 0;
        const float d = kite__e8m0_to_f32_half(e);
        y[i].e = e;
        for (int j = 0; j < QK_MXFP4 / 2; j++)
            y[i].qs[j] = (uint8_t)(best_fp4(x[j], d) | (best_fp4(x[j + QK_MXFP4 / 2], d) << 4));
    }
}
