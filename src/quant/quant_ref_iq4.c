// quant_ref_iq4.c - reference quantizers of the non-linear 4-bit formats IQ4_NL (32 values) and
// IQ4_XS (256 values in 8 blocks of 32 with 6-bit block scales), as ggml's file path does them.
// The per-block scale search and the grid lookups come from a kite__quant_search set.
#include "quant/kite_quant.h"
#include "quant/quant_search.h"

#include "base/internal.h"
#include "blocks/block_util.h"

// Weights of one block of 32: x^2 without an importance matrix; with one, the column weight
// times sqrt(sigma2 + x^2), sigma2 = 2 * mean x^2 over the super-block sb (n_sb values).
static void block_weights(const float *x, const float *qw, const float *sb, int n_sb, float w[32]) {
    if (!qw) {
        for (int j = 0; j < 32; j++) w[j] = x[j] * x[j];
        return;
    }
    float sigma2 = 0.0f;
    for (int j = 0; j < n_sb; j++) sigma2 += sb[j] * sb[j];
    sigma2 *= 2.0f / (float)n_sb;
    for (int j = 0; j < 32; j++) w[j] = qw[j] * sqrtf(sigma2 + x[j] * x[j]);
}

void kite__quantize_row_iq4_nl_with(const float *restrict x, block_iq4_nl *restrict y, int64_t n, const float *qw,
                                    const kite__quant_search *s) {
    float w[32];
    for (int64_t i = 0; i < n / QK4_NL; i++, x += QK4_NL) {
        block_weights(x, qw ? qw + QK4_NL * i : NULL, x, QK4_NL, w);
        const float d = s->iq4_scale(x, w);
        y[i].d = kite_f32_to_f16(d);
        // the codes come from the unrounded d (ggml does the same)
        s->iq4_pack(x, d, y[i].qs);
    }
}

void kite__quantize_row_iq4_xs_with(const float *restrict x, block_iq4_xs *restrict y, int64_t n, const float *qw,
                                    const kite__quant_search *s) {
    float w[32];
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float scales[QK_K / 32];
        float amax = 0.0f, max = 0.0f;
        for (int ib = 0; ib < QK_K / 32; ib++) {
            block_weights(x + 32 * ib, qw ? qw + QK_K * i + 32 * ib : NULL, x, QK_K, w);
            scales[ib] = s->iq4_scale(x + 32 * ib, w);
            float a = fabsf(scales[ib]);
            if (a > amax) { amax = a; max = scales[ib]; }
        }
        // block scales become 6-bit signed ls - 32 in -32..31 times d = max/-32, so the block
        // with the largest scale lands on -32, the end with one more level
        const float d = -max / 32.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = kite_f32_to_f16(d);
        y[i].scales_h = 0;
        memset(y[i].scales_l, 0, sizeof y[i].scales_l);
        for (int ib = 0; ib < QK_K / 32; ib++) {
            int l = kite__nearest_int(id * scales[ib]);
            l = KITE_MAX(-32, KITE_MIN(31, l));
            s->iq4_pack(x + 32 * ib, d * (float)l, y[i].qs + 16 * ib);
            l += 32;
            y[i].scales_l[ib / 2] |= (uint8_t)((l & 0xF) << (4 * (ib % 2)));
            y[i].scales_h |= (uint16_t)((l >> 4) << (2 * ib));
        }
    }
}

void kite_quantize_row_iq4_nl_ref(const float *restrict x, block_iq4_nl *restrict y, int64_t n) {
    KITE_ASSERT(n % QK4_NL == 0);
    kite__quantize_row_iq4_nl_with(x, y, n, NULL, &kite__quant_search_ref);
}

void kite_quantize_row_iq4_xs_ref(const float *restrict x, block_iq4_xs *restrict y, int64_t n) {
    KITE_ASSERT(n % QK_K == 0);
    kite__quantize_row_iq4_xs_with(x, y, n, NULL, &kite__quant_search_ref);
}

void kite_quantize_row_iq4_nl_w_ref(const float *restrict x, block_iq4_nl *restrict y, int64_t n_per_row, const float *qw) {
    KITE_ASSERT(n_per_row % QK4_NL == 0);
    kite__quantize_row_iq4_nl_with(x, y, n_per_row, qw, &kite__quant_search_ref);
}

void kite_quantize_row_iq4_xs_w_ref(const float *restrict x, block_iq4_xs *restrict y, int64_t n_per_row, const float *qw) {
    KITE_ASSERT(n_per_row % QK_K == 0);
    kite__quantize_row_iq4_xs_with(x, y, n_per_row, qw, &kite__quant_search_ref);
}
