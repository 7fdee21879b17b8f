// f16_row_avx2.c - floats to halves eight at a time with F16C, as base/kite_f16.h rounds them.
#include <immintrin.h>

#include "base/kite_f16.h"
#include "kernels/attend.h"

// F16C rounds to nearest even, subnormal halves and overflow to inf included, as
// kite_f32_to_f16 does; only nan differs (F16C keeps the payload's top bits), so nan lanes
// become sign | 0x7e00.
void kite__f32_to_f16_row_avx2(const float *src, uint16_t *dst, int32_t n) {
    int32_t i = 0;
    const __m128i qnan = _mm_set1_epi16(0x7e00);
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(src + i);
        __m128i h = _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT);
        const __m256 nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
        if (!_mm256_testz_ps(nan, nan)) {
            // 32-bit lanes -> 16-bit: the sign (bits 31..16 shifted down) and the nan mask
            const __m256i bits = _mm256_srli_epi32(_mm256_castps_si256(x), 16);
            const __m128i sign = _mm_and_si128(_mm_packus_epi32(_mm256_castsi256_si128(bits),
                                                                _mm256_extracti128_si256(bits, 1)),
                                               _mm_set1_epi16((short)0x8000));
            const __m256i m = _mm256_castps_si256(nan);
            const __m128i m16 = _mm_packs_epi32(_mm256_castsi256_si128(m), _mm256_extracti128_si256(m, 1));
            h = _mm_blendv_epi8(h, _mm_or_si128(sign, qnan), m16);
        }
        _mm_storeu_si128((__m128i *)(dst + i), h);
    }
    for (; i < n; i++) dst[i] = kite_f32_to_f16(src[i]);
}
