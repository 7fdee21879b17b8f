// x86_x8_iq4xs.h - the sub-block scales of an X8 IQ4_XS super-block (the 8 rows' blocks
// interleaved, kernels_internal.h's map) decoded for its 8 rows at once with AVX2: shared by the
// X8 GEMV (kernels_x86_x8_iq4xs.inc) and the packed GEMM's packing from the X8 layout
// (kernels_x86_packed_levels.inc), which build for AVX2 or above.
#ifndef KITE_X86_X8_IQ4XS_H
#define KITE_X86_X8_IQ4XS_H

#include <immintrin.h>
#include <stdint.h>

#include "kernels/kernels_internal.h"

// The scales ls - 32 (int8, -32..31) of sub-blocks j = 0..7 of the 8 rows of the X8 IQ4_XS
// super-block at g, row i's at sc[8j + i]: ls's low 4 bits are nibble j & 1 of scales_l[j / 2]
// (at SL + 8(j / 2) + i), its bits 4, 5 bits 2(j & 3), 2(j & 3) + 1 of scales_h's byte j / 4 (at
// SH + 8(j / 4) + i); vec_dot_iq4_xs_ref's ls.
static inline __attribute__((always_inline)) void kite__x8_iq4_xs_scales(const uint8_t *g, int8_t sc[64]) {
    const __m256i m0f = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30);
    const __m256i l = _mm256_loadu_si256((const __m256i *)(g + KITE_X8_IQ4XS_SL)); // qword k: scales_l[k], rows 0..7
    // qword k: scales_h's byte k / 2 of rows 0..7 shifted right by 4(k & 1): sub-block 2k's bits at
    // 0, 1 and 2k + 1's at 2, 3 of each byte (a 64-bit shift: the bits it moves across bytes lie
    // above bit 3, where the masks below drop them)
    const __m128i sh = _mm_loadu_si128((const __m128i *)(g + KITE_X8_IQ4XS_SH));
    const __m256i h = _mm256_srlv_epi64(_mm256_permute4x64_epi64(_mm256_castsi128_si256(sh), 0x50),
                                        _mm256_setr_epi64x(0, 4, 0, 4));
    // 16-bit shifts left by 4, 2: the kept bits stay in their byte
    const __m256i b32 = _mm256_set1_epi8(32);
    const __m256i even = _mm256_sub_epi8(
        _mm256_or_si256(_mm256_and_si256(l, m0f), _mm256_and_si256(_mm256_slli_epi16(h, 4), m30)), b32);
    const __m256i odd = _mm256_sub_epi8(
        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l, 4), m0f), _mm256_and_si256(_mm256_slli_epi16(h, 2), m30)),
        b32);
    // even qword k: sub-block 2k, odd: 2k + 1 -> [0 1 | 4 5], [2 3 | 6 7] -> 0..3, 4..7
    const __m256i lo = _mm256_unpacklo_epi64(even, odd), hi = _mm256_unpackhi_epi64(even, odd);
    _mm256_storeu_si256((__m256i *)sc, _mm256_permute2x128_si256(lo, hi, 0x20));
    _mm256_storeu_si256((__m256i *)(sc + 32), _mm256_permute2x128_si256(lo, hi, 0x31));
}

#endif
