// block_util.h - numeric helpers of the block formats shared by the quantizers (src/quant) and the
// kernels (src/kernels): ggml's rounding, the IQ4_NL grid, the packed-scale unpacking. Internal.
#ifndef KITE_BLOCK_UTIL_H
#define KITE_BLOCK_UTIL_H

#include <math.h>
#include <stdint.h>
#include <string.h>

// Why: the quantizers must give the same bytes on every target (x86, aarch64, wasm) as ggml's
// x86 build, which never fuses a*b+c. gnu11 lets GCC contract into FMA on aarch64, which changes
// a last bit now and then and with it a rounding decision; forbid that in every file including this.
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

// The value of largest magnitude in x[0..n), signed (the first one wins on ties; NaN never
// wins), and that magnitude in *amax (0 and 0 for none).
static inline float kite__signed_absmax(const float *x, int n, float *amax) {
    float a = 0.0f, m = 0.0f;
    for (int j = 0; j < n; j++) {
        const float ax = fabsf(x[j]);
        if (ax > a) {
            a = ax;
            m = x[j];
        }
    }
    *amax = a;
    return m;
}

// Round to nearest, ties to even, for |f| <= 2^22 (ggml's nearest_int). Adding 1.5 * 2^23
// moves the integer part into the low mantissa bits, so the FPU's own rounding does the work;
// the result differs from roundf() on exact .5 ties, which is why the k-quants need it.
static inline int kite__nearest_int(float f) {
    float v = f + 12582912.f;
    int32_t i;
    memcpy(&i, &v, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

// (int8_t)f as ggml's x86 build computes it (truncate to int32 with cvttss2si, keep the low
// byte), but defined for every input: NaN and out-of-range values give INT32_MIN's low byte (0)
// instead of undefined behaviour, so hostile weights cannot trip a sanitizer.
static inline int8_t kite__trunc_i8(float f) {
    int32_t i = (f > -2147483648.0f && f < 2147483648.0f) ? (int32_t)f : INT32_MIN;
    return (int8_t)(uint8_t)(uint32_t)i;
}

// The 16 levels of IQ4_NL / IQ4_XS (ggml's kvalues_iq4nl): a non-uniform 4-bit grid, denser
// near zero where most weights are.
extern const int8_t kite__kvalues_iq4nl[16];

// Unpacks the 12 packed scale bytes of a Q4_K/Q5_K block into eight 6-bit scales and eight
// 6-bit mins: entries 0..3 are the low 6 bits of bytes j and j+4; entries 4..7 take their low 4
// bits from byte j+8's nibbles and their top 2 bits from the spare top bits of bytes j (scale)
// and j+4 (min). The one unpacking of this layout: the dequantizers, the quantizer's rounding
// pass and every kernel set use it.
static inline void kite__unpack_scales_k4(const uint8_t *s, uint8_t sc[8], uint8_t mn[8]) {
    for (int j = 0; j < 4; j++) {
        sc[j] = s[j] & 63;
        mn[j] = s[j + 4] & 63;
        sc[j + 4] = (uint8_t)((s[j + 8] & 0x0F) | ((s[j] >> 6) << 4));
        mn[j + 4] = (uint8_t)((s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4));
    }
}

// Unpacks the 12 packed scale bytes of a Q3_K block into sixteen 6-bit scales, already minus 32:
// the low 4 bits of scale j in byte j (j < 8) or the high nibble of byte j-8, the top 2 bits in
// byte 8 + j%4 at bits 2*(j/4)..2*(j/4)+1.
static inline void kite__unpack_scales_q3k(const uint8_t *s, int8_t sc[16]) {
    for (int j = 0; j < 16; j++) {
        int lo = j < 8 ? (s[j] & 0x0F) : (s[j - 8] >> 4);
        int hi = (s[8 + (j & 3)] >> (2 * (j >> 2))) & 3;
        sc[j] = (int8_t)((lo | (hi << 4)) - 32);
    }
}

#endif
