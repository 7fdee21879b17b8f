// quant_ref_iq2.c - reference quantizers of IQ2_XXS, IQ2_XS and IQ2_S (8 values per point of a
// grid of 3-level magnitudes; sign patterns of even parity, IQ2_S's all 8 signs), as ggml's
// quantize_row_iq2_*_impl. IQ2_XXS / IQ2_XS need an importance matrix (ggml asserts one).
// Search per group of 32 / 16 values (quant_iq_search.c): flip signs to make every value >= 0
// (fixing the parity on the least important value), try scales around the best uniform fit, snap
// each 8 values to the grid (or, off the grid, to the best of its precomputed nearest grid
// points), keep the weighted least-squares best. Here: each format's settings and its packing.
#include "quant/quant_iq_search.h"

#include <float.h>

#include "base/internal.h"
#include "quant/kite_quant.h"
#include "blocks/block_util.h"

#define GROUP_MAX_EPS 1e-15f

// IQ2_XXS: per 32 values a uint32 of 4 grid indices, then one of 4 sign indices and the scale.
static void pack_iq2_xxs(void *yb, const kite__iq_superblock *sb) {
    block_iq2_xxs *y = yb;
    const float d = sb->max_scale / 31, id = 1 / d;
    y->d = kite_f32_to_f16(d);
    uint32_t q2[2 * (QK_K / 32)] = {0};
    for (int ib = 0; ib < QK_K / 32; ib++) {
        for (int k = 0; k < 4; k++) {
            q2[2 * ib] |= (uint32_t)sb->gi[4 * ib + k] << (8 * k);
            q2[2 * ib + 1] |= (uint32_t)sb->signs[4 * ib + k] << (7 * k);
        }
        q2[2 * ib + 1] |= (uint32_t)kite__iq_level(id, sb->scales[ib], 15) << 28;
    }
    memcpy(y->qs, q2, sizeof q2);
}

// IQ2_XS: per 8 values a 9-bit grid index and 7 sign bits; 4-bit scales per 16.
static void pack_iq2_xs(void *yb, const kite__iq_superblock *sb) {
    block_iq2_xs *y = yb;
    const float d = sb->max_scale / 31;
    y->d = kite_f32_to_f16(d);
    kite__iq_pack_levels4(1 / d, sb->scales, QK_K / 16, y->scales);
    for (int i = 0; i < QK_K / 8; i++) y->qs[i] = (uint16_t)(sb->gi[i] | (sb->signs[i] << 9));
}

// IQ2_S: 10-bit grid indices, explicit 8-bit signs (no parity), scales per 16.
static void pack_iq2_s(void *yb, const kite__iq_superblock *sb) {
    block_iq2_s *y = yb;
    const float d = sb->max_scale / 31;
    y->d = kite_f32_to_f16(d * 0.9875f); // ggml's fudge factor
    kite__iq_pack_levels4(1 / d, sb->scales, QK_K / 16, y->scales);
    for (int i = 0; i < QK_K / 8; i++) {
        y->qs[i] = (uint8_t)(sb->gi[i] & 255);
        y->qh[i / 4] |= (uint8_t)((sb->gi[i] >> 8) << (2 * (i % 4)));
        y->qs[QK_K / 8 + i] = sb->signs[i];
    }
}

// The groups: IQ2_XXS 32 values (7 sign bits of even parity per 8), its search started from
// make_qp_quants' fit and every point snapped again; IQ2_XS 16 (even parity); IQ2_S 16 (all 8
// sign bits stored), weighted 0.25 * sigma2 + x^2 without an importance matrix (as ggml).
static const kite__iq_format IQ2_XXS = {.grid = KITE__IQ_GRID_IQ2_XXS, .sigma2_factor = 1,
                                        .group = {32, 3, true, GROUP_MAX_EPS, 6, 0.1f, KITE__IQ_RESNAP_ALL, true},
                                        .block_bytes = sizeof(block_iq2_xxs), .pack = pack_iq2_xxs};
static const kite__iq_format IQ2_XS = {.grid = KITE__IQ_GRID_IQ2_XS, .sigma2_factor = 1,
                                       .group = {16, 3, true, GROUP_MAX_EPS, 9, 0.1f, KITE__IQ_RESNAP_OFF_GRID, false},
                                       .block_bytes = sizeof(block_iq2_xs), .pack = pack_iq2_xs};
static const kite__iq_format IQ2_S = {.grid = KITE__IQ_GRID_IQ2_S, .sigma2_factor = 2, .sigma2_weights = true,
                                      .group = {16, 3, false, 1e-8f, 9, 0.1f, KITE__IQ_RESNAP_OFF_GRID, false},
                                      .block_bytes = sizeof(block_iq2_s), .pack = pack_iq2_s};

bool kite__quantize_row_iq2_xxs_w_with(const float *restrict x, block_iq2_xxs *restrict y, int64_t n, const float *qw,
                                       const kite__quant_search *s) {
    return kite__iq_quantize_row(&IQ2_XXS, s, x, y, n, qw);
}

bool kite__quantize_row_iq2_xs_w_with(const float *restrict x, block_iq2_xs *restrict y, int64_t n, const float *qw,
                                      const kite__quant_search *s) {
    return kite__iq_quantize_row(&IQ2_XS, s, x, y, n, qw);
}

bool kite__quantize_row_iq2_s_w_with(const float *restrict x, block_iq2_s *restrict y, int64_t n, const float *qw,
                                     const kite__quant_search *s) {
    return kite__iq_quantize_row(&IQ2_S, s, x, y, n, qw);
}

bool kite_quantize_row_iq2_xxs_w_ref(const float *restrict x, block_iq2_xxs *restrict y, int64_t n, const float *qw) {
    return kite__quantize_row_iq2_xxs_w_with(x, y, n, qw, &kite__quant_search_ref);
}

bool kite_quantize_row_iq2_xs_w_ref(const float *restrict x, block_iq2_xs *restrict y, int64_t n, const float *qw) {
    return kite__quantize_row_iq2_xs_w_with(x, y, n, qw, &kite__quant_search_ref);
}

bool kite_quantize_row_iq2_s_ref(const float *restrict x, block_iq2_s *restrict y, int64_t n) {
    return kite__quantize_row_iq2_s_w_with(x, y, n, NULL, &kite__quant_search_ref);
}

bool kite_quantize_row_iq2_s_w_ref(const float *restrict x, block_iq2_s *restrict y, int64_t n, const float *qw) {
    return kite__quantize_row_iq2_s_w_with(x, y, n, qw, &kite__quant_search_ref);
}
