// blocks.h - the block formats, laid out byte for byte as ggml lays them out (ggml-common.h).
// A row of n elements is n / QK blocks stored back to back; all fields are little-endian.
#ifndef KITE_QUANT_BLOCKS_H
#define KITE_QUANT_BLOCKS_H

#include <assert.h>
#include <stdint.h>

#include "base/f16.h"

#define QK4_0 32
#define QK4_1 32
#define QK5_0 32
#define QK5_1 32
#define QK8_0 32
#define QK8_1 32
#define QK4_NL 32
#define QK_K 256
#define K_SCALE_SIZE 12

// ---- 32-element blocks --------------------------------------------------------------

// Q4_0: x = d * (q - 8), q in 0..15. qs[j] low nibble = element j, high nibble = element j+16.
typedef struct { kite_f16 d; uint8_t qs[QK4_0 / 2]; } block_q4_0;
static_assert(sizeof(block_q4_0) == 18, "block_q4_0 size");

// Q4_1: x = d * q + m, q in 0..15; nibble order as Q4_0.
typedef struct { kite_f16 d, m; uint8_t qs[QK4_1 / 2]; } block_q4_1;
static_assert(sizeof(block_q4_1) == 20, "block_q4_1 size");

// Q5_0: x = d * (q - 16), q in 0..31. Low 4 bits as Q4_0; bit 4 of element j is bit j of qh
// (qh read as a little-endian uint32).
typedef struct { kite_f16 d; uint8_t qh[4]; uint8_t qs[QK5_0 / 2]; } block_q5_0;
static_assert(sizeof(block_q5_0) == 22, "block_q5_0 size");

// Q5_1: x = d * q + m, q in 0..31; bits as Q5_0.
typedef struct { kite_f16 d, m; uint8_t qh[4]; uint8_t qs[QK5_1 / 2]; } block_q5_1;
static_assert(sizeof(block_q5_1) == 24, "block_q5_1 size");

// Q8_0: x = d * q, q in -127..127.
typedef struct { kite_f16 d; int8_t qs[QK8_0]; } block_q8_0;
static_assert(sizeof(block_q8_0) == 34, "block_q8_0 size");

// Q8_1 (activations): x = d * q; s = d * sum(q) for the min term of Q4_1/Q5_1 dots.
typedef struct { kite_f16 d, s; int8_t qs[QK8_1]; } block_q8_1;
static_assert(sizeof(block_q8_1) == 36, "block_q8_1 size");

// IQ4_NL: x = d * kvalues_iq4nl[q], q in 0..15; nibble order as Q4_0.
typedef struct { kite_f16 d; uint8_t qs[QK4_NL / 2]; } block_iq4_nl;
static_assert(sizeof(block_iq4_nl) == 18, "block_iq4_nl size");

// ---- 256-element super-blocks (k-quants) ----------------------------------------------

// Q2_K: 16 sub-blocks of 16. scales[i]: low nibble = scale, high nibble = min (4 bits each);
// x = d * sc * q - dmin * m, q in 0..3, packed 4 per byte in qs (see dequantize).
typedef struct { uint8_t scales[QK_K / 16]; uint8_t qs[QK_K / 4]; kite_f16 d, dmin; } block_q2_K;
static_assert(sizeof(block_q2_K) == 84, "block_q2_K size");

// Q3_K: 16 sub-blocks of 16; x = d * (sc - 32) * (q - 4 if high bit clear), q low 2 bits in qs,
// high bit in hmask; 16 six-bit scales packed into 12 bytes.
typedef struct { uint8_t hmask[QK_K / 8]; uint8_t qs[QK_K / 4]; uint8_t scales[12]; kite_f16 d; } block_q3_K;
static_assert(sizeof(block_q3_K) == 110, "block_q3_K size");

// Q4_K: 8 sub-blocks of 32; x = d * sc * q - dmin * m, q in 0..15; eight 6-bit scales and
// eight 6-bit mins packed into 12 bytes (get_scale_min_k4).
typedef struct { kite_f16 d, dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qs[QK_K / 2]; } block_q4_K;
static_assert(sizeof(block_q4_K) == 144, "block_q4_K size");

// Q5_K: as Q4_K with a fifth bit per element in qh.
typedef struct { kite_f16 d, dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qh[QK_K / 8]; uint8_t qs[QK_K / 2]; } block_q5_K;
static_assert(sizeof(block_q5_K) == 176, "block_q5_K size");

// Q6_K: 16 sub-blocks of 16; x = d * sc * (q - 32), q: 4 low bits in ql, 2 high bits in qh;
// sc an int8 per sub-block.
typedef struct { uint8_t ql[QK_K / 2]; uint8_t qh[QK_K / 4]; int8_t scales[QK_K / 16]; kite_f16 d; } block_q6_K;
static_assert(sizeof(block_q6_K) == 210, "block_q6_K size");

// Q8_K (activations for k-quant dots): x = d * q; bsums = sums of q over each 16 elements.
typedef struct { float d; int8_t qs[QK_K]; int16_t bsums[QK_K / 16]; } block_q8_K;
static_assert(sizeof(block_q8_K) == 292, "block_q8_K size");

// IQ4_XS: 8 sub-blocks of 32 with 6-bit scales (low 4 bits in scales_l nibbles, high 2 bits
// in scales_h); x = d * (ls - 32) * kvalues_iq4nl[q].
typedef struct { kite_f16 d; uint16_t scales_h; uint8_t scales_l[QK_K / 64]; uint8_t qs[QK_K / 2]; } block_iq4_xs;
static_assert(sizeof(block_iq4_xs) == 136, "block_iq4_xs size");

#endif
