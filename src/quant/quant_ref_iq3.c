// quant_ref_iq3.c - reference quantizers of IQ3_XXS and IQ3_S (4 values per point of a grid of
// 8-level magnitudes), as ggml's quantize_row_iq3_xxs_impl / quantize_row_iq3_s_impl, with or
// without an importance matrix (without: weights x^2). Per 32 values: signs folded out (IQ3_XXS
// keeps an even parity, IQ3_S stores all 8 sign bits), 31 / 19 trial scales, each 4 values
// snapped to the grid or to the best of their nearest grid points, the weighted least-squares
// best kept; then 4-bit block scales against the super-block's largest.
#include "quant/quant_iq_grid.h"

#include "base/internal.h"
#include "quant/kite_quant.h"
#include "blocks/block_util.h"

#define GROUP_MAX_EPS_IQ3_XXS 1e-8f

static uint16_t pack3(const int8_t *L) { return (uint16_t)(L[0] | (L[1] << 3) | (L[2] << 6) | (L[3] << 9)); }

// The grid point of 4 codes (0..7), or off the grid the best neighbour at scale (writes L).
static int snap(const kite__iq_grid *g, uint16_t u, const float *xval, const float *waux, float scale, int8_t *L, bool *on) {
    int gi = g->map[u];
    *on = gi >= 0;
    if (gi < 0) gi = kite__iq_grid_best_neighbour(g, g->neighbours - g->map[u] - 1, xval, waux, scale, L);
    return gi;
}

static void fit_sums(const float *w, const float *xval, const int8_t *L, float *sqx, float *sq2) {
    float sumqx = 0, sumq2 = 0;
    for (int i = 0; i < 32; i++) {
        float q = (float)(2 * L[i] + 1);
        sumqx += w[i] * xval[i] * q;
        sumq2 += w[i] * q * q;
    }
    *sqx = sumqx;
    *sq2 = sumq2;
}

static void weights_of(const float *xb, const float *qw, float sigma2, float *weight) {
    if (qw)
        for (int i = 0; i < 32; i++) weight[i] = qw[i] * sqrtf(sigma2 + xb[i] * xb[i]);
    else
        for (int i = 0; i < 32; i++) weight[i] = xb[i] * xb[i];
}

static bool quantize_iq3_xxs(const float *restrict x, block_iq3_xxs *restrict y, int64_t n, const float *qw) {
    const kite__iq_grid *g = kite__iq_grid_get(KITE__IQ_GRID_IQ3_XXS);
    if (!g) return false;
    const int kMaxQ = 8;
    float scales[QK_K / 32], weight[32], xval[32], waux[32];
    int8_t L[32], Laux[32];
    bool on_grid[8], on_grid_aux[8];
    uint8_t block_signs[8];
    uint8_t q3[3 * (QK_K / 8) + QK_K / 32];
    uint32_t sas[QK_K / 32]; // scales and signs, copied into q3 at the end
    for (int64_t ibl = 0; ibl < n / QK_K; ibl++) {
        y[ibl].d = kite_f32_to_f16(0.0f);
        memset(q3, 0, sizeof q3);
        memset(sas, 0, sizeof sas);
        float max_scale = 0;
        const float *xbl = x + QK_K * ibl;
        float sumx2 = 0;
        for (int i = 0; i < QK_K; i++) sumx2 += xbl[i] * xbl[i];
        const float sigma2 = 2 * sumx2 / QK_K;
        for (int ib = 0; ib < QK_K / 32; ib++) {
            const float *xb = xbl + 32 * ib;
            weights_of(xb, qw ? qw + QK_K * ibl + 32 * ib : NULL, sigma2, weight);
            for (int i = 0; i < 32; i++) waux[i] = sqrtf(weight[i]);
            for (int k = 0; k < 4; k++) {
                int nflip = 0;
                uint8_t s = 0;
                for (int i = 0; i < 8; i++) {
                    if (xb[8 * k + i] >= 0) xval[8 * k + i] = xb[8 * k + i];
                    else {
                        xval[8 * k + i] = -xb[8 * k + i];
                        ++nflip;
                        s = (uint8_t)(s | (1 << i));
                    }
                }
                if (nflip % 2) {
                    int imin = 0;
                    float min = weight[8 * k] * xb[8 * k] * xb[8 * k];
                    for (int i = 1; i < 8; i++) {
                        float ax = weight[8 * k + i] * xb[8 * k + i] * xb[8 * k + i];
                        if (ax < min) {
                            min = ax;
                            imin = i;
                        }
                    }
                    xval[8 * k + imin] = -xval[8 * k + imin];
                    s = (uint8_t)(s ^ (1 << imin));
                }
                block_signs[k] = s & 127;
            }
            float max = xval[0];
            for (int i = 1; i < 32; i++) max = KITE_MAX(max, xval[i]);
            memset(L, 0, 32);
            if (max < GROUP_MAX_EPS_IQ3_XXS) {
                scales[ib] = 0;
                continue;
            }
            float best = 0;
            float scale = max / (float)(2 * kMaxQ - 1);
            for (int k = 0; k < 8; k++) on_grid[k] = true;
            for (int is = -15; is <= 15; is++) {
                const float id = ((float)(2 * kMaxQ - 1) + (float)is * 0.2f) / max;
                const float this_scale = 1 / id;
                for (int k = 0; k < 8; k++) {
                    for (int i = 0; i < 4; i++) {
                        int l = kite__nearest_int(0.5f * (id * xval[4 * k + i] - 1));
                        Laux[4 * k + i] = (int8_t)KITE_MAX(0, KITE_MIN(kMaxQ - 1, l));
                    }
                    snap(g, pack3(Laux + 4 * k), xval + 4 * k, waux + 4 * k, this_scale, Laux + 4 * k, &on_grid_aux[k]);
                }
                float sumqx, sumq2;
                fit_sums(weight, xval, Laux, &sumqx, &sumq2);
                if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                    scale = sumqx / sumq2;
                    best = scale * sumqx;
                    memcpy(L, Laux, 32);
                    memcpy(on_grid, on_grid_aux, sizeof on_grid);
                }
            }
            int n_off = 0;
            for (int k = 0; k < 8; k++) n_off += !on_grid[k];
            if (n_off > 0 && scale > 0) {
                const float id = 1 / scale;
                for (int k = 0; k < 8; k++) {
                    if (on_grid[k]) continue;
                    int8_t l4[4];
                    for (int i = 0; i < 4; i++)
                        l4[i] = (int8_t)KITE_MAX(0, KITE_MIN(kMaxQ - 1, kite__nearest_int(0.5f * (id * xval[4 * k + i] - 1))));
                    bool on;
                    int gi = snap(g, pack3(l4), xval + 4 * k, waux + 4 * k, scale, L + 4 * k, &on);
                    for (int i = 0; i < 4; i++) L[4 * k + i] = (int8_t)((g->pts[8 * gi + i] - 1) / 2);
                }
                float sumqx, sumq2;
                fit_sums(weight, xval, L, &sumqx, &sumq2);
                if (sumq2 > 0) scale = sumqx / sumq2;
            }
            if (scale < 0) { // cannot happen with weights >= 0 (ggml flips only the first 4 patterns)
                scale = -scale;
                for (int k = 0; k < 4; k++) block_signs[k] = (uint8_t)(~block_signs[k] & 127);
            }
            for (int k = 0; k < 8; k++) {
                int gi = g->map[pack3(L + 4 * k)];
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
            int l = KITE_MAX(0, KITE_MIN(15, kite__nearest_int(0.5f * (id * scales[ib] - 1))));
            sas[ib] |= (uint32_t)l << 28;
        }
        memcpy(q3 + QK_K / 4, sas, sizeof sas);
        memcpy(y[ibl].qs, q3, sizeof y[ibl].qs);
    }
    return true;
}

static bool quantize_iq3_s(const float *restrict x, block_iq3_s *restrict y, int64_t n, const float *qw) {
    const kite__iq_grid *g = kite__iq_grid_get(KITE__IQ_GRID_IQ3_S);
    if (!g) return false;
    const int kMaxQ = 8;
    float scales[QK_K / 32], weight[32], xval[32], waux[32];
    int8_t L[32], Laux[32];
    bool on_grid[8], on_grid_aux[8];
    uint8_t block_signs[4];
    for (int64_t ibl = 0; ibl < n / QK_K; ibl++) {
        memset(&y[ibl], 0, sizeof y[ibl]);
        uint8_t *qs = y[ibl].qs, *qh = y[ibl].qh, *signs = y[ibl].signs;
        float max_scale = 0;
        const float *xbl = x + QK_K * ibl;
        float sumx2 = 0;
        for (int i = 0; i < QK_K; i++) sumx2 += xbl[i] * xbl[i];
        const float sigma2 = 2 * sumx2 / QK_K;
        for (int ib = 0; ib < QK_K / 32; ib++) {
            const float *xb = xbl + 32 * ib;
            weights_of(xb, qw ? qw + QK_K * ibl + 32 * ib : NULL, sigma2, weight);
            for (int i = 0; i < 32; i++) waux[i] = sqrtf(weight[i]);
            for (int k = 0; k < 4; k++) {
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
            float max = xval[0];
            for (int i = 1; i < 32; i++) max = KITE_MAX(max, xval[i]);
            memset(L, 0, 32);
            if (!max) {
                scales[ib] = 0;
                continue;
            }
            float best = 0;
            float scale = max / (float)(2 * kMaxQ - 1);
            for (int k = 0; k < 8; k++) on_grid[k] = false;
            for (int is = -9; is <= 9; is++) {
                const float id = ((float)(2 * kMaxQ - 1) + (float)is * 0.2f) / max;
                const float this_scale = 1 / id;
                for (int k = 0; k < 8; k++) {
                    for (int i = 0; i < 4; i++) {
                        int l = kite__nearest_int(0.5f * (id * xval[4 * k + i] - 1));
                        Laux[4 * k + i] = (int8_t)KITE_MAX(0, KITE_MIN(kMaxQ - 1, l));
                    }
                    snap(g, pack3(Laux + 4 * k), xval + 4 * k, waux + 4 * k, this_scale, Laux + 4 * k, &on_grid_aux[k]);
                }
                float sumqx, sumq2;
                fit_sums(weight, xval, Laux, &sumqx, &sumq2);
                if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                    scale = sumqx / sumq2;
                    best = scale * sumqx;
                    memcpy(L, Laux, 32);
                    memcpy(on_grid, on_grid_aux, sizeof on_grid);
                }
            }
            int n_off = 0;
            for (int k = 0; k < 8; k++) n_off += !on_grid[k];
            if (n_off > 0 && scale > 0) {
                const float id = 1 / scale;
                for (int k = 0; k < 8; k++) { // every point again, on the grid or not (as ggml)
                    int8_t l4[4];
                    for (int i = 0; i < 4; i++)
                        l4[i] = (int8_t)KITE_MAX(0, KITE_MIN(kMaxQ - 1, kite__nearest_int(0.5f * (id * xval[4 * k + i] - 1))));
                    bool on;
                    int gi = snap(g, pack3(l4), xval + 4 * k, waux + 4 * k, scale, L + 4 * k, &on);
                    for (int i = 0; i < 4; i++) L[4 * k + i] = (int8_t)((g->pts[8 * gi + i] - 1) / 2);
                }
                float sumqx, sumq2;
                fit_sums(weight, xval, L, &sumqx, &sumq2);
                if (sumq2 > 0) scale = sumqx / sumq2;
            }
            if (scale < 0) {
                scale = -scale;
                for (int k = 0; k < 4; k++) block_signs[k] = (uint8_t)~block_signs[k];
            }
            for (int k = 0; k < 8; k++) {
                int gi = g->map[pack3(L + 4 * k)];
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
            int l1 = KITE_MAX(0, KITE_MIN(15, kite__nearest_int(0.5f * (id * scales[ib] - 1))));
            int l2 = KITE_MAX(0, KITE_MIN(15, kite__nearest_int(0.5f * (id * scales[ib + 1] - 1))));
            y[ibl].scales[ib / 2] = (uint8_t)(l1 | (l2 << 4));
        }
    }
    return true;
}

bool kite_quantize_row_iq3_xxs_ref(const float *restrict x, block_iq3_xxs *restrict y, int64_t n) {
    KITE_ASSERT(n % QK_K == 0);
    return quantize_iq3_xxs(x, y, n, NULL);
}

bool kite_quantize_row_iq3_s_ref(const float *restrict x, block_iq3_s *restrict y, int64_t n) {
    KITE_ASSERT(n % QK_K == 0);
    return quantize_iq3_s(x, y, n, NULL);
}

bool kite_quantize_row_iq3_xxs_w_ref(const float *restrict x, block_iq3_xxs *restrict y, int64_t n, const float *qw) {
    KITE_ASSERT(n % QK_K == 0);
    return quantize_iq3_xxs(x, y, n, qw);
}

bool kite_quantize_row_iq3_s_w_ref(const float *restrict x, block_iq3_s *restrict y, int64_t n, const float *qw) {
    KITE_ASSERT(n % QK_K == 0);
    return quantize_iq3_s(x, y, n, qw);
}
