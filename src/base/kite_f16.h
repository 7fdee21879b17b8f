// kite_f16.h - IEEE half and bfloat16 conversions, bit-exact with ggml's (round to nearest even).
// Public (header-only): the block formats store their scales in these types.
#ifndef KITE_F16_H
#define KITE_F16_H

#include <stdint.h>
#include <string.h>

typedef uint16_t kite_f16;  // IEEE 754 binary16 bits
typedef uint16_t kite_bf16; // bfloat16 bits (the top half of a float)

static inline uint32_t kite__f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float kite__f32_from_bits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

// Half -> float, exact (every half is a float).
static inline float kite_f16_to_f32(kite_f16 h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    if (exp == 0x1f) return kite__f32_from_bits(sign | 0x7f800000 | (man << 13)); // inf / nan
    if (exp == 0) {
        // zero or subnormal: man * 2^-24
        float v = (float)man * 5.9604644775390625e-8f;
        return sign ? -v : v;
    }
    return kite__f32_from_bits(sign | ((exp + 112) << 23) | (man << 13));
}

// Float -> half, rounding to nearest even; overflow gives inf, nan stays nan (0x7e00).
static inline kite_f16 kite_f32_to_f16(float f) {
    uint32_t x = kite__f32_bits(f);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t ax = x & 0x7fffffff;
    if (ax > 0x7f800000) return (kite_f16)(sign | 0x7e00);      // nan
    if (ax >= 0x477ff000) return (kite_f16)(sign | 0x7c00);     // rounds to >= 65520: inf
    if (ax < 0x38800000) {
        // result is subnormal or zero: add 0.5 so the FPU rounds the bits below 2^-24 (RNE)
        float a = kite__f32_from_bits(ax) + 0.5f;
        return (kite_f16)(sign | (kite__f32_bits(a) - 0x3f000000));
    }
    uint32_t odd = (ax >> 13) & 1;
    ax += 0xc8000fff + odd; // rebias exponent (-112 << 23) and round to nearest even
    return (kite_f16)(sign | (ax >> 13));
}

// bfloat16 -> float, exact.
static inline float kite_bf16_to_f32(kite_bf16 h) { return kite__f32_from_bits((uint32_t)h << 16); }

// Float -> bfloat16, rounding to nearest even; nan is kept quiet (as ggml does).
static inline kite_bf16 kite_f32_to_bf16(float f) {
    uint32_t u = kite__f32_bits(f);
    if ((u & 0x7fffffff) > 0x7f800000) return (kite_bf16)((u >> 16) | 64);
    return (kite_bf16)((u + (0x7fff + ((u >> 16) & 1))) >> 16);
}

#endif
