// quant_ref_iq2.c - reference quantizers of IQ2_XXS and IQ2_XS (8 values per point of a grid of
// 3-level magnitudes, with sign patterns of even parity), as ggml's quantize_row_iq2_*_impl.
// They need an importance matrix (ggml asserts one). Search per group of 32 / 16 values: flip
// signs to make every value >= 0 (fixing the parity on the least important value), try scales
// around the best uniform fit, snap each 8 values to the grid (or, off the grid, to the best of
// its precomputed nearest grid points), keep the weighted least-squares best.
#include "quant/quant_iq_grid.h"
#include "quant/quant_iq_search.h"

#include <float.h>

#include "base/internal.h"
#include "quant/kite_quant.h"
#include "blocks/block_util.h"

#define GROUP_MAX_EPS 1e-15f

bool kite__quantize_row_iq2_xxs_w_with(const float *restrict x, block_iq2_xxs *restrict y, int64_t n, const float *qw,
                                       const kite__quant_search *s) {
    KITE_ASSERT(n % QK_K == 0);
    const kite__iq_grid *g = kite__iq_grid_get(KITE__IQ_GRID_IQ2_XXS);
    if (!g) return false;
    const int kMaxQ = 3;
    float scales[QK_K / 32], weight[32], xval[32], waux[32];
    int8_t L[32];
    uint8_t block_signs[4];
    uint32_t q2[2 * (QK_K / 32)];
    for (int64_t ibl = 0; ibl < n / QK_K; ibl++) {
        y[ibl].d = kite_f32_to_f16(0.0f);
        memset(q2, 0, sizeof q2);
        float max_scale = 0;
        const float *xbl = x + QK_K * ibl;
        const float sigma2 = kite__iq_sigma2(xbl, 1);
        for (int ib = 0; ib < QK_K / 32; ib++) {
            const float *xb = xbl + 32 * ib;
            kite__iq_weights(xb, qw + QK_K * ibl + 32 * ib, sigma2, weight, 32);
            kite__iq_fold_group(xb, weight, 32, true, waux, xval, block_signs);
            const float max = kite__iq_group_max(xval, 32);
            if (max < GROUP_MAX_EPS) {
                scales[ib] = 0;
                memset(L, 0, 32);
                continue;
            }
            float scale = kite__make_qp_quants(32, kMaxQ + 1, xval, (uint8_t *)L, weight);
            const float eff_max = scale * (float)kMaxQ;
            if (eff_max <= 0) {
                scales[ib] = 0;
                memset(L, 0, 32);
                continue;
            }
            scale = kite__iq_search_scale(g, 32, kMaxQ, eff_max, scale, 6, 0.1f, KITE__IQ_RESNAP_ALL, xval, weight, waux, L, s);
            if (scale < 0) { // cannot happen with weights >= 0; the scale is stored unsigned
                scale = -scale;
                for (int k = 0; k < 4; k++) block_signs[k] = (uint8_t)(~block_signs[k] & 127);
            }
            int gi[4];
            if (!kite__iq_grid_indices(g, L, 4, gi)) return false; // ggml aborts here
            for (int k = 0; k < 4; k++) {
                q2[2 * ib] |= (uint32_t)gi[k] << (8 * k);
                q2[2 * ib + 1] |= (uint32_t)block_signs[k] << (7 * k);
            }
            if (!(scale >= 0)) return false; // ggml asserts
            scales[ib] = scale;
            max_scale = KITE_MAX(max_scale, scale);
        }
        if (!max_scale) {
            memset(y[ibl].qs, 0, sizeof y[ibl].qs);
            continue;
        }
        const float d = max_scale / 31;
        y[ibl].d = kite_f32_to_f16(d);
        const float id = 1 / d;
        for (int ib = 0; ib < QK_K / 32; ib++) {
            int l = kite__iq_level(id, scales[ib], 15);
            q2[2 * ib + 1] |= (uint32_t)l << 28;
        }
        memcpy(y[ibl].qs, q2, sizeof q2);
    }
    return true;
}

// The groups of 16 of IQ2_XS (7 sign bits of even parity per 8) and IQ2_S (all 8 stored).
static const kite__iq_group_opts IQ2_XS_GROUP = {16, 3, true, GROUP_MAX_EPS, 9, 0.1f, KITE__IQ_RESNAP_OFF_GRID};
static const kite__iq_group_opts IQ2_S_GROUP = {16, 3, false, 1e-8f, 9, 0.1f, KITE__IQ_RESNAP_OFF_GRID};

bool kite__quantize_row_iq2_xs_w_with(const float *restrict x, block_iq2_xs *restrict y, int64_t n, const float *qw,
                                      const kite__quant_search *s) {
    KITE_ASSERT(n % QK_K == 0);
    const kite__iq_grid *g = kite__iq_grid_get(KITE__IQ_GRID_IQ2_XS);
    if (!g) return false;
    float scales[QK_K / 16];
    int8_t L[16];
    uint8_t block_signs[2];
    uint16_t q2[2 * (QK_K / 16)];
    for (int64_t ibl = 0; ibl < n / QK_K; ibl++) {
        y[ibl].d = kite_f32_to_f16(0.0f);
        memset(q2, 0, sizeof q2);
        memset(y[ibl].scales, 0, sizeof y[ibl].scales);
        float max_scale = 0;
        const float *xbl = x + QK_K * ibl;
        const float sigma2 = kite__iq_sigma2(xbl, 1);
        for (int ib = 0; ib < QK_K / 16; ib++) {
            const float *xb = xbl + 16 * ib;
            float weight[16], scale;
            kite__iq_weights(xb, qw + QK_K * ibl + 16 * ib, sigma2, weight, 16);
            if (!kite__iq_quantize_group(g, s, &IQ2_XS_GROUP, xb, weight, block_signs, L, &scale)) {
                scales[ib] = 0;
                continue;
            }
            int gi[2];
            if (!kite__iq_grid_indices(g, L, 2, gi)) return false; // ggml aborts here
            for (int k = 0; k < 2; k++) q2[2 * ib + k] = (uint16_t)(gi[k] | (block_signs[k] << 9));
            if (!(scale >= 0)) return false;
            scales[ib] = scale;
            max_scale = KITE_MAX(max_scale, scale);
        }
        if (!max_scale) {
            memset(y[ibl].qs, 0, sizeof y[ibl].qs);
            continue;
        }
        const float d = max_scale / 31;
        y[ibl].d = kite_f32_to_f16(d);
        kite__iq_pack_levels4(1 / d, scales, QK_K / 16, y[ibl].scales);
        memcpy(y[ibl].qs, q2, sizeof q2);
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
    float scales[QK_K / 16];
    int8_t L[16];
    uint8_t block_signs[2];
    for (int64_t ibl = 0; ibl < n / QK_K; ibl++) {
        memset(&y[ibl], 0, sizeof y[ibl]);
        float max_scale = 0;
        const float *xbl = x + QK_K * ibl;
        const float sigma2 = kite__iq_sigma2(xbl, 2);
        for (int ib = 0; ib < QK_K / 16; ib++) {
            const float *xb = xbl + 16 * ib;
            float weight[16], scale;
            if (qw) kite__iq_weights(xb, qw + QK_K * ibl + 16 * ib, sigma2, weight, 16);
            else
                for (int i = 0; i < 16; i++) weight[i] = 0.25f * sigma2 + xb[i] * xb[i];
            if (!kite__iq_quantize_group(g, s, &IQ2_S_GROUP, xb, weight, block_signs, L, &scale)) {
                scales[ib] = 0;
                continue;
            }
            int gi[2];
            if (!kite__iq_grid_indices(g, L, 2, gi)) return false; // ggml aborts here
            for (int k = 0; k < 2; k++) {
                const int i8 = 2 * ib + k;
                y[ibl].qs[i8] = (uint8_t)(gi[k] & 255);
                y[ibl].qh[i8 / 4] |= (uint8_t)((gi[k] >> 8) << (2 * (i8 % 4)));
                y[ibl].qs[QK_K / 8 + i8] = block_signs[k];
            }
            if (!(scale >= 0)) return false;
            scales[ib] = scale;
            max_scale = KITE_MAX(max_scale, scale);
        }
        if (!max_scale) continue;
        const float d = max_scale / 31;
        y[ibl].d = kite_f32_to_f16(d * 0.9875f); // ggml's fudge factor
        kite__iq_pack_levels4(1 / d, scales, QK_K / 16, y[ibl].scales);
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
