// quant_store.c - the code and scale layouts the legacy and k-quant quantizers write, and the
// k-quants' re-rounding against the stored scales (see quant_store.h).
#include "quant/quant_store.h"

#include "base/internal.h"
#include "blocks/block_util.h"

void kite__pack_q4(const uint8_t *q, uint8_t qs[16]) {
    for (int j = 0; j < 16; j++) qs[j] = (uint8_t)(q[j] | (q[j + 16] << 4));
}

void kite__pack_q5(const uint8_t *q, uint8_t qs[16], uint8_t qh[4]) {
    uint32_t h = 0;
    for (int j = 0; j < 16; j++) {
        qs[j] = (uint8_t)((q[j] & 0x0F) | ((q[j + 16] & 0x0F) << 4));
        h |= ((q[j] & 0x10u) >> 4) << j;
        h |= ((q[j + 16] & 0x10u) >> 4) << (j + 16);
    }
    for (int b = 0; b < 4; b++) qh[b] = (uint8_t)(h >> (8 * b));
}

// 256 two-bit codes as Q2_K / Q3_K store them: in half h, byte l holds elements 128h + l, +32,
// +64, +96 in bit pairs 0, 2, 4, 6.
static void pack_2bit(const uint8_t *L, uint8_t *qs) {
    for (int j = 0; j < QK_K; j += 128)
        for (int l = 0; l < 32; l++)
            qs[j / 4 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
}

void kite__q2_K_store_codes(const float *x, block_q2_K *y, uint8_t *L, const kite__quant_search *s) {
    const float dm = kite_f16_to_f32(y->d), mm = kite_f16_to_f32(y->dmin);
    for (int j = 0; j < QK_K / 16; j++) {
        const float d = dm * (float)(y->scales[j] & 0xF);
        if (d == 0.0f) continue;
        const float m = mm * (float)(y->scales[j] >> 4);
        s->round_min(x + 16 * j, 16, d, m, 3, L + 16 * j);
    }
    pack_2bit(L, y->qs);
}

void kite__q3_K_store_scales(const int8_t l[16], uint8_t scales[12]) {
    memset(scales, 0, 12);
    for (int j = 0; j < 16; j++) {
        if (j < 8) scales[j] = (uint8_t)(l[j] & 0xF);
        else scales[j - 8] |= (uint8_t)((l[j] & 0xF) << 4);
        scales[j % 4 + 8] |= (uint8_t)((l[j] >> 4) << (2 * (j / 4)));
    }
}

void kite__q3_K_store_codes(const float *x, block_q3_K *y, int8_t *L, const kite__quant_search *s) {
    int8_t sc[QK_K / 16];
    kite__unpack_scales_q3k(y->scales, sc);
    for (int j = 0; j < QK_K / 16; j++) {
        const float d = kite_f16_to_f32(y->d) * (float)sc[j];
        if (d == 0.0f) continue;
        s->round_sym(x + 16 * j, 16, d, -4, 3, L + 16 * j);
    }
    memset(y->hmask, 0, sizeof y->hmask);
    uint8_t low[QK_K];
    for (int j = 0; j < QK_K; j++) {
        if (L[j] > 3) y->hmask[j % 32] |= (uint8_t)(1u << (j / 32));
        low[j] = (uint8_t)(L[j] & 3);
    }
    pack_2bit(low, y->qs);
}

void kite__k4_store_scales(const uint8_t ls[8], const uint8_t lm[8], uint8_t scales[12]) {
    for (int j = 0; j < 4; j++) {
        scales[j] = ls[j];
        scales[j + 4] = lm[j];
    }
    for (int j = 4; j < 8; j++) {
        scales[j + 4] = (uint8_t)((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
        scales[j - 4] |= (uint8_t)((ls[j] >> 4) << 6);
        scales[j] |= (uint8_t)((lm[j] >> 4) << 6);
    }
}

void kite__k4_round_codes(const float *x, kite_f16 d, kite_f16 dmin, const uint8_t scales[12], int nmax, uint8_t *L,
                          const kite__quant_search *s) {
    uint8_t sc[QK_K / 32], mn[QK_K / 32];
    kite__unpack_scales_k4(scales, sc, mn);
    for (int j = 0; j < QK_K / 32; j++) {
        const float dj = kite_f16_to_f32(d) * (float)sc[j];
        if (dj == 0.0f) continue;
        const float mj = kite_f16_to_f32(dmin) * (float)mn[j];
        s->round_min(x + 32 * j, 32, dj, mj, nmax, L + 32 * j);
    }
}

void kite__q4_K_pack_codes(const uint8_t *L, uint8_t qs[QK_K / 2]) {
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) qs[32 * c + l] = (uint8_t)(L[64 * c + l] | (L[64 * c + l + 32] << 4));
}

void kite__q5_K_pack_codes(const uint8_t *L, uint8_t qs[QK_K / 2], uint8_t qh[QK_K / 8]) {
    memset(qh, 0, QK_K / 8);
    for (int c = 0; c < 4; c++) {
        for (int l = 0; l < 32; l++) {
            int l1 = L[64 * c + l], l2 = L[64 * c + l + 32];
            if (l1 > 15) { l1 -= 16; qh[l] |= (uint8_t)(1u << (2 * c)); }
            if (l2 > 15) { l2 -= 16; qh[l] |= (uint8_t)(2u << (2 * c)); }
            qs[32 * c + l] = (uint8_t)(l1 | (l2 << 4));
        }
    }
}
