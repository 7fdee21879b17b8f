// quant_search.h - the inner searches of the quantizers (scale searches, re-rounding, grid
// lookups), as a table of functions: the scalar _ref set is the specification, ISA sets
// (quant_search_avx2.c, quant_search_avx512.c, quant_search_neon.c, quant_search_wasm.c) give
// the same results bit for bit. The row
// quantizers (quant_ref_kquants.c, quant_ref_weighted.c, quant_ref_iq4.c) are written once
// against this table; kite_quantize_row_<type>_ref runs them on the _ref set, the row API
// (quant_rows.c) on the active set.
//
// How a SIMD set stays bit-exact: every single result is computed with the scalar float
// operations in the scalar order. The candidate scales of a search run in separate lanes (each
// lane sums over the values in the same order as the scalar loop); only per-value independent
// work (rounding, clamping, abs, division) runs across values; the choice among candidates is
// made by the scalar comparison chain on the lanes' sums.
#ifndef KITE_QUANT_SEARCH_H
#define KITE_QUANT_SEARCH_H

#include <stdbool.h>
#include <stdint.h>

#include "blocks/kite_blocks.h"

typedef struct kite__quant_search {
    const char *isa; // "scalar", "avx2", "avx512", "neon", "wasm"
    // Asymmetric grid 0..nmax with an offset (ggml's make_qkx2_quants; with use_mad false it is
    // also make_qkx3_quants): x ~ scale * L - the_min over n <= 32 values with weights w.
    // Tries nstep + 1 <= 40 grid densities (rmin + k*rdelta + nmax) / (max - min) and keeps the
    // lowest weighted error (|diff| with use_mad, diff^2 otherwise). Returns the scale.
    float (*qkx)(int n, int nmax, const float *x, const float *w, uint8_t *L, float *the_min, float rmin, float rdelta,
                 int nstep, bool use_mad);
    // qkx on nsub consecutive groups of n values each (x, w, L: nsub * n; scales[g] and
    // the_mins[g] per group): what the k-quants run on a super-block's sub-blocks.
    void (*qkx_groups)(int nsub, int n, int nmax, const float *x, const float *w, uint8_t *L, float *scales,
                       float *the_mins, float rmin, float rdelta, int nstep, bool use_mad);
    // Symmetric grid -nmax..nmax-1 (ggml's make_qx_quants, rmse_type 1) over n <= 32 values with
    // weights w: 1/scale = -nmax/max, then 18 grids -(nmax + k/10)/max, best weighted
    // least-squares fit. L gets codes 0..2*nmax-1. Returns the scale (0 for an all-zero group).
    float (*qx)(int n, int nmax, const float *x, int8_t *L, const float *w);
    // qx on nsub consecutive groups of n values (x, w, L: nsub * n); the scales go to scales[g].
    void (*qx_groups)(int nsub, int n, int nmax, const float *x, int8_t *L, const float *w, float *scales);
    // Q3_K's symmetric grid (ggml's make_q3_quants with do_rmse, weights x^2) on nsub groups
    // of n <= 32 values: round at -nmax/max, then up to 5 passes of coordinate descent. Codes
    // 0..2*nmax-1 in L (nsub * n), scales[g] per group.
    void (*q3_groups)(int nsub, int n, int nmax, const float *x, int8_t *L, float *scales);
    // L[i] = clamp(nearest_int((x[i] + dm) / d), 0, nmax) for i < n (the k-quants' re-rounding
    // against a stored scale d != 0 and min dm).
    void (*round_min)(const float *x, int n, float d, float dm, int nmax, uint8_t *L);
    // L[i] = clamp(nearest_int(x[i] / d), lo, hi) - lo for i < n (d != 0).
    void (*round_sym)(const float *x, int n, float d, int lo, int hi, int8_t *L);
    // IQ4_NL/IQ4_XS: the best scale of a block of 32 for the non-linear grid with weights w
    // (ggml's 15-step search); 0 for an all-zero block.
    float (*iq4_scale)(const float *x, const float *w);
    // IQ4 codes of 32 values for scale d, packed: element j low nibble, j + 16 high nibble.
    void (*iq4_pack)(const float *x, float d, uint8_t qs[16]);
    // F16 -> F32 for n values, bit-exact with kite_f16_to_f32 (NaN payloads kept as they are).
    void (*f16_to_f32)(const uint16_t *x, float *y, int64_t n);
    // Q8_0 weights: n (a multiple of 32) finite values, the bytes of kite_quantize_row_q8_0_ref
    // (d = amax/127 per block, codes roundf(x/d) cast as ggml's x86 build casts them).
    void (*q8_0)(const float *x, block_q8_0 *y, int64_t n);
    // The IQ grid neighbour search (quant_iq_grid.h): of nchunks >= 1 chunks of 8 neighbours at
    // lanes (a grid's transposed list: dim = 4 (IQ3) or 8 (IQ2, IQ1) values a point, 8 * dim
    // bytes a chunk, byte 8i + j of a chunk the level of value i of its neighbour j: below 8 for
    // dim 4, below 4 for dim 8 (the IQ2 / IQ1 grids' 3 levels)), the list
    // position of the first with the smallest d2 < FLT_MAX (0 when none), d2 = tt[0][l0] +
    // tt[1][l1] + .. + tt[dim - 1][l(dim-1)], added left to right (each tt row 8 readable
    // floats): ggml's neighbour distance from the same terms (kite__iq_terms), which it sums
    // from 0 + tt[0][l0] (a zero's sign may differ; it compares equal), so the same pick: the
    // IQ quantizers' (quant_iq_search.c, quant_ref_iq1.c) inner search.
    int (*iq_nearest)(const uint8_t *lanes, int dim, int nchunks, const float tt[][8]);
} kite__quant_search;

// The scalar specification.
extern const kite__quant_search kite__quant_search_ref;

// The set the row API uses: the widest the CPU runs (KITE_FORCE_SCALAR=1: the reference).
const kite__quant_search *kite__quant_search_active(void);

// The set of one ISA ("scalar", "avx2", "avx512", "neon", "wasm"), or NULL when this build or CPU lacks it.
const kite__quant_search *kite__quant_search_get(const char *isa);

// The row quantizers on a given set (the _ref ones pass &kite__quant_search_ref).
void kite__quantize_row_q2_K_with(const float *x, block_q2_K *y, int64_t n, const kite__quant_search *s);
void kite__quantize_row_q3_K_with(const float *x, block_q3_K *y, int64_t n, const kite__quant_search *s);
void kite__quantize_row_q4_K_with(const float *x, block_q4_K *y, int64_t n, const kite__quant_search *s);
void kite__quantize_row_q5_K_with(const float *x, block_q5_K *y, int64_t n, const kite__quant_search *s);
void kite__quantize_row_q6_K_with(const float *x, block_q6_K *y, int64_t n, const kite__quant_search *s);
void kite__quantize_row_iq4_nl_with(const float *x, block_iq4_nl *y, int64_t n, const float *qw, const kite__quant_search *s);
void kite__quantize_row_iq4_xs_with(const float *x, block_iq4_xs *y, int64_t n, const float *qw, const kite__quant_search *s);
void kite__quantize_row_q4_0_w_with(const float *x, block_q4_0 *y, int64_t n_per_row, const float *qw, const kite__quant_search *s);
void kite__quantize_row_q4_1_w_with(const float *x, block_q4_1 *y, int64_t n_per_row, const float *qw, const kite__quant_search *s);
void kite__quantize_row_q5_0_w_with(const float *x, block_q5_0 *y, int64_t n_per_row, const float *qw, const kite__quant_search *s);
void kite__quantize_row_q5_1_w_with(const float *x, block_q5_1 *y, int64_t n_per_row, const float *qw, const kite__quant_search *s);
void kite__quantize_row_q2_K_w_with(const float *x, block_q2_K *y, int64_t n_per_row, const float *qw, const kite__quant_search *s);
void kite__quantize_row_q3_K_w_with(const float *x, block_q3_K *y, int64_t n_per_row, const float *qw, const kite__quant_search *s);
void kite__quantize_row_q4_K_w_with(const float *x, block_q4_K *y, int64_t n_per_row, const float *qw, const kite__quant_search *s);
void kite__quantize_row_q5_K_w_with(const float *x, block_q5_K *y, int64_t n_per_row, const float *qw, const kite__quant_search *s);
void kite__quantize_row_q6_K_w_with(const float *x, block_q6_K *y, int64_t n_per_row, const float *qw, const kite__quant_search *s);
// The grid types with an importance matrix qw (IQ3, IQ2_S, IQ1_M: NULL for weights x^2, or
// IQ2_S's 0.25 sigma2 + x^2; IQ2_XXS, IQ2_XS, IQ1_S need one); false where ggml would abort (a
// point off the grid after the search, a NaN scale) or the grid cannot be built.
bool kite__quantize_row_iq2_xxs_w_with(const float *x, block_iq2_xxs *y, int64_t n, const float *qw, const kite__quant_search *s);
bool kite__quantize_row_iq2_xs_w_with(const float *x, block_iq2_xs *y, int64_t n, const float *qw, const kite__quant_search *s);
bool kite__quantize_row_iq2_s_w_with(const float *x, block_iq2_s *y, int64_t n, const float *qw, const kite__quant_search *s);
bool kite__quantize_row_iq1_s_w_with(const float *x, block_iq1_s *y, int64_t n, const float *qw, const kite__quant_search *s);
bool kite__quantize_row_iq1_m_w_with(const float *x, block_iq1_m *y, int64_t n, const float *qw, const kite__quant_search *s);
bool kite__quantize_row_iq3_xxs_w_with(const float *x, block_iq3_xxs *y, int64_t n, const float *qw, const kite__quant_search *s);
bool kite__quantize_row_iq3_s_w_with(const float *x, block_iq3_s *y, int64_t n, const float *qw, const kite__quant_search *s);

#endif
