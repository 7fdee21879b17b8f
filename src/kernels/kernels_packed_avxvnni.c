// kernels_packed_avxvnni.c - the "avxvnni" kernel set: the avx2 set with the packed prefill GEMM
// (kernels_x86_packed8.inc, 8 rows per vector) on AVX-VNNI, the VEX form of vpdpbusd that Intel
// CPUs without AVX-512 have since Alder Lake. As the AVX-512 engine but 8 rows wide: levels stored
// unsigned (level + offset) in one plane, each token's 4 activation values broadcast against 8
// rows, vpdpbusd sums the 4 products of each row into its int32 lane (no int16 step, so no
// saturation bound and no nibble planes), sub-block scales applied in int32, and the offsets and
// float terms as the AVX2 engine takes them (kernels_x86_packed8.inc): the _ref's bits.
#define KITE_PACKED8_VNNI 1

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/kernels_x86_packed8.inc"
#include "kernels/kernels_x86_packed_levels.inc"
#include "kernels/kernels_x86_packed_tile.inc"

enum { TV = 4 }; // tokens per pass: their int32 sums and float rows in 16 registers

static void engine_begin(int k_bytes) { (void)k_bytes; }
static void engine_end(void) {}

// s + the 4-element dots of w's unsigned bytes with a's signed ones, per int32 lane.
AI __m256i dot4(__m256i s, __m256i w, __m256i a) { return _mm256_dpbusd_avx_epi32(s, w, a); }

// 16 tokens (a: the first one's Q8_0/Q8_1 row) x the packed rows: y[t * ys + r] for the rows present.
AI void run32_kind(const int kind, int nb, const packed *P, const tokens16 *T, const uint8_t *a, size_t as, float *y,
                   size_t ys, int rows) {
    const int has_min = k32_has_min(kind), off = k32_off(kind);
    const size_t asz = has_min ? sizeof(block_q8_1) : sizeof(block_q8_0), aq = has_min ? 4 : 2;
    for (int h = 0; h < MT; h += TV) {
        __m256 acc[TV];
        for (int t = 0; t < TV; t++) acc[t] = _mm256_setzero_ps();
        const uint8_t *ah = a + (size_t)h * as + aq;
        for (int b = 0; b < nb; b++) {
            const int8_t *lev = P->lev + (size_t)b * 32 * MR;
            const uint8_t *ab = ah + (size_t)b * asz;
            __m256i s[TV][2]; // even and odd steps: two dependency chains per token
            for (int t = 0; t < TV; t++) s[t][0] = _mm256_set1_epi32(-off * T->bp[b * MT + h + t]), s[t][1] = _mm256_setzero_si256();
#pragma GCC unroll 8
            for (int k = 0; k < 8; k++) {
                const __m256i w = _mm256_loadu_si256((const __m256i *)(lev + k * TILE_B));
                for (int t = 0; t < TV; t++) s[t][k & 1] = dot4(s[t][k & 1], w, bcast4(ab + t * as + 4 * k));
            }
            for (int t = 0; t < TV; t++)
                acc[t] = _mm256_add_ps(acc[t], term32(has_min, P, T, b, h + t, _mm256_add_epi32(s[t][0], s[t][1])));
        }
        for (int t = 0; t < TV; t++) store_rows(y + (size_t)(h + t) * ys, acc[t], rows);
    }
}

// 16 tokens (a: the first one's Q8_K row) x the packed rows, as run32; a sub-block's dot is
// multiplied by its integer scale (a lane per row) and summed in int32, as the _ref does.
AI void runK_kind(const int kind, int nb, const packed *P, const tokens16 *T, const uint8_t *a, size_t as, float *y,
                  size_t ys, int rows) {
    const int ns = kk_sub(kind), kb = QK_K / ns, nk = kb / 4;
    for (int h = 0; h < MT; h += TV) {
        __m256 acc[TV];
        for (int t = 0; t < TV; t++) acc[t] = _mm256_setzero_ps();
        const uint8_t *ah = a + (size_t)h * as + offsetof(block_q8_K, qs);
        for (int b = 0; b < nb; b++) {
            const int8_t *lev = P->lev + (size_t)b * QK_K * MR;
            const int32_t *sc = P->sc + (size_t)b * ns * MR;
            const uint8_t *ab = ah + (size_t)b * sizeof(block_q8_K);
            __m256i isum[TV];
            for (int t = 0; t < TV; t++) isum[t] = _mm256_setzero_si256();
            for (int g = 0; g < ns; g++) {
                const int8_t *lg = lev + g * kb * MR;
                const uint8_t *ag = ab + g * kb;
                __m256i s[TV][2]; // even and odd steps: two dependency chains per token
                for (int t = 0; t < TV; t++) s[t][0] = s[t][1] = _mm256_setzero_si256();
#pragma GCC unroll 8
                for (int k = 0; k < nk; k++) {
                    const __m256i w = _mm256_loadu_si256((const __m256i *)(lg + k * TILE_B));
                    for (int t = 0; t < TV; t++) s[t][k & 1] = dot4(s[t][k & 1], w, bcast4(ag + t * as + 4 * k));
                }
                const __m256i scv = _mm256_loadu_si256((const __m256i *)(sc + g * MR));
                for (int t = 0; t < TV; t++)
                    isum[t] = _mm256_add_epi32(isum[t], _mm256_mullo_epi32(_mm256_add_epi32(s[t][0], s[t][1]), scv));
            }
            for (int t = 0; t < TV; t++) acc[t] = _mm256_add_ps(acc[t], termK(kind, P, T, b, h + t, isum[t]));
        }
        for (int t = 0; t < TV; t++) store_rows(y + (size_t)(h + t) * ys, acc[t], rows);
    }
}

void kite__kernels_fill_avxvnni(kite__kernels *k) {
    kite__kernels_fill_avx2(k);
    packed_fill(k); // (the avx2 packed tiles as the fallback: below 16 tokens they pass to the x86 tiles)
    k->isa = "avxvnni";
}
