// iq_tables.h - the published tables of the IQ formats (generated into iq_tables.c by
// tools/gen_iq_tables.py from llama.cpp's ggml-common.h; internal to src/quant and src/kernels).
#ifndef KITE_QUANT_IQ_TABLES_H
#define KITE_QUANT_IQ_TABLES_H

#include <stdint.h>
#include <string.h>

#include "blocks/kite_blocks.h"

// Sign patterns of 8 values: bit j set = value j negative; the 8th bit makes the count of
// negatives even, so 7 stored bits (the index) give 8 signs.
extern const uint8_t kite__ksigns_iq2xs[128];
// Grids of 8 magnitudes (one byte each, little-endian in the uint64): IQ2_XXS 256 points,
// IQ2_XS 512, IQ2_S 1024; values 0x08, 0x19, 0x2b.
extern const uint64_t kite__iq2xxs_grid[256];
extern const uint64_t kite__iq2xs_grid[512];
extern const uint64_t kite__iq2s_grid[1024];
// Grids of 4 magnitudes (one byte each): IQ3_XXS 256 points, IQ3_S 512.
extern const uint32_t kite__iq3xxs_grid[256];
extern const uint32_t kite__iq3s_grid[512];
// IQ1_S/IQ1_M grid: 8 values in -1, 0, 1 (int8 bytes) per point, 2048 points.
extern const uint64_t kite__iq1s_grid[2048];
// E2M1 levels, doubled (MXFP4): 0, 1, 2, 3, 4, 6, 8, 12 and their negatives.
extern const int8_t kite__kvalues_fp4[16];

// The 32-bit word at p (unaligned; the targets are little-endian, as the files): the IQ blocks'
// sign-and-scale words and packed index bytes.
static inline uint32_t kite__rd32(const void *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

// The f16 super-block scale of an IQ1_M block (spread over the top nibbles of its scales).
static inline kite_f16 kite__iq1m_scale(const block_iq1_m *b) {
    uint16_t sc[4];
    memcpy(sc, b->scales, sizeof sc);
    return (kite_f16)((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000));
}

// MXFP4's E8M0 exponent as the float 2^(e-128) (half the scale: the levels are doubled).
static inline float kite__e8m0_to_f32_half(uint8_t e) {
    uint32_t bits = e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

#endif
