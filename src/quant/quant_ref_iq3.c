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
static const kite__iq_group_opts IQ3_XXS_GROUP = {32, 8, true, 1e-8f, 15, 0.2f, KITE__IQ_RESNAP_OFF_GRID, false};
static const kite__iq_group_opts IQ3_S_GROUP = {32, 8, false, FLT_TRUE_MIN, 9, 0.2f, KITE__IQ_RESNAP_ALL_IF_OFF, false};

bool kite__quantize_row_iq3_xxs_w_with(const float *restrict x, block_iq3_xxs *restrict y, int64_t n, const float *qw,
                                       const kite__quant_search *s) {
    KITE_ASSERT(n % QK_K == 0);
    const kite__iq_grid *g = kite__iq_grid_get(KITE__IQ_GRID_IQ3_XXS);
    if (!g) return false;
    for (int64_t ibl = 0; ibl < n / QK_K; ibl++) {
        memset(&y[ibl], 0, sizeof y[ibl]);
        const float *xbl = x + QK_K * ibl;
        float weight[QK_K];
        kite__iq_weights(xbl, qw ? qw + QK_K * ibl : NULL, kite__iq_sigma2(xbl, 2), weight, QK_K);
        kite__iq_superblock sb;
        if (!kite__iq_quantize_superblock(g, s, &IQ3_XXS_GROUP, xbl, weight, &sb)) return false;
        if (!sb.max_scale) continue;
        const float d = sb.max_scale / 31, id = 1 / d;
        y[ibl].d = kite_f32_to_f16(d * 1.0125f); // ggml's fudge factor
        for (int i = 0; i < QK_K / 4; i++) y[ibl].qs[i] = (uint8_t)sb.gi[i];
        uint32_t sas[QK_K / 32]; // per 32 values: 4 sign indices, the scale
        for (int ib = 0; ib < QK_K / 32; ib++) {
            const uint8_t *bs = sb.signs + 4 * ib;
            sas[ib] = (uint32_t)bs[0] | ((uint32_t)bs[1] << 7) | ((uint32_t)bs[2] << 14) | ((uint32_t)bs[3] << 21) |
                      ((uint32_t)kite__iq_level(id, sb.scales[ib], 15) << 28);
        }
        memcpy(y[ibl].qs + QK_K / 4, sas, sizeof sas);
    }
    return true;
}

bool kite__quantize_row_iq3_s_w_with(const float *restrict x, block_iq3_s *restrict y, int64_t n, const float *qw,
                                     const kite__quant_search *s) {
    KITE_ASSERT(n % QK_K == 0);
    const kite__iq_grid *g = kite__iq_grid_get(KITE__IQ_GRID_IQ3_S);
    if (!g) return false;
    for (int64_t ibl = 0; ibl < n / QK_K; ibl++) {
        memset(&y[ibl], 0, sizeof y[ibl]);
        const float *xbl = x + QK_K * ibl;
        float weight[QK_K];
        kite__iq_weights(xbl, qw ? qw + QK_K * ibl : NULL, kite__iq_sigma2(xbl, 2), weight, QK_K);
        kite__iq_superblock sb;
        if (!kite__iq_quantize_superblock(g, s, &IQ3_S_GROUP, xbl, weight, &sb)) return false;
        if (!sb.max_scale) continue;
        const float d = sb.max_scale / 31;
        y[ibl].d = kite_f32_to_f16(d * 1.033f); // ggml's fudge factor
        kite__iq_pack_levels4(1 / d, sb.scales, QK_K / 32, y[ibl].scales);
        // As ggml: the low index bytes and the signs of the groups that did not quantize to zero
        // follow one another (a zero group takes no place there), the high bits stay at their group.
        uint8_t *qs = y[ibl].qs, *signs = y[ibl].signs;
        for (int ib = 0; ib < QK_K / 32; ib++) {
            if (!(sb.quantized >> ib & 1)) continue;
            for (int k = 0; k < 8; k++) {
                const int gi = sb.gi[8 * ib + k];
                qs[k] = (uint8_t)(gi & 255);
                y[ibl].qh[ib] |= (uint8_t)((gi >> 8) << k);
            }
            memcpy(signs, sb.signs + 4 * ib, 4);
            qs += 8;
            signs += 4;
        }
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
