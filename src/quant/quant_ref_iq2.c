// quant_ref_iq2.c - reference quantizers of IQ2_XXS and IQ2_XS (8 values per point of a grid of
// 3-level magnitudes, with sign patterns of even parity), as ggml's quantize_row_iq2_*_impl.
// They need an importance matrix (ggml asserts one). Search per group of 32 / 16 values: flip
// signs to make every value >= 0 (fixing the parity on the least important value), try scales
// around the best uniform fit, snap each 8 values to the grid (or, off the grid, to the best of
// its precomputed nearest grid points), keep the weighted least-squares best.
#include "quant/quant_iq_grid.h"
#include "quant/quant_search.h"

#include <float.h>

#include "base/internal.h"
#include "quant/kite_quant.h"
#include "blocks/block_util.h"

#define GROUP_MAX_EPS 1e-15f

// The grid point of the 8 values whose codes l (0..2, two bits each) are packed in u, snapping
// off-grid codes to the best neighbour for scale (weighted by waux); writes the codes of the
// chosen point to L. Returns its index.
static int snap(const kite__iq_grid *g, uint16_t u, const float *xval, const float *waux, float scale, int8_t *L) {
    int gi = g->map[u];
    if (gi < 0) gi = kite__iq_grid_best_neighbour(g, g->neighbours - g->map[u] - 1, xval, waux, scale, L);
    return gi;
}

static inline uint16_t pack_codes(const int8_t *L) {
    uint16_t u = 0;
    for (int i = 0; i < 8; i++) u = (uint16_t)(u | (L[i] << (2 * i)));
    return u;
}

// Signs of a group of 8: values made >= 0 in xval; an odd count of negatives flips the value
// with the least weight * x^2 back. Returns the 7 stored sign bits.
static uint8_t fold_signs(const float *xb, const float *weight, float *xval) {
    int nflip = 0;
    uint8_t s = 0;
    for (int i = 0; i < 8; i++) {
        if (xb[i] >= 0) xval[i] = xb[i];
        else {
            xval[i] = -xb[i];
            ++nflip;
            s = (uint8_t)(s | (1 << i));
        }
    }
    if (nflip % 2) {
        int imin = 0;
        float min = weight[0] * xb[0] * xb[0];
        for (int i = 1; i < 8; i++) {
            float ax = weight[i] * xb[i] * xb[i];
            if (ax < min) {
                min = ax;
                imin = i;
            }
        }
        xval[imin] = -xval[imin];
        s = (uint8_t)(s ^ (1 << imin));
    }
    return s & 127;
}

// sum w * x * q and sum w * q^2 with q = 2l + 1.
static void fit_sums(int n, const float *w, const float *xval, const int8_t *L, float *sqx, float *sq2) {
    float sumqx = 0, sumq2 = 0;
    for (int i = 0; i < n; i++) {
        float q = (float)(2 * L[i] + 1);
        sumqx += w[i] * xval[i] * q;
        sumq2 += w[i] * q * q;
    }
    *sqx = sumqx;
    *sq2 = sumq2;
}

bool kite_quantize_row_iq2_xxs_w_ref(const float *restrict x, block_iq2_xxs *restrict y, int64_t n, const float *qw) {
    KITE_ASSERT(n % QK_K == 0);
    const kite__iq_grid *g = kite__iq_grid_get(KITE__IQ_GRID_IQ2_XXS);
    if (!g) return false;
    const int kMaxQ = 3;
    float scales[QK_K / 32], weight[32], xval[32], waux[32];
    int8_t L[32], Laux[32];
    uint8_t block_signs[4];
    uint32_t q2[2 * (QK_K / 32)];
    for (int64_t ibl = 0; ibl < n / QK_K; ibl++) {
        y[ibl].d = kite_f32_to_f16(0.0f);
        memset(q2, 0, sizeof q2);
        float max_scale = 0;
        const float *xbl = x + QK_K * ibl;
        float sumx2 = 0;
        for (int i = 0; i < QK_K; i++) sumx2 += xbl[i] * xbl[i];
        const float sigma2 = sumx2 / QK_K;
        for (int ib = 0; ib < QK_K / 32; ib++) {
            const float *xb = xbl + 32 * ib, *w = qw + QK_K * ibl + 32 * ib;
            for (int i = 0; i < 32; i++) weight[i] = w[i] * sqrtf(sigma2 + xb[i] * xb[i]);
            for (int i = 0; i < 32; i++) waux[i] = sqrtf(weight[i]);
            for (int k = 0; k < 4; k++) block_signs[k] = fold_signs(xb + 8 * k, weight + 8 * k, xval + 8 * k);
            float max = xval[0];
            for (int i = 1; i < 32; i++) max = KITE_MAX(max, xval[i]);
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
            float best = 0;
            for (int is = -6; is <= 6; is++) {
                const float id = ((float)(2 * kMaxQ - 1) + (float)is * 0.1f) / eff_max;
                const float this_scale = 1 / id;
                for (int k = 0; k < 4; k++) {
                    for (int i = 0; i < 8; i++) {
                        int l = kite__nearest_int(0.5f * (id * xval[8 * k + i] - 1));
                        Laux[8 * k + i] = (int8_t)KITE_MAX(0, KITE_MIN(kMaxQ - 1, l));
                    }
                    snap(g, pack_codes(Laux + 8 * k), xval + 8 * k, waux + 8 * k, this_scale, Laux + 8 * k);
                }
                float sumqx, sumq2;
                fit_sums(32, weight, xval, Laux, &sumqx, &sumq2);
                if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                    scale = sumqx / sumq2;
                    best = scale * sumqx;
                    memcpy(L, Laux, 32);
                }
            }
            if (scale > 0) {
                const float id = 1 / scale;
                for (int k = 0; k < 4; k++) {
                    uint16_t u = 0;
                    for (int i = 0; i < 8; i++) {
                        int l = KITE_MAX(0, KITE_MIN(kMaxQ - 1, kite__nearest_int(0.5f * (id * xval[8 * k + i] - 1))));
                        u = (uint16_t)(u | (l << (2 * i)));
                    }
                    int gi = snap(g, u, xval + 8 * k, waux + 8 * k, scale, L + 8 * k);
                    const uint8_t *pg = g->pts + 8 * gi;
                    for (int i = 0; i < 8; i++) L[8 * k + i] = (int8_t)((pg[i] - 1) / 2);
                }
                float sumqx, sumq2;
                fit_sums(32, weight, xval, L, &sumqx, &sumq2);
                if (sumq2 > 0) scale = sumqx / sumq2;
            }
            if (scale < 0) { // cannot happen with weights >= 0; the scale is stored unsigned
                scale = -scale;
                for (int k = 0; k < 4; k++) block_signs[k] = (uint8_t)(~block_signs[k] & 127);
            }
            for (int k = 0; k < 4; k++) {
                int gi = g->map[pack_codes(L + 8 * k)];
                if (gi < 0) return false; // ggml aborts here ("point not on grid")
                q2[2 * ib] |= (uint32_t)gi << (8 * k);
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
            int l = KITE_MAX(0, KITE_MIN(15, kite__nearest_int(0.5f * (id * scales[ib] - 1))));
            q2[2 * ib + 1] |= (uint32_t)l << 28;
        }
        memcpy(y[ibl].qs, q2, sizeof q2);
    }
    return true;
}

// The scale search of ggml's IQ2_XS and IQ2_S quantizers for one group of 16 folded (|x|)
// values, two halves of 8 on grid g's levels 0..kMaxQ-1: 19 candidate scales, each half snapped
// to its nearest grid point; halves still off the grid at the best scale are snapped again and
// the scale refit. false when the group's largest value is below eps (it quantizes to zero);
// else the levels in L and the scale in *scale_out (negative: the caller flips the signs).
static bool search_group16(const kite__iq_grid *g, int kMaxQ, float eps, const float *xval, const float *weight,
                           const float *waux, int8_t L[16], float *scale_out) {
    int8_t Laux[16];
    bool on_grid[2], on_grid_aux[2];
    float max = xval[0];
    for (int i = 1; i < 16; i++) max = KITE_MAX(max, xval[i]);
    memset(L, 0, 16);
    if (max < eps) return false;
    float best = 0;
    float scale = max / (float)(2 * kMaxQ - 1);
    on_grid[0] = on_grid[1] = true;
    for (int is = -9; is <= 9; is++) {
        const float id = ((float)(2 * kMaxQ - 1) + (float)is * 0.1f) / max;
        const float this_scale = 1 / id;
        for (int k = 0; k < 2; k++) {
            for (int i = 0; i < 8; i++) {
                int l = kite__nearest_int(0.5f * (id * xval[8 * k + i] - 1));
                Laux[8 * k + i] = (int8_t)KITE_MAX(0, KITE_MIN(kMaxQ - 1, l));
            }
            const uint16_t u = pack_codes(Laux + 8 * k);
            on_grid_aux[k] = g->map[u] >= 0;
            snap(g, u, xval + 8 * k, waux + 8 * k, this_scale, Laux + 8 * k);
        }
        float sumqx, sumq2;
        fit_sums(16, weight, xval, Laux, &sumqx, &sumq2);
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            scale = sumqx / sumq2;
            best = scale * sumqx;
            memcpy(L, Laux, 16);
            on_grid[0] = on_grid_aux[0];
            on_grid[1] = on_grid_aux[1];
        }
    }
    if ((!on_grid[0] || !on_grid[1]) && scale > 0) {
        const float id = 1 / scale;
        for (int k = 0; k < 2; k++) {
            if (on_grid[k]) continue;
            uint16_t u = 0;
            for (int i = 0; i < 8; i++) {
                int l = KITE_MAX(0, KITE_MIN(kMaxQ - 1, kite__nearest_int(0.5f * (id * xval[8 * k + i] - 1))));
                u = (uint16_t)(u | (l << (2 * i)));
                L[8 * k + i] = (int8_t)l;
            }
            snap(g, u, xval + 8 * k, waux + 8 * k, scale, L + 8 * k);
        }
        float sumqx, sumq2;
        fit_sums(16, weight, xval, L, &sumqx, &sumq2);
        if (sumq2 > 0) scale = sumqx / sumq2;
    }
    *scale_out = scale;
    return true;
}

bool kite_quantize_row_iq2_xs_w_ref(const float *restrict x, block_iq2_xs *restrict y, int64_t n, const float *qw) {
    KITE_ASSERT(n % QK_K == 0);
    const kite__iq_grid *g = kite__iq_grid_get(KITE__IQ_GRID_IQ2_XS);
    if (!g) return false;
    const int kMaxQ = 3;
    float scales[QK_K / 16], weight[16], xval[16], waux[16];
    int8_t L[16];
    uint8_t block_signs[2];
    uint16_t q2[2 * (QK_K / 16)];
    for (int64_t ibl = 0; ibl < n / QK_K; ibl++) {
        y[ibl].d = kite_f32_to_f16(0.0f);
        memset(q2, 0, sizeof q2);
        memset(y[ibl].scales, 0, sizeof y[ibl].scales);
        float max_scale = 0;
        const float *xbl = x + QK_K * ibl;
        float sumx2 = 0;
        for (int i = 0; i < QK_K; i++) sumx2 += xbl[i] * xbl[i];
        const float sigma2 = sumx2 / QK_K;
        for (int ib = 0; ib < QK_K / 16; ib++) {
            const float *xb = xbl + 16 * ib, *w = qw + QK_K * ibl + 16 * ib;
            for (int i = 0; i < 16; i++) weight[i] = w[i] * sqrtf(sigma2 + xb[i] * xb[i]);
            for (int i = 0; i < 16; i++) waux[i] = sqrtf(weight[i]);
            for (int k = 0; k < 2; k++) block_signs[k] = fold_signs(xb + 8 * k, weight + 8 * k, xval + 8 * k);
            float scale;
            if (!search_group16(g, kMaxQ, GROUP_MAX_EPS, xval, weight, waux, L, &scale)) {
                scales[ib] = 0;
                continue;
            }
            if (scale < 0) {
                scale = -scale;
                for (int k = 0; k < 2; k++) block_signs[k] = (uint8_t)(~block_signs[k] & 127);
            }
            for (int k = 0; k < 2; k++) {
                int gi = g->map[pack_codes(L + 8 * k)];
                if (gi < 0) return false; // ggml aborts here
                q2[2 * ib + k] = (uint16_t)(gi | (block_signs[k] << 9));
            }
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
        const float id = 1 / d;
        for (int ib = 0; ib < QK_K / 16; ib++) {
            int l = KITE_MAX(0, KITE_MIN(15, kite__nearest_int(0.5f * (id * scales[ib] - 1))));
            if (ib % 2 == 0) y[ibl].scales[ib / 2] = (uint8_t)l;
            else y[ibl].scales[ib / 2] |= (uint8_t)(l << 4);
        }
        memcpy(y[ibl].qs, q2, sizeof q2);
    }
    return true;
}

#define GROUP_MAX_EPS_IQ2_S 1e-8f

// IQ2_S: 10-bit grid indices, explicit 8-bit signs (no parity), scales per 16; weights from the
// importance matrix, or 0.25 * sigma2 + x^2 without one (as ggml).
static bool quantize_iq2_s(const float *restrict x, block_iq2_s *restrict y, int64_t n, const float *qw) {
    const kite__iq_grid *g = kite__iq_grid_get(KITE__IQ_GRID_IQ2_S);
    if (!g) return false;
    const int kMaxQ = 3;
    float scales[QK_K / 16], weight[16], xval[16], waux[16];
    int8_t L[16];
    uint8_t block_signs[2];
    for (int64_t ibl = 0; ibl < n / QK_K; ibl++) {
        memset(&y[ibl], 0, sizeof y[ibl]);
        float max_scale = 0;
        const float *xbl = x + QK_K * ibl;
        float sumx2 = 0;
        for (int i = 0; i < QK_K; i++) sumx2 += xbl[i] * xbl[i];
        const float sigma2 = 2 * sumx2 / QK_K;
        for (int ib = 0; ib < QK_K / 16; ib++) {
            const float *xb = xbl + 16 * ib;
            if (qw)
                for (int i = 0; i < 16; i++) weight[i] = qw[QK_K * ibl + 16 * ib + i] * sqrtf(sigma2 + xb[i] * xb[i]);
            else
                for (int i = 0; i < 16; i++) weight[i] = 0.25f * sigma2 + xb[i] * xb[i];
            for (int i = 0; i < 16; i++) waux[i] = sqrtf(weight[i]);
            for (int k = 0; k < 2; k++) {
                uint8_t s = 0;
                for (int i = 0; i < 8; i++) {
                    if (xb[8 * k + i] >= 0) xval[8 * k + i] = xb[8 * k + i];
                    else {
                        xval[8 * k + i] = -xb[8 * k + i];
                        s = (uint8_t)(s | (1 << i));
                    }
                }
                block_signs[k] = s;
            }
            float scale;
            if (!search_group16(g, kMaxQ, GROUP_MAX_EPS_IQ2_S, xval, weight, waux, L, &scale)) {
                scales[ib] = 0;
                continue;
            }
            if (scale < 0) {
                scale = -scale;
                for (int k = 0; k < 2; k++) block_signs[k] = (uint8_t)~block_signs[k];
            }
            for (int k = 0; k < 2; k++) {
                int gi = g->map[pack_codes(L + 8 * k)];
                if (gi < 0) return false; // ggml aborts here
                const int i8 = 2 * ib + k;
                y[ibl].qs[i8] = (uint8_t)(gi & 255);
                y[ibl].qh[i8 / 4] |= (uint8_t)((gi >> 8) << (2 * (i8 % 4)));
                y[ibl].qs[QK_K / 8 + i8] = block_signs[k];
            }
            if (!(scale >= 0)) return false;
            scales[ib] = scale;
            max_scale = KITE_MAX(max_scale, scale);
        }
        if (!max_scale) continue;
        const float d = max_scale / 31;
        y[ibl].d = kite_f32_to_f16(d * 0.9875f); // ggml's fudge factor
        const float id = 1 / d;
        for (int ib = 0; ib < QK_K / 16; ib++) {
            int l = KITE_MAX(0, KITE_MIN(15, kite__nearest_int(0.5f * (id * scales[ib] - 1))));
            if (ib % 2 == 0) y[ibl].scales[ib / 2] = (uint8_t)l;
            else y[ibl].scales[ib / 2] |= (uint8_t)(l << 4);
        }
    }
    return true;
}

bool kite_quantize_row_iq2_s_ref(const float *restrict x, block_iq2_s *restrict y, int64_t n) {
    KITE_ASSERT(n % QK_K == 0);
    return quantize_iq2_s(x, y, n, NULL);
}

bool kite_quantize_row_iq2_s_w_ref(const float *restrict x, block_iq2_s *restrict y, int64_t n, const float *qw) {
    KITE_ASSERT(n % QK_K == 0);
    return quantize_iq2_s(x, y, n, qw);
}
