// quant_iq_search.h - the pieces the grid quantizers (IQ1, IQ2, IQ3: quant_ref_iq*.c) share:
// sign folding, per-value weights, ggml's scale search over a group of grid points, the group
// step built on them and the IQ2 / IQ3 row loop over that step, grid indices and block-scale
// codes (internal to src/quant). Float operation order follows ggml: the bytes must match it.
#ifndef KITE_QUANT_IQ_SEARCH_H
#define KITE_QUANT_IQ_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blocks/block_util.h"
#include "quant/quant_iq_grid.h"
#include "quant/quant_search.h"

// Per-value weights of a group of n: qw * sqrt(sigma2 + x^2) with an importance matrix qw,
// else x^2 (ggml's IQ3 and IQ1_M).
void kite__iq_weights(const float *xb, const float *qw, float sigma2, float *weight, int n);

// Signs of 8 values xb: xval gets |xb| (a value >= 0, -0 included, is kept as it is); returns
// the 8 sign bits (bit i set for a negative xb[i]), as IQ2_S and IQ3_S store them.
uint8_t kite__iq_fold_signs(const float *xb, float *xval);

// As kite__iq_fold_signs for the formats that store 7 sign bits of even parity (IQ2_XXS,
// IQ2_XS, IQ3_XXS): an odd count of negatives flips back the value with the least
// weight * x^2 (it is then stored with the wrong sign). Returns the low 7 bits.
uint8_t kite__iq_fold_signs_even(const float *xb, const float *weight, float *xval);

// The super-block variance term of ggml's grid quantizers: factor * (sum of x^2 over the QK_K
// values xbl) / QK_K (factor 1 for IQ2_XXS and IQ2_XS, 2 for the others).
float kite__iq_sigma2(const float *xbl, float factor);

// One group of n (a multiple of 8) values xb with weights weight: waux = sqrt(weight) (the
// neighbour search's weights), xval = |xb| and signs[k] the sign bits of values 8k..8k+7 (even:
// 7 bits of even parity, kite__iq_fold_signs_even; else all 8, kite__iq_fold_signs).
void kite__iq_fold_group(const float *xb, const float *weight, int n, bool even, float *waux, float *xval, uint8_t *signs);

// The odd-grid code of x at 1/id: nearest_int(0.5 * (id * x - 1)) clamped to 0..lmax (q = 2l + 1
// nearest x * id). The grid quantizers round a value to its level at a trial scale and a block
// scale to its code against the super-block's scale d = 1/id with it.
static inline int kite__iq_level(float id, float x, int lmax) {
    const int l = kite__nearest_int(0.5f * (id * x - 1));
    return l < 0 ? 0 : l > lmax ? lmax : l;
}

// The largest of n values (the first n of xval, n >= 1).
float kite__iq_group_max(const float *xval, int n);

// The grid indices of npoints points of grid g (point k's codes at L + g->dim * k) into gi;
// false when one is off the grid (where ggml aborts: "point not on grid").
bool kite__iq_grid_indices(const kite__iq_grid *g, const int8_t *L, int npoints, int *gi);

// The 4-bit codes (kite__iq_level, 0..15) of n block scales against the super-block scale 1/id,
// two to a byte: block 2i in the low nibble of out[i], block 2i + 1 in the high one.
void kite__iq_pack_levels4(float id, const float *scales, int n, uint8_t *out);

// The distance terms of n <= 32 values xval with weights w at scale, one row of 8 per value:
// tt[i][l] = w[i] * diff * diff, diff = scale * q[l] - xval[i], for the 8 level values q (IQ2 /
// IQ3: the codes 2l + 1 of kite__iq_odd_levels; IQ1: its shifted levels, padded). A point's
// distance to a grid point is the sum of its values' terms at their levels, as ggml adds it.
static inline void kite__iq_terms(int n, const float q[8], const float *xval, const float *w, float scale, float tt[][8]) {
    for (int i = 0; i < n; i++)
        for (int l = 0; l < 8; l++) {
            const float diff = scale * q[l] - xval[i];
            tt[i][l] = w[i] * diff * diff;
        }
}

// The level values 2l + 1 of the IQ2 and IQ3 grids' codes, l = 0..7.
extern const float kite__iq_odd_levels[8];

// The point off grid g with map index u (its codes packed): of its neighbour list, the grid
// point at the smallest distance (the first at it), from the terms tt of its g->dim values
// (kite__iq_terms), found by s->iq_nearest; its codes go to L, its grid index is returned.
static inline int kite__iq_nearest_point(const kite__iq_grid *g, const kite__quant_search *s, int dim, uint16_t u,
                                         const float tt[][8], int8_t *L) {
    const uint16_t *nb = g->neighbours - g->map[u] - 1;
    const int gi = nb[1 + s->iq_nearest(g->lanes + g->lanes_at[u], dim, (nb[0] + 7) / 8, tt)];
    const uint8_t *pg = g->pts + 8 * gi;
    for (int i = 0; i < dim; i++) L[i] = (int8_t)(pg[i] >> 1); // codes 2l + 1
    return gi;
}

// The most trial scales kite__iq_search_scale takes (2 * nstep + 1).
#define KITE__IQ_MAX_TRIALS 32

// Which points the search snaps again at the best scale it found.
typedef enum {
    KITE__IQ_RESNAP_OFF_GRID,   // those still off the grid (IQ2_XS, IQ2_S, IQ3_XXS)
    KITE__IQ_RESNAP_ALL_IF_OFF, // all of them, when any is off the grid (IQ3_S)
    KITE__IQ_RESNAP_ALL,        // all of them, always (IQ2_XXS)
} kite__iq_resnap;

// ggml's scale search for one group of n <= 32 sign-folded values xval (>= 0): n / g->dim <= 8
// points on levels 0..nlev-1 of grid g, weights weight (waux = their square roots, for the neighbour
// search). Tries the 2 * nstep + 1 scales 1/id with id = (2 * nlev - 1 + k * step) / max,
// snapping every point to the grid (off it: to its best neighbour at that scale), and keeps
// the best weighted least-squares fit, its levels in L; then snaps points again at that scale
// as resnap says and refits. scale is the result when no trial fits (L is then left as the
// caller set it). The neighbours are searched on set s (its iq_nearest). Returns the scale
// (negative: the caller flips the signs).
float kite__iq_search_scale(const kite__iq_grid *g, int n, int nlev, float max, float scale, int nstep, float step,
                            kite__iq_resnap resnap, const float *xval, const float *weight, const float *waux, int8_t *L,
                            const kite__quant_search *s);

// ggml's settings for one group of a grid format (kite__iq_quantize_group).
typedef struct kite__iq_group_opts {
    int n;                  // values in the group (<= 32)
    int nlev;               // grid levels a value can take (IQ2: 3, IQ3: 8)
    bool even;              // 7 sign bits of even parity per 8 values (else all 8 stored)
    float eps;              // a group whose largest |x| is below eps quantizes to zero
    int nstep;              // kite__iq_search_scale's trials: 2 * nstep + 1, step apart
    float step;
    kite__iq_resnap resnap; // and which points it snaps again
    bool qp_start;          // search from make_qp_quants' fit on levels 0..nlev (IQ2_XXS), not max
} kite__iq_group_opts;

// One group of o->n values xb with weights weight, as ggml's IQ2 and IQ3 quantizers search it:
// signs folded out into signs (kite__iq_fold_group), the scale search (kite__iq_search_scale)
// from max / (2 * nlev - 1) over max, or with o->qp_start from kite__make_qp_quants' scale s
// over s * nlev (s * nlev <= 0: a zero group), a negative scale (not seen with weights >= 0)
// made positive by flipping the signs. false for a group that quantizes to zero (L zeroed);
// else the levels in L and the scale in *scale_out.
bool kite__iq_quantize_group(const kite__iq_grid *g, const kite__quant_search *s, const kite__iq_group_opts *o,
                             const float *xb, const float *weight, uint8_t *signs, int8_t *L, float *scale_out);

// One super-block of the IQ2 / IQ3 formats, quantized group by group, before its format packs it.
typedef struct kite__iq_superblock {
    float scales[QK_K / 16];  // group ib's scale; 0 for a group that quantizes to zero
    int gi[QK_K / 4];         // the grid indices of the points (4 or 8 values each), in order
    uint8_t signs[QK_K / 8];  // the sign bits of each 8 values, in order (kite__iq_fold_group)
    uint32_t quantized;       // bit ib set for a group that did not quantize to zero
    float max_scale;          // the largest of scales (0: every group is zero)
} kite__iq_superblock;

// An IQ2 / IQ3 format as its row quantizer (kite__iq_quantize_row) runs it.
typedef struct kite__iq_format {
    int grid;                 // KITE__IQ_GRID_*
    float sigma2_factor;      // kite__iq_sigma2's factor
    bool sigma2_weights;      // without an importance matrix: weights 0.25 * sigma2 + x^2 (IQ2_S), else x^2
    kite__iq_group_opts group;
    size_t block_bytes;       // one block's size
    // Packs super-block sb (sb->max_scale > 0) into block y, which is zeroed.
    void (*pack)(void *y, const kite__iq_superblock *sb);
} kite__iq_format;

// Row x of n values (a multiple of QK_K) into n / QK_K blocks y of format f, importance qw (n
// values) or NULL: per super-block the weights (kite__iq_weights, or as f says without qw), its
// groups (each by kite__iq_quantize_group), then f->pack, or a zeroed block where every group is
// zero. false where ggml aborts (a point off the grid, a scale not >= 0) or the grid is not
// there, y then partly written.
bool kite__iq_quantize_row(const kite__iq_format *f, const kite__quant_search *s, const float *x, void *y, int64_t n,
                           const float *qw);

#endif
