// quant_ref_legacy.c - reference quantizers of the 32-value formats Q4_0, Q4_1, Q5_0, Q5_1.
// Scale from the block's extremes, then one rounding per value (bit-exact with ggml).
#include "quant/kite_quant.h"

#include <float.h>

#include "base/internal.h"
#include "blocks/block_util.h"

// The value of largest magnitude, signed (the first one wins on ties).
static float signed_absmax(const float *x, int n) {
    float amax;
    return kite__signed_absmax(x, n, &amax);
}

static void min_max(const float *x, int n, float *mn, float *mx) {
    float lo = FLT_MAX, hi = -FLT_MAX;
    for (int j = 0; j < n; j++) {
        if (x[j] < lo) lo = x[j];
        if (x[j] > hi) hi = x[j];
    }
    *mn = lo;
    *mx = hi;
}

// Packs 32 five-bit codes: low nibbles as Q4 (element j low, j+16 high), bit 4 of element j
// into bit j of the little-endian qh word.
static void pack_q5(const uint8_t *q, uint8_t *qs, uint8_t qh_out[4]) {
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
        qs[j] = (uint8_t)((q[j] & 0x0F) | ((q[j + 16] & 0x0F) << 4));
        qh |= ((q[j] & 0x10u) >> 4) << j;
        qh |= ((q[j + 16] & 0x10u) >> 4) << (j + 16);
    }
    for (int b = 0; b < 4; b++) qh_out[b] = (uint8_t)(qh >> (8 * b));
}

void kite_quantize_row_q4_0_ref(const float *restrict x, block_q4_0 *restrict y, int64_t n) {
    KITE_ASSERT(n % QK4_0 == 0);
    for (int64_t i = 0; i < n / QK4_0; i++, x += QK4_0) {
        // d = max/-8 maps the extreme to code 0 exactly and leaves 15 levels for the other sign
        const float d = signed_absmax(x, QK4_0) / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = kite_f32_to_f16(d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            // +8.5 then truncation = round half up onto 0..16; 16 (only +|max|) is clamped to 15
            int8_t a = kite__trunc_i8(x[j] * id + 8.5f), b = kite__trunc_i8(x[j + 16] * id + 8.5f);
            uint8_t q0 = (uint8_t)KITE_MIN(15, a), q1 = (uint8_t)KITE_MIN(15, b);
            y[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

void kite_quantize_row_q4_1_ref(const float *restrict x, block_q4_1 *restrict y, int64_t n) {
    KITE_ASSERT(n % QK4_1 == 0);
    for (int64_t i = 0; i < n / QK4_1; i++, x += QK4_1) {
        float mn, mx;
        min_max(x, QK4_1, &mn, &mx);
        const float d = (mx - mn) / 15.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = kite_f32_to_f16(d);
        y[i].m = kite_f32_to_f16(mn);
        for (int j = 0; j < QK4_1 / 2; j++) {
            int8_t a = kite__trunc_i8((x[j] - mn) * id + 0.5f), b = kite__trunc_i8((x[j + 16] - mn) * id + 0.5f);
            uint8_t q0 = (uint8_t)KITE_MIN(15, a), q1 = (uint8_t)KITE_MIN(15, b);
            y[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

void kite_quantize_row_q5_0_ref(const float *restrict x, block_q5_0 *restrict y, int64_t n) {
    KITE_ASSERT(n % QK5_0 == 0);
    for (int64_t i = 0; i < n / QK5_0; i++, x += QK5_0) {
        const float d = signed_absmax(x, QK5_0) / -16.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = kite_f32_to_f16(d);
        uint8_t q[QK5_0];
        for (int j = 0; j < QK5_0; j++) q[j] = (uint8_t)KITE_MIN(31, kite__trunc_i8(x[j] * id + 16.5f));
        pack_q5(q, y[i].qs, y[i].qh);
    }
}

void kite_quantize_row_q5_1_ref(const float *restrict x, block_q5_1 *restrict y, int64_t n) {
    KITE_ASSERT(n % QK5_1 == 0);
    for (int64_t i = 0; i < n / QK5_1; i++, x += QK5_1) {
        float mn, mx;
        min_max(x, QK5_1, &mn, &mx);
        const float d = (mx - mn) / 31.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = kite_f32_to_f16(d);
        y[i].m = kite_f32_to_f16(mn);
        uint8_t q[QK5_1];
        // no clamp here (ggml has none): (x-min)/d + 0.5 stays below 32 for finite input
        for (int j = 0; j < QK5_1; j++) q[j] = (uint8_t)kite__trunc_i8((x[j] - mn) * id + 0.5f);
        pack_q5(q, y[i].qs, y[i].qh);
    }
}
