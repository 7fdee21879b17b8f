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

float kite__iq_sigma2(const float *xbl, float factor) {
    float sumx2 = 0;
    for (int i = 0; i < QK_K; i++) sumx2 += xbl[i] * xbl[i];
    return factor * sumx2 / QK_K;
}

void kite__iq_fold_group(const float *xb, const float *weight, int n, bool even, float *waux, float *xval, uint8_t *signs) {
    for (int i = 0; i < n; i++) waux[i] = sqrtf(weight[i]);
    for (int k = 0; k < n / 8; k++)
        signs[k] = even ? kite__iq_fold_signs_even(xb + 8 * k, weight + 8 * k, xval + 8 * k)
                        : kite__iq_fold_signs(xb + 8 * k, xval + 8 * k);
}

float kite__iq_group_max(const float *xval, int n) {
    float max = xval[0];
    for (int i = 1; i < n; i++) max = KITE_MAX(max, xval[i]);
    return max;
}

bool kite__iq_grid_indices(const kite__iq_grid *g, const int8_t *L, int npoints, int *gi) {
    for (int k = 0; k < npoints; k++) {
        gi[k] = g->map[kite__iq_grid_pack(g, L + g->dim * k)];
        if (gi[k] < 0) return false;
    }
    return true;
}

void kite__iq_pack_levels4(float id, const float *scales, int n, uint8_t *out) {
    for (int i = 0; i < n; i += 2)
        out[i / 2] = (uint8_t)(kite__iq_level(id, scales[i], 15) | (kite__iq_level(id, scales[i + 1], 15) << 4));
}

const float kite__iq_odd_levels[8] = {1, 3, 5, 7, 9, 11, 13, 15};

// The levels of n values at 1/id (kite__iq_level, 0..nlev-1).
static inline void round_levels(int n, int nlev, float id, const float *xval, int8_t *L) {
    for (int i = 0; i < n; i++) L[i] = (int8_t)kite__iq_level(id, xval[i], nlev - 1);
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

// One trial of the scale search at 1/id: the levels of the n values (points of dim codes of
// bits, constants where inlined), each point off the grid moved to its best neighbour at scale
// 1/id (s's iq_nearest on the distance terms tt of all values, made once, on the first point
// that needs them); on[k] tells which points were on the grid.
static inline void trial_levels(const kite__iq_grid *g, const kite__quant_search *s, int dim, int bits, int n, int nlev,
                                float id, const float *xval, const float *waux, float tt[32][8], int8_t *Laux, bool *on) {
    round_levels(n, nlev, id, xval, Laux);
    bool have_terms = false;
    for (int k = 0; k < n / dim; k++) {
        int8_t *L = Laux + dim * k;
        const uint16_t u = kite__iq_pack(dim, bits, L);
        on[k] = g->map[u] >= 0;
        if (on[k]) continue;
        if (!have_terms) kite__iq_terms(n, kite__iq_odd_levels, xval, waux, 1 / id, tt), have_terms = true;
        kite__iq_nearest_point(g, s, dim, u, (const float(*)[8])tt + dim * k, L);
    }
}

float kite__iq_search_scale(const kite__iq_grid *g, int n, int nlev, float max, float scale, int nstep, float step,
                            kite__iq_resnap resnap, const float *xval, const float *weight, const float *waux, int8_t *L,
                            const kite__quant_search *s) {
    const int dim = g->dim, np = n / dim, nt = 2 * nstep + 1;
    int8_t Lt[KITE__IQ_MAX_TRIALS][32];
    bool on_grid[8], on_grid_t[KITE__IQ_MAX_TRIALS][8];
    float sqx[KITE__IQ_MAX_TRIALS], sq2[KITE__IQ_MAX_TRIALS], tt[32][8];
    KITE_ASSERT(n <= 32 && np <= 8 && nt <= KITE__IQ_MAX_TRIALS && g->nlev <= 8);
    KITE_ASSERT((dim == 4 && g->bits == 3) || (dim == 8 && g->bits == 2)); // IQ3, IQ2
    for (int k = 0; k < np; k++) on_grid[k] = resnap == KITE__IQ_RESNAP_OFF_GRID;
    // every trial's levels first, then their fits side by side, then the choice in trial order
    for (int t = 0; t < nt; t++) {
        const int is = t - nstep;
        const float id = ((float)(2 * nlev - 1) + (float)is * step) / max;
        if (dim == 4)
            trial_levels(g, s, 4, 3, n, nlev, id, xval, waux, tt, Lt[t], on_grid_t[t]);
        else
            trial_levels(g, s, 8, 2, n, nlev, id, xval, waux, tt, Lt[t], on_grid_t[t]);
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
            int8_t *Lk = L + dim * k;
            round_levels(dim, nlev, id, xval + dim * k, Lk);
            const uint16_t u = kite__iq_grid_pack(g, Lk);
            if (g->map[u] >= 0) continue;
            kite__iq_terms(dim, kite__iq_odd_levels, xval + dim * k, waux + dim * k, scale, tt);
            kite__iq_nearest_point(g, s, dim, u, (const float(*)[8])tt, Lk);
        }
        float sumqx, sumq2;
        fit_sums(n, weight, xval, L, &sumqx, &sumq2);
        if (sumq2 > 0) scale = sumqx / sumq2;
    }
    return scale;
}

bool kite__iq_quantize_group(const kite__iq_grid *g, const kite__quant_search *s, const kite__iq_group_opts *o,
                             const float *xb, const float *weight, uint8_t *signs, int8_t *L, float *scale_out) {
    KITE_ASSERT(o->n <= 32);
    float xval[32], waux[32];
    kite__iq_fold_group(xb, weight, o->n, o->even, waux, xval, signs);
    const float max = kite__iq_group_max(xval, o->n);
    memset(L, 0, (size_t)o->n);
    if (max < o->eps) return false;
    float from = max, scale = max / (float)(2 * o->nlev - 1);
    if (o->qp_start) {
        scale = kite__make_qp_quants(o->n, o->nlev + 1, xval, (uint8_t *)L, weight);
        from = scale * (float)o->nlev;
        if (from <= 0) {
            memset(L, 0, (size_t)o->n);
            return false;
        }
    }
    scale = kite__iq_search_scale(g, o->n, o->nlev, from, scale, o->nstep, o->step, o->resnap, xval, weight, waux,
                                  L, s);
    if (scale < 0) {
        scale = -scale;
        for (int k = 0; k < o->n / 8; k++) signs[k] = o->even ? (uint8_t)(~signs[k] & 127) : (uint8_t)~signs[k];
    }
    *scale_out = scale;
    return true;
}

// The QK_K values xbl with weights weight in groups of o->n, each by kite__iq_quantize_group on
// set s; a zero group's indices and signs are 0. false where ggml aborts: a point off grid g
// ("point not on grid") or a scale that is not >= 0.
static bool quantize_superblock(const kite__iq_grid *g, const kite__quant_search *s, const kite__iq_group_opts *o,
                                const float *xbl, const float *weight, kite__iq_superblock *sb) {
    const int ng = QK_K / o->n, np = o->n / g->dim, ns = o->n / 8;
    KITE_ASSERT(o->n >= 16 && o->n <= 32 && o->n % g->dim == 0);
    memset(sb, 0, sizeof *sb);
    for (int ib = 0; ib < ng; ib++) {
        int8_t L[32];
        float scale;
        uint8_t *signs = sb->signs + ns * ib;
        if (!kite__iq_quantize_group(g, s, o, xbl + o->n * ib, weight + o->n * ib, signs, L, &scale)) {
            memset(signs, 0, (size_t)ns);
            continue;
        }
        if (!kite__iq_grid_indices(g, L, np, sb->gi + np * ib)) return false;
        if (!(scale >= 0)) return false;
        sb->scales[ib] = scale;
        sb->quantized |= 1u << ib;
        sb->max_scale = KITE_MAX(sb->max_scale, scale);
    }
    return true;
}

bool kite__iq_quantize_row(const kite__iq_format *f, const kite__quant_search *s, const float *x, void *y, int64_t n,
                           const float *qw) {
    KITE_ASSERT(n % QK_K == 0);
    const kite__iq_grid *g = kite__iq_grid_get(f->grid);
    if (!g) return false;
    for (int64_t ibl = 0; ibl < n / QK_K; ibl++) {
        uint8_t *yb = (uint8_t *)y + f->block_bytes * ibl;
        memset(yb, 0, f->block_bytes);
        const float *xbl = x + QK_K * ibl;
        const float sigma2 = kite__iq_sigma2(xbl, f->sigma2_factor);
        float weight[QK_K];
        if (!qw && f->sigma2_weights)
            for (int i = 0; i < QK_K; i++) weight[i] = 0.25f * sigma2 + xbl[i] * xbl[i];
        else kite__iq_weights(xbl, qw ? qw + QK_K * ibl : NULL, sigma2, weight, QK_K);
        kite__iq_superblock sb;
        if (!quantize_superblock(g, s, &f->group, xbl, weight, &sb)) return false;
        if (sb.max_scale) f->pack(yb, &sb);
    }
    return true;
}
