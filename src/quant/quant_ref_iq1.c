// quant_ref_iq1.c - reference quantizers of IQ1_S and IQ1_M (8 values per point of a grid of
// -1/0/1, plus a shift of +-1/8), as ggml's quantize_row_iq1_s_impl / quantize_row_iq1_m_impl.
// Per 32 (IQ1_S) or 16 (IQ1_M) values the three-way split that best fits the weighted values is
// found exactly: sort them, then try every pair of boundaries with prefix sums; the codes are
// then snapped to the grid (off it: the nearest of their precomputed neighbours).
//
// The sort: ggml calls qsort with a comparison of the values only, so the order of equal values
// is the C library's. glibc (<= 2.36, the reference's) sorts stably, which is what this does.
#include "quant/quant_iq_search.h"

#include <float.h>

#include "base/internal.h"
#include "quant/kite_quant.h"
#include "blocks/block_util.h"

#define GROUP_MAX_EPS_IQ1_M 1e-7f
#define GROUP_MAX_EPS_IQ1_S 1e-12f

// idx[0..n) = 0..n-1 ordered by x ascending, equal values in index order (a stable sort).
static void sort_indices(const float *x, int n, int *idx) {
    for (int j = 0; j < n; j++) {
        int k = j;
        while (k > 0 && x[idx[k - 1]] > x[j]) {
            idx[k] = idx[k - 1];
            k--;
        }
        idx[k] = j;
    }
}

// L from the best split of the n values (idx: their ascending order): those before i1 get
// code 0, up to i2 code 1, the rest 2. A negative scale is made positive by mirroring the
// codes; returns true when that happened (the shift then changes sign).
static bool split_codes(const int *idx, int i1, int i2, int n, int8_t *L, float *scale) {
    for (int j = 0; j < i1; j++) L[idx[j]] = 0;
    for (int j = i1; j < i2; j++) L[idx[j]] = 1;
    for (int j = i2; j < n; j++) L[idx[j]] = 2;
    if (!(*scale < 0)) return false;
    for (int j = 0; j < n; j++) L[j] = (int8_t)(2 - L[j]);
    *scale = -*scale;
    return true;
}

// Snaps the codes L of n values (n / 8 points) to the grid, point k on the shifted levels
// xx[k]; off the grid a point takes its best neighbour at the scale (ggml's
// iq1_find_best_neighbour2, searched on set s; L rewritten), and then the scale is refitted to
// the points chosen. index gets the grid indices; false where ggml would read past its arrays
// (no neighbour at a distance below FLT_MAX).
static bool snap_points(const kite__iq_grid *g, const kite__quant_search *s, int n, const float *const *xx,
                        const float *xb, const float *weight, int8_t *L, uint16_t *index, float *scale) {
    bool all_on_grid = true;
    for (int k = 0; k < n / 8; k++) {
        int8_t *Lk = L + 8 * k;
        const uint16_t u = kite__iq_grid_pack(g, Lk);
        int gi = g->map[u];
        if (gi < 0) {
            all_on_grid = false;
            const float q[8] = {xx[k][0], xx[k][1], xx[k][2]};
            float tt[8][8];
            kite__iq_terms(8, q, xb + 8 * k, weight + 8 * k, *scale, tt);
            gi = kite__iq_nearest_point(g, s, 8, u, (const float(*)[8])tt, Lk);
            float d2 = tt[0][Lk[0]]; // the pick's distance, as iq_nearest adds it
            for (int i = 1; i < 8; i++) d2 += tt[i][Lk[i]];
            if (!(d2 < FLT_MAX)) return false;
        }
        index[k] = (uint16_t)gi;
    }
    if (!all_on_grid) {
        float sumqx = 0, sumq2 = 0;
        for (int k = 0; k < n / 8; k++) {
            const uint8_t *pg = g->pts + 8 * index[k];
            for (int j = 0; j < 8; j++) {
                float wj = weight[8 * k + j], q = xx[k][(pg[j] - 1) / 2];
                sumqx += wj * q * xb[8 * k + j];
                sumq2 += wj * q * q;
            }
        }
        if (sumqx > 0 && sumq2 > 0) *scale = sumqx / sumq2;
    }
    return true;
}

bool kite__quantize_row_iq1_s_w_with(const float *restrict x, block_iq1_s *restrict y, int64_t n, const float *qw,
                                     const kite__quant_search *s) {
    KITE_ASSERT(n % QK_K == 0);
    const kite__iq_grid *g = kite__iq_grid_get(KITE__IQ_GRID_IQ1);
    if (!g) return false;
    enum { BS = 32 };
    const float x_p[3] = {-1 + IQ1S_DELTA, IQ1S_DELTA, 1 + IQ1S_DELTA};
    const float x_m[3] = {-1 - IQ1S_DELTA, -IQ1S_DELTA, 1 - IQ1S_DELTA};
    float scales[QK_K / BS], weight[BS], sumx[BS + 1], sumw[BS + 1];
    int8_t L[BS], shifts[QK_K / BS];
    int idx[BS];
    uint16_t index[BS / 8];
    for (int64_t ibl = 0; ibl < n / QK_K; ibl++) {
        y[ibl].d = kite_f32_to_f16(0.0f);
        memset(y[ibl].qs, 0, sizeof y[ibl].qs);
        memset(y[ibl].qh, 0, sizeof y[ibl].qh);
        float max_scale = 0;
        const float *xbl = x + QK_K * ibl;
        const float sigma2 = kite__iq_sigma2(xbl, 2);
        for (int ib = 0; ib < QK_K / BS; ib++) {
            const float *xb = xbl + BS * ib;
            kite__iq_weights(xb, qw + QK_K * ibl + BS * ib, sigma2, weight, BS);
            float max = fabsf(xb[0]);
            for (int i = 1; i < BS; i++) max = KITE_MAX(max, fabsf(xb[i]));
            if (max < GROUP_MAX_EPS_IQ1_S) {
                scales[ib] = 0;
                shifts[ib] = 1;
                continue;
            }
            sort_indices(xb, BS, idx);
            sumx[0] = sumw[0] = 0;
            for (int j = 0; j < BS; j++) {
                int i = idx[j];
                sumx[j + 1] = sumx[j] + weight[i] * xb[i];
                sumw[j + 1] = sumw[j] + weight[i];
            }
            float best_score = -FLT_MAX, scale = max;
            int besti1 = -1, besti2 = -1, best_shift = 0;
            for (int i1 = 0; i1 <= BS; i1++) {
                // the sums of every i2 first (independent lanes: they vectorize), then the
                // choice in ggml's order (i2 ascending, shift +1 before -1)
                float qx[2][BS + 1], q2[2][BS + 1];
                for (int h = 0; h < 2; h++) {
                    const float *v = h ? x_m : x_p;
                    for (int i2 = i1; i2 <= BS; i2++) {
                        qx[h][i2] = (sumx[i1] - sumx[0]) * v[0] + (sumx[i2] - sumx[i1]) * v[1] + (sumx[BS] - sumx[i2]) * v[2];
                        q2[h][i2] = (sumw[i1] - sumw[0]) * v[0] * v[0] + (sumw[i2] - sumw[i1]) * v[1] * v[1] +
                                    (sumw[BS] - sumw[i2]) * v[2] * v[2];
                    }
                }
                for (int i2 = i1; i2 <= BS; i2++)
                    for (int h = 0; h < 2; h++)
                        if (q2[h][i2] > 0 && qx[h][i2] * qx[h][i2] > best_score * q2[h][i2]) {
                            scale = qx[h][i2] / q2[h][i2];
                            best_score = scale * qx[h][i2];
                            besti1 = i1, besti2 = i2, best_shift = 1 - 2 * h;
                        }
            }
            if (besti1 < 0 || besti2 < 0 || best_shift == 0) {
                scales[ib] = 0;
                shifts[ib] = 1;
                continue;
            }
            if (split_codes(idx, besti1, besti2, BS, L, &scale)) best_shift = -best_shift;
            const float *xx = best_shift == 1 ? x_p : x_m;
            const float *xxs[BS / 8] = {xx, xx, xx, xx};
            if (!snap_points(g, s, BS, xxs, xb, weight, L, index, &scale)) return false;
            uint16_t h = 0;
            for (int k = 0; k < BS / 8; k++) {
                y[ibl].qs[(BS / 8) * ib + k] = (uint8_t)(index[k] & 255);
                h = (uint16_t)(h | ((index[k] >> 8) << (3 * k)));
            }
            y[ibl].qh[ib] = h;
            if (!(scale >= 0)) return false;
            scales[ib] = scale;
            shifts[ib] = (int8_t)best_shift;
            max_scale = KITE_MAX(max_scale, scale);
        }
        if (!max_scale) continue;
        const float d = max_scale / 15;
        y[ibl].d = kite_f32_to_f16(d * 1.125f); // ggml's fudge factor
        const float id = 1 / d;
        for (int ib = 0; ib < QK_K / BS; ib++) {
            int l = kite__iq_level(id, scales[ib], 7);
            if (shifts[ib] == -1) l |= 8;
            y[ibl].qh[ib] = (uint16_t)(y[ibl].qh[ib] | (l << 12));
        }
    }
    return true;
}

bool kite__quantize_row_iq1_m_w_with(const float *restrict x, block_iq1_m *restrict y, int64_t n, const float *qw,
                                     const kite__quant_search *s) {
    KITE_ASSERT(n % QK_K == 0);
    const kite__iq_grid *g = kite__iq_grid_get(KITE__IQ_GRID_IQ1);
    if (!g) return false;
    enum { BS = 16 };
    const float x_p[3] = {-1 + IQ1M_DELTA, IQ1M_DELTA, 1 + IQ1M_DELTA};
    const float x_m[3] = {-1 - IQ1M_DELTA, -IQ1M_DELTA, 1 - IQ1M_DELTA};
    const uint8_t masks[4] = {0x00, 0x80, 0x08, 0x88};
    float scales[QK_K / BS], weight[BS];
    int8_t L[BS], shifts[QK_K / BS];
    int idx[BS];
    uint16_t index[BS / 8];
    for (int64_t ibl = 0; ibl < n / QK_K; ibl++) {
        memset(&y[ibl], 0, sizeof y[ibl]);
        float max_scale = 0;
        const float *xbl = x + QK_K * ibl;
        const float sigma2 = kite__iq_sigma2(xbl, 2);
        for (int ib = 0; ib < QK_K / BS; ib++) {
            const float *xb = xbl + BS * ib;
            kite__iq_weights(xb, qw ? qw + QK_K * ibl + BS * ib : NULL, sigma2, weight, BS);
            float max = fabsf(xb[0]);
            for (int i = 1; i < BS; i++) max = KITE_MAX(max, fabsf(xb[i]));
            if (max < GROUP_MAX_EPS_IQ1_M) {
                scales[ib] = 0;
                shifts[ib] = 0;
                continue;
            }
            sort_indices(xb, BS, idx);
            float best_score = -FLT_MAX, scale = max;
            int besti1 = -1, besti2 = -1, best_k = -1;
            // prefix sums per half (each half has its own shift sign); with v0 - v1 = v1 - v2 = -1
            // a split's sum is T * v2 - px[i1] - px[i2] (ggml's closed form, kept op for op)
            float px[2][BS + 1], pw[2][BS + 1];
            px[0][0] = px[1][0] = 0;
            pw[0][0] = pw[1][0] = 0;
            for (int j = 0; j < BS; j++) {
                const int i = idx[j], h = i < BS / 2 ? 0 : 1;
                px[h][j + 1] = px[h][j] + weight[i] * xb[i];
                px[1 - h][j + 1] = px[1 - h][j];
                pw[h][j + 1] = pw[h][j] + weight[i];
                pw[1 - h][j + 1] = pw[1 - h][j];
            }
            const float txs[2] = {px[0][BS], px[1][BS]}, tws[2] = {pw[0][BS], pw[1][BS]};
            const float p2 = x_p[2], m2 = x_m[2];
            const float cp1 = x_p[0] * x_p[0] - x_p[1] * x_p[1], cp2 = x_p[1] * x_p[1] - x_p[2] * x_p[2];
            const float cm1 = x_m[0] * x_m[0] - x_m[1] * x_m[1], cm2 = x_m[1] * x_m[1] - x_m[2] * x_m[2];
            for (int i1 = 0; i1 <= BS; i1++) {
                // the sums of every i2 first (independent lanes: they vectorize), then the
                // choice in ggml's order (i2 ascending, then k)
                float sumqx[4][BS + 1], sumq2[4][BS + 1];
                for (int i2 = i1; i2 <= BS; i2++) {
                    float qx_p[2], qx_m[2], q2_p[2], q2_m[2];
                    for (int h = 0; h < 2; h++) {
                        const float sx = px[h][i1] + px[h][i2];
                        qx_p[h] = txs[h] * p2 - sx;
                        qx_m[h] = txs[h] * m2 - sx;
                        q2_p[h] = tws[h] * p2 * p2 + pw[h][i1] * cp1 + pw[h][i2] * cp2;
                        q2_m[h] = tws[h] * m2 * m2 + pw[h][i1] * cm1 + pw[h][i2] * cm2;
                    }
                    sumqx[0][i2] = qx_p[0] + qx_p[1], sumqx[1][i2] = qx_p[0] + qx_m[1];
                    sumqx[2][i2] = qx_m[0] + qx_p[1], sumqx[3][i2] = qx_m[0] + qx_m[1];
                    sumq2[0][i2] = q2_p[0] + q2_p[1], sumq2[1][i2] = q2_p[0] + q2_m[1];
                    sumq2[2][i2] = q2_m[0] + q2_p[1], sumq2[3][i2] = q2_m[0] + q2_m[1];
                }
                for (int i2 = i1; i2 <= BS; i2++)
                    for (int k = 0; k < 4; k++)
                        if (sumq2[k][i2] > 0 && sumqx[k][i2] * sumqx[k][i2] > best_score * sumq2[k][i2]) {
                            scale = sumqx[k][i2] / sumq2[k][i2];
                            best_score = scale * sumqx[k][i2];
                            besti1 = i1, besti2 = i2, best_k = k;
                        }
            }
            if (besti1 < 0 || besti2 < 0 || best_k < 0) {
                scales[ib] = 0;
                shifts[ib] = 0;
                continue;
            }
            if (split_codes(idx, besti1, besti2, BS, L, &scale)) best_k = 3 - best_k;
            // the halves' shifts: best_k 0 = (+, +), 1 = (+, -), 2 = (-, +), 3 = (-, -)
            const float *xxs[BS / 8] = {best_k < 2 ? x_p : x_m, best_k % 2 == 0 ? x_p : x_m};
            if (!snap_points(g, s, BS, xxs, xb, weight, L, index, &scale)) return false;
            y[ibl].qs[2 * ib] = (uint8_t)(index[0] & 255);
            y[ibl].qs[2 * ib + 1] = (uint8_t)(index[1] & 255);
            y[ibl].qh[ib] = (uint8_t)((index[0] >> 8) | ((index[1] >> 8) << 4));
            if (!(scale >= 0)) return false;
            scales[ib] = scale;
            shifts[ib] = (int8_t)best_k;
            max_scale = KITE_MAX(max_scale, scale);
        }
        if (!max_scale) continue;
        uint16_t sc[4] = {0, 0, 0, 0};
        float d = max_scale / 15;
        const float id = 1 / d;
        float sqx = 0, sq2 = 0;
        // the super-block scale is refitted to the 3-bit block scales as stored
        for (int ib = 0; ib < QK_K / BS; ib++) {
            int l = kite__iq_level(id, scales[ib], 7);
            sc[ib / 4] = (uint16_t)(sc[ib / 4] | (l << (3 * (ib % 4))));
            y[ibl].qh[ib] |= masks[shifts[ib]];
            const float *xb = xbl + BS * ib;
            kite__iq_weights(xb, qw ? qw + QK_K * ibl + BS * ib : NULL, sigma2, weight, BS);
            for (int k = 0; k < BS / 8; k++) {
                const float *xx = (k == 0 ? shifts[ib] < 2 : shifts[ib] % 2 == 0) ? x_p : x_m;
                const uint8_t *pg = g->pts + 8 * (y[ibl].qs[2 * ib + k] + ((y[ibl].qh[ib] << (8 - 4 * k)) & 0x700));
                for (int j = 0; j < 8; j++) {
                    float wj = weight[8 * k + j], q = xx[(pg[j] - 1) / 2] * (float)(2 * l + 1);
                    sqx += wj * q * xb[8 * k + j];
                    sq2 += wj * q * q;
                }
            }
        }
        if (sq2 > 0) d = sqx / sq2;
        const uint16_t s = kite_f32_to_f16(d * 1.1125f); // ggml's fudge factor
        sc[0] = (uint16_t)(sc[0] | ((s & 0x000f) << 12));
        sc[1] = (uint16_t)(sc[1] | ((s & 0x00f0) << 8));
        sc[2] = (uint16_t)(sc[2] | ((s & 0x0f00) << 4));
        sc[3] = (uint16_t)(sc[3] | (s & 0xf000));
        memcpy(y[ibl].scales, sc, sizeof sc);
    }
    return true;
}

bool kite_quantize_row_iq1_s_w_ref(const float *restrict x, block_iq1_s *restrict y, int64_t n, const float *qw) {
    return kite__quantize_row_iq1_s_w_with(x, y, n, qw, &kite__quant_search_ref);
}

bool kite_quantize_row_iq1_m_ref(const float *restrict x, block_iq1_m *restrict y, int64_t n) {
    return kite__quantize_row_iq1_m_w_with(x, y, n, NULL, &kite__quant_search_ref);
}

bool kite_quantize_row_iq1_m_w_ref(const float *restrict x, block_iq1_m *restrict y, int64_t n, const float *qw) {
    return kite__quantize_row_iq1_m_w_with(x, y, n, qw, &kite__quant_search_ref);
}
