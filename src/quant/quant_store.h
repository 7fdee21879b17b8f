// quant_store.h - how the row quantizers store what they found: the code and scale bit layouts
// of the legacy and k-quant blocks, and the k-quants' last step (every value re-rounded against
// the scales as stored, then packed). The plain quantizers (quant_ref_legacy.c,
// quant_ref_kquants.c) and the weighted ones (quant_ref_weighted.c) differ in their searches
// only; each layout is written here once.
#ifndef KITE_QUANT_STORE_H
#define KITE_QUANT_STORE_H

#include <stdint.h>

#include "blocks/kite_blocks.h"
#include "quant/quant_search.h"

// Packs 32 four-bit codes as Q4_0 / Q4_1 store them: byte j = element j (low nibble) | element
// j + 16 (high nibble).
void kite__pack_q4(const uint8_t *q, uint8_t qs[16]);

// Packs 32 five-bit codes as Q5_0 / Q5_1 store them: the low nibbles as kite__pack_q4, bit 4 of
// element j into bit j of the little-endian qh word.
void kite__pack_q5(const uint8_t *q, uint8_t qs[16], uint8_t qh[4]);

// Q2_K's last step: the codes L (QK_K of them) of the values x re-rounded to 0..3 against y's
// stored d, dmin and sub-block scale / min nibbles (a sub-block whose scale is 0 keeps the codes
// it has), then packed into y->qs.
void kite__q2_K_store_codes(const float *x, block_q2_K *y, uint8_t *L, const kite__quant_search *s);

// Q3_K's 12 scale bytes from the 16 sub-block scale codes l (0..63, standing for -32..31): the
// low 4 bits of code j in byte j (j < 8) or the high nibble of byte j - 8, the top 2 bits in
// byte 8 + j % 4 at bit 2 * (j / 4) (what kite__unpack_scales_q3k reads).
void kite__q3_K_store_scales(const int8_t l[16], uint8_t scales[12]);

// Q3_K's last step: the codes L of x re-rounded to -4..3 (0..7 in L) against y's stored d and
// scales (a sub-block whose scale is 0 keeps the codes it has), bit 2 of each into y->hmask
// (element j: bit j / 32 of hmask[j % 32]), the low 2 bits into y->qs.
void kite__q3_K_store_codes(const float *x, block_q3_K *y, int8_t *L, const kite__quant_search *s);

// Q4_K / Q5_K: eight 6-bit scales ls and mins lm into the 12 bytes kite__unpack_scales_k4 reads.
// A code above 63 is stored as ggml stores it (its bits above the sixth spill into the others).
void kite__k4_store_scales(const uint8_t ls[8], const uint8_t lm[8], uint8_t scales[12]);

// Q4_K / Q5_K: the codes L of the 256 values x re-rounded to 0..nmax against the stored d, dmin
// and scales (a sub-block whose scale is 0 keeps the codes it has).
void kite__k4_round_codes(const float *x, kite_f16 d, kite_f16 dmin, const uint8_t scales[12], int nmax, uint8_t *L,
                          const kite__quant_search *s);

// Q4_K's codes (0..15) packed: in chunk c of 64, byte l = element 64c + l (low nibble) |
// element 64c + 32 + l (high nibble).
void kite__q4_K_pack_codes(const uint8_t *L, uint8_t qs[QK_K / 2]);

// Q5_K's codes (0..31) packed: the low 4 bits as Q4_K's, bit 4 of element 64c + l into qh[l]
// bit 2c, of element 64c + 32 + l into bit 2c + 1.
void kite__q5_K_pack_codes(const uint8_t *L, uint8_t qs[QK_K / 2], uint8_t qh[QK_K / 8]);

#endif
