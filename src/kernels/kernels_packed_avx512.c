// kernels_packed_avx512.c - the packed prefill GEMM (kernels_x86_packed.inc) on AVX-512 VNNI,
// part of the "avx512" set for 16 tokens or more: the rows' levels are decoded once per tile
// call, unsigned (level + offset) in the B layout, so one 16-lane vector holds 4 elements of 16
// rows; each token's 4 activation values are broadcast against it (vpdpbusd), which gives the
// (sub-)block's integer dot of 16 rows for one token per lane with no horizontal sums and no
// weight decoding in the loop. The offset comes back out exactly: the lane starts at
// -offset * sum(activations of the block). Eight tokens per pass (their int32 and float sums
// fill the 32 registers); the float work is the canonical order of kernels_internal.h.
#define KITE_PACKED_SIGNED 0
#define KITE_PACKED_PLANES 0

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/kernels_x86_packed.inc"
#include "kernels/kernels_x86_packed_levels.inc"
#include "kernels/kernels_x86_packed_tile.inc"

enum { TV = 8 }; // tokens per pass

static void engine_begin(int k_bytes) { (void)k_bytes; }
static void engine_end(void) {}

AI __m512i bcast4(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

// 16 tokens (a: the first one's Q8_0/Q8_1 row) x the packed rows: y[t * ys + r] for r in mask m.
static void run32(int kind, int nb, const packed *P, const tokens16 *T, const uint8_t *a, size_t as, float *y, size_t ys,
                  __mmask16 m) {
    const int has_min = k32_has_min(kind), off = k32_off(kind);
    const size_t asz = has_min ? sizeof(block_q8_1) : sizeof(block_q8_0), aq = has_min ? 4 : 2;
    for (int h = 0; h < MT; h += TV) {
        __m512 acc[TV];
        for (int t = 0; t < TV; t++) acc[t] = _mm512_setzero_ps();
        for (int b = 0; b < nb; b++) {
            const int8_t *lev = P->lev + (size_t)b * 32 * MR;
            const uint8_t *ab = a + (size_t)h * as + (size_t)b * asz + aq;
            __m512i s[TV];
            for (int t = 0; t < TV; t++) s[t] = _mm512_set1_epi32(-off * T->bp[b * MT + h + t]);
            for (int k = 0; k < 8; k++) {
                const __m512i w = _mm512_loadu_si512(lev + k * TILE_B);
                for (int t = 0; t < TV; t++) s[t] = _mm512_dpbusd_epi32(s[t], w, bcast4(ab + t * as + 4 * k));
            }
            for (int t = 0; t < TV; t++) acc[t] = _mm512_add_ps(acc[t], term32(has_min, P, T, b, h + t, s[t]));
        }
        for (int t = 0; t < TV; t++) _mm512_mask_storeu_ps(y + (size_t)(h + t) * ys, m, acc[t]);
    }
}

// 16 tokens (a: the first one's Q8_K row) x the packed rows, as run32; a sub-block's dot is
// multiplied by its integer scale (a lane per row) and summed in int32, as the _ref does.
AI void runK_kind(const int kind, int nb, const packed *P, const tokens16 *T, const uint8_t *a, size_t as, float *y,
                  size_t ys, __mmask16 m) {
    const int ns = kk_sub(kind), kb = QK_K / ns, off = kk_off(kind);
    for (int h = 0; h < MT; h += TV) {
        __m512 acc[TV];
        for (int t = 0; t < TV; t++) acc[t] = _mm512_setzero_ps();
        for (int b = 0; b < nb; b++) {
            const int8_t *lev = P->lev + (size_t)b * QK_K * MR;
            const int32_t *sc = P->sc + (size_t)b * ns * MR;
            const block_q8_K *at[TV];
            for (int t = 0; t < TV; t++) at[t] = (const block_q8_K *)(a + (size_t)(h + t) * as) + b;
            __m512i isum[TV];
            for (int t = 0; t < TV; t++) isum[t] = _mm512_setzero_si512();
            for (int g = 0; g < ns; g++) {
                __m512i s[TV];
                for (int t = 0; t < TV; t++) {
                    const int bsum = kb == 16 ? at[t]->bsums[g] : at[t]->bsums[2 * g] + at[t]->bsums[2 * g + 1];
                    s[t] = _mm512_set1_epi32(-off * bsum);
                }
                for (int k = 0; k < kb / 4; k++) {
                    const __m512i w = _mm512_loadu_si512(lev + (g * kb / 4 + k) * TILE_B);
                    for (int t = 0; t < TV; t++) s[t] = _mm512_dpbusd_epi32(s[t], w, bcast4((const uint8_t *)at[t]->qs + g * kb + 4 * k));
                }
                const __m512i scv = _mm512_loadu_si512(sc + g * MR);
                for (int t = 0; t < TV; t++) isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(s[t], scv));
            }
            for (int t = 0; t < TV; t++) acc[t] = _mm512_add_ps(acc[t], termK(kind, P, T, b, h + t, isum[t]));
        }
        for (int t = 0; t < TV; t++) _mm512_mask_storeu_ps(y + (size_t)(h + t) * ys, m, acc[t]);
    }
}

// runK_kind with kind a constant: each kind's loop gets its sub-block shape, offset and float step
// folded in (kernels_bench --gemm, avx512: 2-7% over one loop for all kinds).
static void runK(int kind, int nb, const packed *P, const tokens16 *T, const uint8_t *a, size_t as, float *y, size_t ys,
                 __mmask16 m) {
    KK_EACH(kind, runK_kind, nb, P, T, a, as, y, ys, m)
}

void kite__kernels_packed_avx512(kite__kernels *k) { packed_fill(k); }
