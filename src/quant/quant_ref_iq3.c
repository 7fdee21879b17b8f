// quant_ref_iq3.c - reference quantizers of IQ3_XXS and IQ3_S (4 values per point of a grid of
// 8-level magnitudes), as ggml's quantize_row_iq3_xxs_impl / quantize_row_iq3_s_impl, with or
// without an importance matrix (without: weights x^2). Per 32 values: signs folded out (IQ3_XXS
// keeps an even parity, IQ3_S stores all 8 sign bits), 31 / 19 trial scales, each 4 values
// snapped to the grid or to the best of their nearest grid points, the weighted least-squares
// best kept (quant_iq_search.c); then 4-bit block scales against the super-block's largest.
// Here: each format's settings and its packing.
#include "quant/quant_iq_search.h"

#include <float.h>

#include "base/internal.h"
#include "quant/kite_quant.h"
#include "blocks/block_util.h"

// IQ3_XXS: 8-bit grid indices, then per 32 values a uint32 of 4 sign indices and the scale.
static void pack_iq3_xxs(void *yb, const kite__iq_superblock *sb) {
    block_iq3_xxs *y = yb;
    const float d = sb->max_scale / 31, id = 1 / d;
    y->d = kite_f32_to_f16(d * 1.0125f); // ggml's fudge factor
    for (int i = 0; i < QK_K / 4; i++) y->qs[i] = (uint8_t)sb->gi[i];
    uint32_t sas[QK_K / 32];
    for (int ib = 0; ib < QK_K / 32; ib++) {
        const uint8_t *bs = sb->signs + 4 * ib;
        sas[ib] = (uint32_t)bs[0] | ((uint32_t)bs[1] << 7) | ((uint32_t)bs[2] << 14) | ((uint32_t)bs[3] << 21) |
                  ((uint32_t)kite__iq_level(id, sb->scales[ib], 15) << 28);
    }
    memcpy(y->qs + QK_K / 4, sas, sizeof sas);
}

// IQ3_S: 9-bit grid indices, explicit signs, 4-bit scales per 32. As ggml, the low index bytes
// and the signs of the groups that did not quantize to zero follow one another (a zero group
// takes no place there); the high bits stay at their group's place.
static void pack_iq3_s(void *yb, const kite__iq_superblock *sb) {
    block_iq3_s *y = yb;
    const float d = sb->max_scale / 31;
    y->d = kite_f32_to_f16(d * 1.033f); // ggml's fudge factor
    kite__iq_pack_levels4(1 / d, sb->scales, QK_K / 32, y->scales);
    uint8_t *qs = y->qs, *signs = y->signs;
    for (int ib = 0; ib < QK_K / 32; ib++) {
        if (!(sb->quantized >> ib & 1)) continue;
        for (int k = 0; k < 8; k++) {
            const int gi = sb->gi[8 * ib + k];
            qs[k] = (uint8_t)(gi & 255);
            y->qh[ib] |= (uint8_t)((gi >> 8) << k);
        }
        memcpy(signs, sb->signs + 4 * ib, 4);
        qs += 8;
        signs += 4;
    }
}

// The groups of 32: IQ3_XXS keeps 7 sign bits of even parity per 8 and tries 31 scales, IQ3_S
// stores all 8 and tries 19, and is zero only when every value is (max below the least
// subnormal).
static const kite__iq_format IQ3_XXS = {.grid = KITE__IQ_GRID_IQ3_XXS, .sigma2_factor = 2,
                                        .group = {32, 8, true, 1e-8f, 15, 0.2f, KITE__IQ_RESNAP_OFF_GRID, false},
                                        .block_bytes = sizeof(block_iq3_xxs), .pack = pack_iq3_xxs};
static const kite__iq_format IQ3_S = {.grid = KITE__IQ_GRID_IQ3_S, .sigma2_factor = 2,
                                      .group = {32, 8, false, FLT_TRUE_MIN, 9, 0.2f, KITE__IQ_RESNAP_ALL_IF_OFF, false},
                                      .block_bytes = sizeof(block_iq3_s), .pack = pack_iq3_s};

bool kite__quantize_row_iq3_xxs_w_with(const float *restrict x, block_iq3_xxs *restrict y, int64_t n, const float *qw,
                                       const kite__quant_search *s) {
    return kite__iq_quantize_row(&IQ3_XXS, s, x, y, n, qw);
}

bool kite__quantize_row_iq3_s_w_with(const float *restrict x, block_iq3_s *restrict y, int64_t n, const float *qw,
                                     const kite__quant_search *s) {
    return kite__iq_quantize_row(&IQ3_S, s, x, y, n, qw);
}

bool kite_quantize_row_iq3_xxs_ref(const float *restrict x, block_iq3_xxs *restrict y, int64_t n) {
    return kite__quantize_row_iq3_xxs_w_with(x, y, n, NULL, &kite__quant_search_ref);
}

bool kite_quantize_row_iq3_s_ref(const float *restrict x, block_iq3_s *restrict y, int64_t n) {
    return kite__quantize_row_iq3_s_w_with(x, y, n, NULL, &kite__quant_search_ref);
}

bool kite_quantize_row_iq3_xxs_w_ref(const float *restrict x, block_iq3_xxs *restrict y, int64_t n, const float *qw) {
    return kite__quantize_row_iq3_xxs_w_with(x, y, n, qw, &kite__quant_search_ref);
}

bool kite_quantize_row_iq3_s_w_ref(const float *restrict x, block_iq3_s *restrict y, int64_t n, const float *qw) {
    return kite__quantize_row_iq3_s_w_with(x, y, n, qw, &kite__quant_search_ref);
}
