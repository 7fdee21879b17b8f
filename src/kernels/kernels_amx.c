// kernels_amx.c - the "amx" kernel set: the AVX-512 set with the prefill GEMM of the integer
// block types on Intel AMX (TMUL int8 tiles), where 16 tokens or more come at once. The packing
// and the tile driver are kernels_x86_packed.inc's (rows decoded once into the B tile layout,
// signed int8); this file is its engine: for each group of 16 tokens the activations' int8 load
// straight from their Q8 rows as the A tile, one TDPBSSD per (sub-)block gives C[token][row], the
// block's exact integer dot for 16 x 16 pairs; sub-block scales are applied in integers (Q4_K's
// and Q2_K's inside the B tiles, as scale planes) and the float work is the canonical order of
// kernels_internal.h (lanes = rows, one register per token), so the bits equal the _ref's.
#define KITE_PACKED_SIGNED 1
#define KITE_PACKED_PLANES 1

#include "kernels/kernels_x86_packed.inc"
#include "kernels/kernels_x86_packed_levels.inc"
#include "kernels/kernels_x86_packed_tile.inc"

// ---- tile configuration ------------------------------------------------------------------------
// Two register sets, used for alternate blocks so that one block's dot runs while the previous
// one's result is stored (tile registers are not renamed): C tmm0 / tmm1 (16 tokens x 16 int32),
// A tmm2 / tmm4 (16 tokens x K bytes), B tmm3 / tmm5 (K/4 x 64 bytes).
typedef struct tilecfg {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tilecfg;

// (The asm barrier before each ldtilecfg: GCC 12 does not see the 64 bytes the instruction
// reads and dropped the stores that fill them.)
#define LOAD_TILECFG(c)                                   \
    do {                                                  \
        __asm__ volatile("" : : "r"(&(c)) : "memory");    \
        _tile_loadconfig(&(c));                           \
    } while (0)

static void engine_begin(int k_bytes) {
    tilecfg c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    if (k_bytes == TILE_B) { // the scale planes: every tile 16 x 64 bytes
        for (int i = 0; i < 8; i++) c.rows[i] = MT, c.colsb[i] = TILE_B;
        LOAD_TILECFG(c);
        return;
    }
    for (int i = 0; i < 2; i++) {
        c.rows[i] = MT, c.colsb[i] = TILE_B;
        c.rows[2 + 2 * i] = MT, c.colsb[2 + 2 * i] = (uint16_t)k_bytes;
        c.rows[3 + 2 * i] = (uint8_t)(k_bytes / 4), c.colsb[3 + 2 * i] = TILE_B;
    }
    LOAD_TILECFG(c);
}

// The integer dot of A (at a, row stride as) and B (at bm, packed) for 16 x 16 pairs into c,
// on register set `set` (0 or 1).
#define DOT_TILE(set, a, as, bm, c)                                                                    \
    do {                                                                                               \
        if (set) {                                                                                     \
            _tile_loadd(4, (a), (as));                                                                 \
            _tile_loadd(5, (bm), TILE_B);                                                              \
            _tile_zero(1);                                                                             \
            _tile_dpbssd(1, 4, 5);                                                                     \
            _tile_stored(1, (c), TILE_B);                                                              \
        } else {                                                                                       \
            _tile_loadd(2, (a), (as));                                                                 \
            _tile_loadd(3, (bm), TILE_B);                                                              \
            _tile_zero(0);                                                                             \
            _tile_dpbssd(0, 2, 3);                                                                     \
            _tile_stored(0, (c), TILE_B);                                                              \
        }                                                                                              \
    } while (0)

static void engine_end(void) { _tile_release(); }

// 16 tokens (a: the first one's Q8_0/Q8_1 row) x the packed rows: y[t * ys + r] for r in mask m.
// Block b's dot is issued before block b - 1's float work, which runs while the tile unit works.
static void run32(int kind, int nb, const packed *P, const tokens16 *T, const uint8_t *a, size_t as, float *y, size_t ys,
                  __mmask16 m) {
    const int has_min = k32_has_min(kind);
    const size_t asz = has_min ? sizeof(block_q8_1) : sizeof(block_q8_0), aq = has_min ? 4 : 2;
    int32_t c[2][MT * MR] __attribute__((aligned(64)));
    __m512 acc[MT];
#pragma GCC unroll 16
    for (int t = 0; t < MT; t++) acc[t] = _mm512_setzero_ps();
    for (int b = 0; b <= nb; b++) {
        if (b < nb) DOT_TILE(b & 1, a + (size_t)b * asz + aq, as, P->lev + (size_t)b * 32 * MR, c[b & 1]);
        if (b == 0) continue;
        const int pb = b - 1;
        const int32_t *cb = c[pb & 1];
#pragma GCC unroll 16
        for (int t = 0; t < MT; t++)
            acc[t] = _mm512_add_ps(acc[t], term32(has_min, P, T, pb, t, _mm512_load_si512(cb + t * MR)));
    }
#pragma GCC unroll 16
    for (int t = 0; t < MT; t++) _mm512_mask_storeu_ps(y + t * ys, m, acc[t]);
}

// ---- 256-element super-blocks -------------------------------------------------------------------

static void runK(int kind, int nb, const packed *P, const tokens16 *T, const uint8_t *a, size_t as, float *y, size_t ys,
                 __mmask16 m) {
    const int ns = kk_sub(kind), kb = QK_K / ns;
    int32_t c[2][16][MT * MR] __attribute__((aligned(64)));
    __m512 acc[MT];
#pragma GCC unroll 16
    for (int t = 0; t < MT; t++) acc[t] = _mm512_setzero_ps();
    for (int b = 0; b <= nb; b++) {
        if (b < nb) {
            const uint8_t *aq = a + (size_t)b * sizeof(block_q8_K) + offsetof(block_q8_K, qs);
            const int8_t *lev = P->lev + (size_t)b * QK_K * MR;
            for (int g = 0; g < ns; g += 2) {
                DOT_TILE(0, aq + g * kb, as, lev + g * kb * MR, c[b & 1][g]);
                DOT_TILE(1, aq + (g + 1) * kb, as, lev + (g + 1) * kb * MR, c[b & 1][g + 1]);
            }
        }
        if (b == 0) continue;
        const int pb = b - 1;
        const int32_t(*cb)[MT * MR] = c[pb & 1];
        const int32_t *sc = P->sc + (size_t)pb * ns * MR;
#pragma GCC unroll 16
        for (int t = 0; t < MT; t++) {
            __m512i isum = _mm512_setzero_si512();
            for (int g = 0; g < ns; g++)
                isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(_mm512_load_si512(cb[g] + t * MR), _mm512_loadu_si512(sc + g * MR)));
            acc[t] = _mm512_add_ps(acc[t], termK(kind, P, T, pb, t, isum));
        }
    }
#pragma GCC unroll 16
    for (int t = 0; t < MT; t++) _mm512_mask_storeu_ps(y + t * ys, m, acc[t]);
}

// Scale planes (kernels_x86_packed.inc packs them): a sub-block scale times a level does not
// fit int8, but each digit of the scale does: with sc = sum_p digit_p << (bits * p), plane p
// holds digit_p * level. Q4_K: 2 planes of 3-bit digits (level <= 15, so digit * level <= 105);
// Q2_K: 1 plane, its 4-bit scale whole (level <= 3). The sub-block scales are then inside the B
// tiles: a plane's dot over the whole super-block is one K = 64 accumulation (4 dots, no store
// between sub-blocks), and isum = plane_0 + (plane_1 << 3), exact in int32. The other kinds keep
// one store per sub-block and their scales in integer multiplies: Q5_K would need 3 planes and
// Q6_K 4 (2-bit digits), which measured slower than that (the planes' B tiles outgrow L1).

// runK for the kinds in scale planes: per super-block, each plane's 4 K = 64 dots accumulate in
// its own C tile (tmm0, tmm1; A tmm4, B tmm5, tmm6), so one store per plane.
#define PLANE_DOT(p, breg, bm)                                                                         \
    do {                                                                                               \
        _tile_loadd(breg, (bm), TILE_B);                                                               \
        _tile_dpbssd(p, 4, breg);                                                                      \
    } while (0)

static void runK_planes(int kind, int nb, const packed *P, const tokens16 *T, const uint8_t *a, size_t as, float *y,
                        size_t ys, __mmask16 m) {
    const int np = kk_planes(kind), sh = kk_digit_bits(kind);
    int32_t c[2][2][MT * MR] __attribute__((aligned(64)));
    __m512 acc[MT];
#pragma GCC unroll 16
    for (int t = 0; t < MT; t++) acc[t] = _mm512_setzero_ps();
    for (int b = 0; b <= nb; b++) {
        if (b < nb) {
            const uint8_t *aq = a + (size_t)b * sizeof(block_q8_K) + offsetof(block_q8_K, qs);
            const int8_t *lev = P->lev + (size_t)b * np * QK_K * MR;
            int32_t(*cb)[MT * MR] = c[b & 1];
            _tile_zero(0);
            if (np > 1) _tile_zero(1);
            for (int k = 0; k < 4; k++) { // elements 64k..64k+63
                const int8_t *bk = lev + k * 64 * MR;
                _tile_loadd(4, aq + 64 * k, as);
                PLANE_DOT(0, 5, bk);
                if (np > 1) PLANE_DOT(1, 6, bk + QK_K * MR);
            }
            _tile_stored(0, cb[0], TILE_B);
            if (np > 1) _tile_stored(1, cb[1], TILE_B);
        }
        if (b == 0) continue;
        const int pb = b - 1;
        const int32_t(*cb)[MT * MR] = c[pb & 1];
#pragma GCC unroll 16
        for (int t = 0; t < MT; t++) {
            __m512i isum = _mm512_load_si512(cb[np - 1] + t * MR);
            for (int p = np - 2; p >= 0; p--)
                isum = _mm512_add_epi32(_mm512_slli_epi32(isum, sh), _mm512_load_si512(cb[p] + t * MR));
            acc[t] = _mm512_add_ps(acc[t], termK(kind, P, T, pb, t, isum));
        }
    }
#pragma GCC unroll 16
    for (int t = 0; t < MT; t++) _mm512_mask_storeu_ps(y + t * ys, m, acc[t]);
}

void kite__kernels_fill_amx(kite__kernels *k) {
    kite__kernels_fill_avx512(k);
    packed_fill(k);
    k->isa = "amx";
}
