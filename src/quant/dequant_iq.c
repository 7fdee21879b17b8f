// dequant_iq.c - reference dequantizers of the grid formats (IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS,
// IQ3_S, IQ1_S, IQ1_M), the ternary TQ1_0/TQ2_0 and MXFP4. Each value is scale * grid byte *
// sign, with ggml's float operation order (bit-exact with its dequantize_row_<type>).
#include "quant/kite_quant.h"

#include "base/internal.h"
#include "blocks/iq_tables.h"
#include "blocks/block_util.h"

// 8 values: dl * grid byte j, negated where bit j of signs is set.
static inline void put8(float *y, float dl, const uint8_t *grid, uint8_t signs) {
    for (int j = 0; j < 8; j++) y[j] = dl * (float)grid[j] * ((signs >> j) & 1 ? -1.0f : 1.0f);
}

void kite_dequantize_row_iq2_xxs_ref(const block_iq2_xxs *x, float *y, int64_t n) {
    KITE_ASSERT(n % QK_K == 0);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = kite_f16_to_f32(x[i].d);
        for (int ib = 0; ib < QK_K / 32; ib++, y += 32) {
            const uint8_t *idx = (const uint8_t *)(x[i].qs + 4 * ib);
            const uint32_t hi = kite__rd32(idx + 4);
            const float db = d * (0.5f + (float)(hi >> 28)) * 0.25f;
            for (int l = 0; l < 4; l++)
                put8(y + 8 * l, db, (const uint8_t *)&kite__iq2xxs_grid[idx[l]], kite__ksigns_iq2xs[(hi >> (7 * l)) & 127]);
        }
    }
}

void kite_dequantize_row_iq2_xs_ref(const block_iq2_xs *x, float *y, int64_t n) {
    KITE_ASSERT(n % QK_K == 0);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = kite_f16_to_f32(x[i].d);
        for (int ib = 0; ib < QK_K / 32; ib++, y += 32) {
            const float db[2] = {d * (0.5f + (float)(x[i].scales[ib] & 0xf)) * 0.25f,
                                 d * (0.5f + (float)(x[i].scales[ib] >> 4)) * 0.25f};
            for (int l = 0; l < 4; l++) {
                const uint16_t q = x[i].qs[4 * ib + l];
                put8(y + 8 * l, db[l / 2], (const uint8_t *)&kite__iq2xs_grid[q & 511], kite__ksigns_iq2xs[q >> 9]);
            }
        }
    }
}

void kite_dequantize_row_iq2_s_ref(const block_iq2_s *x, float *y, int64_t n) {
    KITE_ASSERT(n % QK_K == 0);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = kite_f16_to_f32(x[i].d);
        const uint8_t *qs = x[i].qs, *signs = x[i].qs + QK_K / 8;
        for (int ib = 0; ib < QK_K / 32; ib++, y += 32) {
            const float db[2] = {d * (0.5f + (float)(x[i].scales[ib] & 0xf)) * 0.25f,
                                 d * (0.5f + (float)(x[i].scales[ib] >> 4)) * 0.25f};
            for (int l = 0; l < 4; l++) {
                const int idx = qs[4 * ib + l] | ((x[i].qh[ib] << (8 - 2 * l)) & 0x300);
                put8(y + 8 * l, db[l / 2], (const uint8_t *)&kite__iq2s_grid[idx], signs[4 * ib + l]);
            }
        }
    }
}

void kite_dequantize_row_iq3_xxs_ref(const block_iq3_xxs *x, float *y, int64_t n) {
    KITE_ASSERT(n % QK_K == 0);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = kite_f16_to_f32(x[i].d);
        const uint8_t *qs = x[i].qs, *ss = x[i].qs + QK_K / 4;
        for (int ib = 0; ib < QK_K / 32; ib++, y += 32) {
            const uint32_t aux = kite__rd32(ss + 4 * ib);
            const float db = d * (0.5f + (float)(aux >> 28)) * 0.5f;
            for (int l = 0; l < 4; l++) {
                const uint8_t signs = kite__ksigns_iq2xs[(aux >> (7 * l)) & 127];
                const uint8_t *g1 = (const uint8_t *)&kite__iq3xxs_grid[qs[8 * ib + 2 * l]];
                const uint8_t *g2 = (const uint8_t *)&kite__iq3xxs_grid[qs[8 * ib + 2 * l + 1]];
                for (int j = 0; j < 4; j++) {
                    y[8 * l + j] = db * (float)g1[j] * ((signs >> j) & 1 ? -1.0f : 1.0f);
                    y[8 * l + j + 4] = db * (float)g2[j] * ((signs >> (j + 4)) & 1 ? -1.0f : 1.0f);
                }
            }
        }
    }
}

void kite_dequantize_row_iq3_s_ref(const block_iq3_s *x, float *y, int64_t n) {
    KITE_ASSERT(n % QK_K == 0);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = kite_f16_to_f32(x[i].d);
        for (int ib = 0; ib < QK_K / 32; ib++, y += 32) {
            const int s = (x[i].scales[ib / 2] >> (4 * (ib % 2))) & 0xf;
            const float db = d * (float)(1 + 2 * s);
            const uint8_t *qs = x[i].qs + 8 * ib, *signs = x[i].signs + 4 * ib;
            const int qh = x[i].qh[ib];
            for (int l = 0; l < 4; l++) {
                const uint8_t *g1 = (const uint8_t *)&kite__iq3s_grid[qs[2 * l] | ((qh << (8 - 2 * l)) & 256)];
                const uint8_t *g2 = (const uint8_t *)&kite__iq3s_grid[qs[2 * l + 1] | ((qh << (7 - 2 * l)) & 256)];
                for (int j = 0; j < 4; j++) {
                    y[8 * l + j] = db * (float)g1[j] * ((signs[l] >> j) & 1 ? -1.0f : 1.0f);
                    y[8 * l + j + 4] = db * (float)g2[j] * ((signs[l] >> (j + 4)) & 1 ? -1.0f : 1.0f);
                }
            }
        }
    }
}

void kite_dequantize_row_iq1_s_ref(const block_iq1_s *x, float *y, int64_t n) {
    KITE_ASSERT(n % QK_K == 0);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = kite_f16_to_f32(x[i].d);
        for (int ib = 0; ib < QK_K / 32; ib++, y += 32) {
            const uint16_t qh = x[i].qh[ib];
            const float dl = d * (float)(2 * ((qh >> 12) & 7) + 1);
            const float delta = qh & 0x8000 ? -IQ1S_DELTA : IQ1S_DELTA;
            for (int l = 0; l < 4; l++) {
                const int8_t *g = (const int8_t *)&kite__iq1s_grid[x[i].qs[4 * ib + l] | (((qh >> (3 * l)) & 7) << 8)];
                for (int j = 0; j < 8; j++) y[8 * l + j] = dl * ((float)g[j] + delta);
            }
        }
    }
}

void kite_dequantize_row_iq1_m_ref(const block_iq1_m *x, float *y, int64_t n) {
    KITE_ASSERT(n % QK_K == 0);
    for (int64_t i = 0; i < n / QK_K; i++) {
        uint16_t sc[4];
        memcpy(sc, x[i].scales, sizeof sc);
        const float d = kite_f16_to_f32(kite__iq1m_scale(&x[i]));
        for (int ib = 0; ib < QK_K / 32; ib++, y += 32) {
            const uint8_t *qs = x[i].qs + 4 * ib, *qh = x[i].qh + 2 * ib;
            const float dl[2] = {d * (float)(2 * ((sc[ib / 2] >> (6 * (ib % 2) + 0)) & 7) + 1),
                                 d * (float)(2 * ((sc[ib / 2] >> (6 * (ib % 2) + 3)) & 7) + 1)};
            for (int l = 0; l < 4; l++) {
                const uint8_t h = qh[l / 2] >> (4 * (l % 2)); // low nibble: index bits 8..10, bit 3: shift sign
                const int idx = qs[l] | ((h & 7) << 8);
                const float delta = h & 8 ? -IQ1M_DELTA : IQ1M_DELTA;
                const int8_t *g = (const int8_t *)&kite__iq1s_grid[idx];
                for (int j = 0; j < 8; j++) y[8 * l + j] = dl[l / 2] * ((float)g[j] + delta);
            }
        }
    }
}

// Digit n (0..4) of a TQ1_0 byte: the byte is a base-3 fraction, so multiplying by 3^n (mod
// 256) brings digit n to the top, and * 3 >> 8 reads it.
static inline int tq1_digit(uint8_t q, int n) {
    static const uint8_t pow3[5] = {1, 3, 9, 27, 81};
    uint8_t v = (uint8_t)(q * pow3[n]);
    return ((uint16_t)v * 3) >> 8;
}

void kite_dequantize_row_tq1_0_ref(const block_tq1_0 *x, float *y, int64_t n) {
    KITE_ASSERT(n % QK_K == 0);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = kite_f16_to_f32(x[i].d);
        // qs: 32 bytes x 5 digits, then 16 bytes x 5 digits; qh: 4 bytes x 4 digits
        for (int j = 0; j < 32; j += 32)
            for (int k = 0; k < 5; k++)
                for (int m = 0; m < 32; m++) *y++ = (float)(tq1_digit(x[i].qs[j + m], k) - 1) * d;
        for (int j = 32; j < 48; j += 16)
            for (int k = 0; k < 5; k++)
                for (int m = 0; m < 16; m++) *y++ = (float)(tq1_digit(x[i].qs[j + m], k) - 1) * d;
        for (int k = 0; k < 4; k++)
            for (int j = 0; j < 4; j++) *y++ = (float)(tq1_digit(x[i].qh[j], k) - 1) * d;
    }
}

void kite_dequantize_row_tq2_0_ref(const block_tq2_0 *x, float *y, int64_t n) {
    KITE_ASSERT(n % QK_K == 0);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = kite_f16_to_f32(x[i].d);
        for (int j = 0; j < QK_K / 4; j += 32)
            for (int l = 0; l < 4; l++)
                for (int m = 0; m < 32; m++) *y++ = (float)(((x[i].qs[j + m] >> (2 * l)) & 3) - 1) * d;
    }
}

void kite_dequantize_row_mxfp4_ref(const block_mxfp4 *x, float *y, int64_t n) {
    KITE_ASSERT(n % QK_MXFP4 == 0);
    for (int64_t i = 0; i < n / QK_MXFP4; i++, y += QK_MXFP4) {
        const float d = kite__e8m0_to_f32_half(x[i].e);
        for (int j = 0; j < QK_MXFP4 / 2; j++) {
            y[j] = (float)kite__kvalues_fp4[x[i].qs[j] & 0xf] * d;
            y[j + QK_MXFP4 / 2] = (float)kite__kvalues_fp4[x[i].qs[j] >> 4] * d;
        }
    }
}
