// kite_blocks.h - the block formats, laid out byte for byte as ggml lays them out (ggml-common.h),
// and the reference quantizers of the activation formats (Q8_0, Q8_1, Q8_K) that both the file
// quantizer (src/quant) and the kernels (src/kernels) use. A row of n elements is n / QK blocks
// stored back to back; all fields are little-endian.
#ifndef KITE_BLOCKS_H
#define KITE_BLOCKS_H

#include <assert.h>
#include <stdint.h>

#include "base/kite_f16.h"

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

// Q2_K: 16 sub-blocks of 16. scales[k]: low nibble = sc, high nibble = m of sub-block k
// (elements 16k..16k+15); x = d * sc * q - dmin * m, q in 0..3.
// qs: two halves of 32 bytes; in half h, byte l holds elements 128h + l + 32s in bits 2s..2s+1:
//   qs[32h + l] = q[128h+l] | q[128h+l+32] << 2 | q[128h+l+64] << 4 | q[128h+l+96] << 6
typedef struct { uint8_t scales[QK_K / 16]; uint8_t qs[QK_K / 4]; kite_f16 d, dmin; } block_q2_K;
static_assert(sizeof(block_q2_K) == 84, "block_q2_K size");

// Q3_K: 16 sub-blocks of 16; x = d * (sc_k - 32) * (lo + 4*hi - 4), code in -4..3.
// lo: 2 bits per element in qs, laid out as Q2_K's. hi: bit (e / 32) of hmask[e % 32].
// sc_k (6 bits): low 4 bits in scales[k] (k < 8) or the high nibble of scales[k-8] (k >= 8);
// top 2 bits in scales[8 + k%4] at bits 2*(k/4)..2*(k/4)+1.
typedef struct { uint8_t hmask[QK_K / 8]; uint8_t qs[QK_K / 4]; uint8_t scales[12]; kite_f16 d; } block_q3_K;
static_assert(sizeof(block_q3_K) == 110, "block_q3_K size");

// Q4_K: 8 sub-blocks of 32; x = d * sc_j * q - dmin * m_j, q in 0..15.
// scales (eight 6-bit sc, eight 6-bit m in 12 bytes): for j < 4, sc_j = scales[j] & 63 and
// m_j = scales[j+4] & 63; for j >= 4, sc_j = (scales[j+4] & 15) | (scales[j-4] >> 6) << 4 and
// m_j = (scales[j+4] >> 4) | (scales[j] >> 6) << 4.
// qs: four chunks of 32 bytes; byte l of chunk c = element 64c+l (low nibble) | 64c+32+l (high).
typedef struct { kite_f16 d, dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qs[QK_K / 2]; } block_q4_K;
static_assert(sizeof(block_q4_K) == 144, "block_q4_K size");

// Q5_K: as Q4_K, q in 0..31; bit 4 of element 64c+l is bit 2c of qh[l], of 64c+32+l bit 2c+1.
typedef struct { kite_f16 d, dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qh[QK_K / 8]; uint8_t qs[QK_K / 2]; } block_q5_K;
static_assert(sizeof(block_q5_K) == 176, "block_q5_K size");

// Q6_K: 16 sub-blocks of 16; x = d * sc_k * (q - 32), q in 0..63, sc_k an int8.
// Two halves of 128 (ql += 64, qh += 32 per half); in a half, for l < 32:
//   ql[l] = e(l) | e(l+64) << 4, ql[l+32] = e(l+32) | e(l+96) << 4   (low 4 bits)
//   qh[l] = e(l)>>4 | e(l+32)>>4 << 2 | e(l+64)>>4 << 4 | e(l+96)>>4 << 6   (top 2 bits)
typedef struct { uint8_t ql[QK_K / 2]; uint8_t qh[QK_K / 4]; int8_t scales[QK_K / 16]; kite_f16 d; } block_q6_K;
static_assert(sizeof(block_q6_K) == 210, "block_q6_K size");

// Q8_K (activations for k-quant dots): x = d * q; bsums = sums of q over each 16 elements.
typedef struct { float d; int8_t qs[QK_K]; int16_t bsums[QK_K / 16]; } block_q8_K;
static_assert(sizeof(block_q8_K) == 292, "block_q8_K size");

// IQ4_XS: 8 sub-blocks of 32 with 6-bit scales (low 4 bits in scales_l nibbles, high 2 bits
// in scales_h); x = d * (ls - 32) * kvalues_iq4nl[q].
typedef struct { kite_f16 d; uint16_t scales_h; uint8_t scales_l[QK_K / 64]; uint8_t qs[QK_K / 2]; } block_iq4_xs;
static_assert(sizeof(block_iq4_xs) == 136, "block_iq4_xs size");

// ---- IQ formats: 8 values at a time from a grid of sign-less points (iq_tables.h) ----------

// IQ2_XXS: per 32 values two uint32: the first holds four 8-bit grid indices (kite__iq2xxs_grid)
// of 8 magnitudes each; the second four 7-bit sign indices (kite__ksigns_iq2xs) in bits
// 7l..7l+6 and a 4-bit scale s in bits 28..31: x = d * (0.5 + s) / 4 * grid * sign.
typedef struct { kite_f16 d; uint16_t qs[QK_K / 8]; } block_iq2_xxs;
static_assert(sizeof(block_iq2_xxs) == 66, "block_iq2_xxs size");

// IQ2_XS: per 8 values a uint16: 9-bit grid index (kite__iq2xs_grid) | 7-bit sign index << 9;
// a 4-bit scale per 16 values (scales[ib32] low nibble: first 16, high: second 16).
typedef struct { kite_f16 d; uint16_t qs[QK_K / 8]; uint8_t scales[QK_K / 32]; } block_iq2_xs;
static_assert(sizeof(block_iq2_xs) == 74, "block_iq2_xs size");

// IQ2_S: 10-bit grid indices (kite__iq2s_grid): low 8 bits in qs[0..31], top 2 bits of index
// 4*ib32 + l in bits 2l..2l+1 of qh[ib32]; 8 explicit sign bits per 8 values in qs[32..63];
// 4-bit scales as IQ2_XS.
typedef struct { kite_f16 d; uint8_t qs[QK_K / 4]; uint8_t qh[QK_K / 32]; uint8_t scales[QK_K / 32]; } block_iq2_s;
static_assert(sizeof(block_iq2_s) == 82, "block_iq2_s size");

// IQ3_XXS: 8-bit grid indices of 4 magnitudes (kite__iq3xxs_grid) in qs[0..63]; then per 32
// values a uint32 of four 7-bit sign indices and a 4-bit scale s: x = d * (0.5 + s) / 2 * ...
typedef struct { kite_f16 d; uint8_t qs[3 * QK_K / 8]; } block_iq3_xxs;
static_assert(sizeof(block_iq3_xxs) == 98, "block_iq3_xxs size");

// IQ3_S: 9-bit grid indices (kite__iq3s_grid): low 8 bits in qs, bit 8 of index 8*ib32 + k in
// bit k of qh[ib32]; explicit signs; 4-bit scales s per 32: x = d * (1 + 2s) * grid * sign.
#define IQ3S_N_SCALE (QK_K / 64)
typedef struct { kite_f16 d; uint8_t qs[QK_K / 4]; uint8_t qh[QK_K / 32]; uint8_t signs[QK_K / 8]; uint8_t scales[IQ3S_N_SCALE]; } block_iq3_s;
static_assert(sizeof(block_iq3_s) == 110, "block_iq3_s size");

// IQ1_S: 11-bit indices into kite__iq1s_grid (values -1, 0, 1): low 8 bits in qs, per 32
// values qh = three high bits per index (3l..3l+2), a 3-bit scale s (bits 12..14) and the
// sign of a shift (bit 15): x = d * (2s + 1) * (grid +- 1/8).
typedef struct { kite_f16 d; uint8_t qs[QK_K / 8]; uint16_t qh[QK_K / 32]; } block_iq1_s;
static_assert(sizeof(block_iq1_s) == 50, "block_iq1_s size");

// IQ1_M: as IQ1_S with a shift sign per 8 values (qh nibbles: 3 index bits + sign bit 3) and
// 3-bit scales per 16 values; the f16 super-block scale is spread over the top nibbles of the
// four uint16 words of scales.
typedef struct { uint8_t qs[QK_K / 8]; uint8_t qh[QK_K / 16]; uint8_t scales[QK_K / 32]; } block_iq1_m;
static_assert(sizeof(block_iq1_m) == 56, "block_iq1_m size");

#define IQ1S_DELTA 0.125f
#define IQ1M_DELTA 0.125f

// ---- ternary and micro-scaled formats -------------------------------------------------------

// TQ1_0: values in {-1, 0, 1} * d, 5 per byte of qs (base 3, as a fixed-point fraction: digit n
// of byte q is (q * 3^n mod 256) * 3 >> 8) and 4 per byte of qh.
typedef struct { uint8_t qs[(QK_K - 4 * QK_K / 64) / 5]; uint8_t qh[QK_K / 64]; kite_f16 d; } block_tq1_0;
static_assert(sizeof(block_tq1_0) == 54, "block_tq1_0 size");

// TQ2_0: values (q - 1) * d with 2-bit q, 4 per byte (element 128h + 32l + m at bits 2l of
// qs[32h + m]).
typedef struct { uint8_t qs[QK_K / 4]; kite_f16 d; } block_tq2_0;
static_assert(sizeof(block_tq2_0) == 66, "block_tq2_0 size");

// MXFP4 (OCP microscaling): 32 E2M1 values sharing an E8M0 exponent e: x = 2^(e-128) *
// kite__kvalues_fp4[q] (the table holds doubled values); nibble order as Q4_0.
#define QK_MXFP4 32
typedef struct { uint8_t e; uint8_t qs[QK_MXFP4 / 2]; } block_mxfp4;
static_assert(sizeof(block_mxfp4) == 17, "block_mxfp4 size");

#ifdef __cplusplus
extern "C" {
#endif

// ---- reference quantizers of the activation formats (scalar, the specification) ----------
// They quantize the f32 operand of a dot product. n is the element count and must be a multiple
// of the block size (a programmer invariant); inputs are assumed finite. The kernels' SIMD
// versions write the same bytes.
// Q8_0: per 32 values d = amax/127, q = round(x/d). Same bytes as ggml's quantize_row_q8_0_ref.
void kite_quantize_row_q8_0_ref(const float *x, block_q8_0 *y, int64_t n);
// Q8_1: as Q8_0 plus s = d * sum(q). Same bytes as ggml's quantize_row_q8_1_ref.
void kite_quantize_row_q8_1_ref(const float *x, block_q8_1 *y, int64_t n);
// Q8_K: per 256 values d = max/-127 (f32, signed), q = nearest(x/d) clamped to 127, bsums over
// each 16. Same bytes as ggml's quantize_row_q8_K_ref (an all-zero block gets bsums = 0, where
// ggml leaves them unwritten).
void kite_quantize_row_q8_K_ref(const float *x, block_q8_K *y, int64_t n);

#ifdef __cplusplus
}
#endif

#endif
