// repack_x8.c - the X8 weight layout (8 rows interleaved per super-block, see kite_kernels.h) and
// its conversions to and from the file's row layout. Portable C: every build can repack and
// read back; the x86 and wasm sets read X8 directly: a GEMV (kernels_x86_x8*.inc,
// kernels_wasm_x8*.inc; x86 has Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_0, IQ4_XS and the 32-element types') and,
// on x86, the packed GEMM's decode (packK_x8, pack32_x8, kernels_x86_packed_levels.inc).
#include "kernels/kernels_internal.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"

// The grid types with an X8 layout (their own blocks: grid_row_block, grid_s_row_block).
static bool x8_grid_s_type(kite_type wtype) {
    return wtype == KITE_TYPE_IQ2_XS || wtype == KITE_TYPE_IQ2_S || wtype == KITE_TYPE_IQ3_S;
}
static bool x8_grid_type(kite_type wtype) {
    return wtype == KITE_TYPE_IQ3_XXS || wtype == KITE_TYPE_IQ2_XXS || wtype == KITE_TYPE_IQ1_S || wtype == KITE_TYPE_IQ1_M ||
           x8_grid_s_type(wtype);
}

bool kite_matmul_x8_type(kite_type wtype) {
    switch (wtype) {
    case KITE_TYPE_Q2_K: case KITE_TYPE_Q3_K: case KITE_TYPE_Q4_K: case KITE_TYPE_Q5_K: case KITE_TYPE_Q6_K:
    case KITE_TYPE_Q4_0: case KITE_TYPE_Q8_0: case KITE_TYPE_IQ4_NL: case KITE_TYPE_IQ4_XS:
    case KITE_TYPE_Q5_0: case KITE_TYPE_Q4_1: case KITE_TYPE_Q5_1:
        return true;
    default:
        return x8_grid_type(wtype);
    }
}

bool kite_matmul_prefers_x8(kite_type wtype) {
    return kite_matmul_x8_type(wtype) && kite__kernels_active()->gemv_x8[wtype] != NULL;
}

// n bytes between an X8 block's x and a row block's r: to_x8, r to x, else x to r.
static void move(bool to_x8, uint8_t *x, uint8_t *r, size_t n) {
    if (to_x8) memcpy(x, r, n);
    else memcpy(r, x, n);
}

// In each byte of b: its bits 0, 2, 4, 6 as bits 0..3 (each step halves the gaps; the masks drop
// what crossed a byte), and back.
static uint64_t even_bits(uint64_t b) {
    b &= 0x5555555555555555u;
    b = (b | b >> 1) & 0x3333333333333333u;
    return (b | b >> 2) & 0x0F0F0F0F0F0F0F0Fu;
}
static uint64_t spread_bits(uint64_t b) {
    b &= 0x0F0F0F0F0F0F0F0Fu;
    b = (b | b << 2) & 0x3333333333333333u;
    return (b | b << 1) & 0x5555555555555555u;
}

// 8 qh bytes of block_q5_K (bits 2p, 2p + 1: pair p's low and high nibbles) from r to the X8
// block's order (bits p, 4 + p) at x, or (to_x8 false) back.
static void q5_K_qh_bytes(uint8_t *x, uint8_t *r, bool to_x8) {
    uint64_t b;
    memcpy(&b, to_x8 ? r : x, 8);
    b = to_x8 ? even_bits(b) | even_bits(b >> 1) << 4 : spread_bits(b) | spread_bits(b >> 4) << 1;
    memcpy(to_x8 ? x : r, &b, 8);
}

// One super-block of row i (0..7) of a group: block_q4_K (qs at row + qs) or block_q5_K (qh at
// row + qh, else qh 0) <-> its share of the X8 block (kernels_internal.h has the byte maps: Q5_K's
// is Q4_K's with its qh, bits reordered, before the qs). to_x8: src is the row block, else dst is.
static void k4_row_block(uint8_t *x8, uint8_t *row, int i, bool to_x8, size_t qs, size_t qh) {
    move(to_x8, x8 + KITE_X8_Q4K_D + 2 * i, row + offsetof(block_q4_K, d), 2);
    move(to_x8, x8 + KITE_X8_Q4K_DMIN + 2 * i, row + offsetof(block_q4_K, dmin), 2);
    for (int k = 0; k < K_SCALE_SIZE; k++)
        move(to_x8, x8 + KITE_X8_Q4K_SCALES + 8 * k + i, row + offsetof(block_q4_K, scales) + k, 1);
    const size_t xqs = qh ? KITE_X8_Q5K_QS : KITE_X8_Q4K_QS;
    for (int p = 0; p < 4; p++)
        for (int c = 0; c < 4; c++) move(to_x8, x8 + xqs + 256 * p + 64 * c + 8 * i, row + qs + 32 * p + 8 * c, 8);
    for (int c = 0; qh && c < 4; c++) q5_K_qh_bytes(x8 + KITE_X8_Q5K_QH + 64 * c + 8 * i, row + qh + 8 * c, to_x8);
}

// The same for block_q6_K. The bytes at QS + 192c + 32u + 4i + m (u 0..1) of unit (c, u), (c,
// u + 2), (c, u + 4) hold the four levels L_s (0..63, s 0..3) of row i's elements 128h + 32s + e,
// e = 8p + 4u + m (c = 4h + p), as L0 | (L3 >> 4) << 6, L1 | (L3 >> 2 & 3) << 6, L2 | (L3 & 3)
// << 6 (kernels_internal.h); the row holds L_s as nibble s >> 1 of ql[64h + 32(s & 1) + e] with
// bits 2s, 2s + 1 of qh[32h + e] above it. Four elements m at once, one per byte of a uint32
// (every shift's crossed bits masked off).
static void q6_K_levels(uint8_t *x, uint8_t *r, int h, int e, bool to_x8) {
    const uint32_t b2 = 0x03030303u, b4 = 0x0F0F0F0Fu, b6 = 0x3F3F3F3Fu;
    uint8_t *ql0 = r + offsetof(block_q6_K, ql) + 64 * h + e, *ql1 = ql0 + 32, *qhp = r + offsetof(block_q6_K, qh) + 32 * h + e;
    uint32_t l0, l1, qh, u0, u1, u2;
    if (to_x8) {
        memcpy(&l0, ql0, 4), memcpy(&l1, ql1, 4), memcpy(&qh, qhp, 4);
        const uint32_t L0 = (l0 & b4) | (qh & b2) << 4, L1 = (l1 & b4) | (qh >> 2 & b2) << 4;
        const uint32_t L2 = (l0 >> 4 & b4) | (qh >> 4 & b2) << 4, L3 = (l1 >> 4 & b4) | (qh >> 6 & b2) << 4;
        u0 = L0 | (L3 >> 4 & b2) << 6, u1 = L1 | (L3 >> 2 & b2) << 6, u2 = L2 | (L3 & b2) << 6;
        memcpy(x, &u0, 4), memcpy(x + 64, &u1, 4), memcpy(x + 128, &u2, 4);
    } else {
        memcpy(&u0, x, 4), memcpy(&u1, x + 64, 4), memcpy(&u2, x + 128, 4);
        const uint32_t L0 = u0 & b6, L1 = u1 & b6, L2 = u2 & b6;
        const uint32_t L3 = (u0 >> 6 & b2) << 4 | (u1 >> 6 & b2) << 2 | (u2 >> 6 & b2);
        l0 = (L0 & b4) | (L2 & b4) << 4, l1 = (L1 & b4) | (L3 & b4) << 4;
        qh = (L0 >> 4 & b2) | (L1 >> 4 & b2) << 2 | (L2 >> 4 & b2) << 4 | (L3 >> 4 & b2) << 6;
        memcpy(ql0, &l0, 4), memcpy(ql1, &l1, 4), memcpy(qhp, &qh, 4);
    }
}

static void q6_K_row_block(uint8_t *x8, uint8_t *row, int i, bool to_x8) {
    move(to_x8, x8 + KITE_X8_Q6K_D + 2 * i, row + offsetof(block_q6_K, d), 2);
    for (int j = 0; j < 16; j++) move(to_x8, x8 + KITE_X8_Q6K_SCALES + 8 * j + i, row + offsetof(block_q6_K, scales) + j, 1);
    uint8_t *qs = x8 + KITE_X8_Q6K_QS + 4 * i;
    for (int c = 0; c < 8; c++)
        for (int u = 0; u < 2; u++) q6_K_levels(qs + 192 * c + 32 * u, row, c >> 2, 8 * (c & 3) + 4 * u, to_x8);
}

// The same for block_q3_K (kernels_internal.h has the byte map).
static void q3_K_row_block(uint8_t *x8, uint8_t *row, int i, bool to_x8) {
    move(to_x8, x8 + KITE_X8_Q3K_D + 2 * i, row + offsetof(block_q3_K, d), 2);
    for (int k = 0; k < 12; k++) move(to_x8, x8 + KITE_X8_Q3K_SCALES + 8 * k + i, row + offsetof(block_q3_K, scales) + k, 1);
    for (int q = 0; q < 8; q++) // q = 2p + u
        move(to_x8, x8 + KITE_X8_Q3K_HM + 32 * q + 4 * i, row + offsetof(block_q3_K, hmask) + 4 * q, 4);
    for (int q = 0; q < 16; q++) // q = 8h + 2p + u
        move(to_x8, x8 + KITE_X8_Q3K_QS + 32 * q + 4 * i, row + offsetof(block_q3_K, qs) + 4 * q, 4);
}

// The same for block_q2_K (kernels_internal.h has the byte map).
static void q2_K_row_block(uint8_t *x8, uint8_t *row, int i, bool to_x8) {
    move(to_x8, x8 + KITE_X8_Q2K_D + 2 * i, row + offsetof(block_q2_K, d), 2);
    move(to_x8, x8 + KITE_X8_Q2K_DMIN + 2 * i, row + offsetof(block_q2_K, dmin), 2);
    for (int j = 0; j < 16; j++) move(to_x8, x8 + KITE_X8_Q2K_SCALES + 8 * j + i, row + offsetof(block_q2_K, scales) + j, 1);
    for (int q = 0; q < 16; q++) // q = 8h + 2p + u
        move(to_x8, x8 + KITE_X8_Q2K_QS + 32 * q + 4 * i, row + offsetof(block_q2_K, qs) + 4 * q, 4);
}

// The same for block_q8_0: d at D + 2i, qs bytes 8c .. 8c + 7 at QS + 64c + 8i.
static void q8_0_row_block(uint8_t *x8, uint8_t *row, int i, bool to_x8) {
    move(to_x8, x8 + KITE_X8_Q80_D + 2 * i, row + offsetof(block_q8_0, d), 2);
    for (int c = 0; c < 4; c++) move(to_x8, x8 + KITE_X8_Q80_QS + 64 * c + 8 * i, row + offsetof(block_q8_0, qs) + 8 * c, 8);
}

// The same for block_iq4_xs (kernels_internal.h has the byte map): scales_h's two bytes 8 apart.
static void iq4_xs_row_block(uint8_t *x8, uint8_t *row, int i, bool to_x8) {
    uint8_t *qs = x8 + KITE_X8_IQ4XS_QS + 32 * (i >> 1) + 8 * (i & 1);
    move(to_x8, x8 + KITE_X8_IQ4XS_D + 2 * i, row + offsetof(block_iq4_xs, d), 2);
    for (int k = 0; k < 2; k++) move(to_x8, x8 + KITE_X8_IQ4XS_SH + 8 * k + i, row + offsetof(block_iq4_xs, scales_h) + k, 1);
    for (int k = 0; k < QK_K / 64; k++) move(to_x8, x8 + KITE_X8_IQ4XS_SL + 8 * k + i, row + offsetof(block_iq4_xs, scales_l) + k, 1);
    for (int s = 0; s < QK_K / 32; s++)
        for (int c = 0; c < 2; c++) move(to_x8, qs + 128 * s + 16 * c, row + offsetof(block_iq4_xs, qs) + 16 * s + 8 * c, 8);
}

// The nibbles of a Q4_0-like block (16 bytes at r) to or from row i's share of an X8 block's
// nibbles at qs (Q4_0's map: bytes 8c .. 8c + 7 at 32(i >> 1) + 16c + 8(i & 1)).
static void nibbles_row(uint8_t *qs, uint8_t *r, int i, bool to_x8) {
    for (int c = 0; c < 2; c++) move(to_x8, qs + 32 * (i >> 1) + 16 * c + 8 * (i & 1), r + 8 * c, 8);
}

// The same for block_q4_0 and block_iq4_nl (the same bytes: d, then 16 of nibbles).
static void q4_0_row_block(uint8_t *x8, uint8_t *row, int i, bool to_x8) {
    move(to_x8, x8 + KITE_X8_Q40_D + 2 * i, row, 2);
    nibbles_row(x8 + KITE_X8_Q40_QS, row + 2, i, to_x8);
}

// Bit k of each byte of x as bits 0..7 of one byte (byte p's as bit p: the 8 products of the
// multiply land at distinct bits, so no carries, and only those of the top byte stay), and back
// (byte p of the result holds bit p of b as its bit 0: b's bit p alone in byte p, then + 0x7F
// carries it to bit 7).
static unsigned gather_bits(uint64_t x, int k) {
    return (unsigned)((((x >> k) & 0x0101010101010101u) * 0x0102040810204080u) >> 56);
}
static uint64_t scatter_bits(unsigned b) {
    const uint64_t t = ((uint64_t)b * 0x0101010101010101u) & 0x8040201008040201u;
    return ((t + 0x7F7F7F7F7F7F7F7Fu) >> 7) & 0x0101010101010101u;
}

// A Q5_0-like qh word (4 bytes at r: bit e, element e's 5th bit) to or from row i's nibble of the
// X8 qh bytes at qh, which it shares with its row pair's neighbour group (kernels_internal.h's
// Q5_0 map: byte p's nibble bits 0..3 are elements p, 16 + p, 8 + p, 24 + p: the word's bytes 0,
// 2, 1, 3).
static void qh_row(uint8_t *qh, uint8_t *r, int i, bool to_x8) {
    uint8_t *x = qh + 16 * (i >> 2) + 8 * (i & 1);
    const int sh = 4 * ((i >> 1) & 1); // the row pair's nibble of each qh byte
    static const int byte_of[4] = {0, 2, 1, 3};
    uint64_t v;
    memcpy(&v, x, 8);
    if (to_x8) {
        uint64_t n = 0;
        for (int j = 0; j < 4; j++) n |= scatter_bits(r[byte_of[j]]) << j;
        v = (v & ~(0x0F0F0F0F0F0F0F0Fu << sh)) | n << sh;
        memcpy(x, &v, 8);
    } else {
        for (int j = 0; j < 4; j++) r[byte_of[j]] = (uint8_t)gather_bits(v, sh + j);
    }
}

// The same for block_q5_0, block_q4_1 and block_q5_1: d (and m) at D + 2i (M + 2i), the qh word
// (the 5-bit types) and the nibbles as the maps have them.
static void q5_0_row_block(uint8_t *x8, uint8_t *row, int i, bool to_x8) {
    move(to_x8, x8 + KITE_X8_Q50_D + 2 * i, row + offsetof(block_q5_0, d), 2);
    qh_row(x8 + KITE_X8_Q50_QH, row + offsetof(block_q5_0, qh), i, to_x8);
    nibbles_row(x8 + KITE_X8_Q50_QS, row + offsetof(block_q5_0, qs), i, to_x8);
}
static void q4_1_row_block(uint8_t *x8, uint8_t *row, int i, bool to_x8) {
    move(to_x8, x8 + KITE_X8_Q41_D + 2 * i, row + offsetof(block_q4_1, d), 2);
    move(to_x8, x8 + KITE_X8_Q41_M + 2 * i, row + offsetof(block_q4_1, m), 2);
    nibbles_row(x8 + KITE_X8_Q41_QS, row + offsetof(block_q4_1, qs), i, to_x8);
}
static void q5_1_row_block(uint8_t *x8, uint8_t *row, int i, bool to_x8) {
    move(to_x8, x8 + KITE_X8_Q41_D + 2 * i, row + offsetof(block_q5_1, d), 2);
    move(to_x8, x8 + KITE_X8_Q41_M + 2 * i, row + offsetof(block_q5_1, m), 2);
    qh_row(x8 + KITE_X8_Q51_QH, row + offsetof(block_q5_1, qh), i, to_x8);
    nibbles_row(x8 + KITE_X8_Q51_QS, row + offsetof(block_q5_1, qs), i, to_x8);
}

// The same for block_iq3_xxs and block_iq2_xxs (kernels_internal.h has the byte map): sub-block
// ib's ni index bytes (8 or 4) start at byte 8ib of the row block's qs, its sign / scale word
// follows the 64 index bytes (IQ3_XXS) or its own 4 (IQ2_XXS).
static void grid_row_block(kite_type wtype, uint8_t *x8, uint8_t *row, int i, bool to_x8) {
    const bool iq3 = wtype == KITE_TYPE_IQ3_XXS;
    const int ni = iq3 ? 8 : 4;
    uint8_t *d = x8 + KITE_X8_GRID_D + 2 * i, *ss = x8 + KITE_X8_GRID_SS + 4 * i, *qs = x8 + KITE_X8_GRID_QS + ni * i;
    uint8_t *q = row + 2; // after d
    for (int ib = 0; ib < QK_K / 32; ib++) {
        uint8_t *rq = q + 8 * ib, *rs = q + (iq3 ? QK_K / 4 + 4 * ib : 8 * ib + 4);
        if (to_x8) memcpy(qs + 8 * ni * ib, rq, ni), memcpy(ss + 32 * ib, rs, 4);
        else memcpy(rq, qs + 8 * ni * ib, ni), memcpy(rs, ss + 32 * ib, 4);
    }
    if (to_x8) memcpy(d, row, 2);
    else memcpy(row, d, 2);
}

// The same for block_iq2_xs, block_iq2_s and block_iq3_s (kernels_internal.h has the byte map):
// the row block is d, its rest, then ns scale bytes; the X8 block keeps the rest whole per row.
static void grid_s_row_block(kite_type wtype, uint8_t *x8, uint8_t *row, int i, bool to_x8) {
    const size_t bb = kite_type_get(wtype)->type_size;
    const size_t ns = wtype == KITE_TYPE_IQ3_S ? 4 : 8, rest = bb - 2 - ns;
    const size_t r0 = wtype == KITE_TYPE_IQ3_S ? KITE_X8_IQ3S_REST : KITE_X8_IQ2_REST;
    move(to_x8, x8 + KITE_X8_GS_D + 2 * i, row, 2);
    move(to_x8, x8 + r0 + rest * i, row + 2, rest);
    for (size_t u = 0; u < ns; u++) move(to_x8, x8 + KITE_X8_GS_SC + 8 * u + i, row + 2 + rest + u, 1);
}

// The same for block_iq1_s (kernels_internal.h has the byte map).
static void iq1_s_row_block(uint8_t *x8, uint8_t *row, int i, bool to_x8) {
    move(to_x8, x8 + KITE_X8_IQ1S_D + 2 * i, row + offsetof(block_iq1_s, d), 2);
    for (int g = 0; g < QK_K / 32; g++) {
        move(to_x8, x8 + KITE_X8_IQ1S_QH + 16 * g + 2 * i, row + offsetof(block_iq1_s, qh) + 2 * g, 2);
        for (int k = 0; k < 4; k++)
            move(to_x8, x8 + KITE_X8_IQ1S_QS + 32 * g + 8 * k + i, row + offsetof(block_iq1_s, qs) + 4 * g + k, 1);
    }
}

// The same for block_iq1_m.
static void iq1_m_row_block(uint8_t *x8, uint8_t *row, int i, bool to_x8) {
    for (int m = 0; m < 4; m++) move(to_x8, x8 + KITE_X8_IQ1M_SC + 16 * m + 2 * i, row + offsetof(block_iq1_m, scales) + 2 * m, 2);
    for (int g = 0; g < QK_K / 32; g++) {
        for (int m = 0; m < 2; m++)
            move(to_x8, x8 + KITE_X8_IQ1M_QH + 16 * g + 8 * m + i, row + offsetof(block_iq1_m, qh) + 2 * g + m, 1);
        for (int k = 0; k < 4; k++)
            move(to_x8, x8 + KITE_X8_IQ1M_QS + 32 * g + 8 * k + i, row + offsetof(block_iq1_m, qs) + 4 * g + k, 1);
    }
}

// One super-block of row i of a group of wtype (an X8 type) to or from the X8 block at x8.
static void row_block(kite_type wtype, uint8_t *x8, uint8_t *row, int i, bool to_x8) {
    if (wtype == KITE_TYPE_Q4_K) k4_row_block(x8, row, i, to_x8, offsetof(block_q4_K, qs), 0);
    else if (wtype == KITE_TYPE_Q5_K)
        k4_row_block(x8, row, i, to_x8, offsetof(block_q5_K, qs), offsetof(block_q5_K, qh));
    else if (wtype == KITE_TYPE_Q6_K) q6_K_row_block(x8, row, i, to_x8);
    else if (wtype == KITE_TYPE_Q3_K) q3_K_row_block(x8, row, i, to_x8);
    else if (wtype == KITE_TYPE_Q2_K) q2_K_row_block(x8, row, i, to_x8);
    else if (wtype == KITE_TYPE_IQ4_XS) iq4_xs_row_block(x8, row, i, to_x8);
    else if (wtype == KITE_TYPE_Q4_0 || wtype == KITE_TYPE_IQ4_NL) q4_0_row_block(x8, row, i, to_x8);
    else if (wtype == KITE_TYPE_Q5_0) q5_0_row_block(x8, row, i, to_x8);
    else if (wtype == KITE_TYPE_Q4_1) q4_1_row_block(x8, row, i, to_x8);
    else if (wtype == KITE_TYPE_Q5_1) q5_1_row_block(x8, row, i, to_x8);
    else if (x8_grid_s_type(wtype)) grid_s_row_block(wtype, x8, row, i, to_x8);
    else if (wtype == KITE_TYPE_IQ1_S) iq1_s_row_block(x8, row, i, to_x8);
    else if (wtype == KITE_TYPE_IQ1_M) iq1_m_row_block(x8, row, i, to_x8);
    else if (x8_grid_type(wtype)) grid_row_block(wtype, x8, row, i, to_x8);
    else q8_0_row_block(x8, row, i, to_x8);
}

// Bytes of one row's block of an X8 type (an X8 block is 8 of them): its type's block.
static size_t block_bytes(kite_type wtype) { return kite_type_get(wtype)->type_size; }

void kite__x8_rows(kite_type wtype, const void *w, size_t ws, int64_t n_out, int64_t r0, int nr, void *dst) {
    KITE_ASSERT(kite_matmul_x8_type(wtype));
    const int64_t grouped = n_out & ~(int64_t)7;
    const size_t bb = block_bytes(wtype), nb = ws / bb;
    for (int64_t r = r0; r < r0 + nr;) {
        uint8_t *out = (uint8_t *)dst + (size_t)(r - r0) * ws;
        if (r >= grouped) { // the tail rows keep the row layout
            memcpy(out, (const uint8_t *)w + (size_t)r * ws, ws);
            r++;
            continue;
        }
        // rows r .. up to the group's end or r0 + nr, each group block read once for all of them
        const int64_t g0 = r & ~(int64_t)7, end = KITE_MIN(g0 + 8, r0 + nr);
        const uint8_t *g = (const uint8_t *)w + (size_t)g0 * ws;
        for (size_t b = 0; b < nb; b++)
            for (int64_t i = r; i < end; i++)
                row_block(wtype, (uint8_t *)g + b * 8 * bb, out + (size_t)(i - r) * ws + b * bb, (int)(i - g0), false);
        r = end;
    }
}

// The arguments' checks of kite_matmul_repack_x8.
static kite_status check_x8(kite_type wtype, const void *src, const void *dst, int64_t n_in, int64_t n_out) {
    if (!kite_matmul_x8_type(wtype))
        return kite__fail(KITE_ERR_UNSUPPORTED, "repack: no X8 layout for %s", kite_type_name(wtype));
    if (n_in <= 0 || n_out <= 0 || n_in % kite_type_get(wtype)->block_size != 0 || !src || !dst)
        return kite__fail(KITE_ERR_INVALID, "repack: bad shape n_in=%lld n_out=%lld", (long long)n_in,
                          (long long)n_out);
    return KITE_OK;
}

kite_status kite_matmul_repack_x8(kite_type wtype, const void *src, void *dst, int64_t n_in, int64_t n_out) {
    const kite_status st = check_x8(wtype, src, dst, n_in, n_out);
    if (st != KITE_OK) return st;
    const size_t ws = (size_t)kite_type_row_bytes(wtype, (uint64_t)n_in), bb = block_bytes(wtype), nb = ws / bb;
    const int64_t n_groups = n_out / 8;
    uint8_t *tmp = malloc(8 * ws); // a group's rows, so that dst may be src
    if (!tmp) return kite__fail(KITE_ERR_NOMEM, "repack: out of memory");
    for (int64_t g = 0; g < n_groups; g++) {
        memcpy(tmp, (const uint8_t *)src + (size_t)g * 8 * ws, 8 * ws);
        uint8_t *out = (uint8_t *)dst + (size_t)g * 8 * ws;
        for (size_t b = 0; b < nb; b++)
            for (int i = 0; i < 8; i++)
                row_block(wtype, out + b * 8 * bb, tmp + (size_t)i * ws + b * bb, i, true);
    }
    free(tmp);
    if (dst != src && n_out % 8) // the tail rows as they are
        memcpy((uint8_t *)dst + (size_t)n_groups * 8 * ws, (const uint8_t *)src + (size_t)n_groups * 8 * ws,
               (size_t)(n_out % 8) * ws);
    return KITE_OK;
}

kite_status kite_matmul_x8_row(kite_type wtype, const void *w, int64_t n_in, int64_t n_out, int64_t r, void *dst) {
    if (!kite_matmul_x8_type(wtype))
        return kite__fail(KITE_ERR_UNSUPPORTED, "X8 row: no X8 layout for %s", kite_type_name(wtype));
    if (n_in <= 0 || n_in % kite_type_get(wtype)->block_size != 0 || r < 0 || r >= n_out || !w || !dst)
        return kite__fail(KITE_ERR_INVALID, "X8 row: bad row %lld of %lld x %lld", (long long)r, (long long)n_out,
                          (long long)n_in);
    kite__x8_rows(wtype, w, (size_t)kite_type_row_bytes(wtype, (uint64_t)n_in), n_out, r, 1, dst);
    return KITE_OK;
}
