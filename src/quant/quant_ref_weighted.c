// quant_ref_weighted.c - reference quantizers that take an importance matrix: one weight per
// column of the row (llama-imatrix's mean squared activation), as ggml's quantize_row_<type>_impl
// use them when llama-quantize is given --imatrix. The searches are ggml's weighted ones
// (make_qx_quants with weights and make_qkx3_quants from a kite__quant_search set, see
// quant_search.h; make_qp_quants for the sub-block scales); constants and float operation order
// follow ggml exactly, or the bytes stop matching.
#include "quant/kite_quant.h"

#include "base/internal.h"
#include "quant/quant_iq_grid.h"
#include "quant/quant_search.h"
#include "quant/quant_store.h"
#include "blocks/block_util.h"

#define GROUP_MAX_EPS 1e-15f // below this a group counts as all zero (ggml's GROUP_MAX_EPS)

// ---- weighted scale searches ------------------------------------------------------------------

// Positive grid 0..nmax for the (non-negative) sub-block scales and mins, weighted by each
// sub-block's total weight (ggml's make_qp_quants): the best of 9 grid densities by weighted
// squared error, then up to 5 passes of coordinate descent on the least-squares fit. L keeps
// ggml's uint8_t storage (a negative code would wrap exactly as there).
float kite__make_qp_quants(int n, int nmax, const float *x, uint8_t *L, const float *w) {
    float max = 0.0f;
    for (int i = 0; i < n; i++) max = KITE_MAX(max, x[i]);
    if (max < GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    float iscale = (float)nmax / max;
    for (int i = 0; i < n; i++) L[i] = (uint8_t)kite__nearest_int(iscale * x[i]);
    float scale = 1.0f / iscale;
    float best_mse = 0.0f;
    for (int i = 0; i < n; i++) {
        float diff = x[i] - scale * (float)L[i];
        best_mse += w[i] * diff * diff;
    }
    for (int is = -4; is <= 4; is++) {
        if (is == 0) continue;
        float iscale_is = (0.1f * (float)is + (float)nmax) / max;
        float scale_is = 1.0f / iscale_is;
        float mse = 0.0f;
        for (int i = 0; i < n; i++) {
            int l = KITE_MIN(nmax, kite__nearest_int(iscale_is * x[i]));
            float diff = x[i] - scale_is * (float)l;
            mse += w[i] * diff * diff;
        }
        if (mse < best_mse) {
            best_mse = mse;
            iscale = iscale_is;
        }
    }
    float sumlx = 0.0f, suml2 = 0.0f;
    for (int i = 0; i < n; i++) {
        int l = KITE_MIN(nmax, kite__nearest_int(iscale * x[i]));
        L[i] = (uint8_t)l;
        sumlx += w[i] * x[i] * (float)l;
        suml2 += w[i] * (float)l * (float)l;
    }
    for (int itry = 0; itry < 5; itry++) {
        int n_changed = 0;
        for (int i = 0; i < n; i++) {
            float slx = sumlx - w[i] * x[i] * (float)L[i];
            float sl2 = suml2 - w[i] * (float)L[i] * (float)L[i];
            if (slx > 0.0f && sl2 > 0.0f) {
                int new_l = KITE_MIN(nmax, kite__nearest_int(x[i] * sl2 / slx));
                if (new_l != L[i]) {
                    slx += w[i] * x[i] * (float)new_l;
                    sl2 += w[i] * (float)new_l * (float)new_l;
                    if (slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = (uint8_t)new_l;
                        sumlx = slx;
                        suml2 = sl2;
                        n_changed++;
                    }
                }
            }
        }
        if (!n_changed) break;
    }
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// Sum of squares of n values, in order (the sigma^2 terms below).
static float sum_sq(const float *x, int64_t n) {
    float s = 0.0f;
    for (int64_t j = 0; j < n; j++) s += x[j] * x[j];
    return s;
}

// Per-value weights qw * sqrt(sigma2 + x^2): the importance of the column times the value's
// own size against the row's spread.
static void weights_of(const float *x, const float *qw, float sigma2, float *w, int n) {
    for (int j = 0; j < n; j++) w[j] = qw[j] * sqrtf(sigma2 + x[j] * x[j]);
}

// weights_of over ngroups consecutive groups of len values, and each group's total weight
// sw[g] (summed in order): what the k-quants' sub-block scale grids are weighted by.
static void group_weights(const float *x, const float *qw, float sigma2, int ngroups, int len, float *w, float *sw) {
    for (int g = 0; g < ngroups; g++) {
        weights_of(x + len * g, qw + len * g, sigma2, w + len * g, len);
        float sum = 0.0f;
        for (int l = 0; l < len; l++) sum += w[len * g + l];
        sw[g] = sum;
    }
}

// ---- 32-value formats (sigma^2 over the whole row) --------------------------------------------

// The codes L of one block x of 32 values on the symmetric grid -nmax..nmax-1 (Q4_0: 8, Q5_0:
// 16; make_qx_quants), weighted by weights_of(qw, sigma2). Returns the scale.
static float block_codes_sym(const float *x, const float *qw, float sigma2, int nmax, const kite__quant_search *s,
                             uint8_t L[32]) {
    float w[32];
    weights_of(x, qw, sigma2, w, 32);
    return s->qx(32, nmax, x, (int8_t *)L, w);
}

// The codes L of one block x of 32 values on the grid d * (0..nmax) - m (Q4_1: 15, Q5_1: 31;
// make_qkx3_quants), weighted by weights_of(qw, sigma2). Returns d, the min m in *m.
static float block_codes_min(const float *x, const float *qw, float sigma2, int nmax, const kite__quant_search *s,
                             uint8_t L[32], float *m) {
    float w[32], min;
    weights_of(x, qw, sigma2, w, 32);
    const float d = s->qkx(32, nmax, x, w, L, &min, -0.9f, 0.05f, 36, false);
    *m = -min;
    return d;
}

void kite__quantize_row_q4_0_w_with(const float *restrict x, block_q4_0 *restrict y, int64_t n_per_row, const float *qw,
                                  const kite__quant_search *s) {
    KITE_ASSERT(n_per_row % QK4_0 == 0);
    const float sigma2 = sum_sq(x, n_per_row) / (float)n_per_row;
    uint8_t L[QK4_0];
    for (int64_t ib = 0; ib < n_per_row / QK4_0; ib++) {
        y[ib].d = kite_f32_to_f16(block_codes_sym(x + QK4_0 * ib, qw + QK4_0 * ib, sigma2, 8, s, L));
        kite__pack_q4(L, y[ib].qs);
    }
}

void kite__quantize_row_q4_1_w_with(const float *restrict x, block_q4_1 *restrict y, int64_t n_per_row, const float *qw,
                                  const kite__quant_search *s) {
    KITE_ASSERT(n_per_row % QK4_1 == 0);
    const float sigma2 = sum_sq(x, n_per_row) / (float)n_per_row;
    uint8_t L[QK4_1];
    float m;
    for (int64_t ib = 0; ib < n_per_row / QK4_1; ib++) {
        y[ib].d = kite_f32_to_f16(block_codes_min(x + QK4_1 * ib, qw + QK4_1 * ib, sigma2, 15, s, L, &m));
        y[ib].m = kite_f32_to_f16(m);
        kite__pack_q4(L, y[ib].qs);
    }
}

void kite__quantize_row_q5_0_w_with(const float *restrict x, block_q5_0 *restrict y, int64_t n_per_row, const float *qw,
                                  const kite__quant_search *s) {
    KITE_ASSERT(n_per_row % QK5_0 == 0);
    const float sigma2 = sum_sq(x, n_per_row) / (float)n_per_row;
    uint8_t L[QK5_0];
    for (int64_t ib = 0; ib < n_per_row / QK5_0; ib++) {
        y[ib].d = kite_f32_to_f16(block_codes_sym(x + QK5_0 * ib, qw + QK5_0 * ib, sigma2, 16, s, L));
        kite__pack_q5(L, y[ib].qs, y[ib].qh);
    }
}

void kite__quantize_row_q5_1_w_with(const float *restrict x, block_q5_1 *restrict y, int64_t n_per_row, const float *qw,
                                  const kite__quant_search *s) {
    KITE_ASSERT(n_per_row % QK5_1 == 0);
    const float sigma2 = sum_sq(x, n_per_row) / (float)n_per_row;
    uint8_t L[QK5_1];
    float m;
    for (int64_t ib = 0; ib < n_per_row / QK5_1; ib++) {
        y[ib].d = kite_f32_to_f16(block_codes_min(x + QK5_1 * ib, qw + QK5_1 * ib, sigma2, 31, s, L, &m));
        y[ib].m = kite_f32_to_f16(m);
        kite__pack_q5(L, y[ib].qs, y[ib].qh);
    }
}

// ---- k-quants (sigma^2 per super-block) --------------------------------------------------------

void kite__quantize_row_q2_K_w_with(const float *restrict x, block_q2_K *restrict y, int64_t n_per_row, const float *qw,
                                  const kite__quant_search *s) {
    KITE_ASSERT(n_per_row % QK_K == 0);
    uint8_t L[QK_K], Ls[QK_K / 16], Lm[QK_K / 16];
    float mins[QK_K / 16], scales[QK_K / 16], sw[QK_K / 16], w[QK_K];
    for (int64_t i = 0; i < n_per_row / QK_K; i++, x += QK_K) {
        const float sigma2 = sum_sq(x, QK_K) / (float)QK_K;
        group_weights(x, qw + QK_K * i, sigma2, QK_K / 16, 16, w, sw);
        s->qkx_groups(QK_K / 16, 16, 3, x, w, L, scales, mins, -0.9f, 0.05f, 36, false);
        y[i].d = kite_f32_to_f16(kite__make_qp_quants(QK_K / 16, 15, scales, Ls, sw));
        y[i].dmin = kite_f32_to_f16(kite__make_qp_quants(QK_K / 16, 15, mins, Lm, sw));
        for (int j = 0; j < QK_K / 16; j++) y[i].scales[j] = (uint8_t)(Ls[j] | (Lm[j] << 4));
        kite__q2_K_store_codes(x, &y[i], L, s);
    }
}

void kite__quantize_row_q3_K_w_with(const float *restrict x, block_q3_K *restrict y, int64_t n_per_row, const float *qw,
                                  const kite__quant_search *s) {
    KITE_ASSERT(n_per_row % QK_K == 0);
    int8_t L[QK_K], Ls[QK_K / 16];
    float scales[QK_K / 16], w[QK_K], sw[QK_K / 16];
    for (int64_t i = 0; i < n_per_row / QK_K; i++, x += QK_K) {
        const float sigma2 = 2.0f * sum_sq(x, QK_K) / (float)QK_K;
        group_weights(x, qw + QK_K * i, sigma2, QK_K / 16, 16, w, sw);
        s->qx_groups(QK_K / 16, 16, 4, x, L, w, scales);
        // the 16 scales get a weighted 6-bit grid of their own; codes 0..63 stand for -32..31
        const float d_block = s->qx(QK_K / 16, 32, scales, Ls, sw);
        kite__q3_K_store_scales(Ls, y[i].scales);
        y[i].d = kite_f32_to_f16(d_block);
        kite__q3_K_store_codes(x, &y[i], L, s);
    }
}

// Q4_K / Q5_K front half with weights: sub-block searches, then 6-bit scales and mins on
// weighted grids of their own; codes re-rounded to 0..nmax against the stored values.
static void k4_common_w(const float *x, const float *qw, kite_f16 *dh, kite_f16 *dminh, uint8_t s[12], uint8_t *L,
                        int nmax, const kite__quant_search *srch) {
    uint8_t Ls[QK_K / 32], Lm[QK_K / 32];
    float w[QK_K], sw[QK_K / 32], mins[QK_K / 32], scales[QK_K / 32];
    const float sigma2 = 2.0f * sum_sq(x, QK_K) / (float)QK_K;
    group_weights(x, qw, sigma2, QK_K / 32, 32, w, sw);
    srch->qkx_groups(QK_K / 32, 32, nmax, x, w, L, scales, mins, -0.9f, 0.05f, 36, false);
    const float d_block = kite__make_qp_quants(QK_K / 32, 63, scales, Ls, sw);
    const float m_block = kite__make_qp_quants(QK_K / 32, 63, mins, Lm, sw);
    // ggml's Q5_K clamps the codes to 6 bits, its Q4_K does not: they differ only on a code that
    // wrapped (a negative scale), and then the bytes must still match
    if (nmax == 31) {
        for (int j = 0; j < QK_K / 32; j++) {
            Ls[j] = KITE_MIN(63, Ls[j]);
            Lm[j] = KITE_MIN(63, Lm[j]);
        }
    }
    kite__k4_store_scales(Ls, Lm, s);
    *dh = kite_f32_to_f16(d_block);
    *dminh = kite_f32_to_f16(m_block);
    kite__k4_round_codes(x, *dh, *dminh, s, nmax, L, srch);
}

void kite__quantize_row_q4_K_w_with(const float *restrict x, block_q4_K *restrict y, int64_t n_per_row, const float *qw,
                                  const kite__quant_search *s) {
    KITE_ASSERT(n_per_row % QK_K == 0);
    uint8_t L[QK_K];
    for (int64_t i = 0; i < n_per_row / QK_K; i++, x += QK_K) {
        k4_common_w(x, qw + QK_K * i, &y[i].d, &y[i].dmin, y[i].scales, L, 15, s);
        kite__q4_K_pack_codes(L, y[i].qs);
    }
}

void kite__quantize_row_q5_K_w_with(const float *restrict x, block_q5_K *restrict y, int64_t n_per_row, const float *qw,
                                  const kite__quant_search *s) {
    KITE_ASSERT(n_per_row % QK_K == 0);
    uint8_t L[QK_K];
    for (int64_t i = 0; i < n_per_row / QK_K; i++, x += QK_K) {
        k4_common_w(x, qw + QK_K * i, &y[i].d, &y[i].dmin, y[i].scales, L, 31, s);
        kite__q5_K_pack_codes(L, y[i].qs, y[i].qh);
    }
}

void kite__quantize_row_q6_K_w_with(const float *restrict x, block_q6_K *restrict y, int64_t n_per_row, const float *qw,
                                  const kite__quant_search *s) {
    KITE_ASSERT(n_per_row % QK_K == 0);
    int8_t L[QK_K];
    float scales[QK_K / 16];
    for (int64_t i = 0; i < n_per_row / QK_K; i++, x += QK_K) {
        float max_scale = 0.0f, max_abs_scale = 0.0f;
        // the column weights as they are (ggml does not scale them by sigma here)
        s->qx_groups(QK_K / 16, 16, 32, x, L, qw + QK_K * i, scales);
        for (int ib = 0; ib < QK_K / 16; ib++) {
            float a = fabsf(scales[ib]);
            if (a > max_abs_scale) { max_abs_scale = a; max_scale = scales[ib]; }
        }
        if (max_abs_scale < GROUP_MAX_EPS) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        // -128/max: the largest scale becomes -128, the int8 end with one more level
        const float iscale = -128.0f / max_scale;
        y[i].d = kite_f32_to_f16(1.0f / iscale);
        for (int ib = 0; ib < QK_K / 16; ib++) y[i].scales[ib] = (int8_t)KITE_MIN(127, kite__nearest_int(iscale * scales[ib]));
        for (int j = 0; j < QK_K / 16; j++) {
            const float d = kite_f16_to_f32(y[i].d) * (float)y[i].scales[j];
            if (d == 0.0f) continue;
            s->round_sym(x + 16 * j, 16, d, -32, 31, L + 16 * j);
        }
        // half h: ql[l] = e(l) | e(l+64) << 4, ql[l+32] = e(l+32) | e(l+96) << 4 (low nibbles);
        // qh[l] = top 2 bits of e(l), e(l+32), e(l+64), e(l+96) at bits 0, 2, 4, 6
        for (int h = 0; h < 2; h++) {
            const int8_t *e = L + 128 * h;
            uint8_t *ql = y[i].ql + 64 * h, *qh = y[i].qh + 32 * h;
            for (int l = 0; l < 32; l++) {
                ql[l] = (uint8_t)((e[l] & 0xF) | ((e[l + 64] & 0xF) << 4));
                ql[l + 32] = (uint8_t)((e[l + 32] & 0xF) | ((e[l + 96] & 0xF) << 4));
                qh[l] = (uint8_t)((e[l] >> 4) | ((e[l + 32] >> 4) << 2) | ((e[l + 64] >> 4) << 4) | ((e[l + 96] >> 4) << 6));
            }
        }
    }
}

// ---- the reference entry points: the rows above on the scalar searches -------------------------

void kite_quantize_row_q4_0_w_ref(const float *restrict x, block_q4_0 *restrict y, int64_t n_per_row, const float *qw) {
    kite__quantize_row_q4_0_w_with(x, y, n_per_row, qw, &kite__quant_search_ref);
}

void kite_quantize_row_q4_1_w_ref(const float *restrict x, block_q4_1 *restrict y, int64_t n_per_row, const float *qw) {
    kite__quantize_row_q4_1_w_with(x, y, n_per_row, qw, &kite__quant_search_ref);
}

void kite_quantize_row_q5_0_w_ref(const float *restrict x, block_q5_0 *restrict y, int64_t n_per_row, const float *qw) {
    kite__quantize_row_q5_0_w_with(x, y, n_per_row, qw, &kite__quant_search_ref);
}

void kite_quantize_row_q5_1_w_ref(const float *restrict x, block_q5_1 *restrict y, int64_t n_per_row, const float *qw) {
    kite__quantize_row_q5_1_w_with(x, y, n_per_row, qw, &kite__quant_search_ref);
}

void kite_quantize_row_q2_K_w_ref(const float *restrict x, block_q2_K *restrict y, int64_t n_per_row, const float *qw) {
    kite__quantize_row_q2_K_w_with(x, y, n_per_row, qw, &kite__quant_search_ref);
}

void kite_quantize_row_q3_K_w_ref(const float *restrict x, block_q3_K *restrict y, int64_t n_per_row, const float *qw) {
    kite__quantize_row_q3_K_w_with(x, y, n_per_row, qw, &kite__quant_search_ref);
}

void kite_quantize_row_q4_K_w_ref(const float *restrict x, block_q4_K *restrict y, int64_t n_per_row, const float *qw) {
    kite__quantize_row_q4_K_w_with(x, y, n_per_row, qw, &kite__quant_search_ref);
}

void kite_quantize_row_q5_K_w_ref(const float *restrict x, block_q5_K *restrict y, int64_t n_per_row, const float *qw) {
    kite__quantize_row_q5_K_w_with(x, y, n_per_row, qw, &kite__quant_search_ref);
}

void kite_quantize_row_q6_K_w_ref(const float *restrict x, block_q6_K *restrict y, int64_t n_per_row, const float *qw) {
    kite__quantize_row_q6_K_w_with(x, y, n_per_row, qw, &kite__quant_search_ref);
}
