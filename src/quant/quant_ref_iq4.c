// quant_ref_iq4.c - reference quantizers of the non-linear 4-bit formats IQ4_NL (32 values) and
// IQ4_XS (256 values in 8 blocks of 32 with 6-bit block scales), as ggml's file path does them.
#include "quant/kite_quant.h"

#include "base/internal.h"
#include "blocks/block_util.h"

// How far the scale search goes: 1/d is tried as (v0 + k)/max for k in -7..7 (ggml's ntry = 7).
#define IQ4_NTRY 7

#define GROUP_MAX_EPS 1e-15f // below this a block counts as all zero (ggml's GROUP_MAX_EPS)

// Index of the grid level nearest to v (ties go to the lower level), by bisection.
static int nearest_level(float v) {
    const int8_t *g = kite__kvalues_iq4nl;
    if (v <= g[0]) return 0;
    if (v >= g[15]) return 15;
    int lo = 0, hi = 15;
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (v < g[mid]) hi = mid;
        else lo = mid;
    }
    return v - g[hi - 1] < g[hi] - v ? hi - 1 : hi;
}

// Best scale of one block of 32 for the grid, weighted by w (x^2 without an importance matrix):
// start from d = max/|v0| (the extreme on the outermost level), then try 15 nearby inverse
// scales, each scored by the least squares fit sum(w q x)^2 / sum(w q^2). Returns 0 for an
// all-zero block.
static float block_scale(const float *x, const float *w) {
    const int8_t *g = kite__kvalues_iq4nl;
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 32; j++) {
        float a = fabsf(x[j]);
        if (a > amax) { amax = a; max = x[j]; }
    }
    if (amax < GROUP_MAX_EPS) return 0.0f;
    float d = -max / (float)g[0];
    float id = 1.0f / d;
    float sumqx = 0.0f, sumq2 = 0.0f;
    for (int j = 0; j < 32; j++) {
        float q = (float)g[nearest_level(id * x[j])];
        sumqx += w[j] * q * x[j];
        sumq2 += w[j] * q * q;
    }
    d = sumq2 > 0.0f ? sumqx / sumq2 : 0.0f;
    float best = d * sumqx;
    for (int k = -IQ4_NTRY; k <= IQ4_NTRY; k++) {
        id = ((float)k + (float)g[0]) / max;
        sumqx = sumq2 = 0.0f;
        for (int j = 0; j < 32; j++) {
            float q = (float)g[nearest_level(id * x[j])];
            sumqx += w[j] * q * x[j];
            sumq2 += w[j] * q * q;
        }
        if (sumq2 > 0.0f && sumqx * sumqx > best * sumq2) {
            d = sumqx / sumq2;
            best = d * sumqx;
        }
    }
    return d;
}

// Codes of 32 values for scale d, packed: element j low nibble, element j+16 high nibble.
static void pack_levels(const float *x, float d, uint8_t qs[16]) {
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < 16; j++)
        qs[j] = (uint8_t)(nearest_level(id * x[j]) | (nearest_level(id * x[j + 16]) << 4));
}

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

static void quantize_iq4_nl(const float *restrict x, block_iq4_nl *restrict y, int64_t n, const float *qw) {
    float w[32];
    for (int64_t i = 0; i < n / QK4_NL; i++, x += QK4_NL) {
        block_weights(x, qw ? qw + QK4_NL * i : NULL, x, QK4_NL, w);
        const float d = block_scale(x, w);
        y[i].d = kite_f32_to_f16(d);
        // the codes come from the unrounded d (ggml does the same)
        pack_levels(x, d, y[i].qs);
    }
}

static void quantize_iq4_xs(const float *restrict x, block_iq4_xs *restrict y, int64_t n, const float *qw) {
    float w[32];
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float scales[QK_K / 32];
        float amax = 0.0f, max = 0.0f;
        for (int ib = 0; ib < QK_K / 32; ib++) {
            block_weights(x + 32 * ib, qw ? qw + QK_K * i + 32 * ib : NULL, x, QK_K, w);
            scales[ib] = block_scale(x + 32 * ib, w);
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
            pack_levels(x + 32 * ib, d * (float)l, y[i].qs + 16 * ib);
            l += 32;
            y[i].scales_l[ib / 2] |= (uint8_t)((l & 0xF) << (4 * (ib % 2)));
            y[i].scales_h |= (uint16_t)((l >> 4) << (2 * ib));
        }
    }
}

void kite_quantize_row_iq4_nl_ref(const float *restrict x, block_iq4_nl *restrict y, int64_t n) {
    KITE_ASSERT(n % QK4_NL == 0);
    quantize_iq4_nl(x, y, n, NULL);
}

void kite_quantize_row_iq4_xs_ref(const float *restrict x, block_iq4_xs *restrict y, int64_t n) {
    KITE_ASSERT(n % QK_K == 0);
    quantize_iq4_xs(x, y, n, NULL);
}

void kite_quantize_row_iq4_nl_w_ref(const float *restrict x, block_iq4_nl *restrict y, int64_t n_per_row, const float *qw) {
    KITE_ASSERT(n_per_row % QK4_NL == 0);
    quantize_iq4_nl(x, y, n_per_row, qw);
}

void kite_quantize_row_iq4_xs_w_ref(const float *restrict x, block_iq4_xs *restrict y, int64_t n_per_row, const float *qw) {
    KITE_ASSERT(n_per_row % QK_K == 0);
    quantize_iq4_xs(x, y, n_per_row, qw);
}
