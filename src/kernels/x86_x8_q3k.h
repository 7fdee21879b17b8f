// x86_x8_q3k.h - the sub-block scales of an X8 Q3_K super-block (the 8 rows' blocks interleaved,
// kernels_internal.h's map) decoded for its 8 rows at once with AVX2: shared by the X8 GEMV
// (kernels_x86_x8_q3k.inc) and the packed GEMM's packing from the X8 layout
// (kernels_x86_packed_levels.inc), which build for AVX2 or above.
#ifndef KITE_X86_X8_Q3K_H
#define KITE_X86_X8_Q3K_H

#include <immintrin.h>
#include <stdint.h>

#include "kernels/kernels_internal.h"

// The scales (int8, -32..31: kite__unpack_scales_q3k's values) of sub-blocks j = 0..15 of the 8
// rows of the X8 Q3_K super-block at g, row i's at sc[8j + i]. Scale j's low 4 bits are the low
// (j < 8) or high nibble of scale byte j & 7, its top 2 bits bits 2(j >> 2), + 1 of byte 8 + (j &
// 3); scale byte k of row i lies at SCALES + 8k + i, so bytes 0..3, 4..7 and 8..11 of the 8 rows
// are one 32-byte load each and scales 4v .. 4v + 3 one 32-byte store. 16-bit shifts: the bits the
// masks keep never crossed a byte.
static inline __attribute__((always_inline)) void kite__x8_q3_K_scales(const uint8_t *g, int8_t sc[128]) {
    const __m256i m0f = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30), b32 = _mm256_set1_epi8(32);
    const uint8_t *s = g + KITE_X8_Q3K_SCALES;
    const __m256i l0 = _mm256_loadu_si256((const __m256i *)s), l1 = _mm256_loadu_si256((const __m256i *)(s + 32));
    const __m256i h = _mm256_loadu_si256((const __m256i *)(s + 64));
    const __m256i lo[4] = {_mm256_and_si256(l0, m0f), _mm256_and_si256(l1, m0f),
                           _mm256_and_si256(_mm256_srli_epi16(l0, 4), m0f), _mm256_and_si256(_mm256_srli_epi16(l1, 4), m0f)};
    const __m256i hi[4] = {_mm256_slli_epi16(h, 4), _mm256_slli_epi16(h, 2), h, _mm256_srli_epi16(h, 2)};
    for (int v = 0; v < 4; v++)
        _mm256_storeu_si256((__m256i *)(sc + 32 * v),
                            _mm256_sub_epi8(_mm256_or_si256(lo[v], _mm256_and_si256(hi[v], m30)), b32));
}

#endif
