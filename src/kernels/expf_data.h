// expf_data.h - the data of libm's expf (the ARM optimized-routines algorithm of glibc and musl:
// __exp2f_data with N = 32), shared by the vector expf of the wasm sets (wasm_expf.h), of x86
// (x86_expf.h) and of NEON (neon_expf.h): all reproduce libm's steps, so all read its table and
// constants; and the arguments the x86 and NEON row ops check their lanes on at first use.
#ifndef KITE_EXPF_DATA_H
#define KITE_EXPF_DATA_H

#include <stdint.h>

// 2^(i/32) as double bits, less i << 47 (the exponent that the caller's k adds back)
static const uint64_t kite__exp2f_tab[32] __attribute__((aligned(64))) = {
    0x3ff0000000000000, 0x3fefd9b0d3158574, 0x3fefb5586cf9890f, 0x3fef9301d0125b51, 0x3fef72b83c7d517b,
    0x3fef54873168b9aa, 0x3fef387a6e756238, 0x3fef1e9df51fdee1, 0x3fef06fe0a31b715, 0x3feef1a7373aa9cb,
    0x3feedea64c123422, 0x3feece086061892d, 0x3feebfdad5362a27, 0x3feeb42b569d4f82, 0x3feeab07dd485429,
    0x3feea47eb03a5585, 0x3feea09e667f3bcd, 0x3fee9f75e8ec5f74, 0x3feea11473eb0187, 0x3feea589994cce13,
    0x3feeace5422aa0db, 0x3feeb737b0cdc5e5, 0x3feec49182a3f090, 0x3feed503b23e255d, 0x3feee89f995ad3ad,
    0x3feeff76f2fb5e47, 0x3fef199bdd85529c, 0x3fef3720dcef9069, 0x3fef5818dcfba487, 0x3fef7c97337b9b5f,
    0x3fefa4afa2a490da, 0x3fefd0765b6e4540,
};
#define KITE_EXP2F_INVLN2N 0x1.71547652b82fep+5 // 32 / ln 2
#define KITE_EXP2F_SHIFT 0x1.8p+52              // rounds a double to an integer in its low bits
#define KITE_EXP2F_C0 0x1.c6af84b912394p-20     // the polynomial in r, highest power first
#define KITE_EXP2F_C1 0x1.ebfce50fac4f3p-13
#define KITE_EXP2F_C2 0x1.62e42ff0c52d6p-6

// The 4096 arguments the x86 and NEON row ops' check at first use compares on: across the
// softmax's range (x <= 0 mostly, near 0 densely) and a few past it.
static inline void kite__expf_check_args(float x[4096]) {
    uint32_t rng = 12345;
    for (int i = 0; i < 4096; i++) {
        rng = rng * 1664525u + 1013904223u;
        const float u = (float)(rng >> 8) / 16777216.0f; // [0, 1)
        x[i] = i % 4 == 0 ? -104.0f * u : i % 4 == 1 ? -u : i % 4 == 2 ? -u * u * u * 20.0f : 90.0f * u - 2.0f;
    }
}

#endif
