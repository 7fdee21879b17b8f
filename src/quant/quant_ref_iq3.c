// quant_ref_iq3.c - reference quantizers of IQ3_XXS and IQ3_S (4 values per point of a grid of
// 8-level magnitudes), as ggml's quantize_row_iq3_xxs_impl / quantize_row_iq3_s_impl, with or
// without an importance matrix (without: weights x^2). Per 32 values: signs folded out (IQ3_XXS
// keeps an even parity, IQ3_S stores all 8 sign bits), 31 / 19 trial scales, each 4 values
// snapped to the grid or to the best of their nearest grid points, the weighted least-squares
// best kept; then 4-bit block scales against the super-block's largest.
#include "quant/quant_iq_search.h"

#include <float.h>

#include "base/internal.h"
#include "quant/kite_quant.h"
#include "blocks/block_util.h"

// The groups of 32: IQ3_XXS keeps 7 sign bits of even parity per 8 and tries 31 scales, IQ3_S
// stores all 8 and tries 19, and is zero only when every value is (max below the least
// subnormal).
static const kite__iq_group_opts IQ3_XXS_GROUP = {32, 8, true, 1e-8f, 15, 0.2f, KITE__IQ_RESNAP_OFF_GRID};
static const kite__iq_group_opts IQ3_S_GROUP = {32, 8, false, FLT_TRUE_MIN, 9, 0.2f, KITE__IQ_RESNAP_ALL_IF_OFF};

bool kite__quantize_row_iq3_xxs_w_with(const float *restrict x, block_iq3_xxs *restrict y, int64_t n, const float *qw,
                                       const kite__quant_search *s) {
    KITE_ASSERT(n % QK_K == 0);
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
            float weight[32], scale;
            kite__iq_weights(xb, qw ? qw + QK_K * ibl + 32 * ib : NULL, sigma2, weight, 32);
            if (!kite__iq_quantize_group(g, s, &IQ3_XXS_GROUP, xb, weight, block_signs, L, &scale)) {
                scales[ib] = 0;
                continue;
            }
            int gi[8];
            if (!kite__iq_grid_indices(g, L, 8, gi)) return false; // ggml aborts here
            for (int k = 0; k < 8; k++) q3[8 * ib + k] = (uint8_t)gi[k];
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

bool kite__quantize_row_iq3_s_w_with(const float *restrict x, block_iq3_s *restrict y, int64_t n, const float *qw,
                                     const kite__quant_search *s) {
    KITE_ASSERT(n % QK_K == 0);
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
            float weight[32], scale;
            kite__iq_weights(xb, qw ? qw + QK_K * ibl + 32 * ib : NULL, sigma2, weight, 32);
            if (!kite__iq_quantize_group(g, s, &IQ3_S_GROUP, xb, weight, block_signs, L, &scale)) {
                scales[ib] = 0;
                continue;
            }
            int gi[8];
            if (!kite__iq_grid_indices(g, L, 8, gi)) return false; // ggml aborts here
            for (int k = 0; k < 8; k++) {
                qs[k] = (uint8_t)(gi[k] & 255);
                qh[(ib * 8 + k) / 8] |= (uint8_t)((gi[k] >> 8) << ((ib * 8 + k) % 8));
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
        kite__iq_pack_levels4(1 / d, scales, QK_K / 32, y[ibl].scales);
    }
    return true;
}

bool kite_quantize_row_iq3_xxs_ref(const float *restrict x, block_iq3_xxs *restrict y, int64_t n) {
    return kite__quantize_row_iq3_xxs_w_with(x, y, n, NULL, &kite__quant_search_ref);
}

bool kite_quantize_row_iq3_s_ref(const float *restrict x, block_iq3_s *restrict y, int64_t n) {
    return kite__quantize_row_iq3_s_w_with(x, y, n, NULL, &kite__quant_search_ref);
}

bool kite_quantize_row_iq3_xxs_w_ref(const float *restrict x, block_iq3_xxs *restrict y, int64_t n, const float *qw) {
    return kite__quantize_row_iq3_xxs_w_with(x, y, n, qw, &kite__quant_search_ref);
}

bool kite_quantize_row_iq3_s_w_ref(const float *restrict x, block_iq3_s *restrict y, int64_t n, const float *qw) {
    return kite__quantize_row_iq3_s_w_with(x, y, n, qw, &kite__quant_search_ref);
}
