// kernels_amx.c - the prefill GEMM on Intel AMX (TMUL int8 tiles), the "amx" kernel set: the
// AVX-512 set with the tiles of the integer block types replaced where 16 tokens or more come
// at once. A tile call (16 weight rows x up to 64 tokens, matmul.c) decodes its rows' levels
// once into the VNNI layout the B tile wants (signed int8, 4 consecutive elements of one row
// per int32), then for each group of 16 tokens loads the activations' int8 straight from their
// Q8 rows as the A tile and runs one TDPBSSD per (sub-)block: C[token][row] is the block's exact
// integer dot for 16 x 16 pairs. Sub-block scales are applied in integers and the float work is
// the canonical order of kernels_internal.h (lanes = rows, one register per token), so the bits
// equal the _ref's. Fewer than 16 tokens (decode, the tail of a prompt) go to the AVX-512 tiles.
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#include "blocks/block_util.h"
#include "kernels/kernels_internal.h"

#define AI static inline __attribute__((always_inline))

enum { MT = 16 };      // tokens per A tile = weight rows per B tile
enum { TILE_B = 64 };  // bytes per tile row

// The AVX-512 tiles: the fallback for short token counts and for the types without AMX tiles.
static kite__tile_fn g_fallback[KITE_TYPE_COUNT];

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

static void tiles_config(int k_bytes) {
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

// ---- weight packing: 16 rows' levels in the B tile layout --------------------------------------
// B for K elements: K/4 rows of 64 bytes; int32 lane r of row k holds elements 4k..4k+3 of
// weight row r. A masked gather reads one int32 of every row (lanes >= nr read nothing, give 0).

typedef struct rows16 {
    const uint8_t *w; // row 0
    size_t ws;        // row stride
    __m512i idx;      // lane r: r * ws
    __mmask16 m;      // rows present
} rows16;

AI __m512i gather4(const rows16 *R, size_t off) {
    return _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), R->m, R->idx, R->w + off, 1);
}

// The f16 at byte offset off of every row, as 16 floats (the int32 read stays inside the block:
// it ends with the f16 unless the f16 is the block's first bytes).
AI __m512 gather_f16(const rows16 *R, size_t off) {
    const __m512i v = off >= 2 ? _mm512_srli_epi32(gather4(R, off - 2), 16) : gather4(R, off);
    return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(v));
}


// Transposes of int32: 16 rows x 8 int32 (32 bytes at p[r]) into v[k] (lane r: int32 k of row
// r), and 16 rows x 4 int32 (16 bytes). Rows past the last present one point at zero bytes.
static const uint8_t zero32[32];

AI void transpose16x8(const uint8_t *const p[MT], __m512i v[8]) {
    __m512i z[8], t[8], u[8];
    for (int r = 0; r < 8; r++) // halves: row r | row r + 8
        z[r] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)p[r])),
                                  _mm256_loadu_si256((const __m256i *)p[r + 8]), 1);
    for (int r = 0; r < 8; r += 2)
        t[r] = _mm512_unpacklo_epi32(z[r], z[r + 1]), t[r + 1] = _mm512_unpackhi_epi32(z[r], z[r + 1]);
    for (int r = 0; r < 8; r += 4) {
        u[r] = _mm512_unpacklo_epi64(t[r], t[r + 2]), u[r + 1] = _mm512_unpackhi_epi64(t[r], t[r + 2]);
        u[r + 2] = _mm512_unpacklo_epi64(t[r + 1], t[r + 3]), u[r + 3] = _mm512_unpackhi_epi64(t[r + 1], t[r + 3]);
    }
    // u[k] (k < 4) holds int32 k and k + 4 of rows 0-3 / 4-7 in its 128-bit lanes 0 / 1 (and rows
    // 8-15 in lanes 2, 3), u[k + 4] the same for rows 4-7 / 12-15
    const __m512i lo = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13), hi = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
    for (int k = 0; k < 4; k++) {
        v[k] = _mm512_permutex2var_epi64(u[k], lo, u[k + 4]);
        v[k + 4] = _mm512_permutex2var_epi64(u[k], hi, u[k + 4]);
    }
}

AI void transpose16x4(const uint8_t *const p[MT], __m512i v[4]) {
    __m512i z[4], t[4];
    for (int r = 0; r < 4; r++) { // 128-bit lanes: rows r, r + 4, r + 8, r + 12
        __m512i x = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)p[r]));
        x = _mm512_inserti32x4(x, _mm_loadu_si128((const __m128i *)p[r + 4]), 1);
        x = _mm512_inserti32x4(x, _mm_loadu_si128((const __m128i *)p[r + 8]), 2);
        z[r] = _mm512_inserti32x4(x, _mm_loadu_si128((const __m128i *)p[r + 12]), 3);
    }
    t[0] = _mm512_unpacklo_epi32(z[0], z[1]), t[1] = _mm512_unpackhi_epi32(z[0], z[1]);
    t[2] = _mm512_unpacklo_epi32(z[2], z[3]), t[3] = _mm512_unpackhi_epi32(z[2], z[3]);
    v[0] = _mm512_unpacklo_epi64(t[0], t[2]), v[1] = _mm512_unpackhi_epi64(t[0], t[2]);
    v[2] = _mm512_unpacklo_epi64(t[1], t[3]), v[3] = _mm512_unpackhi_epi64(t[1], t[3]);
}

// The 16 row pointers at byte offset off of the current block (zero32 past the present rows).
AI void row_ptrs(const rows16 *R, size_t off, const uint8_t *p[MT]) {
    for (int r = 0; r < MT; r++) p[r] = (R->m >> r) & 1 ? R->w + (size_t)r * R->ws + off : zero32;
}

// Asks for block b + PF_BLOCKS of the 16 rows being packed, or once past their end for the first
// blocks of the next 16 rows (the next row tile or call: a prefetch past the matrix is harmless).
// Rows are 16 streams from memory, which the hardware prefetchers pick up late: packing waited
// on each row's first miss otherwise (rows of 4 super-blocks are common).
enum { PF_BLOCKS = 2 };
AI void prefetch_ahead(const rows16 *R, int b, int nb, size_t wsz) {
    const int pb = b + PF_BLOCKS;
    const uint8_t *base = pb < nb ? R->w + (size_t)b * wsz + PF_BLOCKS * wsz : R->w + (size_t)MT * R->ws + (size_t)(pb - nb) * wsz;
    for (int r = 0; r < MT; r++) {
        const uint8_t *p = base + (size_t)r * R->ws;
        for (size_t o = 0; o < wsz; o += 64) _mm_prefetch((const char *)p + o, _MM_HINT_T0);
        _mm_prefetch((const char *)p + wsz - 1, _MM_HINT_T0);
    }
}

AI __m512i nib_lo(__m512i v) { return _mm512_and_si512(v, _mm512_set1_epi8(0x0F)); }
AI __m512i nib_hi(__m512i v) { return _mm512_and_si512(_mm512_srli_epi32(v, 4), _mm512_set1_epi8(0x0F)); }

// Bits 0..3 of every int32 lane spread to bit 4 of its bytes 0..3 (Q5_0/Q5_1 high bits).
AI __m512i bits_to_0x10(__m512i x) {
    const __m512i s = _mm512_mullo_epi32(_mm512_and_si512(x, _mm512_set1_epi32(0xF)), _mm512_set1_epi32(0x00204081));
    return _mm512_slli_epi32(_mm512_and_si512(s, _mm512_set1_epi32(0x01010101)), 4);
}

AI __m512i iq4nl_lookup(__m512i nib) {
    return _mm512_shuffle_epi8(_mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)kite__kvalues_iq4nl)), nib);
}

typedef struct packed {
    int8_t *lev;    // [sub-block][K/4][16 rows][4]
    float *d, *d2;  // [block][16 rows]: d, and m (Q4_1/Q5_1) or dmin (k-quants with mins)
    int32_t *sc;    // [block][sub-block][16 rows]: integer sub-block scales (k-quants)
    int32_t *mn;    // [block][pair][16 rows]: two mins as int16 (k-quants with mins)
} packed;

// 16 tokens' per-block values: activation scales (da[block][16]), Q8_1's s (sa), and for the
// k-quants with mins the bsum pairs of sub-blocks 2p, 2p + 1 as two int16 (bp[block][pair][16]).
typedef struct tokens16 {
    float *da, *sa;
    int32_t *bp;
} tokens16;

// ---- 32-element blocks ------------------------------------------------------------------------

enum { K32_Q8_0, K32_Q4_0, K32_Q4_1, K32_Q5_0, K32_Q5_1, K32_IQ4_NL };

static size_t k32_wsize(int kind) {
    static const size_t sz[] = {sizeof(block_q8_0), sizeof(block_q4_0), sizeof(block_q4_1),
                                sizeof(block_q5_0), sizeof(block_q5_1), sizeof(block_iq4_nl)};
    return sz[kind];
}
static int k32_has_min(int kind) { return kind == K32_Q4_1 || kind == K32_Q5_1; }

static void pack32(int kind, const rows16 *R0, int nb, packed *P) {
    const size_t wsz = k32_wsize(kind);
    for (int b = 0; b < nb; b++) {
        prefetch_ahead(R0, b, nb, wsz);
        rows16 R = *R0;
        R.w += (size_t)b * wsz;
        __m512i *out = (__m512i *)(P->lev + (size_t)b * 32 * MT);
        _mm512_storeu_ps(P->d + b * MT, gather_f16(&R, 0));
        if (k32_has_min(kind)) _mm512_storeu_ps(P->d2 + b * MT, gather_f16(&R, 2));
        const uint8_t *p[MT];
        if (kind == K32_Q8_0) {
            __m512i v[8];
            row_ptrs(&R, offsetof(block_q8_0, qs), p);
            transpose16x8(p, v);
            for (int k = 0; k < 8; k++) _mm512_storeu_si512(out + k, v[k]);
            continue;
        }
        const size_t qs = kind == K32_Q5_0 ? 6 : kind == K32_Q5_1 ? 8 : kind == K32_Q4_1 ? 4 : 2;
        const __m512i qh = kind == K32_Q5_0 ? gather4(&R, 2) : kind == K32_Q5_1 ? gather4(&R, 4) : _mm512_setzero_si512();
        __m512i q[4];
        row_ptrs(&R, qs, p);
        transpose16x4(p, q);
        for (int k = 0; k < 4; k++) {
            const __m512i v = q[k];
            __m512i lo = nib_lo(v), hi = nib_hi(v); // elements 4k.. and 16 + 4k..
            if (kind == K32_Q5_0 || kind == K32_Q5_1) {
                lo = _mm512_or_si512(lo, bits_to_0x10(_mm512_srli_epi32(qh, 4 * k)));
                hi = _mm512_or_si512(hi, bits_to_0x10(_mm512_srli_epi32(qh, 16 + 4 * k)));
            }
            if (kind == K32_IQ4_NL) lo = iq4nl_lookup(lo), hi = iq4nl_lookup(hi);
            const int off = kind == K32_Q4_0 ? 8 : kind == K32_Q5_0 ? 16 : 0;
            if (off) lo = _mm512_sub_epi8(lo, _mm512_set1_epi8((char)off)), hi = _mm512_sub_epi8(hi, _mm512_set1_epi8((char)off));
            _mm512_storeu_si512(out + k, lo);
            _mm512_storeu_si512(out + 4 + k, hi);
        }
    }
}

// The activation scales of 16 tokens for every block: da[b * 16 + t] (and sa, Q8_1's s).
static void token_scales32(int has_min, int nb, const uint8_t *a, size_t as, const tokens16 *T) {
    float *da = T->da, *sa = T->sa;
    const size_t asz = has_min ? sizeof(block_q8_1) : sizeof(block_q8_0);
    const __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), _mm512_set1_epi32((int)as));
    for (int b = 0; b < nb; b++) {
        const __m512i v = _mm512_i32gather_epi32(idx, a + (size_t)b * asz, 1); // d | s << 16
        _mm512_storeu_ps(da + b * MT, _mm512_cvtph_ps(_mm512_cvtepi32_epi16(v)));
        if (has_min) _mm512_storeu_ps(sa + b * MT, _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(v, 16))));
    }
}

// 16 tokens (a: the first one's Q8_0/Q8_1 row) x the packed rows: y[t * ys + r] for r in mask m.
// Block b's dot is issued before block b - 1's float work, which runs while the tile unit works.
static void run32(int kind, int nb, const packed *P, const tokens16 *T, const uint8_t *a, size_t as, float *y, size_t ys,
                  __mmask16 m) {
    const int has_min = k32_has_min(kind);
    const size_t asz = has_min ? sizeof(block_q8_1) : sizeof(block_q8_0), aq = has_min ? 4 : 2;
    int32_t c[2][MT * MT] __attribute__((aligned(64)));
    __m512 acc[MT];
#pragma GCC unroll 16
    for (int t = 0; t < MT; t++) acc[t] = _mm512_setzero_ps();
    for (int b = 0; b <= nb; b++) {
        if (b < nb) DOT_TILE(b & 1, a + (size_t)b * asz + aq, as, P->lev + (size_t)b * 32 * MT, c[b & 1]);
        if (b == 0) continue;
        const int pb = b - 1;
        const int32_t *cb = c[pb & 1];
        const float *da = T->da + pb * MT, *sa = T->sa + pb * MT;
        const __m512 dw = _mm512_loadu_ps(P->d + pb * MT);
        const __m512 mw = has_min ? _mm512_loadu_ps(P->d2 + pb * MT) : dw;
#pragma GCC unroll 16
        for (int t = 0; t < MT; t++) {
            __m512 term = _mm512_mul_ps(_mm512_mul_ps(dw, _mm512_set1_ps(da[t])), _mm512_cvtepi32_ps(_mm512_load_si512(cb + t * MT)));
            if (has_min) term = _mm512_add_ps(term, _mm512_mul_ps(mw, _mm512_set1_ps(sa[t])));
            acc[t] = _mm512_add_ps(acc[t], term);
        }
    }
#pragma GCC unroll 16
    for (int t = 0; t < MT; t++) _mm512_mask_storeu_ps(y + t * ys, m, acc[t]);
}

// ---- 256-element super-blocks -------------------------------------------------------------------

enum { KK_Q4_K, KK_Q5_K, KK_Q6_K, KK_IQ4_XS };

static size_t kk_wsize(int kind) {
    static const size_t sz[] = {sizeof(block_q4_K), sizeof(block_q5_K), sizeof(block_q6_K), sizeof(block_iq4_xs)};
    return sz[kind];
}
static int kk_sub(int kind) { return kind == KK_Q6_K ? 16 : 8; }   // sub-blocks per super-block
static int kk_has_min(int kind) { return kind == KK_Q4_K || kind == KK_Q5_K; }

// Scale planes: a sub-block scale times a level does not fit int8, but each digit of the scale
// does: with sc = sum_p digit_p << (bits * p), plane p holds digit_p * level. Q4_K: 2 planes of
// 3-bit digits (level <= 15, so digit * level <= 105). The sub-block scales are then inside the B
// tiles: a plane's dot over the whole super-block is one K = 64 accumulation (4 dots, no store
// between sub-blocks), and isum = plane_0 + (plane_1 << 3), exact in int32. The other kinds keep
// one store per sub-block and their scales in integer multiplies: Q5_K would need 3 planes and
// Q6_K 4 (2-bit digits), which measured slower than that (the planes' B tiles outgrow L1).
static int kk_planes(int kind) { return kind == KK_Q4_K ? 2 : 0; }
static int kk_digit_bits(int kind) { return kind == KK_Q4_K ? 3 : 0; }

// digit * q for q <= 15, digit <= 7, by table: idx = q | digit << 4 (VBMI's 128-byte permute).
AI __m512i digit_times(__m512i q, __m512i dig16) {
    static const int8_t prod[128] = {
#define ROW(d) 0 * d, 1 * d, 2 * d, 3 * d, 4 * d, 5 * d, 6 * d, 7 * d, 8 * d, 9 * d, 10 * d, 11 * d, 12 * d, 13 * d, 14 * d, 15 * d
        ROW(0), ROW(1), ROW(2), ROW(3), ROW(4), ROW(5), ROW(6), ROW(7)
#undef ROW
    };
    return _mm512_permutex2var_epi8(_mm512_loadu_si512(prod), _mm512_or_si512(q, dig16), _mm512_loadu_si512(prod + 64));
}

static void packK_scales(int kind, const uint8_t *w, size_t ws, int nr, int b, packed *P) {
    const int ns = kk_sub(kind);
    int32_t *sc = P->sc + (size_t)b * ns * MT, *mn = P->mn + (size_t)b * 4 * MT;
    for (int r = 0; r < MT; r++) {
        const uint8_t *wb = w + r * ws + (size_t)b * kk_wsize(kind);
        if (r >= nr) {
            for (int g = 0; g < ns; g++) sc[g * MT + r] = 0;
            for (int p = 0; p < 4; p++) mn[p * MT + r] = 0;
            continue;
        }
        if (kind == KK_Q4_K || kind == KK_Q5_K) {
            uint8_t s8[8], m8[8];
            kite__unpack_scales_k4(((const block_q4_K *)wb)->scales, s8, m8);
            for (int g = 0; g < 8; g++) sc[g * MT + r] = s8[g];
            for (int p = 0; p < 4; p++) mn[p * MT + r] = (int32_t)((uint32_t)m8[2 * p] | (uint32_t)m8[2 * p + 1] << 16);
        } else if (kind == KK_Q6_K) {
            for (int g = 0; g < 16; g++) sc[g * MT + r] = ((const block_q6_K *)wb)->scales[g];
        } else {
            const block_iq4_xs *x = (const block_iq4_xs *)wb;
            for (int g = 0; g < 8; g++)
                sc[g * MT + r] = (((x->scales_l[g / 2] >> (4 * (g & 1))) & 0x0F) | (((x->scales_h >> (2 * g)) & 3) << 4)) - 32;
        }
    }
}

// Where packK puts the levels of one super-block: in planes (their digit bytes per sub-block
// and plane in dig) or as they are (IQ4_XS).
typedef struct kdest {
    int8_t *lev; // the super-block's first byte
    int planes, bits, kb;
    __m512i dig[16][2]; // per sub-block and plane: the rows' digits << 4, in each byte of their lanes
} kdest;

// Stores tile row k (elements 4k..4k+3 of every row) of sub-block g, levels q.
AI void kstore(const kdest *D, int g, int k, __m512i q) {
    int8_t *o = D->lev + g * D->kb * MT + k * 64;
    if (!D->planes) {
        _mm512_storeu_si512(o, q);
        return;
    }
    for (int p = 0; p < D->planes; p++)
        _mm512_storeu_si512(o + (size_t)p * QK_K * MT, digit_times(q, D->dig[g][p]));
}

static void packK(int kind, const rows16 *R0, const uint8_t *w, size_t ws, int nr, int nb, packed *P) {
    const size_t wsz = kk_wsize(kind);
    const int np = kk_planes(kind), ns = kk_sub(kind);
    kdest D = {.planes = np, .bits = kk_digit_bits(kind), .kb = QK_K / ns};
    // a row's digit in byte 0 of its lane, repeated in the lane's 4 bytes
    const __m512i rep = _mm512_set_epi8(60, 60, 60, 60, 56, 56, 56, 56, 52, 52, 52, 52, 48, 48, 48, 48, 44, 44, 44, 44, 40, 40,
                                        40, 40, 36, 36, 36, 36, 32, 32, 32, 32, 28, 28, 28, 28, 24, 24, 24, 24, 20, 20, 20, 20, 16,
                                        16, 16, 16, 12, 12, 12, 12, 8, 8, 8, 8, 4, 4, 4, 4, 0, 0, 0, 0);
    for (int b = 0; b < nb; b++) {
        prefetch_ahead(R0, b, nb, wsz);
        rows16 R = *R0;
        R.w += (size_t)b * wsz;
        packK_scales(kind, w, ws, nr, b, P);
        D.lev = P->lev + (size_t)b * (np ? np : 1) * QK_K * MT;
        for (int g = 0; g < (np ? ns : 0); g++) {
            const __m512i sc = _mm512_loadu_si512(P->sc + ((size_t)b * ns + g) * MT);
            for (int p = 0; p < np; p++) {
                const __m512i digit = _mm512_slli_epi32(_mm512_and_si512(_mm512_srai_epi32(sc, D.bits * p), _mm512_set1_epi32(7)), 4);
                D.dig[g][p] = _mm512_permutexvar_epi8(rep, digit);
            }
        }
        if (kind == KK_Q4_K || kind == KK_Q5_K) {
            _mm512_storeu_ps(P->d + b * MT, gather_f16(&R, 0));
            _mm512_storeu_ps(P->d2 + b * MT, gather_f16(&R, 2));
            const size_t qs = kind == KK_Q4_K ? offsetof(block_q4_K, qs) : offsetof(block_q5_K, qs);
            const uint8_t *p[MT];
            __m512i qhv[8], qv[4][8];
            if (kind == KK_Q5_K) row_ptrs(&R, offsetof(block_q5_K, qh), p), transpose16x8(p, qhv);
            for (int j = 0; j < 4; j++) row_ptrs(&R, qs + 32 * j, p), transpose16x8(p, qv[j]);
            for (int k = 0; k < 8; k++) { // elements 4k..4k+3 of each sub-block
                const __m512i qh = kind == KK_Q5_K ? qhv[k] : _mm512_setzero_si512();
                for (int j = 0; j < 4; j++) { // sub-blocks 2j (low nibbles) and 2j + 1 (high)
                    const __m512i v = qv[j][k];
                    __m512i lo = nib_lo(v), hi = nib_hi(v);
                    if (kind == KK_Q5_K) {
                        const __m512i bit = _mm512_set1_epi8(1);
                        lo = _mm512_or_si512(lo, _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(qh, 2 * j), bit), 4));
                        hi = _mm512_or_si512(hi, _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(qh, 2 * j + 1), bit), 4));
                    }
                    kstore(&D, 2 * j, k, lo);
                    kstore(&D, 2 * j + 1, k, hi);
                }
            }
        } else if (kind == KK_Q6_K) {
            _mm512_storeu_ps(P->d + b * MT, gather_f16(&R, offsetof(block_q6_K, d)));
            for (int h = 0; h < 2; h++) {
                const uint8_t *p[MT];
                __m512i qhv[8], qlv[2][8];
                row_ptrs(&R, offsetof(block_q6_K, qh) + 32 * h, p), transpose16x8(p, qhv);
                for (int ip = 0; ip < 2; ip++) row_ptrs(&R, offsetof(block_q6_K, ql) + 64 * h + 32 * ip, p), transpose16x8(p, qlv[ip]);
                for (int l4 = 0; l4 < 8; l4++) { // elements l = 4*l4.. of the half's 32 columns
                    const __m512i qh = qhv[l4];
                    for (int ip = 0; ip < 2; ip++) {
                        const __m512i ql = qlv[ip][l4];
                        for (int ih = 0; ih < 2; ih++) {
                            const int i = ip + 2 * ih; // element 128h + 32i + l
                            const __m512i hb = _mm512_and_si512(_mm512_srli_epi32(qh, 2 * i), _mm512_set1_epi8(3));
                            __m512i q = _mm512_or_si512(ih ? nib_hi(ql) : nib_lo(ql), _mm512_slli_epi32(hb, 4));
                            q = _mm512_sub_epi8(q, _mm512_set1_epi8(32));
                            const int sb = 8 * h + 2 * i + (l4 >= 4), k = l4 & 3; // 16-element sub-block
                            kstore(&D, sb, k, q);
                        }
                    }
                }
            }
        } else { // IQ4_XS: sub-block g is 16 bytes of nibbles, Q4_0's order
            _mm512_storeu_ps(P->d + b * MT, gather_f16(&R, 0));
            for (int g = 0; g < 8; g++) {
                const uint8_t *p[MT];
                __m512i q[4];
                row_ptrs(&R, offsetof(block_iq4_xs, qs) + 16 * g, p), transpose16x4(p, q);
                for (int k = 0; k < 4; k++) {
                    const __m512i v = q[k];
                    kstore(&D, g, k, iq4nl_lookup(nib_lo(v)));
                    kstore(&D, g, 4 + k, iq4nl_lookup(nib_hi(v)));
                }
            }
        }
    }
}

// 16 tokens (a: the first one's Q8_K row) x the packed rows, as run32: super-block b's sub-block
// dots (alternating register sets) are issued before super-block b - 1's integer and float work.
static void token_scalesK(int has_min, int nb, const uint8_t *a, size_t as, const tokens16 *T) {
    for (int b = 0; b < nb; b++)
        for (int t = 0; t < MT; t++) {
            const block_q8_K *at = (const block_q8_K *)(a + t * as) + b;
            T->da[b * MT + t] = at->d;
            if (has_min)
                for (int p = 0; p < 4; p++) {
                    const int s0 = at->bsums[4 * p] + at->bsums[4 * p + 1], s1 = at->bsums[4 * p + 2] + at->bsums[4 * p + 3];
                    T->bp[(b * 4 + p) * MT + t] = (int32_t)(((uint32_t)s0 & 0xFFFF) | (uint32_t)s1 << 16);
                }
        }
}

static void runK(int kind, int nb, const packed *P, const tokens16 *T, const uint8_t *a, size_t as, float *y, size_t ys,
                 __mmask16 m) {
    const int ns = kk_sub(kind), kb = QK_K / ns, has_min = kk_has_min(kind);
    int32_t c[2][16][MT * MT] __attribute__((aligned(64)));
    __m512 acc[MT];
#pragma GCC unroll 16
    for (int t = 0; t < MT; t++) acc[t] = _mm512_setzero_ps();
    for (int b = 0; b <= nb; b++) {
        if (b < nb) {
            const uint8_t *aq = a + (size_t)b * sizeof(block_q8_K) + offsetof(block_q8_K, qs);
            const int8_t *lev = P->lev + (size_t)b * QK_K * MT;
            for (int g = 0; g < ns; g += 2) {
                DOT_TILE(0, aq + g * kb, as, lev + g * kb * MT, c[b & 1][g]);
                DOT_TILE(1, aq + (g + 1) * kb, as, lev + (g + 1) * kb * MT, c[b & 1][g + 1]);
            }
        }
        if (b == 0) continue;
        const int pb = b - 1;
        const int32_t(*cb)[MT * MT] = c[pb & 1];
        const int32_t *tp = T->bp + (size_t)pb * 4 * MT;
        const int32_t *sc = P->sc + (size_t)pb * ns * MT, *mn = P->mn + (size_t)pb * 4 * MT;
        const __m512 d = _mm512_loadu_ps(P->d + pb * MT);
        const __m512 dmin = has_min ? _mm512_loadu_ps(P->d2 + pb * MT) : d;
#pragma GCC unroll 16
        for (int t = 0; t < MT; t++) {
            __m512i isum = _mm512_setzero_si512();
            for (int g = 0; g < ns; g++)
                isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(_mm512_load_si512(cb[g] + t * MT), _mm512_loadu_si512(sc + g * MT)));
            const __m512 da = _mm512_set1_ps(T->da[pb * MT + t]);
            __m512 term = _mm512_mul_ps(_mm512_mul_ps(d, da), _mm512_cvtepi32_ps(isum));
            if (has_min) {
                __m512i msum = _mm512_setzero_si512();
                for (int p = 0; p < 4; p++) // mins 2p, 2p+1 against the bsums of sub-blocks 2p, 2p+1
                    msum = _mm512_add_epi32(msum, _mm512_madd_epi16(_mm512_loadu_si512(mn + p * MT), _mm512_set1_epi32(tp[p * MT + t])));
                term = _mm512_sub_ps(term, _mm512_mul_ps(_mm512_mul_ps(dmin, da), _mm512_cvtepi32_ps(msum)));
            }
            acc[t] = _mm512_add_ps(acc[t], term);
        }
    }
#pragma GCC unroll 16
    for (int t = 0; t < MT; t++) _mm512_mask_storeu_ps(y + t * ys, m, acc[t]);
}

// runK for the kinds in scale planes (two): per super-block, each plane's 4 K = 64 dots
// accumulate in its own C tile (tmm0, tmm1; A tmm4, B tmm5, tmm6), so one store per plane.
#define PLANE_DOT(p, breg, bm)                                                                         \
    do {                                                                                               \
        _tile_loadd(breg, (bm), TILE_B);                                                               \
        _tile_dpbssd(p, 4, breg);                                                                      \
    } while (0)

static void runK_planes(int kind, int nb, const packed *P, const tokens16 *T, const uint8_t *a, size_t as, float *y,
                        size_t ys, __mmask16 m) {
    const int np = kk_planes(kind), sh = kk_digit_bits(kind), has_min = kk_has_min(kind);
    int32_t c[2][2][MT * MT] __attribute__((aligned(64)));
    __m512 acc[MT];
#pragma GCC unroll 16
    for (int t = 0; t < MT; t++) acc[t] = _mm512_setzero_ps();
    for (int b = 0; b <= nb; b++) {
        if (b < nb) {
            const uint8_t *aq = a + (size_t)b * sizeof(block_q8_K) + offsetof(block_q8_K, qs);
            const int8_t *lev = P->lev + (size_t)b * np * QK_K * MT;
            int32_t(*cb)[MT * MT] = c[b & 1];
            _tile_zero(0);
            _tile_zero(1);
            for (int k = 0; k < 4; k++) { // elements 64k..64k+63
                const int8_t *bk = lev + k * 64 * MT;
                _tile_loadd(4, aq + 64 * k, as);
                PLANE_DOT(0, 5, bk);
                PLANE_DOT(1, 6, bk + QK_K * MT);
            }
            _tile_stored(0, cb[0], TILE_B);
            _tile_stored(1, cb[1], TILE_B);
        }
        if (b == 0) continue;
        const int pb = b - 1;
        const int32_t(*cb)[MT * MT] = c[pb & 1];
        const int32_t *mn = P->mn + (size_t)pb * 4 * MT, *tp = T->bp + (size_t)pb * 4 * MT;
        const __m512 d = _mm512_loadu_ps(P->d + pb * MT);
        const __m512 dmin = has_min ? _mm512_loadu_ps(P->d2 + pb * MT) : d;
#pragma GCC unroll 16
        for (int t = 0; t < MT; t++) {
            __m512i isum = _mm512_load_si512(cb[np - 1] + t * MT);
            for (int p = np - 2; p >= 0; p--)
                isum = _mm512_add_epi32(_mm512_slli_epi32(isum, sh), _mm512_load_si512(cb[p] + t * MT));
            const __m512 da = _mm512_set1_ps(T->da[pb * MT + t]);
            __m512 term = _mm512_mul_ps(_mm512_mul_ps(d, da), _mm512_cvtepi32_ps(isum));
            if (has_min) {
                __m512i msum = _mm512_setzero_si512();
                for (int p = 0; p < 4; p++) // mins 2p, 2p+1 against the bsums of sub-blocks 2p, 2p+1
                    msum = _mm512_add_epi32(msum, _mm512_madd_epi16(_mm512_loadu_si512(mn + p * MT), _mm512_set1_epi32(tp[p * MT + t])));
                term = _mm512_sub_ps(term, _mm512_mul_ps(_mm512_mul_ps(dmin, da), _mm512_cvtepi32_ps(msum)));
            }
            acc[t] = _mm512_add_ps(acc[t], term);
        }
    }
#pragma GCC unroll 16
    for (int t = 0; t < MT; t++) _mm512_mask_storeu_ps(y + t * ys, m, acc[t]);
}

// ---- the tiles ------------------------------------------------------------------------------------

// Runs every full group of 16 tokens on AMX (their scales read once for all the row tiles),
// packing each group of 16 of the nr <= ROW_TILES * 16 rows once for all of them, and leaves the
// rest (and everything when fewer than 16 tokens come or the shape does not fit) to the AVX-512
// tile.
enum { ROW_TILES = 4, TOK_TILES = 16 }; // a tile call: up to 64 rows x 256 tokens (matmul.c)

static void amx_tile(kite_type wtype, int kind, int is_k, int n, const void *wv, size_t ws, int nr, const void *av,
                     size_t as, int nt, float *y, size_t ys) {
    const int bs = is_k ? QK_K : 32, nb = n / bs, nrt = (nr + MT - 1) / MT, ntt = nt / MT;
    const int planes = is_k ? kk_planes(kind) : 0;
    int done = 0;
    if (ntt > 0 && nr > 0 && nr <= ROW_TILES * MT && ws <= (size_t)INT32_MAX / MT && as <= (size_t)INT32_MAX / MT) {
        const size_t lev_b = (size_t)nb * bs * MT * (planes ? planes : 1), f_b = (size_t)nb * MT * sizeof(float);
        const size_t sc_b = is_k ? (size_t)nb * 16 * MT * sizeof(int32_t) : 0, mn_b = is_k ? (size_t)nb * 4 * MT * sizeof(int32_t) : 0;
        const size_t per_rows = lev_b + 2 * f_b + sc_b + mn_b, per_toks = 2 * f_b + mn_b; // multiples of 64
        char *mem = aligned_alloc(64, per_rows + (size_t)ntt * per_toks);
        if (mem) {
            packed P = {.lev = (int8_t *)mem, .d = (float *)(mem + lev_b), .d2 = (float *)(mem + lev_b + f_b),
                        .sc = (int32_t *)(mem + lev_b + 2 * f_b), .mn = (int32_t *)(mem + lev_b + 2 * f_b + sc_b)};
            tokens16 T[TOK_TILES];
            for (int tt = 0; tt < ntt; tt++) { // every token group's scales, once for all the row tiles
                char *tm = mem + per_rows + (size_t)tt * per_toks;
                T[tt] = (tokens16){.da = (float *)tm, .sa = (float *)(tm + f_b), .bp = (int32_t *)(tm + 2 * f_b)};
                const uint8_t *a = (const uint8_t *)av + (size_t)tt * MT * as;
                if (is_k)
                    token_scalesK(kk_has_min(kind), nb, a, as, &T[tt]);
                else
                    token_scales32(k32_has_min(kind), nb, a, as, &T[tt]);
            }
            tiles_config(planes ? TILE_B : is_k ? QK_K / kk_sub(kind) : 32);
            // row tile by row tile: its packed levels stay in L1/L2 while every token group uses them
            for (int i = 0; i < nrt; i++) {
                const int rows = nr - MT * i < MT ? nr - MT * i : MT; // 1..16
                const uint8_t *wi = (const uint8_t *)wv + (size_t)i * MT * ws;
                const __mmask16 m = (__mmask16)(0xFFFFu >> (MT - rows));
                const rows16 R = {.w = wi, .ws = ws, .m = m,
                                  .idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                                            _mm512_set1_epi32((int)ws))};
                if (is_k)
                    packK(kind, &R, wi, ws, rows, nb, &P);
                else
                    pack32(kind, &R, nb, &P);
                for (int tt = 0; tt < ntt; tt++) {
                    const uint8_t *a = (const uint8_t *)av + (size_t)tt * MT * as;
                    float *yi = y + (size_t)tt * MT * ys + (size_t)i * MT;
                    if (planes)
                        runK_planes(kind, nb, &P, &T[tt], a, as, yi, ys, m);
                    else if (is_k)
                        runK(kind, nb, &P, &T[tt], a, as, yi, ys, m);
                    else
                        run32(kind, nb, &P, &T[tt], a, as, yi, ys, m);
                }
            }
            _tile_release();
            free(mem);
            done = ntt * MT;
        }
    }
    if (done < nt) g_fallback[wtype](n, wv, ws, nr, (const uint8_t *)av + (size_t)done * as, as, nt - done, y + (size_t)done * ys, ys);
}

#define AMX_TILE(name, wtype, kind, is_k)                                                                        \
    static void name(int n, const void *w, size_t ws, int nr, const void *a, size_t as, int nt, float *y, size_t ys) { \
        amx_tile(wtype, kind, is_k, n, w, ws, nr, a, as, nt, y, ys);                                              \
    }
AMX_TILE(tile_q8_0, KITE_TYPE_Q8_0, K32_Q8_0, 0)
AMX_TILE(tile_q4_0, KITE_TYPE_Q4_0, K32_Q4_0, 0)
AMX_TILE(tile_q4_1, KITE_TYPE_Q4_1, K32_Q4_1, 0)
AMX_TILE(tile_q5_0, KITE_TYPE_Q5_0, K32_Q5_0, 0)
AMX_TILE(tile_q5_1, KITE_TYPE_Q5_1, K32_Q5_1, 0)
AMX_TILE(tile_iq4_nl, KITE_TYPE_IQ4_NL, K32_IQ4_NL, 0)
AMX_TILE(tile_q4_K, KITE_TYPE_Q4_K, KK_Q4_K, 1)
AMX_TILE(tile_q5_K, KITE_TYPE_Q5_K, KK_Q5_K, 1)
AMX_TILE(tile_q6_K, KITE_TYPE_Q6_K, KK_Q6_K, 1)
AMX_TILE(tile_iq4_xs, KITE_TYPE_IQ4_XS, KK_IQ4_XS, 1)

void kite__kernels_fill_amx(kite__kernels *k) {
    kite__kernels_fill_avx512(k);
    memcpy(g_fallback, k->tile, sizeof g_fallback);
    k->isa = "amx";
    k->gemm_rows = ROW_TILES * MT, k->gemm_tokens = TOK_TILES * MT;
    k->tile[KITE_TYPE_Q8_0] = tile_q8_0, k->tile[KITE_TYPE_Q4_0] = tile_q4_0;
    k->tile[KITE_TYPE_Q4_1] = tile_q4_1, k->tile[KITE_TYPE_Q5_0] = tile_q5_0;
    k->tile[KITE_TYPE_Q5_1] = tile_q5_1, k->tile[KITE_TYPE_IQ4_NL] = tile_iq4_nl;
    k->tile[KITE_TYPE_Q4_K] = tile_q4_K, k->tile[KITE_TYPE_Q5_K] = tile_q5_K;
    k->tile[KITE_TYPE_Q6_K] = tile_q6_K, k->tile[KITE_TYPE_IQ4_XS] = tile_iq4_xs;
}
