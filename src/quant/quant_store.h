// quant_store.h - the block-writing halves the plain and the importance-matrix reference
// quantizers share (internal to src/quant): code packing into the block layouts, and for the
// k-quants the re-rounding of every value against the scales as stored. Bit-exact with ggml.
#ifndef KITE_QUANT_STORE_H
#define KITE_QUANT_STORE_H

#include <stdint.h>

#include "blocks/kite_blocks.h"

// Packs 32 five-bit codes q (Q5_0/Q5_1): low nibbles as Q4 (element j low, j+16 high), bit 4
// of element j into bit j of the little-endian qh word.
void kite__pack_q5(const uint8_t *q, uint8_t *qs, uint8_t qh[4]);

// Q2_K with d, dmin and scales already stored: re-rounds the 256 values x to codes 0..3
// against them (L is 256 bytes of scratch holding the search's codes, kept where a
// sub-block's scale is 0) and packs the codes into qs.
void kite__q2_K_store_codes(const float *x, block_q2_K *y, uint8_t *L);

// Q3_K: zeroes y->scales and packs the sixteen 6-bit scale codes ls (0..63 for -32..31).
void kite__q3_K_store_scales(const int8_t ls[16], block_q3_K *y);

// Q3_K with d and scales stored: re-rounds x to codes 0..7 (L as for Q2_K) and packs bit 2
// into hmask, the low 2 bits into qs.
void kite__q3_K_store_codes(const float *x, block_q3_K *y, int8_t *L);

// Q4_K / Q5_K: stores the eight 6-bit scales ls and mins lm (no clamp: ggml's Q4_K stores a
// wrapped code as it is) into the 12 bytes read by kite__unpack_scales_k4, then d and dmin.
void kite__k4_store_scales(const uint8_t ls[8], const uint8_t lm[8], float d, float dmin, uint8_t s[12],
                           kite_f16 *dh, kite_f16 *dminh);

// Q4_K / Q5_K with d, dmin and scales stored: re-rounds x to codes 0..nmax (15 or 31) into L
// (256 bytes, kept where a sub-block's scale is 0).
void kite__k4_round_codes(const float *x, kite_f16 dh, kite_f16 dminh, const uint8_t s[12], uint8_t *L, int nmax);

// Packs 256 codes 0..15 (Q4_K qs) resp. 0..31 (Q5_K qs + qh).
void kite__q4_K_pack(const uint8_t *L, block_q4_K *y);
void kite__q5_K_pack(const uint8_t *L, block_q5_K *y);

// Q6_K from the sixteen sub-block scales and the search's codes L (256 bytes): an all-zero
// block when every scale is below ggml's GROUP_MAX_EPS; else d = max/-128, int8 scales, the
// values re-rounded to codes 0..63 against them and packed into ql and qh.
void kite__q6_K_store(const float *x, const float scales[16], block_q6_K *y, int8_t *L);

#endif
