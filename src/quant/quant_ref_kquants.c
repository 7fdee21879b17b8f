// quant_ref_kquants.c - reference quantizers of the k-quants Q2_K..Q6_K (256-value super-blocks).
// Each searches a scale (and min) per sub-block, quantizes those scales to 4/6/8 bits against a
// super-block scale, then re-rounds every value against the scale actually stored. The search
// steps, constants and float operation order follow ggml's no-imatrix path exactly: any change
// moves a rounding decision and the bytes stop matching llama-quantize.
#include "quant/kite_quant.h"

#include "base/internal.h"
#include "blocks/block_util.h"
#include "quant/quant_search.h"
#include "quant/quant_store.h"

// ---- Q3_K's scale search (the shared ones are in quant_search.c) ---------------

// Symmetric grid for Q3_K (ggml's make_q3_quants with do_rmse): round at -nmax/max, then up
// to 5 passes of coordinate descent, moving one code at a time when the weighted (x^2) fit
// improves. L gets codes in 0..2*nmax-1.
static float make_q3_quants(int n, int nmax, const float *x, int8_t *L) {
    float amax = 0.0f, max = 0.0f;
    for (int i = 0; i < n; i++) {
        float ax = fabsf(x[i]);
        if (ax > amax) { amax = ax; max = x[i]; }
    }
    if (amax < KITE__GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    const float iscale = (float)-nmax / max;
    float sumlx = 0.0f, suml2 = 0.0f;
    for (int i = 0; i < n; i++) {
        int l = KITE_MAX(-nmax, KITE_MIN(nmax - 1, kite__nearest_int(iscale * x[i])));
        L[i] = (int8_t)l;
        float w = x[i] * x[i];
        sumlx += w * x[i] * (float)l;
        suml2 += w * (float)l * (float)l;
    }
    for (int itry = 0; itry < 5; itry++) {
        int n_changed = 0;
        for (int i = 0; i < n; i++) {
            float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * (float)L[i];
            if (slx > 0.0f) {
                float sl2 = suml2 - w * (float)L[i] * (float)L[i];
                int new_l = KITE_MAX(-nmax, KITE_MIN(nmax - 1, kite__nearest_int(x[i] * sl2 / slx)));
                if (new_l != L[i]) {
                    slx += w * x[i] * (float)new_l;
                    sl2 += w * (float)new_l * (float)new_l;
                    // better fit <=> slx^2/sl2 > sumlx^2/suml2, cross-multiplied
                    if (sl2 > 0.0f && slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = (int8_t)new_l;
                        sumlx = slx;
                        suml2 = sl2;
                        n_changed++;
                    }
                }
            }
        }
        if (!n_changed) break;
    }
    for (int i = 0; i < n; i++) L[i] = (int8_t)(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// ---- Q2_K: 16 x 16 values, 2-bit codes, 4-bit scale and min per 16 --------------------

void kite_quantize_row_q2_K_ref(const float *restrict x, block_q2_K *restrict y, int64_t n) {
    KITE_ASSERT(n % QK_K == 0);
    uint8_t L[QK_K], Laux[16];
    float weights[16], mins[QK_K / 16], scales[QK_K / 16];
    const float q4scale = 15.0f; // sub-block scales and mins are stored on 0..15

    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float max_scale = 0.0f, max_min = 0.0f; // with the min subtracted, scales are >= 0
        for (int j = 0; j < QK_K / 16; j++) {
            for (int l = 0; l < 16; l++) weights[l] = fabsf(x[16 * j + l]);
            scales[j] = kite__make_qkx_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.5f, 0.1f, 15, true);
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
            for (int j = 0; j < QK_K / 16; j++) y[i].scales[j] |= (uint8_t)(kite__nearest_int(iscale * mins[j]) << 4);
            y[i].dmin = kite_f32_to_f16(max_min / q4scale);
        } else {
            y[i].dmin = kite_f32_to_f16(0.0f);
        }
        // re-round each value against the scale and min as stored
        kite__q2_K_store_codes(x, &y[i], L);
    }
}

// ---- Q3_K: 16 x 16 values, 3-bit codes (2 in qs + 1 in hmask), 6-bit signed scales ------

void kite_quantize_row_q3_K_ref(const float *restrict x, block_q3_K *restrict y, int64_t n) {
    KITE_ASSERT(n % QK_K == 0);
    int8_t L[QK_K];
    float scales[QK_K / 16];

    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float max_scale = 0.0f, amax = 0.0f;
        for (int j = 0; j < QK_K / 16; j++) {
            scales[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j);
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
            kite__q3_K_store_scales(ls, &y[i]);
            y[i].d = kite_f32_to_f16(1.0f / iscale);
        } else {
            memset(y[i].scales, 0, sizeof y[i].scales);
            y[i].d = kite_f32_to_f16(0.0f);
        }
        kite__q3_K_store_codes(x, &y[i], L);
    }
}

// ---- Q4_K / Q5_K: 8 x 32 values, 4/5-bit codes, 6-bit scale and min per 32 -------------

// The shared front half of Q4_K and Q5_K: sub-block searches (weights sqrt(mean x^2) + |x|),
// 6-bit scales/mins against d = max/63, then codes re-rounded to 0..nmax. Writes d, dmin,
// scales; returns the codes in L.
static void quantize_k4_common(const float *x, kite_f16 *dh, kite_f16 *dminh, uint8_t scales12[12], uint8_t *L,
                               int nmax, float rmin, int nstep) {
    float mins[QK_K / 32], scales[QK_K / 32], weights[32];
    uint8_t Laux[32], ls[QK_K / 32], lm[QK_K / 32];
    float max_scale = 0.0f, max_min = 0.0f;
    for (int j = 0; j < QK_K / 32; j++) {
        float sum_x2 = 0.0f;
        for (int l = 0; l < 32; l++) sum_x2 += x[32 * j + l] * x[32 * j + l];
        const float av_x = sqrtf(sum_x2 / 32.0f);
        for (int l = 0; l < 32; l++) weights[l] = av_x + fabsf(x[32 * j + l]);
        scales[j] = kite__make_qkx_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin, 0.1f, nstep, false);
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
    kite__k4_store_scales(ls, lm, max_scale / 63.0f, max_min / 63.0f, scales12, dh, dminh);
    kite__k4_round_codes(x, *dh, *dminh, scales12, L, nmax);
}

void kite_quantize_row_q4_K_ref(const float *restrict x, block_q4_K *restrict y, int64_t n) {
    KITE_ASSERT(n % QK_K == 0);
    uint8_t L[QK_K];
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        quantize_k4_common(x, &y[i].d, &y[i].dmin, y[i].scales, L, 15, -1.0f, 20);
        kite__q4_K_pack(L, &y[i]);
    }
}

void kite_quantize_row_q5_K_ref(const float *restrict x, block_q5_K *restrict y, int64_t n) {
    KITE_ASSERT(n % QK_K == 0);
    uint8_t L[QK_K];
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        quantize_k4_common(x, &y[i].d, &y[i].dmin, y[i].scales, L, 31, -0.5f, 15);
        kite__q5_K_pack(L, &y[i]);
    }
}

// ---- Q6_K: 16 x 16 values, 6-bit codes (4 in ql + 2 in qh), int8 scale per 16 -----------

void kite_quantize_row_q6_K_ref(const float *restrict x, block_q6_K *restrict y, int64_t n) {
    KITE_ASSERT(n % QK_K == 0);
    int8_t L[QK_K];
    float scales[QK_K / 16];
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        // weights x^2 (ggml's make_qx_quants without quant_weights)
        for (int ib = 0; ib < QK_K / 16; ib++) scales[ib] = kite__make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib, NULL);
        kite__q6_K_store(x, scales, &y[i], L);
    }
}
