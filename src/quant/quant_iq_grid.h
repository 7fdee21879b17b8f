// quant_iq_grid.h - the search structures of the IQ2/IQ1 quantizers, built once per process
// from the published grids (iq_tables.h) as ggml's iq2xs_init_impl builds them (internal).
#ifndef KITE_QUANT_IQ_GRID_H
#define KITE_QUANT_IQ_GRID_H

#include <float.h>
#include <stdbool.h>
#include <stdint.h>

enum {
    KITE__IQ_GRID_IQ2_XXS,
    KITE__IQ_GRID_IQ2_XS,
    KITE__IQ_GRID_IQ2_S,
    KITE__IQ_GRID_IQ1,
    KITE__IQ_GRID_IQ3_XXS,
    KITE__IQ_GRID_IQ3_S,
    KITE__IQ_GRID_COUNT
};

typedef struct kite__iq_grid {
    int grid_size;
    int dim;  // values per point: 8 (IQ2, IQ1) or 4 (IQ3)
    int bits; // bits per code in a map index: 2 (3 levels) or 3 (8 levels)
    int nlev; // levels its points use: 3 (IQ2, IQ1) or 8 (IQ3)
    // point k: dim bytes 2l+1 (l = the level's rank) at pts + 8k, in the published table's order
    uint8_t *pts;
    // indexed by the packed codes of a point (43692 entries for IQ2/IQ1, 4096 for IQ3): the grid
    // point with those codes, or for codes off the grid -(offset + 1) of its neighbour list:
    // count, then the grid points at the nwant smallest distances (IQ2_XXS/XS 2, IQ2_S 1, IQ1 3,
    // IQ3_XXS 2, IQ3_S 3), by distance then index
    int *map;
    uint16_t *neighbours;
    // IQ3 grids (dim 4, 8 levels), NULL for the others: the neighbour lists again, transposed for
    // kite__quant_search.iq_nearest. For an off-grid map index u, lanes + lanes_at[u] holds
    // ceil(count / 8) chunks of 8 * dim bytes: byte 8i + j of chunk c is the level (0..nlev-1) of
    // value i of neighbour 8c + j; a last chunk's unused lanes repeat its first neighbour.
    uint8_t *lanes;
    uint32_t *lanes_at;
} kite__iq_grid;

// The map index of one point's codes L[0..g->dim): g->bits bits each, the first code lowest.
static inline uint16_t kite__iq_grid_pack(const kite__iq_grid *g, const int8_t *L) {
    uint16_t u = 0;
    for (int i = 0; i < g->dim; i++) u = (uint16_t)(u | (L[i] << (g->bits * i)));
    return u;
}

// The structures of one grid, built on first use (thread-safe); NULL when out of memory.
const kite__iq_grid *kite__iq_grid_get(int which);

// Of the neighbours nb (count first), the grid point nearest to xval at scale (squared error
// weighted by w); writes its codes (pg - 1) / 2 to L and returns its index.
int kite__iq_grid_best_neighbour(const kite__iq_grid *g, const uint16_t *nb, const float *xval, const float *w, float scale,
                                 int8_t *L);

// The terms of the neighbour distances for n <= 32 values xval with weights w at scale:
// term[q][i] = w[i] * diff * diff, diff = scale * q - xval[i], for every code q = 2l + 1 of the
// grid's levels (rows 1, 3, .., 2 * g->nlev - 1 written; term needs 2 * g->nlev rows). Each is
// the term kite__iq_grid_best_neighbour computes for value i and a grid code q.
void kite__iq_grid_terms(const kite__iq_grid *g, int n, const float *xval, const float *w, float scale, float term[][32]);

// kite__iq_grid_best_neighbour for the point of values i0 .. i0 + dim - 1 (dim = g->dim, given
// as a constant where it is known) from their terms (kite__iq_grid_terms at the same xval, w,
// scale): the same sums in the same order, so the same result. Inline: it runs once per point
// off the grid per trial scale, on short lists.
static inline int kite__iq_grid_best_neighbour_terms(const kite__iq_grid *g, int dim, const uint16_t *nb, const float term[][32],
                                                     int i0, int8_t *L) {
    const int count = nb[0];
    float best_d2 = FLT_MAX;
    int gi = nb[1]; // lists are never empty
    for (int j = 1; j <= count; j++) {
        const uint8_t *pg = g->pts + 8 * nb[j];
        float d2 = 0;
        for (int i = 0; i < dim; i++) d2 += term[pg[i]][i0 + i];
        if (d2 < best_d2) {
            best_d2 = d2;
            gi = nb[j];
        }
    }
    const uint8_t *pg = g->pts + 8 * gi;
    for (int i = 0; i < dim; i++) L[i] = (int8_t)(pg[i] >> 1); // codes 2l + 1
    return gi;
}

// ggml's make_qp_quants (quant_ref_weighted.c): the weighted 0..nmax grid for non-negative x.
float kite__make_qp_quants(int n, int nmax, const float *x, uint8_t *L, const float *w);

#endif
