// quant_iq_grid.c - builds the IQ grid search structures (quant_iq_grid.h) from the published
// grids: each grid byte is replaced by 2 * (rank of its level) + 1, every point's codes get its
// grid index, and every point off the grid the list of its nearest grid points (also transposed).
#include "quant/quant_iq_grid.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "blocks/iq_tables.h"


static kite__iq_grid g_grids[KITE__IQ_GRID_COUNT];
static atomic_int g_state[KITE__IQ_GRID_COUNT]; // 0 = not built, 1 = building, 2 = ready, 3 = failed

// Byte i of point k of the published grid (IQ1's bytes are signed).
static int published(int which, int k, int i) {
    switch (which) {
    case KITE__IQ_GRID_IQ2_XXS: return (uint8_t)(kite__iq2xxs_grid[k] >> (8 * i));
    case KITE__IQ_GRID_IQ2_XS: return (uint8_t)(kite__iq2xs_grid[k] >> (8 * i));
    case KITE__IQ_GRID_IQ2_S: return (uint8_t)(kite__iq2s_grid[k] >> (8 * i));
    case KITE__IQ_GRID_IQ1: return (int8_t)(uint8_t)(kite__iq1s_grid[k] >> (8 * i));
    case KITE__IQ_GRID_IQ3_XXS: return (uint8_t)(kite__iq3xxs_grid[k] >> (8 * i));
    default: return (uint8_t)(kite__iq3s_grid[k] >> (8 * i));
    }
}

static const struct { int size, dim, bits, nwant, kmap; } SHAPE[KITE__IQ_GRID_COUNT] = {
    {256, 8, 2, 2, 43692}, {512, 8, 2, 2, 43692}, {1024, 8, 2, 1, 43692}, {2048, 8, 2, 3, 43692},
    {256, 4, 3, 2, 4096},  {512, 4, 3, 3, 4096},
};

// The transposed neighbour lists of a grid (quant_iq_grid.h), from its map and lists.
static bool build_lanes(kite__iq_grid *g, int kmap) {
    size_t total = 0;
    for (int u = 0; u < kmap; u++)
        if (g->map[u] < 0) total += 8 * (size_t)g->dim * (size_t)((g->neighbours[-g->map[u] - 1] + 7) / 8);
    g->lanes = malloc(total);
    g->lanes_at = malloc((size_t)kmap * sizeof *g->lanes_at);
    if (!g->lanes || !g->lanes_at) return false;
    size_t at = 0;
    for (int u = 0; u < kmap; u++) {
        g->lanes_at[u] = 0;
        if (g->map[u] >= 0) continue;
        const uint16_t *nb = g->neighbours - g->map[u] - 1;
        g->lanes_at[u] = (uint32_t)at;
        for (int c = 0; 8 * c < nb[0]; c++, at += 8 * (size_t)g->dim)
            for (int j = 0; j < 8; j++) {
                const int k = 8 * c + j < nb[0] ? 8 * c + j : 8 * c; // unused lanes: the chunk's first
                for (int i = 0; i < g->dim; i++) g->lanes[at + 8 * i + j] = (uint8_t)(g->pts[8 * nb[1 + k] + i] >> 1);
            }
    }
    return true;
}

// d[j] = rows[0][j] + .. + rows[dim - 1][j] for j < n (distances: no overflow); dim a constant
// where inlined, so the loop over j vectorizes.
static inline void sum_rows(uint16_t *restrict d, const uint16_t *const *rows, int dim, int n) {
    for (int j = 0; j < n; j++) {
        uint16_t t = 0;
        for (int k = 0; k < dim; k++) t = (uint16_t)(t + rows[k][j]);
        d[j] = t;
    }
}

// The smallest of d[0..n) that is >= lo (all d and lo below 32768), -1 when none is: the
// unsigned differences d - lo wrap above 32767 for the values below lo (the loop vectorizes).
static int min_from(const uint16_t *d, int n, int lo) {
    uint16_t m = UINT16_MAX;
    for (int j = 0; j < n; j++) {
        const uint16_t v = (uint16_t)(d[j] - lo);
        m = v < m ? v : m;
    }
    return m < 32768 ? m + lo : -1;
}

static bool build(int which, kite__iq_grid *g) {
    const int size = SHAPE[which].size, dim = SHAPE[which].dim, bits = SHAPE[which].bits, nwant = SHAPE[which].nwant;
    const int kmap = SHAPE[which].kmap, nlev_max = 1 << bits;
    // the levels of the grid, in increasing order (e.g. IQ2: 8, 25, 43; IQ1: -1, 0, 1)
    int levels[8], nl = 0;
    for (int k = 0; k < size; k++)
        for (int i = 0; i < dim; i++) {
            int v = published(which, k, i), j = 0;
            while (j < nl && levels[j] != v) j++;
            if (j == nl) {
                if (nl == nlev_max) return false;
                levels[nl++] = v;
            }
        }
    for (int a = 0; a < nl; a++)
        for (int b = a + 1; b < nl; b++)
            if (levels[b] < levels[a]) {
                int t = levels[a];
                levels[a] = levels[b], levels[b] = t;
            }
    memset(g, 0, sizeof *g);
    g->grid_size = size, g->dim = dim, g->bits = bits, g->nlev = nl;
    g->pts = calloc((size_t)size, 8);
    g->map = malloc((size_t)kmap * sizeof *g->map);
    uint16_t *d2 = malloc((size_t)size * sizeof *d2), *hit = malloc((size_t)size * sizeof *hit);
    uint16_t *col = malloc((size_t)dim * (size_t)nlev_max * (size_t)size * sizeof *col);
    size_t cap = 1 << 16, used = 0;
    g->neighbours = malloc(cap * sizeof *g->neighbours);
    if (!g->pts || !g->map || !d2 || !hit || !col || !g->neighbours) goto fail;
    for (int i = 0; i < kmap; i++) g->map[i] = -1;
    for (int k = 0; k < size; k++) {
        int index = 0;
        for (int i = 0; i < dim; i++) {
            int l = 0;
            while (levels[l] != published(which, k, i)) l++;
            g->pts[8 * k + i] = (uint8_t)(2 * l + 1);
            index |= l << (bits * i);
        }
        g->map[index] = k;
    }
    // neighbour lists: every grid point at the nwant smallest distances, by distance then index.
    // col[k][l][j] = the squared distance of grid point j's value k from code 2l + 1 (every l a
    // map index holds, 0..nlev_max-1), so a point's distances to all grid points are dim
    // contiguous row adds (they vectorize).
    for (int k = 0; k < dim; k++)
        for (int l = 0; l < nlev_max; l++)
            for (int j = 0; j < size; j++) {
                const int e = g->pts[8 * j + k] - (2 * l + 1);
                col[((size_t)k * nlev_max + l) * size + j] = (uint16_t)(e * e);
            }
    const int mask = (1 << bits) - 1;
    for (int i = 0; i < kmap; i++) {
        if (g->map[i] >= 0) continue;
        const uint16_t *rows[8];
        for (int k = 0; k < dim; k++) rows[k] = col + ((size_t)k * nlev_max + ((i >> (bits * k)) & mask)) * size;
        if (dim == 8) sum_rows(d2, rows, 8, size);
        else sum_rows(d2, rows, 4, size);
        int dist[3], nd = 0; // the nwant smallest distinct distances, ascending
        for (int above = 0; nd < nwant; nd++) {
            const int m = min_from(d2, size, above);
            if (m < 0) break;
            dist[nd] = m, above = m + 1;
        }
        int count = 0; // the grid points at those distances: all at most the largest of them
        for (int j = 0; j < size; j++)
            if (d2[j] <= dist[nd - 1]) hit[count++] = (uint16_t)j;
        if (used + (size_t)count + 1 > cap) {
            while (used + (size_t)count + 1 > cap) cap *= 2;
            uint16_t *nn = realloc(g->neighbours, cap * sizeof *nn);
            if (!nn) goto fail;
            g->neighbours = nn;
        }
        g->map[i] = -(int)(used + 1);
        g->neighbours[used++] = (uint16_t)count;
        for (int p = 0; p < nd; p++)
            for (int h = 0; h < count; h++)
                if (d2[hit[h]] == dist[p]) g->neighbours[used++] = hit[h];
    }
    free(d2);
    free(hit);
    free(col);
    d2 = hit = col = NULL;
    if (!build_lanes(g, kmap)) goto fail;
    return true;
fail:
    free(d2);
    free(hit);
    free(col);
    free(g->pts);
    free(g->map);
    free(g->neighbours);
    free(g->lanes);
    free(g->lanes_at);
    memset(g, 0, sizeof *g);
    return false;
}

const kite__iq_grid *kite__iq_grid_get(int which) {
    if (which < 0 || which >= KITE__IQ_GRID_COUNT) return NULL;
    int st = atomic_load_explicit(&g_state[which], memory_order_acquire);
    if (st == 0) {
        int expected = 0;
        if (atomic_compare_exchange_strong(&g_state[which], &expected, 1)) {
            bool ok = build(which, &g_grids[which]);
            atomic_store_explicit(&g_state[which], ok ? 2 : 0, memory_order_release); // failed: retry next time
            return ok ? &g_grids[which] : NULL;
        }
    }
    while ((st = atomic_load_explicit(&g_state[which], memory_order_acquire)) == 1) {
    }
    return st == 2 ? &g_grids[which] : NULL;
}
