// quant_ref_iq3.c - reference quantizers of IQ3_XXS and IQ3_S (4 values per point of a grid of
// 8-level magnitudes), as ggml's quantize_row_iq3_xxs_impl / quantize_row_iq3_s_impl, with or
// without an importance matrix (without: weights x^2). Per 32 values: signs folded out (IQ3_XXS
// keeps an even parity, IQ3_S stores all 8 sign bits), 31 / 19 trial scales, each 4 values
// snapped to the grid or to the best of their nearest grid points, the weighted least-squares
// best kept; then 4-bit block scales against the super-block's largest.
#include "quant/quant_iq_search.h"

#include "base/internal.h"
#include "quant/kite_quant.h"
#include "blocks/block_util.h"

#define GROUP_MAX_EPS_IQ3_XXS 1e-8f

// One group of 32 values of IQ3_XXS (xxs: 7 sign bits of even parity per 8, 31 trial scales,
// zero below GROUP_MAX_EPS_IQ3_XXS) or IQ3_S (8 sign bits, 19 trials, zero only when all are):
// weights (qw, or x^2 without), folded signs, the scale search, and a negative scale made
// positive by flipping the signs. false for a group that quantizes to zero (L zeroed).
static bool quantize_group(const kite__iq_grid *g, const kite__quant_search *s, bool xxs, const float *xb, const float *qw,
                           float sigma2, uint8_t signs[4], int8_t L[32], float *scale_out) {
    const int kMaxQ = 8;
    float weight[32], xval[32], waux[32];
    kite__iq_weights(xb, qw, sigma2, weight, 32);
    kite__iq_fold_group(xb, weight, 32, xxs, waux, xval, signs);
    const float max = kite__iq_group_max(xval, 32);
    memset(L, 0, 32);
    if (xxs ? max < GROUP_MAX_EPS_IQ3_XXS : !max) return false;
    float scale = kite__iq_search_scale(g, 32, kMaxQ, max, max / (float)(2 * kMaxQ - 1), xxs ? 15 : 9, 0.2f,
                                        xxs ? KITE__IQ_RESNAP_OFF_GRID : KITE__IQ_RESNAP_ALL_IF_OFF, xval, weight, waux, L, s);
    if (scale < 0) { // cannot happen with weights >= 0 (ggml flips only the first 4 patterns)
        scale = -scale;
        for (int k = 0; k < 4; k++) signs[k] = xxs ? (uint8_t)(~signs[k] & 127) : (uint8_t)~signs[k];
    }
    *scale_out = scale;
    return true;
}

static bool quantize_iq3_xxs(const float *restrict x, block_iq3_xxs *restrict y, int64_t n, const float *qw,
                             const kite__quant_search *s) {
    const kite__iq_grid *g = kite__iq_grid_get(KITE__IQ_GRID_IQ3_XXS);
    if (!g) return false;
    float scales[QK_K / 32];
    int8_t L[32];
    uint8_t block_signs[8];
    uint8_t q3[3 * (QK_K / 8) + QK_K / 32];
    uint32_t sas[QK_K / 32]; // scales and signs, copied into q3 at the end
    for (int64_t ibl = 0; ibl < n / QK_K; ibl++) {
        y[ibl].d = kite_f32_to_f16(0.0f);
        memset(q3, 0, sizeof q3);
        memset(sas, 0, sizeof sas);
        float max_scale = 0;
        const float *xbl = x + QK_K * ibl;
        const float sigma2 = kite__iq_sigma2(xbl, 2);
        for (int ib = 0; ib < QK_K / 32; ib++) {
            const float *xb = xbl + 32 * ib;
            float scale;
            if (!quantize_group(g, s, true, xb, qw ? qw + QK_K * ibl + 32 * ib : NULL, sigma2, block_signs, L, &scale)) {
                scales[ib] = 0;
                continue;
            }
            for (int k = 0; k < 8; k++) {
                int gi = g->map[kite__iq_grid_pack(g, L + 4 * k)];
                if (gi < 0) return false; // ggml aborts here
                q3[8 * ib + k] = (uint8_t)gi;
            }
            sas[ib] = (uint32_t)block_signs[0] | ((uint32_t)block_signs[1] << 7) | ((uint32_t)block_signs[2] << 14) |
                      ((uint32_t)block_signs[3] << 21);
            if (!(scale >= 0)) return false;
            scales[ib] = scale;
            max_scale = KITE_MAX(max_scale, scale);
        }
        if (!max_scale) {
            memset(y[ibl].qs, 0, sizeof y[ibl].qs);
            continue;
        }
        const float d = max_scale / 31;
        y[ibl].d = kite_f32_to_f16(d * 1.0125f); // ggml's fudge factor
        const float id = 1 / d;
        for (int ib = 0; ib < QK_K / 32; ib++) {
            int l = kite__iq_level(id, scales[ib], 15);
            sas[ib] |= (uint32_t)l << 28;
        }
        memcpy(q3 + QK_K / 4, sas, sizeof sas);
        memcpy(y[ibl].qs, q3, sizeof y[ibl].qs);
    }
    return true;
}

static bool quantize_iq3_s(const float *restrict x, block_iq3_s *restrict y, int64_t n, const float *qw,
                           const kite__quant_search *s) {
    const kite__iq_grid *g = kite__iq_grid_get(KITE__IQ_GRID_IQ3_S);
    if (!g) return false;
    float scales[QK_K / 32];
    int8_t L[32];
    uint8_t block_signs[4];
    for (int64_t ibl = 0; ibl < n / QK_K; ibl++) {
        memset(&y[ibl], 0, sizeof y[ibl]);
        uint8_t *qs = y[ibl].qs, *qh = y[ibl].qh, *signs = y[ibl].signs;
        float max_scale = 0;
        const float *xbl = x + QK_K * ibl;
        const float sigma2 = kite__iq_sigma2(xbl, 2);
        for (int ib = 0; ib < QK_K / 32; ib++) {
            const float *xb = xbl + 32 * ib;
            float scale;
            if (!quantize_group(g, s, false, xb, qw ? qw + QK_K * ibl + 32 * ib : NULL, sigma2, block_signs, L, &scale)) {
                scales[ib] = 0;
                continue;
            }
            for (int k = 0; k < 8; k++) {
                int gi = g->map[kite__iq_grid_pack(g, L + 4 * k)];
                if (gi < 0) return false; // ggml aborts here
                qs[k] = (uint8_t)(gi & 255);
                qh[(ib * 8 + k) / 8] |= (uint8_t)((gi >> 8) << ((ib * 8 + k) % 8));
            }
            qs += 8;
            memcpy(signs, block_signs, 4);
            signs += 4;
            if (!(scale >= 0)) return false;
            scales[ib] = scale;
            max_scale = KITE_MAX(max_scale, scale);
        }
        if (!max_scale) continue;
        const float d = max_scale / 31;
        y[ibl].d = kite_f32_to_f16(d * 1.033f); // ggml's fudge factor
        const float id = 1 / d;
        for (int ib = 0; ib < QK_K / 32; ib += 2) {
            int l1 = kite__iq_level(id, scales[ib], 15);
            int l2 = kite__iq_level(id, scales[ib + 1], 15);
            y[ibl].scales[ib / 2] = (uint8_t)(l1 | (l2 << 4));
        }
    }
    return true;
}

bool kite_quantize_row_iq3_xxs_ref(const float *restrict x, block_iq3_xxs *restrict y, int64_t n) {
    KITE_ASSERT(n % QK_K == 0);
    return quantize_iq3_xxs(x, y, n, NULL, &kite__quant_search_ref);
}

bool kite_quantize_row_iq3_s_ref(const float *restrict x, block_iq3_s *restrict y, int64_t n) {
    KITE_ASSERT(n % QK_K == 0);
    return quantize_iq3_s(x, y, n, NULL, &kite__quant_search_ref);
}

bool kite_quantize_row_iq3_xxs_w_ref(const float *restrict x, block_iq3_xxs *restrict y, int64_t n, const float *qw) {
    KITE_ASSERT(n % QK_K == 0);
    return quantize_iq3_xxs(x, y, n, qw, &kite__quant_search_ref);
}

bool kite_quantize_row_iq3_s_w_ref(const float *restrict x, block_iq3_s *restrict y, int64_t n, const float *qw) {
    KITE_ASSERT(n % QK_K == 0);
    return quantize_iq3_s(x, y, n, qw, &kite__quant_search_ref);
}

bool kite__quantize_row_iq3_xxs_w_with(const float *x, block_iq3_xxs *y, int64_t n, const float *qw, const kite__quant_search *s) {
    KITE_ASSERT(n % QK_K == 0);
    return quantize_iq3_xxs(x, y, n, qw, s);
}

bool kite__quantize_row_iq3_s_w_with(const float *x, block_iq3_s *y, int64_t n, const float *qw, const kite__quant_search *s) {
    KITE_ASSERT(n % QK_K == 0);
    return quantize_iq3_s(x, y, n, qw, s);
}
