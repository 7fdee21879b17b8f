// quant_util.h - numeric helpers shared by the _ref quantizers and dequantizers (internal to src/quant).
#ifndef KITE_QUANT_UTIL_H
#define KITE_QUANT_UTIL_H

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

// Scale and min j (0..7) of a Q4_K/Q5_K block from its 12 packed bytes: entries 0..3 are the
// low 6 bits of bytes j and j+4; entries 4..7 take their low 4 bits from byte j+4's nibbles and
// their top 2 bits from the spare top bits of bytes j-4 (scale) and j (min).
static inline void kite__scale_min_k4(int j, const uint8_t *q, uint8_t *sc, uint8_t *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

#endif
