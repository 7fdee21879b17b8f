// kernels_internal.h - the kernel table shared by dispatch, matmul, the ISA files and the tests.
#ifndef KITE_KERNELS_INTERNAL_H
#define KITE_KERNELS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "base/kite_types.h"
#include "kernels/kite_kernels.h"
#include "blocks/kite_blocks.h"

// One tile of dot products, the unit every kernel implements:
//   y[t*ys + r] = dot(W row r, activation t)   for r < nr, t < nt
// W row r starts at (const char *)w + r*ws (weight type's blocks), activation t at
// (const char *)a + t*as (already in the partner format: Q8_0, Q8_1, Q8_K, f16, bf16 or f32).
// n is the row length in elements (a multiple of the block size). SIMD variants have exactly
// this signature.
//
// The canonical order (quantized weights): every kernel set gives the _ref's float, bit for bit,
// whatever its tile shape, thread count or ISA, so greedy tokens never depend on the machine
// (native x86/NEON and wasm agree). Each block's dot is an exact integer sum; the float work is
// one term per block, added to one running sum in block order, each operation rounded alone
// (no FMA: SIMD128 has none, and relaxed SIMD's madd may or may not fuse):
//   32-element blocks:  s = s + (dw*da) * (float)isum                   Q4_0 Q5_0 Q8_0 IQ4_NL
//                       s = s + ((dw*da) * (float)isum + m*sa)           Q4_1 Q5_1
//   256-element blocks: s = s + (d*da) * (float)isum                     Q3_K Q6_K IQ4_XS
//                       s = s + ((d*da) * (float)isum - (dmin*da) * (float)msum)   Q2_K Q4_K Q5_K
// with s starting at +0, isum the block's integer dot (sub-block scales applied in integers),
// msum the min term sum(min_j * sum(a in sub-block j)). llama.cpp's x86 Q4_0 path (the repacked
// 8x8 GEMV) sums the same per-block terms in the same order, with FMA.
// Plain number types (F32/F16/BF16; activations F32/F16/BF16 like the weights): the row is cut
// into chunks of KITE_FDOT_CHUNK elements (the last one shorter). In a chunk, lane j (j < 8)
// sums the products w[i]*a[i] of the elements i = j mod 8 below the chunk's last multiple of 8,
// in order, from +0; the chunk's value is c = ((l0+l4) + (l2+l6)) + ((l1+l5) + (l3+l7)), then
// c = c + w[i]*a[i] for its remaining 0..7 elements in order; the row's sum is s = s + c per
// chunk, from +0. Each product is rounded to float before its add: FMA only where the product
// is exact (F16 x F16: 22 significant bits), never for F32 or BF16 (BF16 products can underflow).
enum { KITE_FDOT_CHUNK = 1024 };
typedef void (*kite__tile_fn)(int n, const void *w, size_t ws, int nr, const void *a, size_t as, int nt,
                              float *y, size_t ys);
// Calls tile(n, w, ..., ys). For kernel files that clang 19 compiles in the memory64 build
// (wasm/wasm.cmake): its indirect calls carry 64-bit table indexes that emcc 3.1.6's 32-bit table
// rejects at link time, so they call through here (matmul.c, compiled by emcc's clang 14).
void kite__tile_call(kite__tile_fn tile, int n, const void *w, size_t ws, int nr, const void *a, size_t as, int nt,
                     float *y, size_t ys);

// A set of kernels for one ISA. NULL entries mean "no kernel" (in the scalar set: unsupported
// type); ISA sets start as copies of the scalar set and override what they accelerate.
typedef struct kite__kernels {
    const char *isa;
    kite__tile_fn tile[KITE_TYPE_COUNT];
    // activation quantizers; SIMD versions must write the same bytes as the _ref ones
    void (*quant_q8_0)(const float *x, block_q8_0 *y, int64_t n);
    void (*quant_q8_1)(const float *x, block_q8_1 *y, int64_t n);
    void (*quant_q8_K)(const float *x, block_q8_K *y, int64_t n);
    // causal attention over the f16 KV cache (kite_kernels_attend; attend.h has the ops)
    kite_attend_fn attend;
    // the rows x tokens a GEMM tile call gets from kite_matmul (0: its defaults, 16 x 64)
    int gemm_rows, gemm_tokens;
    // optional (NULL: kite_kernels_attend_group / kite_kernels_f32_to_f16_row use `attend` query
    // by query / the scalar conversion): a group of queries sharing a KV head, each with the bits
    // `attend` gives it; a row of floats to f16 with kite_f32_to_f16's bits
    void (*attend_group)(const kite_attn_group *g);
    // false: kite_kernels_attend_group runs soft-capped groups (g->softcap != 0) query by query through
    // the scalar kite__attend_head_capped; true where attend_group handles g->softcap itself
    bool attend_group_softcap;
    void (*f32_to_f16_row)(const float *src, uint16_t *dst, int32_t n);
    // optional (NULL: matmul reads X8 weights back into rows): the tile over the X8 layout, with
    // w at a group's first row, ws the row layout's row bytes, nr a multiple of 8; matmul calls
    // it below KITE_X8_GEMM_MIN tokens (decode, small batches); the _ref's bits for every row
    kite__tile_fn gemv_x8[KITE_TYPE_COUNT];
    // optional (NULL: matmul reads X8 weights back into rows for `tile`): the GEMM tile over the
    // X8 layout, with gemv_x8's w, ws and nr, up to gemm_rows x gemm_tokens; matmul calls it from
    // KITE_X8_GEMM_MIN tokens on (prefill), `tile`'s bits; only where gemv_x8 is (it may pass
    // a call's last few tokens to it)
    kite__tile_fn gemm_x8[KITE_TYPE_COUNT];
    // the SwiGLU rows of kite_kernels_swiglu, kite__swiglu_ref's bits (every set has one)
    void (*swiglu)(float *g, const float *u, int32_t n);
    // the GeGLU rows of kite_kernels_geglu, kite__geglu_ref's bits (every set has one)
    void (*geglu)(float *g, const float *u, int32_t n, const float *tab);
    // the soft-cap rows of kite_kernels_softcap, kite__softcap_ref's bits (every set has one)
    void (*softcap)(float *x, int32_t n, float cap);
    // the RMS norm rows of kite_kernels_rmsnorm_rows, kite__rmsnorm_rows_ref's bits (every set has one)
    void (*rmsnorm_rows)(float *const *y, const float *const *x, const float *w, int32_t n, int32_t rows, float eps);
} kite__kernels;

// ---- the X8 layout (repack_x8.c; kite_kernels.h) --------------------------------------------
// Q4_K: a group of 8 rows holds, per super-block b, one KITE_X8_Q4K_BYTES block at b * 1152 from
// the group's start (the 8 rows' 8 * 144 bytes, rearranged): d[8] and dmin[8] (f16, row i at i),
// the 12 packed scale bytes k of row i at SCALES + 8k + i, and qs bytes 32p + 8c .. 32p + 8c + 7
// of row i (p: sub-block pair, c: 8-byte chunk, both 0..3) at QS + 256p + 64c + 8i.
enum {
    KITE_X8_Q4K_BYTES = 8 * 144,
    KITE_X8_Q4K_D = 0,
    KITE_X8_Q4K_DMIN = 16,
    KITE_X8_Q4K_SCALES = 32,
    KITE_X8_Q4K_QS = 128,
};

// Q5_K: a group of 8 rows holds, per super-block b, one KITE_X8_Q5K_BYTES block at b * 1408 from
// the group's start (the 8 rows' 8 * 176 bytes, rearranged): d, dmin and the scale bytes at
// Q4_K's places, as Q4_K's map has them (a Q4_K kernel's d / dmin / scale decode reads it as is);
// qh bytes 8c .. 8c + 7 of row i (c 0..3) at QH + 64c + 8i, each byte's bits reordered: bit 2p of
// the row's byte (sub-block 2p's level) as bit p, bit 2p + 1 (sub-block 2p + 1) as bit 4 + p;
// qs bytes as Q4_K's from QS (at QS + 256p + 64c + 8i). A qs chunk c of every pair p and its qh
// chunk lie alike; qh before qs, so that a GEMV's first pass over the block reads it in address
// order.
enum {
    KITE_X8_Q5K_BYTES = 8 * 176,
    KITE_X8_Q5K_D = KITE_X8_Q4K_D,
    KITE_X8_Q5K_DMIN = KITE_X8_Q4K_DMIN,
    KITE_X8_Q5K_SCALES = KITE_X8_Q4K_SCALES,
    KITE_X8_Q5K_QH = KITE_X8_Q4K_QS,
    KITE_X8_Q5K_QS = KITE_X8_Q4K_QS + 256,
};

// Q6_K: a group of 8 rows holds, per super-block b, one KITE_X8_Q6K_BYTES block at b * 1680 from
// the group's start (the 8 rows' 8 * 210 bytes, rearranged):
//   D      + 2i:                   d (f16) of row i
//   SCALES + 8j + i:               scales[j] (int8, sub-block j = elements 16j .. 16j + 15) of row i
//   QS + 192c + 32u + 4i + m:      for c = 4h + p (h 0..1, p 0..3), u 0..5, m 0..3, byte
//                                    u = 0, 1:  L0 | (L3 >> 4) << 6
//                                    u = 2, 3:  L1 | (L3 >> 2 & 3) << 6
//                                    u = 4, 5:  L2 | (L3 & 3) << 6                of row i,
// L_s (0..63, the level + 32) row i's level of element 128h + 32s + 8p + 4(u & 1) + m. So each
// 32-byte unit is 4 bytes of each of the 8 rows (row i at 4i: a 4-byte activation broadcast meets
// all 8 rows), and a kernel reads the 192 bytes of c in order. Units (c, u), (c, u + 2), (c, u + 4)
// (u 0..1) give levels 128h + 32s + 8p + 4u .. + 3 for s = 0..3: L0, L1, L2 by one mask each (63),
// L3 from the three units' top bits (masked by 0xC0, shifted into place and or-ed: u16 or u32
// shifts are exact, as only the masked bits move). As in block_q6_K, the level of element 128h +
// 32s + l (s 0..3, l 0..31) is nibble s >> 1 of ql[64h + 32(s & 1) + l] with bits 2s, 2s + 1 of
// qh[32h + l] above it; repack_x8.c moves the bits.
enum {
    KITE_X8_Q6K_BYTES = 8 * 210,
    KITE_X8_Q6K_D = 0,
    KITE_X8_Q6K_SCALES = 16,
    KITE_X8_Q6K_QS = 144,
};

// Q3_K: a group of 8 rows holds, per super-block b, one KITE_X8_Q3K_BYTES block at b * 880 from
// the group's start (the 8 rows' 8 * 110 bytes, rearranged):
//   D      + 2i:                   d (f16) of row i
//   SCALES + 8k + i:               scales[k] (k 0..11, the packed 6-bit scales) of row i
//   HM     + 64p + 32u + 4i + m:   hmask[8p + 4u + m] (p 0..3, u 0..1, m 0..3) of row i
//   QS     + 64c + 32u + 4i + m:   qs[32h + 8p + 4u + m] (c = 4h + p, h 0..1) of row i
// So a 32-byte unit is 4 bytes of each of the 8 rows (row i at 4i), and a kernel takes piece c
// (elements 128h + 32s + 8p + 4u + m, s 0..3: bits 2s, 2s + 1 of the qs unit, bit 4h + s of the
// hmask unit above them; Q6_K's pieces' elements) from QS + 64c and HM + 64p. The 12 scale bytes
// of the 8 rows lie byte-interleaved, so one byte-wide pass decodes the 8 rows' 16 scales.
enum {
    KITE_X8_Q3K_BYTES = 8 * 110,
    KITE_X8_Q3K_D = 0,
    KITE_X8_Q3K_SCALES = 16,
    KITE_X8_Q3K_HM = 112,
    KITE_X8_Q3K_QS = 368,
};

// Q2_K: a group of 8 rows holds, per super-block b, one KITE_X8_Q2K_BYTES block at b * 672 from
// the group's start (the 8 rows' 8 * 84 bytes, rearranged):
//   D      + 2i:                   d (f16) of row i
//   DMIN   + 2i:                   dmin (f16) of row i
//   SCALES + 8j + i:               scales[j] (sub-block j: scale low nibble, min high) of row i
//   QS     + 64c + 32u + 4i + m:   qs[32h + 8p + 4u + m] (c = 4h + p), as Q3_K's
enum {
    KITE_X8_Q2K_BYTES = 8 * 84,
    KITE_X8_Q2K_D = 0,
    KITE_X8_Q2K_DMIN = 16,
    KITE_X8_Q2K_SCALES = 32,
    KITE_X8_Q2K_QS = 160,
};

// Q8_0: a group of 8 rows holds, per 32-element block b, one KITE_X8_Q80_BYTES block at b * 272
// from the group's start (the 8 rows' 8 * 34 bytes, rearranged): d (f16) of row i at D + 2i (one
// 16-byte load: the 8 rows' scales), and qs bytes 8c .. 8c + 7 of row i (c 0..3) at QS + 64c + 8i
// (Q4_K's order: a 512-bit load is 8 bytes of each row, an 8-byte activation broadcast meets all
// 8 rows; 256 bits are rows 0-3 or 4-7).
enum {
    KITE_X8_Q80_BYTES = 8 * 34,
    KITE_X8_Q80_D = 0,
    KITE_X8_Q80_QS = 16,
};

// IQ4_XS: a group of 8 rows holds, per super-block b, one KITE_X8_IQ4XS_BYTES block at b * 1088
// from the group's start (the 8 rows' 8 * 136 bytes, rearranged): d (f16) of row i at D + 2i; the
// low byte of row i's scales_h at SH + i, its high byte at SH + 8 + i; scales_l[k] (k 0..3) of row
// i at SL + 8k + i (one load holds a scale byte of every row, as Q4_K's); and qs bytes 16s + 8c ..
// 16s + 8c + 7 of row i (s: sub-block 0..7; c: chunk 0..1, values 8c .. 8c + 7 of the sub-block
// in the low nibbles, 16 + 8c .. in the high ones) at QS + 128s + 32(i >> 1) + 16c + 8(i & 1):
// a 16-byte load is one chunk of a row pair, the pair's two chunks follow each other, and an
// 8-byte activation broadcast meets both rows.
enum {
    KITE_X8_IQ4XS_BYTES = 8 * 136,
    KITE_X8_IQ4XS_D = 0,
    KITE_X8_IQ4XS_SH = 16,
    KITE_X8_IQ4XS_SL = 32,
    KITE_X8_IQ4XS_QS = 64,
};

// Q4_0 and IQ4_NL (32-element blocks: an f16 d, then 16 bytes of nibbles, values 0..15 low and
// 16..31 high): a group of 8 rows holds, per block b, one KITE_X8_Q40_BYTES block at b * 144 from
// the group's start: d of row i at D + 2i, and qs bytes 8c .. 8c + 7 of row i (c 0..1) at
// QS + 32(i >> 1) + 16c + 8(i & 1) (IQ4_XS's sub-block order: a 16-byte load is one chunk of a
// row pair).
enum {
    KITE_X8_Q40_BYTES = 8 * 18,
    KITE_X8_Q40_D = 0,
    KITE_X8_Q40_QS = 16,
};

// Q5_0 (an f16 d, the qh word: bit e is bit 4 of element e, then Q4_0's 16 bytes of nibbles): a
// group of 8 rows holds, per block b, one KITE_X8_Q50_BYTES block at b * 176 from the group's
// start: d of row i at D + 2i; the nibbles at QS as Q4_0's map (row i's bytes 8c .. 8c + 7 at
// QS + 32(i >> 1) + 16c + 8(i & 1)); and the qh bits laid like the nibble bytes: row i = 2k + u
// (row pair k = 2q + h) has, at QH + 16q + 8u + p (p 0..7), bits 4h .. 4h + 3 = bit 4 of the
// elements p, 16 + p, 8 + p, 24 + p (those of its qs bytes p and 8 + p: chunk c's low, high
// nibble as bit 4h + 2c + 0, 1). So one 16-byte qh load lies as a row pair's nibble load does
// (and an 8-byte one as a row's), and a shift and a mask in 16-bit lanes put a nibble's 5th bit
// at bit 4 of its byte; qh before qs, read in address order.
// Q4_1 and Q5_1 (Q4_0's and Q5_0's blocks with an f16 m after d): per block b one X8 block at
// b * BYTES from the group's start: d of row i at D + 2i (KITE_X8_Q41_D), m at M + 2i, then Q4_0's
// nibbles at KITE_X8_Q41_QS, or Q5_0's qh bytes and nibbles at KITE_X8_Q51_QH, KITE_X8_Q51_QS (the
// maps above moved by 16 bytes).
enum {
    KITE_X8_Q50_BYTES = 8 * 22,
    KITE_X8_Q50_D = 0,
    KITE_X8_Q50_QH = 16,
    KITE_X8_Q50_QS = 48,
    KITE_X8_Q41_BYTES = 8 * 20,
    KITE_X8_Q51_BYTES = 8 * 24,
    KITE_X8_Q41_D = 0,
    KITE_X8_Q41_M = 16,
    KITE_X8_Q41_QS = 32,
    KITE_X8_Q51_QH = 32,
    KITE_X8_Q51_QS = 64,
};

// IQ3_XXS and IQ2_XXS (the grid types: per 32-element sub-block ib, grid index bytes and a word
// of four 7-bit sign indices, bits 7l .. 7l + 6, and a 4-bit scale in bits 28..31): a group of 8
// rows holds, per super-block b, one X8 block (the 8 rows' blocks, rearranged) at b * BYTES from
// the group's start: d (f16) of row i at D + 2i; the sign / scale word of sub-block ib of row i
// at SS + 32ib + 4i (one 16-byte load: the words of rows 0..3 or 4..7, their scales decoded
// together); the sub-block's grid index bytes of row i at QS + 64ib + 8i (IQ3_XXS: its 8, qs[8ib
// .. 8ib + 7]) or QS + 32ib + 4i (IQ2_XXS: its 4, the sub-block's first uint32): the 8 rows of a
// sub-block side by side, against one 32-byte activation load.
enum {
    KITE_X8_IQ3XXS_BYTES = 8 * 98,
    KITE_X8_IQ2XXS_BYTES = 8 * 66,
    KITE_X8_GRID_D = 0,
    KITE_X8_GRID_SS = 16,
    KITE_X8_GRID_QS = 272,
};

// IQ2_XS, IQ2_S and IQ3_S (a row block is d, then `rest`, then ns scale bytes: IQ2_XS rest =
// qs[32] (uint16), ns 8; IQ2_S rest = qs[64], qh[8], ns 8; IQ3_S rest = qs[64], qh[8],
// signs[32], ns 4): a group of 8 rows holds, per super-block b, one X8 block (the 8 rows'
// blocks, rearranged) at b * BYTES from the group's start: d (f16) of row i at D + 2i; scale byte
// u of row i at SC + 8u + i (a 4-byte load: byte u of rows 0..3 or 4..7, their scales decoded
// together); row i's rest, as the row block holds it, at REST + i * (BYTES / 8 - 2 - ns).
enum {
    KITE_X8_IQ2XS_BYTES = 8 * 74,
    KITE_X8_IQ2S_BYTES = 8 * 82,
    KITE_X8_IQ3S_BYTES = 8 * 110,
    KITE_X8_GS_D = 0,
    KITE_X8_GS_SC = 16,
    KITE_X8_IQ2_REST = 80, // IQ2_XS, IQ2_S: 16 + 8 * 8
    KITE_X8_IQ3S_REST = 48, // 16 + 8 * 4
};

// IQ1_S: a group of 8 rows holds, per super-block b, one KITE_X8_IQ1S_BYTES block at b * 400 from
// the group's start: d (f16) of row i at D + 2i; qh[g] (uint16) of row i at QH + 16g + 2i (one
// 16-byte load: group g's words of the 8 rows); qs[4g + k] of row i at QS + 32g + 8k + i (one
// 8-byte load: point k of group g of the 8 rows, their grid indices computed together).
enum {
    KITE_X8_IQ1S_BYTES = 8 * 50,
    KITE_X8_IQ1S_D = 0,
    KITE_X8_IQ1S_QH = 16,
    KITE_X8_IQ1S_QS = 144,
};

// IQ1_M: a group of 8 rows holds, per super-block b, one KITE_X8_IQ1M_BYTES block at b * 448:
// scale word m (uint16, m 0..3; its top nibble a quarter of d) of row i at SC + 16m + 2i (the 8
// rows' d put together in vectors); qh[2g + m] (m 0..1) of row i at QH + 16g + 8m + i; qs[4g + k]
// of row i at QS + 32g + 8k + i (as IQ1_S: point k of group g of the 8 rows in one 8-byte load).
enum {
    KITE_X8_IQ1M_BYTES = 8 * 56,
    KITE_X8_IQ1M_SC = 0,
    KITE_X8_IQ1M_QH = 64,
    KITE_X8_IQ1M_QS = 192,
};

// Tokens from which kite_matmul runs X8 weights through the set's GEMM: its gemm_x8 tile, else
// the rows read back for its `tile`.
enum { KITE_X8_GEMM_MIN = 16 };

// Rows r0 .. r0 + nr - 1 of an X8 matrix (w, row bytes ws, n_out rows) in the row layout into
// dst (nr * ws bytes).
void kite__x8_rows(kite_type wtype, const void *w, size_t ws, int64_t n_out, int64_t r0, int nr, void *dst);

// The set in use (never NULL; selected on first call).
const kite__kernels *kite__kernels_active(void);

// The set named `isa` if the host can run it, else NULL.
const kite__kernels *kite__kernels_get(const char *isa);

// Partner (activation) format of a weight type, as ggml's vec_dot_type; KITE_TYPE_COUNT
// when the type has no kernels.
kite_type kite__dot_partner(kite_type wtype);

// ---- scalar reference dots: one weight row x one activation row of n elements ---------
// Integer math as ggml's generic vec_dot_<type>_<partner>; the specification of each format.
float kite__vec_dot_f32_ref(int n, const float *w, const float *a);
float kite__vec_dot_f16_ref(int n, const kite_f16 *w, const kite_f16 *a);
float kite__vec_dot_bf16_ref(int n, const kite_bf16 *w, const kite_bf16 *a);
float kite__vec_dot_q4_0_ref(int n, const block_q4_0 *w, const block_q8_0 *a);
float kite__vec_dot_q4_1_ref(int n, const block_q4_1 *w, const block_q8_1 *a);
float kite__vec_dot_q5_0_ref(int n, const block_q5_0 *w, const block_q8_0 *a);
float kite__vec_dot_q5_1_ref(int n, const block_q5_1 *w, const block_q8_1 *a);
float kite__vec_dot_q8_0_ref(int n, const block_q8_0 *w, const block_q8_0 *a);
float kite__vec_dot_iq4_nl_ref(int n, const block_iq4_nl *w, const block_q8_0 *a);
float kite__vec_dot_q2_K_ref(int n, const block_q2_K *w, const block_q8_K *a);
float kite__vec_dot_q3_K_ref(int n, const block_q3_K *w, const block_q8_K *a);
float kite__vec_dot_q4_K_ref(int n, const block_q4_K *w, const block_q8_K *a);
float kite__vec_dot_q5_K_ref(int n, const block_q5_K *w, const block_q8_K *a);
float kite__vec_dot_q6_K_ref(int n, const block_q6_K *w, const block_q8_K *a);
float kite__vec_dot_iq4_xs_ref(int n, const block_iq4_xs *w, const block_q8_K *a);
// The grid, ternary and microscaled formats (vec_dot_iq_ref.c; the ISA sets' tiles in
// kernels_x86_iq.inc, kernels_neon_iq.inc, kernels_wasm_iq.inc and kernels_wasm_relaxed_iq.inc
// follow the same order). Their blocks expand to integers q with value = c * d * ls * q, and
//   s = s + (d*da) * ((float)isum * c)     c = 1/8: IQ2_XXS IQ2_XS IQ2_S IQ1_S IQ1_M
//                                          c = 1/4: IQ3_XXS;  c = 1: IQ3_S TQ1_0 TQ2_0 MXFP4
// (IQ1: q = 8g +- 1 folds the 1/8 shift into the integers; MXFP4's d is 2^(e-128), its da the
// Q8_0 block's scale).
float kite__vec_dot_iq2_xxs_ref(int n, const block_iq2_xxs *w, const block_q8_K *a);
float kite__vec_dot_iq2_xs_ref(int n, const block_iq2_xs *w, const block_q8_K *a);
float kite__vec_dot_iq2_s_ref(int n, const block_iq2_s *w, const block_q8_K *a);
float kite__vec_dot_iq3_xxs_ref(int n, const block_iq3_xxs *w, const block_q8_K *a);
float kite__vec_dot_iq3_s_ref(int n, const block_iq3_s *w, const block_q8_K *a);
float kite__vec_dot_iq1_s_ref(int n, const block_iq1_s *w, const block_q8_K *a);
float kite__vec_dot_iq1_m_ref(int n, const block_iq1_m *w, const block_q8_K *a);
float kite__vec_dot_tq1_0_ref(int n, const block_tq1_0 *w, const block_q8_K *a);
float kite__vec_dot_tq2_0_ref(int n, const block_tq2_0 *w, const block_q8_K *a);
float kite__vec_dot_mxfp4_ref(int n, const block_mxfp4 *w, const block_q8_0 *a);

// ---- helpers of the scalar reference set (vec_dot_ref.c, vec_dot_iq_ref.c) ----------------

// Integer dot of n weight levels q with n Q8 values a (exact: callers keep it below 2^31).
static inline int kite__idot(const int8_t *q, const int8_t *a, int n) {
    int s = 0;
    for (int i = 0; i < n; i++) s += q[i] * a[i];
    return s;
}

// Defines tile function name (the tile signature above) as one dot fn(n, W row r,
// activation t) per output; wt / at are the weight and activation row element types.
#define KITE_REF_TILE(name, wt, at, fn)                                                              \
    static void name(int n, const void *w, size_t ws, int nr, const void *a, size_t as, int nt,     \
                     float *y, size_t ys) {                                                          \
        for (int t = 0; t < nt; t++)                                                                 \
            for (int r = 0; r < nr; r++)                                                             \
                y[t * ys + r] = fn(n, (const wt *)((const char *)w + r * ws),                        \
                                   (const at *)((const char *)a + t * as));                          \
    }

// Points the 15 tile slots of k at the calling file's functions: every kernel file (ref, x86,
// NEON, wasm) names its tiles tile_<type>, so one list serves them all.
#define KITE_SET_TILES(k)                                                                        \
    do {                                                                                          \
        (k)->tile[KITE_TYPE_F32] = tile_f32, (k)->tile[KITE_TYPE_F16] = tile_f16;                 \
        (k)->tile[KITE_TYPE_BF16] = tile_bf16;                                                    \
        (k)->tile[KITE_TYPE_Q4_0] = tile_q4_0, (k)->tile[KITE_TYPE_Q4_1] = tile_q4_1;             \
        (k)->tile[KITE_TYPE_Q5_0] = tile_q5_0, (k)->tile[KITE_TYPE_Q5_1] = tile_q5_1;             \
        (k)->tile[KITE_TYPE_Q8_0] = tile_q8_0, (k)->tile[KITE_TYPE_IQ4_NL] = tile_iq4_nl;         \
        (k)->tile[KITE_TYPE_Q2_K] = tile_q2_K, (k)->tile[KITE_TYPE_Q3_K] = tile_q3_K;             \
        (k)->tile[KITE_TYPE_Q4_K] = tile_q4_K, (k)->tile[KITE_TYPE_Q5_K] = tile_q5_K;             \
        (k)->tile[KITE_TYPE_Q6_K] = tile_q6_K, (k)->tile[KITE_TYPE_IQ4_XS] = tile_iq4_xs;         \
    } while (0)

// The same for the grid, ternary and microscaled formats, in the sets that have their own.
#define KITE_SET_TILES_IQ(k)                                                                     \
    do {                                                                                          \
        (k)->tile[KITE_TYPE_IQ2_XXS] = tile_iq2_xxs, (k)->tile[KITE_TYPE_IQ2_XS] = tile_iq2_xs;   \
        (k)->tile[KITE_TYPE_IQ2_S] = tile_iq2_s, (k)->tile[KITE_TYPE_IQ3_XXS] = tile_iq3_xxs;     \
        (k)->tile[KITE_TYPE_IQ3_S] = tile_iq3_s, (k)->tile[KITE_TYPE_IQ1_S] = tile_iq1_s;         \
        (k)->tile[KITE_TYPE_IQ1_M] = tile_iq1_m, (k)->tile[KITE_TYPE_TQ1_0] = tile_tq1_0;         \
        (k)->tile[KITE_TYPE_TQ2_0] = tile_tq2_0, (k)->tile[KITE_TYPE_MXFP4] = tile_mxfp4;         \
    } while (0)

// ---- gated activations (glu_ref.c, glu_wasm.c, glu_avx2.c, glu_avx512.c, glu_neon.c) ---------
// The scalar set's SwiGLU rows, the specification: for i < n, in this order, each step rounded to
// float, g[i] = (g[i] / (1.0f + expf(-g[i]))) * u[i] (libm's expf; no contraction: the build has
// -ffp-contract=off, and no product here meets an add anyway).
void kite__swiglu_ref(float *g, const float *u, int32_t n);
// The same with 4 lanes of wasm SIMD128 (wasm_expf.h's expf): kite__swiglu_ref's bits for every
// input; a group of 4 with an |g| >= 88, inf or nan goes to kite__swiglu_ref whole.
void kite__swiglu_wasm(float *g, const float *u, int32_t n);
// The same 8 / 16 lanes at a time on x86 (x86_expf.h's expf where its check at first use passed,
// kite__expf_vec_ok_*; lanes with |g| >= 88, inf or nan through libm's expf): kite__swiglu_ref's
// bits for every input.
void kite__swiglu_avx2(float *g, const float *u, int32_t n);
void kite__swiglu_avx512(float *g, const float *u, int32_t n);
// The same 4 lanes at a time on NEON (neon_expf.h's expf where its check at first use passed,
// kite__expf_vec_ok_neon; lanes with |g| >= 88, inf or nan through libm's expf).
void kite__swiglu_neon(float *g, const float *u, int32_t n);
// The scalar set's GeGLU rows, the specification (ggml's tabulated GELU): for i < n, with x = g[i],
// y = x <= -10 ? 0.0f : x >= 10 ? x : tab[kite_f32_to_f16(x)], then g[i] = y * u[i] (rounded to
// float). tab holds the GELU of every f16 bit pattern (65536 floats; model/ops.c makes it).
void kite__geglu_ref(float *g, const float *u, int32_t n, const float *tab);
// The same 8 / 16 lanes at a time on x86: the f16 bits by F16C's round-to-nearest-even conversion
// (kite_f32_to_f16's for every non-nan float; nan lanes get its sign | 0x7e00), a gather from
// tab, the clamps as masks: kite__geglu_ref's bits for every input.
void kite__geglu_avx2(float *g, const float *u, int32_t n, const float *tab);
void kite__geglu_avx512(float *g, const float *u, int32_t n, const float *tab);
// The same 4 lanes at a time on NEON: the f16 bits by FCVTN (nan lanes as above), four loads
// from tab, the clamps as masks: kite__geglu_ref's bits for every input.
void kite__geglu_neon(float *g, const float *u, int32_t n, const float *tab);

// ---- soft-capping (softcap_ref.c, softcap_avx2.c, softcap_avx512.c, softcap_wasm.c, softcap_neon.c)
// The scalar set's soft-cap row, the specification: inv = 1.0f / cap, then for i < n x[i] = cap *
// (float)tanh((double)(x[i] * inv)), the products in float, tanh libm's double one.
void kite__softcap_ref(float *x, int32_t n, float cap);
// The same on x86 lanes (x86_tanh.h's tanh, libm's for the lanes it does not settle):
// kite__softcap_ref's bits for every input (test_softcap: all 2^32 arguments of tanh).
void kite__softcap_avx2(float *x, int32_t n, float cap);
void kite__softcap_avx512(float *x, int32_t n, float cap);

// The same row with the two factors given: x[i] = cap * (float)tanh((double)(x[i] * inv)) * post,
// each product rounded to float, left to right (the attention ops' soft-caps: attend_ref.c's
// MATMUL form, inv = 1 / cap and post = scale, and its flash form, inv = scale / cap, post = 1).
void kite__softcap_scaled_ref(float *x, int32_t n, float inv, float cap, float post);
// The same with x86_tanh.h's tanh in vector lanes: kite__softcap_scaled_ref's bits.
void kite__softcap_scaled_avx2(float *x, int32_t n, float inv, float cap, float post);
void kite__softcap_scaled_avx512(float *x, int32_t n, float inv, float cap, float post);
// The same on wasm SIMD128 (softcap_wasm.c: x86_tanh.h's method on f64x2 lanes): kite__softcap_ref's
// bits for every input.
void kite__softcap_wasm(float *x, int32_t n, float cap);
void kite__softcap_scaled_wasm(float *x, int32_t n, float inv, float cap, float post);
// The same on NEON (softcap_neon.c: x86_tanh.h's method on float64x2 lanes): kite__softcap_ref's
// and kite__softcap_scaled_ref's bits for every input.
void kite__softcap_neon(float *x, int32_t n, float cap);
void kite__softcap_scaled_neon(float *x, int32_t n, float inv, float cap, float post);

// ---- RMS norm (rmsnorm_ref.c, rmsnorm_avx2.c, rmsnorm_avx512.c, rmsnorm_wasm.c, rmsnorm_neon.c) --
// The scalar set's row, the specification (ggml's order): sum = +0.0 (double), then for i < n in
// order sum = sum + (double)x[i] * (double)x[i] (the product exact, the add rounded to double);
// scale = 1.0f / sqrtf((float)(sum / n) + eps); then y[i] = (x[i] * scale) * w[i] in float. y may
// be x.
void kite__rmsnorm_row_ref(float *y, const float *x, const float *w, int32_t n, float eps);
// kite__rmsnorm_row_ref(y[r], x[r], w, n, eps) for r < rows, row by row.
void kite__rmsnorm_rows_ref(float *const *y, const float *const *x, const float *w, int32_t n, int32_t rows,
                            float eps);
// The same with rows in vector lanes (each lane one row's sum, in the row's order: 4 double lanes
// per AVX2 vector, 8 per AVX-512 one; up to 16 rows at once): kite__rmsnorm_rows_ref's bits.
void kite__rmsnorm_rows_avx2(float *const *y, const float *const *x, const float *w, int32_t n, int32_t rows,
                             float eps);
void kite__rmsnorm_rows_avx512(float *const *y, const float *const *x, const float *w, int32_t n, int32_t rows,
                               float eps);
// The same with rows in wasm SIMD128 f64x2 lanes (rmsnorm_wasm.c; up to 8 rows at once).
void kite__rmsnorm_rows_wasm(float *const *y, const float *const *x, const float *w, int32_t n, int32_t rows,
                             float eps);
// The same with rows in NEON float64x2 lanes (rmsnorm_neon.c; up to 16 rows at once).
void kite__rmsnorm_rows_neon(float *const *y, const float *const *x, const float *w, int32_t n, int32_t rows,
                             float eps);

// ISA sets: each fills the entries it accelerates (compiled only where the ISA exists).
void kite__kernels_fill_avx2(kite__kernels *k);
void kite__kernels_fill_avxvnni(kite__kernels *k); // the AVX2 set plus the packed GEMM on AVX-VNNI
void kite__kernels_fill_avx512(kite__kernels *k);
void kite__kernels_fill_amx(kite__kernels *k); // the AVX-512 set plus AMX GEMM tiles (kernels_amx.c)
// Points k's integer block types at the packed AVX-512 VNNI GEMM (kernels_packed_avx512.c), k's
// own tiles kept for fewer than 16 tokens (called by kite__kernels_fill_avx512).
void kite__kernels_packed_avx512(kite__kernels *k);
// The same for the packed AVX2 GEMM (kernels_packed_avx2.c; called by kite__kernels_fill_avx2).
void kite__kernels_packed_avx2(kite__kernels *k);
void kite__kernels_fill_neon(kite__kernels *k);
void kite__kernels_fill_wasm(kite__kernels *k);
void kite__kernels_fill_wasm_relaxed(kite__kernels *k); // the SIMD128 set plus relaxed-SIMD tiles
void kite__kernels_fill_ref(kite__kernels *k);
// Adds the vec_dot_iq_ref.c tiles to the scalar set (called by kite__kernels_fill_ref).
void kite__kernels_fill_ref_iq(kite__kernels *k);

#endif
