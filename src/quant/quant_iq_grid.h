// quant_iq_grid.h - the search structures of the IQ1/IQ2/IQ3 quantizers, built once per process
// from the published grids (iq_tables.h) as ggml's iq2xs_init_impl builds them (internal).
#ifndef KITE_QUANT_IQ_GRID_H
#define KITE_QUANT_IQ_GRID_H

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
    // The neighbour lists again, transposed for kite__quant_search.iq_nearest. For an off-grid
    // map index u, lanes + lanes_at[u] holds ceil(count / 8) chunks of 8 * dim bytes: byte 8i + j
    // of chunk c is the level (0..nlev-1) of value i of neighbour 8c + j; a last chunk's unused
    // lanes repeat its first neighbour.
    uint8_t *lanes;
    uint32_t *lanes_at;
} kite__iq_grid;

// The map index of the dim codes L, bits bits each, the first code lowest (inline with dim and
// bits constants where they are known).
static inline uint16_t kite__iq_pack(int dim, int bits, const int8_t *L) {
    uint16_t u = 0;
    for (int i = 0; i < dim; i++) u = (uint16_t)(u | (L[i] << (bits * i)));
    return u;
}

// The map index of one point's codes L[0..g->dim).
static inline uint16_t kite__iq_grid_pack(const kite__iq_grid *g, const int8_t *L) {
    return kite__iq_pack(g->dim, g->bits, L);
}

// The structures of one grid, built on first use (thread-safe); NULL when out of memory.
const kite__iq_grid *kite__iq_grid_get(int which);

// ggml's make_qp_quants (quant_ref_weighted.c): the weighted 0..nmax grid for non-negative x.
float kite__make_qp_quants(int n, int nmax, const float *x, uint8_t *L, const float *w);

#endif
