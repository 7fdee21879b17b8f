// quant_ref_kquants.c - reference quantizers of the k-quants Q2_K..Q6_K (256-value super-blocks).
// Each searches a scale (and min) per sub-block, quantizes those scales to 4/6/8 bits against a
// super-block scale, then re-rounds every value against the scale actually stored. The search
// steps, constants and float operation order follow ggml's no-imatrix path exactly: any change
// moves a rounding decision and the bytes stop matching llama-quantize. The searches themselves
// come from a kite__quant_search set (quant_search.h): _ref runs the scalar one.
#include "quant/kite_quant.h"
#include "quant/quant_search.h"
#include "quant/quant_store.h"

#include "base/internal.h"
#include "blocks/block_util.h"

#define GROUP_MAX_EPS 1e-15f // below this a group counts as all zero (ggml's GROUP_MAX_EPS)

// ---- Q2_K: 16 x 16 values, 2-bit codes, 4-bit scale and min per 16 --------------------

void kite__quantize_row_q2_K_with(const float *restrict x, block_q2_K *restrict y, int64_t n, const kite__quant_search *s) {
    KITE_ASSERT(n % QK_K == 0);
    uint8_t L[QK_K];
    float weights[QK_K], mins[QK_K / 16], scales[QK_K / 16];
    const float q4scale = 15.0f; // sub-block scales and mins are stored on 0..15

    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float max_scale = 0.0f, max_min = 0.0f; // with the min subtracted, scales are >= 0
        for (int l = 0; l < QK_K; l++) weights[l] = fabsf(x[l]);
        s->qkx_groups(QK_K / 16, 16, 3, x, weights, L, scales, mins, -0.5f, 0.1f, 15, true);
        for (int j = 0; j < QK_K / 16; j++) {
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        if (max_scale > 0.0f) {
            const float iscale = q4scale / max_scale;
            for (int j = 0; j < QK_K / 16; j++) y[i].scales[j] = (uint8_t)kite__nearest_int(iscale * scales[j]);
            y[i].d = kite_f32_to_f16(max_scale / q4scale);
        } else {
            memset(y[i].scales, 0, sizeof y[i].scales);
            y[i].d = kite_f32_to_f16(0.0f);
        }
        if (max_min > 0.0f) {
            const float iscale = q4scale / max_min;
            // (unsigned: a subnormal max_min makes iscale inf and the code garbage, possibly negative;
            // the stored byte is ggml's, without a shift of a negative int)
            for (int j = 0; j < QK_K / 16; j++) y[i].scales[j] |= (uint8_t)((unsigned)kite__nearest_int(iscale * mins[j]) << 4);
            y[i].dmin = kite_f32_to_f16(max_min / q4scale);
        } else {
            y[i].dmin = kite_f32_to_f16(0.0f);
        }
        kite__q2_K_store_codes(x, &y[i], L, s);
    }
}

void kite_quantize_row_q2_K_ref(const float *restrict x, block_q2_K *restrict y, int64_t n) {
    kite__quantize_row_q2_K_with(x, y, n, &kite__quant_search_ref);
}

// ---- Q3_K: 16 x 16 values, 3-bit codes (2 in qs + 1 in hmask), 6-bit signed scales ------

void kite__quantize_row_q3_K_with(const float *restrict x, block_q3_K *restrict y, int64_t n, const kite__quant_search *s) {
    KITE_ASSERT(n % QK_K == 0);
    int8_t L[QK_K];
    float scales[QK_K / 16];

    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float max_scale = 0.0f, amax = 0.0f;
        s->q3_groups(QK_K / 16, 16, 4, x, L, scales);
        for (int j = 0; j < QK_K / 16; j++) {
            float a = fabsf(scales[j]);
            if (a > amax) { amax = a; max_scale = scales[j]; }
        }
        if (max_scale != 0.0f) {
            // -32/max: the largest scale lands on -32, the end of -32..31 with the extra level
            const float iscale = -32.0f / max_scale;
            int8_t ls[QK_K / 16];
            for (int j = 0; j < QK_K / 16; j++) {
                int8_t l = (int8_t)kite__nearest_int(iscale * scales[j]);
                ls[j] = (int8_t)(KITE_MAX(-32, KITE_MIN(31, l)) + 32);
            }
            kite__q3_K_store_scales(ls, y[i].scales);
            y[i].d = kite_f32_to_f16(1.0f / iscale);
        } else {
            memset(y[i].scales, 0, sizeof y[i].scales);
            y[i].d = kite_f32_to_f16(0.0f);
        }
        kite__q3_K_store_codes(x, &y[i], L, s);
    }
}

void kite_quantize_row_q3_K_ref(const float *restrict x, block_q3_K *restrict y, int64_t n) {
    kite__quantize_row_q3_K_with(x, y, n, &kite__quant_search_ref);
}

// ---- Q4_K / Q5_K: 8 x 32 values, 4/5-bit codes, 6-bit scale and min per 32 -------------

// The shared front half of Q4_K and Q5_K: sub-block searches (weights sqrt(mean x^2) + |x|),
// 6-bit scales/mins against d = max/63, then codes re-rounded to 0..nmax. Writes d, dmin,
// scales; returns the codes in L.
static void quantize_k4_common(const float *x, kite_f16 *dh, kite_f16 *dminh, uint8_t scales12[12], uint8_t *L,
                               int nmax, float rmin, int nstep, const kite__quant_search *s) {
    float mins[QK_K / 32], scales[QK_K / 32], weights[QK_K];
    uint8_t ls[QK_K / 32], lm[QK_K / 32];
    float max_scale = 0.0f, max_min = 0.0f;
    for (int j = 0; j < QK_K / 32; j++) {
        float sum_x2 = 0.0f;
        for (int l = 0; l < 32; l++) sum_x2 += x[32 * j + l] * x[32 * j + l];
        const float av_x = sqrtf(sum_x2 / 32.0f);
        for (int l = 0; l < 32; l++) weights[32 * j + l] = av_x + fabsf(x[32 * j + l]);
    }
    s->qkx_groups(QK_K / 32, 32, nmax, x, weights, L, scales, mins, rmin, 0.1f, nstep, false);
    for (int j = 0; j < QK_K / 32; j++) {
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    const float inv_scale = max_scale > 0.0f ? 63.0f / max_scale : 0.0f;
    const float inv_min = max_min > 0.0f ? 63.0f / max_min : 0.0f;
    for (int j = 0; j < QK_K / 32; j++) {
        // ggml keeps these in uint8_t before clamping, so wrap first, then clamp
        uint8_t s = (uint8_t)kite__nearest_int(inv_scale * scales[j]);
        uint8_t m = (uint8_t)kite__nearest_int(inv_min * mins[j]);
        ls[j] = KITE_MIN(63, s);
        lm[j] = KITE_MIN(63, m);
    }
    kite__k4_store_scales(ls, lm, scales12);
    *dh = kite_f32_to_f16(max_scale / 63.0f);
    *dminh = kite_f32_to_f16(max_min / 63.0f);
    kite__k4_round_codes(x, *dh, *dminh, scales12, nmax, L, s);
}

void kite__quantize_row_q4_K_with(const float *restrict x, block_q4_K *restrict y, int64_t n, const kite__quant_search *s) {
    KITE_ASSERT(n % QK_K == 0);
    uint8_t L[QK_K];
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        quantize_k4_common(x, &y[i].d, &y[i].dmin, y[i].scales, L, 15, -1.0f, 20, s);
        kite__q4_K_pack_codes(L, y[i].qs);
    }
}

void kite_quantize_row_q4_K_ref(const float *restrict x, block_q4_K *restrict y, int64_t n) {
    kite__quantize_row_q4_K_with(x, y, n, &kite__quant_search_ref);
}

void kite__quantize_row_q5_K_with(const float *restrict x, block_q5_K *restrict y, int64_t n, const kite__quant_search *s) {
    KITE_ASSERT(n % QK_K == 0);
    uint8_t L[QK_K];
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        quantize_k4_common(x, &y[i].d, &y[i].dmin, y[i].scales, L, 31, -0.5f, 15, s);
        kite__q5_K_pack_codes(L, y[i].qs, y[i].qh);
    }
}

void kite_quantize_row_q5_K_ref(const float *restrict x, block_q5_K *restrict y, int64_t n) {
    kite__quantize_row_q5_K_with(x, y, n, &kite__quant_search_ref);
}

// ---- Q6_K: 16 x 16 values, 6-bit codes (4 in ql + 2 in qh), int8 scale per 16 -----------

void kite__quantize_row_q6_K_with(const float *restrict x, block_q6_K *restrict y, int64_t n, const kite__quant_search *s) {
    KITE_ASSERT(n % QK_K == 0);
    float w[QK_K];
    // no importance matrix: weights x^2, then the weighted quantizer's block (one Q6_K block code)
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        for (int l = 0; l < QK_K; l++) w[l] = x[l] * x[l];
        kite__quantize_row_q6_K_w_with(x, y + i, QK_K, w, s);
    }
}

void kite_quantize_row_q6_K_ref(const float *restrict x, block_q6_K *restrict y, int64_t n) {
    kite__quantize_row_q6_K_with(x, y, n, &kite__quant_search_ref);
}
