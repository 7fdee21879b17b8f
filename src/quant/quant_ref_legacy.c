// quant_ref_legacy.c - reference quantizers of the 32-value formats Q4_0, Q4_1, Q5_0, Q5_1.
// Scale from the block's extremes, then one rounding per value (bit-exact with ggml). The 4- and
// 5-bit twins differ only in their number of levels and in how the codes are packed.
#include "quant/kite_quant.h"

#include <float.h>
#include <stdint.h>

#include "base/internal.h"
#include "blocks/block_util.h"
#include "quant/quant_store.h"

// The 32 codes of a block on the symmetric grid of 2 * half levels (Q4_0: half 8, Q5_0: 16):
// d = max / -half maps the value of largest magnitude to code 0 exactly and leaves 2 * half - 1
// levels for the other sign; + half + 0.5 then truncation rounds half up onto 0..2 * half, and
// 2 * half (only +|max|) is clamped to 2 * half - 1. Returns d.
static float codes_sym(const float *x, int half, uint8_t q[32]) {
    float amax;
    const float d = kite__signed_absmax(x, 32, &amax) / -(float)half;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < 32; j++) q[j] = (uint8_t)KITE_MIN(2 * half - 1, kite__trunc_i8(x[j] * id + ((float)half + 0.5f)));
    return d;
}

// The 32 codes of a block on the grid min + d * (0..nmax) (Q4_1: nmax 15, Q5_1: 31), d =
// (max - min) / nmax, rounded half up, then at most qmax (Q5_1 passes INT8_MAX, no clamp: ggml
// has none there; (x - min) / d + 0.5 stays below 32 for finite input). Returns d, the minimum
// in *mn.
static float codes_min(const float *x, int nmax, int qmax, float *mn, uint8_t q[32]) {
    float lo = FLT_MAX, hi = -FLT_MAX;
    for (int j = 0; j < 32; j++) {
        if (x[j] < lo) lo = x[j];
        if (x[j] > hi) hi = x[j];
    }
    const float d = (hi - lo) / (float)nmax;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < 32; j++) q[j] = (uint8_t)KITE_MIN(qmax, kite__trunc_i8((x[j] - lo) * id + 0.5f));
    *mn = lo;
    return d;
}

void kite_quantize_row_q4_0_ref(const float *restrict x, block_q4_0 *restrict y, int64_t n) {
    KITE_ASSERT(n % QK4_0 == 0);
    uint8_t q[QK4_0];
    for (int64_t i = 0; i < n / QK4_0; i++, x += QK4_0) {
        y[i].d = kite_f32_to_f16(codes_sym(x, 8, q));
        kite__pack_q4(q, y[i].qs);
    }
}

void kite_quantize_row_q4_1_ref(const float *restrict x, block_q4_1 *restrict y, int64_t n) {
    KITE_ASSERT(n % QK4_1 == 0);
    uint8_t q[QK4_1];
    float mn;
    for (int64_t i = 0; i < n / QK4_1; i++, x += QK4_1) {
        y[i].d = kite_f32_to_f16(codes_min(x, 15, 15, &mn, q));
        y[i].m = kite_f32_to_f16(mn);
        kite__pack_q4(q, y[i].qs);
    }
}

void kite_quantize_row_q5_0_ref(const float *restrict x, block_q5_0 *restrict y, int64_t n) {
    KITE_ASSERT(n % QK5_0 == 0);
    uint8_t q[QK5_0];
    for (int64_t i = 0; i < n / QK5_0; i++, x += QK5_0) {
        y[i].d = kite_f32_to_f16(codes_sym(x, 16, q));
        kite__pack_q5(q, y[i].qs, y[i].qh);
    }
}

void kite_quantize_row_q5_1_ref(const float *restrict x, block_q5_1 *restrict y, int64_t n) {
    KITE_ASSERT(n % QK5_1 == 0);
    uint8_t q[QK5_1];
    float mn;
    for (int64_t i = 0; i < n / QK5_1; i++, x += QK5_1) {
        y[i].d = kite_f32_to_f16(codes_min(x, 31, INT8_MAX, &mn, q));
        y[i].m = kite_f32_to_f16(mn);
        kite__pack_q5(q, y[i].qs, y[i].qh);
    }
}
