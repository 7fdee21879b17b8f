// dequant_kquants.c - reference dequantizers of the 256-value formats Q2_K..Q8_K and IQ4_XS
// (bit-exact with ggml's dequantize_row_*: same operations in the same order).
#include "quant/kite_quant.h"

#include "base/internal.h"
#include "blocks/block_util.h"

// Q2_K: qs holds two 128-value halves; in half h, byte l of its 32 carries element
// 128h + 32s + l in bits 2s..2s+1 (s = 0..3). Sub-block k (16 values) uses scales[k]:
// low nibble scales d, high nibble scales dmin.
void kite_dequantize_row_q2_K_ref(const block_q2_K *restrict x, float *restrict y, int64_t n) {
    KITE_ASSERT(n % QK_K == 0);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = kite_f16_to_f32(x[i].d), dmin = kite_f16_to_f32(x[i].dmin);
        const uint8_t *q = x[i].qs;
        int k = 0;
        for (int half = 0; half < 2; half++, q += 32) {
            for (int s = 0; s < 4; s++) {
                for (int part = 0; part < 2; part++, k++) { // bytes 0..15, then 16..31
                    const float dl = d * (float)(x[i].scales[k] & 0xF);
                    const float ml = dmin * (float)(x[i].scales[k] >> 4);
                    for (int l = 0; l < 16; l++) *y++ = dl * (float)((q[16 * part + l] >> (2 * s)) & 3) - ml;
                }
            }
        }
    }
}

// Q3_K: the low 2 bits are laid out as Q2_K's; bit 2 of element 32b + l (b = 0..7, l = 0..31)
// is bit b of hmask[l]; a clear bit means "subtract 4", so q - 4 lies in -4..3.
void kite_dequantize_row_q3_K_ref(const block_q3_K *restrict x, float *restrict y, int64_t n) {
    KITE_ASSERT(n % QK_K == 0);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = kite_f16_to_f32(x[i].d);
        int8_t sc[16];
        kite__unpack_scales_q3k(x[i].scales, sc);
        const uint8_t *q = x[i].qs, *hm = x[i].hmask;
        int k = 0, bit = 0;
        for (int half = 0; half < 2; half++, q += 32) {
            for (int s = 0; s < 4; s++, bit++) {
                for (int part = 0; part < 2; part++, k++) {
                    const float dl = d * (float)sc[k];
                    for (int l = 16 * part; l < 16 * part + 16; l++) {
                        int v = ((q[l] >> (2 * s)) & 3) - ((hm[l] >> bit) & 1 ? 0 : 4);
                        *y++ = dl * (float)v;
                    }
                }
            }
        }
    }
}

// Q4_K: four 64-value chunks; chunk c's 32 bytes hold element 64c + l in the low nibble and
// 64c + 32 + l in the high nibble, with scale/min pairs 2c and 2c+1.
void kite_dequantize_row_q4_K_ref(const block_q4_K *restrict x, float *restrict y, int64_t n) {
    KITE_ASSERT(n % QK_K == 0);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = kite_f16_to_f32(x[i].d), dmin = kite_f16_to_f32(x[i].dmin);
        const uint8_t *q = x[i].qs;
        uint8_t sc[8], m[8];
        kite__unpack_scales_k4(x[i].scales, sc, m);
        for (int c = 0; c < 4; c++, q += 32) {
            const float d1 = d * (float)sc[2 * c], m1 = dmin * (float)m[2 * c];
            const float d2 = d * (float)sc[2 * c + 1], m2 = dmin * (float)m[2 * c + 1];
            for (int l = 0; l < 32; l++) *y++ = d1 * (float)(q[l] & 0xF) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * (float)(q[l] >> 4) - m2;
        }
    }
}

// Q5_K: as Q4_K; the fifth bit of element 64c + l is bit 2c of qh[l], of 64c + 32 + l bit 2c+1.
void kite_dequantize_row_q5_K_ref(const block_q5_K *restrict x, float *restrict y, int64_t n) {
    KITE_ASSERT(n % QK_K == 0);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = kite_f16_to_f32(x[i].d), dmin = kite_f16_to_f32(x[i].dmin);
        const uint8_t *ql = x[i].qs, *qh = x[i].qh;
        uint8_t sc[8], m[8];
        kite__unpack_scales_k4(x[i].scales, sc, m);
        for (int c = 0; c < 4; c++, ql += 32) {
            const float d1 = d * (float)sc[2 * c], m1 = dmin * (float)m[2 * c];
            const float d2 = d * (float)sc[2 * c + 1], m2 = dmin * (float)m[2 * c + 1];
            for (int l = 0; l < 32; l++) *y++ = d1 * (float)((ql[l] & 0xF) + ((qh[l] >> (2 * c)) & 1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * (float)((ql[l] >> 4) + ((qh[l] >> (2 * c + 1)) & 1 ? 16 : 0)) - m2;
        }
    }
}

// Q6_K: two 128-value halves; in a half, ql[l] / ql[l+32] hold elements l / l+32 (low nibbles)
// and l+64 / l+96 (high nibbles); qh[l] bits 0-1, 2-3, 4-5, 6-7 are the top 2 bits of elements
// l, l+32, l+64, l+96. Each 16 values share an int8 scale.
void kite_dequantize_row_q6_K_ref(const block_q6_K *restrict x, float *restrict y, int64_t n) {
    KITE_ASSERT(n % QK_K == 0);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = kite_f16_to_f32(x[i].d);
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *sc = x[i].scales;
        for (int half = 0; half < 2; half++, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; l++) {
                const int is = l / 16;
                const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                // (d * sc) * q, in ggml's order
                y[l] = d * (float)sc[is] * (float)q1;
                y[l + 32] = d * (float)sc[is + 2] * (float)q2;
                y[l + 64] = d * (float)sc[is + 4] * (float)q3;
                y[l + 96] = d * (float)sc[is + 6] * (float)q4;
            }
        }
    }
}

void kite_dequantize_row_q8_K_ref(const block_q8_K *restrict x, float *restrict y, int64_t n) {
    KITE_ASSERT(n % QK_K == 0);
    for (int64_t i = 0; i < n / QK_K; i++)
        for (int j = 0; j < QK_K; j++) *y++ = x[i].d * (float)x[i].qs[j];
}

// IQ4_XS: block b (32 values) has 6-bit scale ls = low nibble b%2 of scales_l[b/2] | bits
// 2b..2b+1 of scales_h << 4; values d * (ls - 32) * grid[q], nibbles as IQ4_NL.
void kite_dequantize_row_iq4_xs_ref(const block_iq4_xs *restrict x, float *restrict y, int64_t n) {
    KITE_ASSERT(n % QK_K == 0);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = kite_f16_to_f32(x[i].d);
        const uint8_t *qs = x[i].qs;
        for (int b = 0; b < QK_K / 32; b++, y += 32, qs += 16) {
            const int ls = ((x[i].scales_l[b / 2] >> (4 * (b % 2))) & 0xF) | (((x[i].scales_h >> (2 * b)) & 3) << 4);
            const float dl = d * (float)(ls - 32);
            for (int j = 0; j < 16; j++) {
                y[j] = dl * (float)kite__kvalues_iq4nl[qs[j] & 0xF];
                y[j + 16] = dl * (float)kite__kvalues_iq4nl[qs[j] >> 4];
            }
        }
    }
}
