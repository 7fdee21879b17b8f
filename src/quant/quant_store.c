// quant_store.c - writes quantized blocks for the plain and the importance-matrix reference
// quantizers alike (contracts in quant_store.h): packing and the k-quants' final re-rounding.
#include "quant/quant_store.h"

#include "base/internal.h"
#include "blocks/block_util.h"
#include "quant/quant_search.h"

void kite__pack_q5(const uint8_t *q, uint8_t *qs, uint8_t qh_out[4]) {
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
        qs[j] = (uint8_t)((q[j] & 0x0F) | ((q[j + 16] & 0x0F) << 4));
        qh |= ((q[j] & 0x10u) >> 4) << j;
        qh |= ((q[j + 16] & 0x10u) >> 4) << (j + 16);
    }
    for (int b = 0; b < 4; b++) qh_out[b] = (uint8_t)(qh >> (8 * b));
}

// Packs 256 two-bit codes as Q2_K/Q3_K store them: in half h, byte l holds elements
// 128h + l, +32, +64, +96 in bit pairs 0, 2, 4, 6.
static void pack_2bit(const uint8_t *L, uint8_t *qs) {
    for (int j = 0; j < QK_K; j += 128)
        for (int l = 0; l < 32; l++)
            qs[j / 4 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
}

// ---- Q2_K / Q3_K --------------------------------------------------------------------------

void kite__q2_K_store_codes(const float *x, block_q2_K *y, uint8_t *L) {
    for (int j = 0; j < QK_K / 16; j++) {
        const float d = kite_f16_to_f32(y->d) * (float)(y->scales[j] & 0xF);
        if (d == 0.0f) continue;
        const float dm = kite_f16_to_f32(y->dmin) * (float)(y->scales[j] >> 4);
        for (int l = 0; l < 16; l++) {
            int q = kite__nearest_int((x[16 * j + l] + dm) / d);
            L[16 * j + l] = (uint8_t)KITE_MAX(0, KITE_MIN(3, q));
        }
    }
    pack_2bit(L, y->qs);
}

void kite__q3_K_store_scales(const int8_t ls[16], block_q3_K *y) {
    memset(y->scales, 0, sizeof y->scales);
    for (int j = 0; j < QK_K / 16; j++) {
        int l = ls[j];
        if (j < 8) y->scales[j] = (uint8_t)(l & 0xF);
        else y->scales[j - 8] |= (uint8_t)((l & 0xF) << 4);
        y->scales[j % 4 + 8] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
    }
}

void kite__q3_K_store_codes(const float *x, block_q3_K *y, int8_t *L) {
    for (int j = 0; j < QK_K / 16; j++) {
        int lo = j < 8 ? y->scales[j] & 0xF : y->scales[j - 8] >> 4;
        int sc = (lo | (((y->scales[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
        const float d = kite_f16_to_f32(y->d) * (float)sc;
        if (d == 0.0f) continue;
        for (int l = 0; l < 16; l++) {
            int q = KITE_MAX(-4, KITE_MIN(3, kite__nearest_int(x[16 * j + l] / d)));
            L[16 * j + l] = (int8_t)(q + 4);
        }
    }
    // bit 2 of element j goes to hmask[j % 32], bit j / 32; qs keeps the low 2 bits
    memset(y->hmask, 0, sizeof y->hmask);
    uint8_t low[QK_K];
    for (int j = 0; j < QK_K; j++) {
        if (L[j] > 3) y->hmask[j % 32] |= (uint8_t)(1u << (j / 32));
        low[j] = (uint8_t)(L[j] & 3);
    }
    pack_2bit(low, y->qs);
}

// ---- Q4_K / Q5_K --------------------------------------------------------------------------

void kite__k4_store_scales(const uint8_t ls[8], const uint8_t lm[8], float d, float dmin, uint8_t s[12],
                           kite_f16 *dh, kite_f16 *dminh) {
    for (int j = 0; j < 4; j++) {
        s[j] = ls[j];
        s[j + 4] = lm[j];
    }
    for (int j = 4; j < 8; j++) {
        s[j + 4] = (uint8_t)((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
        s[j - 4] |= (uint8_t)((ls[j] >> 4) << 6);
        s[j] |= (uint8_t)((lm[j] >> 4) << 6);
    }
    *dh = kite_f32_to_f16(d);
    *dminh = kite_f32_to_f16(dmin);
}

void kite__k4_round_codes(const float *x, kite_f16 dh, kite_f16 dminh, const uint8_t s[12], uint8_t *L, int nmax) {
    uint8_t sc[QK_K / 32], mn[QK_K / 32];
    kite__unpack_scales_k4(s, sc, mn);
    for (int j = 0; j < QK_K / 32; j++) {
        const float d = kite_f16_to_f32(dh) * (float)sc[j];
        if (d == 0.0f) continue;
        const float dm = kite_f16_to_f32(dminh) * (float)mn[j];
        for (int l = 0; l < 32; l++) {
            int q = kite__nearest_int((x[32 * j + l] + dm) / d);
            L[32 * j + l] = (uint8_t)KITE_MAX(0, KITE_MIN(nmax, q));
        }
    }
}

void kite__q4_K_pack(const uint8_t *L, block_q4_K *y) {
    // chunk c of 64: byte l = element 64c + l (low nibble) | 64c + 32 + l (high nibble)
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) y->qs[32 * c + l] = (uint8_t)(L[64 * c + l] | (L[64 * c + l + 32] << 4));
}

void kite__q5_K_pack(const uint8_t *L, block_q5_K *y) {
    // as Q4_K, with bit 4 of element 64c + l in qh[l] bit 2c, of 64c + 32 + l in bit 2c+1
    memset(y->qh, 0, sizeof y->qh);
    for (int c = 0; c < 4; c++) {
        for (int l = 0; l < 32; l++) {
            int l1 = L[64 * c + l], l2 = L[64 * c + l + 32];
            if (l1 > 15) { l1 -= 16; y->qh[l] |= (uint8_t)(1u << (2 * c)); }
            if (l2 > 15) { l2 -= 16; y->qh[l] |= (uint8_t)(2u << (2 * c)); }
            y->qs[32 * c + l] = (uint8_t)(l1 | (l2 << 4));
        }
    }
}

// ---- Q6_K ---------------------------------------------------------------------------------

void kite__q6_K_store(const float *x, const float scales[16], block_q6_K *y, int8_t *L) {
    float max_scale = 0.0f, max_abs_scale = 0.0f;
    for (int ib = 0; ib < QK_K / 16; ib++) {
        float a = fabsf(scales[ib]);
        if (a > max_abs_scale) { max_abs_scale = a; max_scale = scales[ib]; }
    }
    if (max_abs_scale < KITE__GROUP_MAX_EPS) {
        memset(y, 0, sizeof *y);
        return;
    }
    // -128/max: the largest scale becomes -128, the int8 end with one more level
    const float iscale = -128.0f / max_scale;
    y->d = kite_f32_to_f16(1.0f / iscale);
    for (int ib = 0; ib < QK_K / 16; ib++) y->scales[ib] = (int8_t)KITE_MIN(127, kite__nearest_int(iscale * scales[ib]));
    for (int j = 0; j < QK_K / 16; j++) {
        const float d = kite_f16_to_f32(y->d) * (float)y->scales[j];
        if (d == 0.0f) continue;
        for (int l = 0; l < 16; l++) {
            int q = KITE_MAX(-32, KITE_MIN(31, kite__nearest_int(x[16 * j + l] / d)));
            L[16 * j + l] = (int8_t)(q + 32);
        }
    }
    // half h: ql[l] = e(l) | e(l+64) << 4, ql[l+32] = e(l+32) | e(l+96) << 4 (low nibbles);
    // qh[l] = top 2 bits of e(l), e(l+32), e(l+64), e(l+96) at bits 0, 2, 4, 6
    for (int h = 0; h < 2; h++) {
        const int8_t *e = L + 128 * h;
        uint8_t *ql = y->ql + 64 * h, *qh = y->qh + 32 * h;
        for (int l = 0; l < 32; l++) {
            ql[l] = (uint8_t)((e[l] & 0xF) | ((e[l + 64] & 0xF) << 4));
            ql[l + 32] = (uint8_t)((e[l + 32] & 0xF) | ((e[l + 96] & 0xF) << 4));
            qh[l] = (uint8_t)((e[l] >> 4) | ((e[l + 32] >> 4) << 2) | ((e[l + 64] >> 4) << 4) | ((e[l + 96] >> 4) << 6));
        }
    }
}
