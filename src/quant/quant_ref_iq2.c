// quant_ref_iq2.c - reference quantizers of IQ2_XXS and IQ2_XS (8 values per point of a grid of
// 3-level magnitudes, with sign patterns of even parity), as ggml's quantize_row_iq2_*_impl.
// They need an importance matrix (ggml asserts one). Search per group of 32 / 16 values: flip
// signs to make every value >= 0 (fixing the parity on the least important value), try scales
// around the best uniform fit, snap each 8 values to the grid (or, off the grid, to the best of
// its precomputed nearest grid points), keep the weighted least-squares best.
#include "quant/quant_iq_search.h"

#include <float.h>

#include "base/internal.h"
#include "quant/kite_quant.h"
#include "blocks/block_util.h"

#define GROUP_MAX_EPS 1e-15f

// The groups: IQ2_XXS 32 values (7 sign bits of even parity per 8), its search started from
// make_qp_quants' fit and every point snapped again; IQ2_XS 16 (even parity) and IQ2_S 16 (all
// 8 sign bits stored).
static const kite__iq_group_opts IQ2_XXS_GROUP = {32, 3, true, GROUP_MAX_EPS, 6, 0.1f, KITE__IQ_RESNAP_ALL, true};
static const kite__iq_group_opts IQ2_XS_GROUP = {16, 3, true, GROUP_MAX_EPS, 9, 0.1f, KITE__IQ_RESNAP_OFF_GRID, false};
static const kite__iq_group_opts IQ2_S_GROUP = {16, 3, false, 1e-8f, 9, 0.1f, KITE__IQ_RESNAP_OFF_GRID, false};

bool kite__quantize_row_iq2_xxs_w_with(const float *restrict x, block_iq2_xxs *restrict y, int64_t n, const float *qw,
                                       const kite__quant_search *s) {
    KITE_ASSERT(n % QK_K == 0);
    const kite__iq_grid *g = kite__iq_grid_get(KITE__IQ_GRID_IQ2_XXS);
    if (!g) return false;
    for (int64_t ibl = 0; ibl < n / QK_K; ibl++) {
        memset(&y[ibl], 0, sizeof y[ibl]);
        const float *xbl = x + QK_K * ibl;
        float weight[QK_K];
        kite__iq_weights(xbl, qw + QK_K * ibl, kite__iq_sigma2(xbl, 1), weight, QK_K);
        kite__iq_superblock sb;
        if (!kite__iq_quantize_superblock(g, s, &IQ2_XXS_GROUP, xbl, weight, &sb)) return false;
        if (!sb.max_scale) continue;
        const float d = sb.max_scale / 31, id = 1 / d;
        y[ibl].d = kite_f32_to_f16(d);
        uint32_t q2[2 * (QK_K / 32)] = {0}; // per 32 values: 4 grid indices; 4 sign indices, the scale
        for (int ib = 0; ib < QK_K / 32; ib++) {
            for (int k = 0; k < 4; k++) {
                q2[2 * ib] |= (uint32_t)sb.gi[4 * ib + k] << (8 * k);
                q2[2 * ib + 1] |= (uint32_t)sb.signs[4 * ib + k] << (7 * k);
            }
            q2[2 * ib + 1] |= (uint32_t)kite__iq_level(id, sb.scales[ib], 15) << 28;
        }
        memcpy(y[ibl].qs, q2, sizeof q2);
    }
    return true;
}

bool kite__quantize_row_iq2_xs_w_with(const float *restrict x, block_iq2_xs *restrict y, int64_t n, const float *qw,
                                      const kite__quant_search *s) {
    KITE_ASSERT(n % QK_K == 0);
    const kite__iq_grid *g = kite__iq_grid_get(KITE__IQ_GRID_IQ2_XS);
    if (!g) return false;
    for (int64_t ibl = 0; ibl < n / QK_K; ibl++) {
        memset(&y[ibl], 0, sizeof y[ibl]);
        const float *xbl = x + QK_K * ibl;
        float weight[QK_K];
        kite__iq_weights(xbl, qw + QK_K * ibl, kite__iq_sigma2(xbl, 1), weight, QK_K);
        kite__iq_superblock sb;
        if (!kite__iq_quantize_superblock(g, s, &IQ2_XS_GROUP, xbl, weight, &sb)) return false;
        if (!sb.max_scale) continue;
        const float d = sb.max_scale / 31;
        y[ibl].d = kite_f32_to_f16(d);
        kite__iq_pack_levels4(1 / d, sb.scales, QK_K / 16, y[ibl].scales);
        for (int i = 0; i < QK_K / 8; i++) y[ibl].qs[i] = (uint16_t)(sb.gi[i] | (sb.signs[i] << 9));
    }
    return true;
}

// IQ2_S: 10-bit grid indices, explicit 8-bit signs (no parity), scales per 16; weights from the
// importance matrix, or 0.25 * sigma2 + x^2 without one (as ggml).
bool kite__quantize_row_iq2_s_w_with(const float *restrict x, block_iq2_s *restrict y, int64_t n, const float *qw,
                                     const kite__quant_search *s) {
    KITE_ASSERT(n % QK_K == 0);
    const kite__iq_grid *g = kite__iq_grid_get(KITE__IQ_GRID_IQ2_S);
    if (!g) return false;
    for (int64_t ibl = 0; ibl < n / QK_K; ibl++) {
        memset(&y[ibl], 0, sizeof y[ibl]);
        const float *xbl = x + QK_K * ibl;
        const float sigma2 = kite__iq_sigma2(xbl, 2);
        float weight[QK_K];
        if (qw) kite__iq_weights(xbl, qw + QK_K * ibl, sigma2, weight, QK_K);
        else
            for (int i = 0; i < QK_K; i++) weight[i] = 0.25f * sigma2 + xbl[i] * xbl[i];
        kite__iq_superblock sb;
        if (!kite__iq_quantize_superblock(g, s, &IQ2_S_GROUP, xbl, weight, &sb)) return false;
        if (!sb.max_scale) continue;
        const float d = sb.max_scale / 31;
        y[ibl].d = kite_f32_to_f16(d * 0.9875f); // ggml's fudge factor
        kite__iq_pack_levels4(1 / d, sb.scales, QK_K / 16, y[ibl].scales);
        for (int i = 0; i < QK_K / 8; i++) {
            y[ibl].qs[i] = (uint8_t)(sb.gi[i] & 255);
            y[ibl].qh[i / 4] |= (uint8_t)((sb.gi[i] >> 8) << (2 * (i % 4)));
            y[ibl].qs[QK_K / 8 + i] = sb.signs[i];
        }
    }
    return true;
}

bool kite_quantize_row_iq2_xxs_w_ref(const float *restrict x, block_iq2_xxs *restrict y, int64_t n, const float *qw) {
    return kite__quantize_row_iq2_xxs_w_with(x, y, n, qw, &kite__quant_search_ref);
}

bool kite_quantize_row_iq2_xs_w_ref(const float *restrict x, block_iq2_xs *restrict y, int64_t n, const float *qw) {
    return kite__quantize_row_iq2_xs_w_with(x, y, n, qw, &kite__quant_search_ref);
}

bool kite_quantize_row_iq2_s_ref(const float *restrict x, block_iq2_s *restrict y, int64_t n) {
    return kite__quantize_row_iq2_s_w_with(x, y, n, NULL, &kite__quant_search_ref);
}

bool kite_quantize_row_iq2_s_w_ref(const float *restrict x, block_iq2_s *restrict y, int64_t n, const float *qw) {
    return kite__quantize_row_iq2_s_w_with(x, y, n, qw, &kite__quant_search_ref);
}
