// quant_iq_search.c - sign folding, weights and the scale search shared by the grid quantizers
// (contracts in quant_iq_search.h).
#include "quant/quant_iq_search.h"

#include <math.h>
#include <string.h>

#include "base/internal.h"
#include "blocks/block_util.h"

void kite__iq_weights(const float *xb, const float *qw, float sigma2, float *weight, int n) {
    if (qw)
        for (int i = 0; i < n; i++) weight[i] = qw[i] * sqrtf(sigma2 + xb[i] * xb[i]);
    else
        for (int i = 0; i < n; i++) weight[i] = xb[i] * xb[i];
}

// Folds the signs of 8 values into xval; returns the sign bits and the count of negatives.
static uint8_t fold(const float *xb, float *xval, int *nflip) {
    uint8_t s = 0;
    *nflip = 0;
    for (int i = 0; i < 8; i++) {
        if (xb[i] >= 0) xval[i] = xb[i];
        else {
            xval[i] = -xb[i];
            ++*nflip;
            s = (uint8_t)(s | (1 << i));
        }
    }
    return s;
}

uint8_t kite__iq_fold_signs(const float *xb, float *xval) {
    int nflip;
    return fold(xb, xval, &nflip);
}

uint8_t kite__iq_fold_signs_even(const float *xb, const float *weight, float *xval) {
    int nflip;
    uint8_t s = fold(xb, xval, &nflip);
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

float kite__iq_group_max(const float *xval, int n) {
    float max = xval[0];
    for (int i = 1; i < n; i++) max = KITE_MAX(max, xval[i]);
    return max;
}

// The grid point of one point's codes L (g->dim of them): the point itself, or off the grid
// its best neighbour at scale (then its codes are written to L). *on tells which.
static int snap(const kite__iq_grid *g, const int8_t *codes, const float *xval, const float *waux, float scale, int8_t *L,
                bool *on) {
    const uint16_t u = kite__iq_grid_pack(g, codes);
    int gi = g->map[u];
    *on = gi >= 0;
    if (gi < 0) gi = kite__iq_grid_best_neighbour(g, g->neighbours - g->map[u] - 1, xval, waux, scale, L);
    return gi;
}

// fit_sums of nt trials at once: sqx[t] = sum w * x * q and sq2[t] = sum w * q^2 over the n
// values of trial t's levels Lt[t] (q = 2l + 1), each sum over the values in order as the one-trial
// loop adds them; the trials are independent lanes (the loop over t vectorizes).
static void fit_sums_trials(int nt, int n, const float *w, const float *xval, const int8_t Lt[][32], float *sqx,
                            float *sq2) {
    float q[32][KITE__IQ_MAX_TRIALS];
    for (int t = 0; t < nt; t++)
        for (int i = 0; i < n; i++) q[i][t] = (float)(2 * Lt[t][i] + 1);
    for (int t = 0; t < nt; t++) sqx[t] = sq2[t] = 0;
    for (int i = 0; i < n; i++) {
        const float wi = w[i], wx = w[i] * xval[i];
        for (int t = 0; t < nt; t++) {
            sqx[t] += wx * q[i][t];
            sq2[t] += wi * q[i][t] * q[i][t];
        }
    }
}

// sum w * x * q and sum w * q^2 over n values, with q = 2l + 1.
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

// One trial of the scale search at 1/id: the levels of the n values (points of dim, a constant
// where inlined), each point off the grid moved to its best neighbour at scale 1/id (the
// distance terms of all values made once, on the first point that needs them); on[k] tells
// which points were on the grid.
static inline void trial_levels(const kite__iq_grid *g, int dim, int n, int nlev, float id, const float *xval,
                                const float *waux, float term[16][32], int8_t *Laux, bool *on) {
    const float this_scale = 1 / id;
    for (int i = 0; i < n; i++) {
        int l = kite__nearest_int(0.5f * (id * xval[i] - 1));
        Laux[i] = (int8_t)KITE_MAX(0, KITE_MIN(nlev - 1, l));
    }
    bool have_terms = false;
    for (int k = 0; k < n / dim; k++) {
        uint16_t u = 0;
        for (int i = 0; i < dim; i++) u = (uint16_t)(u | (Laux[dim * k + i] << (g->bits * i)));
        const int gi = g->map[u];
        on[k] = gi >= 0;
        if (gi >= 0) continue;
        if (!have_terms) kite__iq_grid_terms(g, n, xval, waux, this_scale, term), have_terms = true;
        kite__iq_grid_best_neighbour_terms(g, dim, g->neighbours - gi - 1, (const float(*)[32])term, dim * k, Laux + dim * k);
    }
}

// trial_levels for an IQ3 grid (4-value points, 8 levels, transposed lists) on search set s:
// the terms transposed (tt[i][l] = term[2l + 1][i], the same float operations) and each point
// off the grid moved to s->iq_nearest's pick, the neighbour kite__iq_grid_best_neighbour_terms
// picks.
static inline void trial_levels_iq3(const kite__iq_grid *g, const kite__quant_search *s, int n, int nlev, float id,
                                    const float *xval, const float *waux, float tt[32][8], int8_t *Laux, bool *on) {
    const float this_scale = 1 / id;
    for (int i = 0; i < n; i++) {
        int l = kite__nearest_int(0.5f * (id * xval[i] - 1));
        Laux[i] = (int8_t)KITE_MAX(0, KITE_MIN(nlev - 1, l));
    }
    bool have_terms = false;
    for (int k = 0; k < n / 4; k++) {
        int8_t *L = Laux + 4 * k;
        const uint16_t u = (uint16_t)(L[0] | (L[1] << 3) | (L[2] << 6) | (L[3] << 9));
        const int gi = g->map[u];
        on[k] = gi >= 0;
        if (gi >= 0) continue;
        if (!have_terms) {
            for (int i = 0; i < n; i++)
                for (int l = 0; l < 8; l++) {
                    const float diff = this_scale * (float)(2 * l + 1) - xval[i];
                    tt[i][l] = waux[i] * diff * diff;
                }
            have_terms = true;
        }
        const uint16_t *nb = g->neighbours - gi - 1;
        const int pos = s->iq_nearest(g->lanes + g->lanes_at[u], 4, (nb[0] + 7) / 8, (const float(*)[8])tt + 4 * k);
        const uint8_t *pg = g->pts + 8 * nb[1 + pos];
        for (int i = 0; i < 4; i++) L[i] = (int8_t)(pg[i] >> 1); // codes 2l + 1
    }
}

float kite__iq_search_scale(const kite__iq_grid *g, int n, int nlev, float max, float scale, int nstep, float step,
                            kite__iq_resnap resnap, const float *xval, const float *weight, const float *waux, int8_t *L,
                            const kite__quant_search *s) {
    const int dim = g->dim, np = n / dim, nt = 2 * nstep + 1;
    int8_t Lt[KITE__IQ_MAX_TRIALS][32];
    bool on_grid[8], on_grid_t[KITE__IQ_MAX_TRIALS][8];
    float sqx[KITE__IQ_MAX_TRIALS], sq2[KITE__IQ_MAX_TRIALS], term[16][32], tt[32][8];
    KITE_ASSERT(n <= 32 && np <= 8 && nt <= KITE__IQ_MAX_TRIALS && g->nlev <= 8);
    KITE_ASSERT(dim == 8 || (g->lanes && nlev == 8)); // 4-value points: the IQ3 grids
    for (int k = 0; k < np; k++) on_grid[k] = resnap == KITE__IQ_RESNAP_OFF_GRID;
    // every trial's levels first, then their fits side by side, then the choice in trial order
    for (int t = 0; t < nt; t++) {
        const int is = t - nstep;
        const float id = ((float)(2 * nlev - 1) + (float)is * step) / max;
        if (dim == 4)
            trial_levels_iq3(g, s, n, nlev, id, xval, waux, tt, Lt[t], on_grid_t[t]);
        else
            trial_levels(g, 8, n, nlev, id, xval, waux, term, Lt[t], on_grid_t[t]);
    }
    fit_sums_trials(nt, n, weight, xval, (const int8_t(*)[32])Lt, sqx, sq2);
    float best = 0;
    for (int t = 0; t < nt; t++) {
        const float sumqx = sqx[t], sumq2 = sq2[t];
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            scale = sumqx / sumq2;
            best = scale * sumqx;
            memcpy(L, Lt[t], (size_t)n);
            memcpy(on_grid, on_grid_t[t], sizeof on_grid);
        }
    }
    int n_off = 0;
    for (int k = 0; k < np; k++) n_off += !on_grid[k];
    if ((n_off > 0 || resnap == KITE__IQ_RESNAP_ALL) && scale > 0) {
        const float id = 1 / scale;
        for (int k = 0; k < np; k++) {
            if (resnap == KITE__IQ_RESNAP_OFF_GRID && on_grid[k]) continue;
            int8_t l[8];
            for (int i = 0; i < dim; i++)
                l[i] = (int8_t)KITE_MAX(0, KITE_MIN(nlev - 1, kite__nearest_int(0.5f * (id * xval[dim * k + i] - 1))));
            bool on;
            const int gi = snap(g, l, xval + dim * k, waux + dim * k, scale, L + dim * k, &on);
            for (int i = 0; i < dim; i++) L[dim * k + i] = (int8_t)((g->pts[8 * gi + i] - 1) / 2);
        }
        float sumqx, sumq2;
        fit_sums(n, weight, xval, L, &sumqx, &sumq2);
        if (sumq2 > 0) scale = sumqx / sumq2;
    }
    return scale;
}
