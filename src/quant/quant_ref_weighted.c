// quant_ref_weighted.c - reference quantizers that take an importance matrix: one weight per
// column of the row (llama-imatrix's mean squared activation), as ggml's quantize_row_<type>_impl
// use them when llama-quantize is given --imatrix. The searches are ggml's weighted ones
// (quant_search.c: make_qx_quants with weights, make_qkx3_quants, make_qp_quants for the
// sub-block scales); constants and float operation order follow ggml exactly, or the bytes
// stop matching.
#include "quant/kite_quant.h"

#include "base/internal.h"
#include "blocks/block_util.h"
#include "quant/quant_search.h"
#include "quant/quant_store.h"

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

// ---- 32-value formats (sigma^2 over the whole row) --------------------------------------------

void kite_quantize_row_q4_0_w_ref(const float *restrict x, block_q4_0 *restrict y, int64_t n_per_row, const float *qw) {
    KITE_ASSERT(n_per_row % QK4_0 == 0);
    const float sigma2 = sum_sq(x, n_per_row) / (float)n_per_row;
    float w[QK4_0];
    int8_t L[QK4_0];
    for (int64_t ib = 0; ib < n_per_row / QK4_0; ib++) {
        const float *xb = x + QK4_0 * ib;
        weights_of(xb, qw + QK4_0 * ib, sigma2, w, QK4_0);
        y[ib].d = kite_f32_to_f16(kite__make_qx_quants(QK4_0, 8, xb, L, w));
        for (int j = 0; j < 16; j++) y[ib].qs[j] = (uint8_t)(L[j] | (L[j + 16] << 4));
    }
}

void kite_quantize_row_q4_1_w_ref(const float *restrict x, block_q4_1 *restrict y, int64_t n_per_row, const float *qw) {
    KITE_ASSERT(n_per_row % QK4_1 == 0);
    const float sigma2 = sum_sq(x, n_per_row) / (float)n_per_row;
    float w[QK4_1], min;
    uint8_t L[QK4_1], Laux[QK4_1];
    for (int64_t ib = 0; ib < n_per_row / QK4_1; ib++) {
        const float *xb = x + QK4_1 * ib;
        weights_of(xb, qw + QK4_1 * ib, sigma2, w, QK4_1);
        float d = kite__make_qkx_quants(QK4_1, 15, xb, w, L, &min, Laux, -0.9f, 0.05f, 36, false);
        y[ib].d = kite_f32_to_f16(d);
        y[ib].m = kite_f32_to_f16(-min);
        for (int j = 0; j < 16; j++) y[ib].qs[j] = (uint8_t)(L[j] | (L[j + 16] << 4));
    }
}

void kite_quantize_row_q5_0_w_ref(const float *restrict x, block_q5_0 *restrict y, int64_t n_per_row, const float *qw) {
    KITE_ASSERT(n_per_row % QK5_0 == 0);
    const float sigma2 = sum_sq(x, n_per_row) / (float)n_per_row;
    float w[QK5_0];
    int8_t L[QK5_0];
    for (int64_t ib = 0; ib < n_per_row / QK5_0; ib++) {
        const float *xb = x + QK5_0 * ib;
        weights_of(xb, qw + QK5_0 * ib, sigma2, w, QK5_0);
        y[ib].d = kite_f32_to_f16(kite__make_qx_quants(QK5_0, 16, xb, L, w));
        kite__pack_q5((const uint8_t *)L, y[ib].qs, y[ib].qh);
    }
}

void kite_quantize_row_q5_1_w_ref(const float *restrict x, block_q5_1 *restrict y, int64_t n_per_row, const float *qw) {
    KITE_ASSERT(n_per_row % QK5_1 == 0);
    const float sigma2 = sum_sq(x, n_per_row) / (float)n_per_row;
    float w[QK5_1], min;
    uint8_t L[QK5_1], Laux[QK5_1];
    for (int64_t ib = 0; ib < n_per_row / QK5_1; ib++) {
        const float *xb = x + QK5_1 * ib;
        weights_of(xb, qw + QK5_1 * ib, sigma2, w, QK5_1);
        float d = kite__make_qkx_quants(QK5_1, 31, xb, w, L, &min, Laux, -0.9f, 0.05f, 36, false);
        y[ib].d = kite_f32_to_f16(d);
        y[ib].m = kite_f32_to_f16(-min);
        kite__pack_q5(L, y[ib].qs, y[ib].qh);
    }
}

// ---- k-quants (sigma^2 per super-block) --------------------------------------------------------

void kite_quantize_row_q2_K_w_ref(const float *restrict x, block_q2_K *restrict y, int64_t n_per_row, const float *qw) {
    KITE_ASSERT(n_per_row % QK_K == 0);
    uint8_t L[QK_K], Laux[16], Ls[QK_K / 16], Lm[QK_K / 16];
    float mins[QK_K / 16], scales[QK_K / 16], sw[QK_K / 16], w[16];
    for (int64_t i = 0; i < n_per_row / QK_K; i++, x += QK_K) {
        const float sigma2 = sum_sq(x, QK_K) / (float)QK_K;
        for (int j = 0; j < QK_K / 16; j++) {
            weights_of(x + 16 * j, qw + QK_K * i + 16 * j, sigma2, w, 16);
            sw[j] = 0.0f;
            for (int l = 0; l < 16; l++) sw[j] += w[l];
            scales[j] = kite__make_qkx_quants(16, 3, x + 16 * j, w, L + 16 * j, &mins[j], Laux, -0.9f, 0.05f, 36, false);
        }
        y[i].d = kite_f32_to_f16(kite__make_qp_quants(QK_K / 16, 15, scales, Ls, sw));
        y[i].dmin = kite_f32_to_f16(kite__make_qp_quants(QK_K / 16, 15, mins, Lm, sw));
        for (int j = 0; j < QK_K / 16; j++) y[i].scales[j] = (uint8_t)(Ls[j] | (Lm[j] << 4));
        kite__q2_K_store_codes(x, &y[i], L);
    }
}

void kite_quantize_row_q3_K_w_ref(const float *restrict x, block_q3_K *restrict y, int64_t n_per_row, const float *qw) {
    KITE_ASSERT(n_per_row % QK_K == 0);
    int8_t L[QK_K], Ls[QK_K / 16];
    float scales[QK_K / 16], w[16], sw[QK_K / 16];
    for (int64_t i = 0; i < n_per_row / QK_K; i++, x += QK_K) {
        const float sigma2 = 2.0f * sum_sq(x, QK_K) / (float)QK_K;
        for (int j = 0; j < QK_K / 16; j++) {
            weights_of(x + 16 * j, qw + QK_K * i + 16 * j, sigma2, w, 16);
            float sumw = 0.0f;
            for (int l = 0; l < 16; l++) sumw += w[l];
            sw[j] = sumw;
            scales[j] = kite__make_qx_quants(16, 4, x + 16 * j, L + 16 * j, w);
        }
        // the 16 scales get a weighted 6-bit grid of their own; codes 0..63 stand for -32..31
        const float d_block = kite__make_qx_quants(QK_K / 16, 32, scales, Ls, sw);
        kite__q3_K_store_scales(Ls, &y[i]);
        y[i].d = kite_f32_to_f16(d_block);
        kite__q3_K_store_codes(x, &y[i], L);
    }
}

// Q4_K / Q5_K front half with weights: sub-block searches, then 6-bit scales and mins on
// weighted grids of their own; codes re-rounded to 0..nmax against the stored values.
static void k4_common_w(const float *x, const float *qw, kite_f16 *dh, kite_f16 *dminh, uint8_t s[12], uint8_t *L,
                        int nmax) {
    uint8_t Laux[32], Ls[QK_K / 32], Lm[QK_K / 32];
    float w[32], sw[QK_K / 32], mins[QK_K / 32], scales[QK_K / 32];
    const float sigma2 = 2.0f * sum_sq(x, QK_K) / (float)QK_K;
    for (int j = 0; j < QK_K / 32; j++) {
        weights_of(x + 32 * j, qw + 32 * j, sigma2, w, 32);
        float sumw = 0.0f;
        for (int l = 0; l < 32; l++) sumw += w[l];
        sw[j] = sumw;
        scales[j] = kite__make_qkx_quants(32, nmax, x + 32 * j, w, L + 32 * j, &mins[j], Laux, -0.9f, 0.05f, 36, false);
    }
    const float d_block = kite__make_qp_quants(QK_K / 32, 63, scales, Ls, sw);
    const float m_block = kite__make_qp_quants(QK_K / 32, 63, mins, Lm, sw);
    if (nmax == 31) {
        // ggml's Q5_K clamps to 6 bits, its Q4_K does not: they differ only on a code that
        // wrapped (a negative scale), and then the bytes must still match
        for (int j = 0; j < QK_K / 32; j++) {
            Ls[j] = KITE_MIN(63, Ls[j]);
            Lm[j] = KITE_MIN(63, Lm[j]);
        }
    }
    kite__k4_store_scales(Ls, Lm, d_block, m_block, s, dh, dminh);
    kite__k4_round_codes(x, *dh, *dminh, s, L, nmax);
}

void kite_quantize_row_q4_K_w_ref(const float *restrict x, block_q4_K *restrict y, int64_t n_per_row, const float *qw) {
    KITE_ASSERT(n_per_row % QK_K == 0);
    uint8_t L[QK_K];
    for (int64_t i = 0; i < n_per_row / QK_K; i++, x += QK_K) {
        k4_common_w(x, qw + QK_K * i, &y[i].d, &y[i].dmin, y[i].scales, L, 15);
        kite__q4_K_pack(L, &y[i]);
    }
}

void kite_quantize_row_q5_K_w_ref(const float *restrict x, block_q5_K *restrict y, int64_t n_per_row, const float *qw) {
    KITE_ASSERT(n_per_row % QK_K == 0);
    uint8_t L[QK_K];
    for (int64_t i = 0; i < n_per_row / QK_K; i++, x += QK_K) {
        k4_common_w(x, qw + QK_K * i, &y[i].d, &y[i].dmin, y[i].scales, L, 31);
        kite__q5_K_pack(L, &y[i]);
    }
}

void kite_quantize_row_q6_K_w_ref(const float *restrict x, block_q6_K *restrict y, int64_t n_per_row, const float *qw) {
    KITE_ASSERT(n_per_row % QK_K == 0);
    int8_t L[QK_K];
    float scales[QK_K / 16];
    for (int64_t i = 0; i < n_per_row / QK_K; i++, x += QK_K) {
        // the column weights as they are (ggml does not scale them by sigma here)
        for (int ib = 0; ib < QK_K / 16; ib++)
            scales[ib] = kite__make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib, qw + QK_K * i + 16 * ib);
        kite__q6_K_store(x, scales, &y[i], L);
    }
}
