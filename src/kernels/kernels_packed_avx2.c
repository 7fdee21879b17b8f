// kernels_packed_avx2.c - the packed prefill GEMM (kernels_x86_packed8.inc) on AVX2, part of the
// "avx2" set for 16 tokens or more: the rows' levels are decoded once per tile call, unsigned, 8
// rows per vector (4 elements per int32 lane); each token's 4 activation values are broadcast
// against it, pmaddubsw gives two int16 pair sums per row and lane, and those add up in int16 for
// as many steps as cannot saturate (2 * steps * max level * 128 <= 32767: 8 steps for 4-bit levels
// and nibble planes, 4 for 5-bit, 2 for Q6_K's 6-bit; for the grid kinds' level + largest magnitude
// 7 for IQ1, 4 for IQ3_S, 1 for the IQ2 kinds and IQ3_XXS), then pmaddwd folds them into int32,
// with the sub-block scale as its other operand for the 256-element kinds. So a block's exact
// integer dot of 8 rows for one token lands in the lanes with no horizontal sums and no weight
// decoding in the loop, and the float work is the canonical order of kernels_internal.h: the _ref's
// bits. Q8_0, IQ4_NL and IQ4_XS (level + 128, up to 255) run as two nibble planes, 16 * high + low.
// The offsets come back out exactly in integers: -offset * sum(activations of the block), or, for
// the 256-element kinds, the offset's sub-block terms as pairs against the tokens' bsums.
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/kernels_x86_packed8.inc"
#include "kernels/kernels_x86_packed_levels.inc"
#include "kernels/kernels_x86_packed_tile.inc"

enum { TV = 4 }; // tokens per pass: their int16 and int32 sums and float rows in 16 registers

static void engine_begin(int k_bytes) { (void)k_bytes; }
static void engine_end(void) {}

// s + p in int16 lanes, kept a running sum: GCC would otherwise reassociate a block's 8 steps into
// a tree of adds over all the products at once (spilling most of them to the stack).
AI __m256i add16(__m256i s, __m256i p) {
    s = _mm256_add_epi16(s, p);
    __asm__("" : "+x"(s));
    return s;
}

// Steps of 4 elements whose pmaddubsw pair sums (|activation| <= 128) add up in int16 without
// saturating, for unsigned levels up to max_u.
AI int int16_steps(int max_u) { return 32767 / (2 * 128 * max_u); }

// The int16 pair sums of 32 elements (8 steps) in nibble planes (low at lev, high at lev + plane)
// with the TV tokens' activations at a (token t at a + t * as): sl[t], sh[t].
AI void dot_planes(const int8_t *lev, size_t plane, const uint8_t *a, size_t as, __m256i sl[TV], __m256i sh[TV]) {
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++) {
        const __m256i wl = _mm256_loadu_si256((const __m256i *)(lev + k * TILE_B));
        const __m256i wh = _mm256_loadu_si256((const __m256i *)(lev + plane + k * TILE_B));
        for (int t = 0; t < TV; t++) {
            const __m256i av = bcast4(a + t * as + 4 * k);
            const __m256i pl = _mm256_maddubs_epi16(wl, av), ph = _mm256_maddubs_epi16(wh, av);
            sl[t] = k ? add16(sl[t], pl) : pl;
            sh[t] = k ? add16(sh[t], ph) : ph;
        }
    }
}

// isum[t] + the dots of nk steps of levels (at most max_u) at lev with the TV tokens' activations
// at a: the pmaddubsw pair sums add up in int16 for int16_steps(max_u) steps at a time, then
// pmaddwd folds them into int32 with w (ones, or the sub-block scale in both halves of each lane).
AI void dot_steps(const int8_t *lev, const uint8_t *a, size_t as, const int nk, const int max_u, __m256i w,
                  __m256i isum[TV]) {
    const int steps = int16_steps(max_u);
    __m256i s[TV];
#pragma GCC unroll 8
    for (int k = 0; k < nk; k++) {
        const __m256i wk = _mm256_loadu_si256((const __m256i *)(lev + k * TILE_B));
        for (int t = 0; t < TV; t++) {
            const __m256i p = _mm256_maddubs_epi16(wk, bcast4(a + t * as + 4 * k));
            s[t] = k % steps ? add16(s[t], p) : p;
        }
        if ((k + 1) % steps == 0 || k == nk - 1)
            for (int t = 0; t < TV; t++) isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(s[t], w));
    }
}

// ---- 32-element blocks ------------------------------------------------------------------------

AI void run32_kind(const int kind, int nb, const packed *P, const tokens16 *T, const uint8_t *a, size_t as, float *y,
                   size_t ys, int rows) {
    const int has_min = k32_has_min(kind), off = k32_off(kind), split = lev_split(kind, 0);
    const size_t asz = has_min ? sizeof(block_q8_1) : sizeof(block_q8_0), aq = has_min ? 4 : 2;
    const size_t plane = (size_t)32 * MR;
    const __m256i ones = _mm256_set1_epi16(1), sixteen = _mm256_set1_epi16(16);
    for (int h = 0; h < MT; h += TV) {
        __m256 acc[TV];
        for (int t = 0; t < TV; t++) acc[t] = _mm256_setzero_ps();
        const uint8_t *ah = a + (size_t)h * as + aq;
        for (int b = 0; b < nb; b++) {
            const int8_t *lev = P->lev + (size_t)b * plane * (1 + split);
            const uint8_t *ab = ah + (size_t)b * asz;
            __m256i isum[TV];
            for (int t = 0; t < TV; t++) isum[t] = _mm256_set1_epi32(-off * T->bp[b * MT + h + t]);
            if (split) { // 16 * (high nibble dot) + (low nibble dot)
                __m256i sl[TV], sh[TV];
                dot_planes(lev, plane, ab, as, sl, sh);
                for (int t = 0; t < TV; t++)
                    isum[t] = _mm256_add_epi32(isum[t], _mm256_add_epi32(_mm256_madd_epi16(sh[t], sixteen), _mm256_madd_epi16(sl[t], ones)));
            } else {
                dot_steps(lev, ab, as, 8, kind == K32_Q5_0 || kind == K32_Q5_1 ? 31 : 15, ones, isum);
            }
            for (int t = 0; t < TV; t++) acc[t] = _mm256_add_ps(acc[t], term32(has_min, P, T, b, h + t, isum[t]));
        }
        for (int t = 0; t < TV; t++) store_rows(y + (size_t)(h + t) * ys, acc[t], rows);
    }
}

// ---- 256-element super-blocks -------------------------------------------------------------------

// The largest stored level of a kind (IQ4_XS: of a nibble plane; the grid kinds: 2 * offset).
AI int kk_max_level(int kind) {
    return kk_grid(kind) ? 2 * kk_off(kind) : kind == KK_Q5_K ? 31 : kind == KK_Q6_K ? 63 : kind == KK_Q2_K ? 3 : kind == KK_Q3_K ? 7 : 15;
}

// As run32_kind; each sub-block's int16 sums go to int32 through pmaddwd with the rows' scale (int16
// pairs), as the _ref multiplies them.
AI void runK_kind(const int kind, int nb, const packed *P, const tokens16 *T, const uint8_t *a, size_t as, float *y,
                  size_t ys, int rows) {
    const int ns = kk_sub(kind), kb = QK_K / ns, split = lev_split(kind, 1);
    const size_t plane = (size_t)QK_K * MR;
    for (int h = 0; h < MT; h += TV) {
        __m256 acc[TV];
        for (int t = 0; t < TV; t++) acc[t] = _mm256_setzero_ps();
        const uint8_t *ah = a + (size_t)h * as + offsetof(block_q8_K, qs);
        for (int b = 0; b < nb; b++) {
            const int8_t *lev = P->lev + (size_t)b * plane * (1 + split);
            const int32_t *sc = P->sc + (size_t)b * ns * MR;
            const uint8_t *ab = ah + (size_t)b * sizeof(block_q8_K);
            __m256i isum[TV];
            for (int t = 0; t < TV; t++) isum[t] = _mm256_setzero_si256();
            for (int g = 0; g < ns; g++) {
                const __m256i scv = _mm256_loadu_si256((const __m256i *)(sc + g * MR));
                const int8_t *lg = lev + g * kb * MR;
                const uint8_t *ag = ab + g * kb;
                if (split) { // IQ4_XS: 32-element sub-blocks, 16 * scale on the high nibbles
                    __m256i sl[TV], sh[TV];
                    dot_planes(lg, plane, ag, as, sl, sh);
                    const __m256i sc16 = _mm256_slli_epi16(scv, 4);
                    for (int t = 0; t < TV; t++)
                        isum[t] = _mm256_add_epi32(isum[t], _mm256_add_epi32(_mm256_madd_epi16(sh[t], sc16), _mm256_madd_epi16(sl[t], scv)));
                } else {
                    dot_steps(lg, ag, as, kb / 4, kk_max_level(kind), scv, isum);
                }
            }
            for (int t = 0; t < TV; t++) acc[t] = _mm256_add_ps(acc[t], termK(kind, P, T, b, h + t, isum[t]));
        }
        for (int t = 0; t < TV; t++) store_rows(y + (size_t)(h + t) * ys, acc[t], rows);
    }
}

void kite__kernels_packed_avx2(kite__kernels *k) { packed_fill(k); }
