// quant_util.h - small numeric helpers shared by the _ref quantizers (internal to src/quant).
#ifndef KITE_QUANT_UTIL_H
#define KITE_QUANT_UTIL_H

#include <math.h>
#include <stdint.h>
#include <string.h>

// Round to nearest, ties to even, for |f| <= 2^22 (ggml's nearest_int). Adding 1.5 * 2^23
// moves the integer part into the low mantissa bits, so the FPU's own rounding does the work;
// the result differs from roundf() on exact .5 ties, which is why the k-quants need it.
static inline int kite__nearest_int(float f) {
    float v = f + 12582912.f;
    int32_t i;
    memcpy(&i, &v, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

#endif
