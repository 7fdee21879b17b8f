// vec_dot_iq_ref.c - scalar reference dot products of the grid formats (IQ2_XXS, IQ2_XS, IQ2_S,
// IQ3_XXS, IQ3_S, IQ1_S, IQ1_M), the ternary TQ1_0/TQ2_0 (all against Q8_K) and MXFP4 (against
// Q8_0). Every ISA set runs these until it has its own (the sets start as copies of the scalar
// set). Each block's weights are expanded to small integers q with value = c * d * ls * q (ls
// the integer sub-block scale, c a power of two: 1/8 for IQ2 and IQ1, 1/4 for IQ3_XXS, 1 for the
// rest), the block's integer dot isum = sum ls * dot(q, a) is exact, and the float step is the
// canonical one of kernels_internal.h with c applied to isum: s = s + (d*da) * ((float)isum * c).
#include "kernels/kernels_internal.h"

#include "base/kite_f16.h"
#include "blocks/iq_tables.h"

#define F16(x) kite_f16_to_f32(x)

// 8 signed grid values: grid byte j, negated where bit j of signs is set.
static inline void signed8(int8_t *q, const uint8_t *grid, uint8_t signs) {
    for (int j = 0; j < 8; j++) q[j] = (int8_t)((signs >> j) & 1 ? -grid[j] : grid[j]);
}

// |isum| stays far below 2^31 for every format here (at most 8 * 31 * 32 * 62 * 128).

float kite__vec_dot_iq2_xxs_ref(int n, const block_iq2_xxs *w, const block_q8_K *a) {
    float s = 0;
    int8_t q[32];
    for (int b = 0; b < n / QK_K; b++) {
        int isum = 0;
        for (int ib = 0; ib < 8; ib++) {
            const uint8_t *idx = (const uint8_t *)(w[b].qs + 4 * ib);
            const uint32_t hi = kite__rd32(idx + 4);
            for (int l = 0; l < 4; l++)
                signed8(q + 8 * l, (const uint8_t *)&kite__iq2xxs_grid[idx[l]], kite__ksigns_iq2xs[(hi >> (7 * l)) & 127]);
            isum += (int)(2 * (hi >> 28) + 1) * kite__idot(q, a[b].qs + 32 * ib, 32);
        }
        s += F16(w[b].d) * a[b].d * ((float)isum * 0.125f);
    }
    return s;
}

float kite__vec_dot_iq2_xs_ref(int n, const block_iq2_xs *w, const block_q8_K *a) {
    float s = 0;
    int8_t q[16];
    for (int b = 0; b < n / QK_K; b++) {
        int isum = 0;
        for (int h = 0; h < 16; h++) { // 16 values: two grid points, one 4-bit scale
            for (int l = 0; l < 2; l++) {
                const uint16_t v = w[b].qs[2 * h + l];
                signed8(q + 8 * l, (const uint8_t *)&kite__iq2xs_grid[v & 511], kite__ksigns_iq2xs[v >> 9]);
            }
            const int ls = 2 * ((w[b].scales[h / 2] >> (4 * (h % 2))) & 0xf) + 1;
            isum += ls * kite__idot(q, a[b].qs + 16 * h, 16);
        }
        s += F16(w[b].d) * a[b].d * ((float)isum * 0.125f);
    }
    return s;
}

float kite__vec_dot_iq2_s_ref(int n, const block_iq2_s *w, const block_q8_K *a) {
    float s = 0;
    int8_t q[16];
    for (int b = 0; b < n / QK_K; b++) {
        const uint8_t *qs = w[b].qs, *signs = w[b].qs + QK_K / 8;
        int isum = 0;
        for (int h = 0; h < 16; h++) {
            const int ib = h / 2;
            for (int l = 0; l < 2; l++) {
                const int k = 2 * (h % 2) + l; // point k of 32-block ib
                const int idx = qs[4 * ib + k] | ((w[b].qh[ib] << (8 - 2 * k)) & 0x300);
                signed8(q + 8 * l, (const uint8_t *)&kite__iq2s_grid[idx], signs[4 * ib + k]);
            }
            const int ls = 2 * ((w[b].scales[ib] >> (4 * (h % 2))) & 0xf) + 1;
            isum += ls * kite__idot(q, a[b].qs + 16 * h, 16);
        }
        s += F16(w[b].d) * a[b].d * ((float)isum * 0.125f);
    }
    return s;
}

float kite__vec_dot_iq3_xxs_ref(int n, const block_iq3_xxs *w, const block_q8_K *a) {
    float s = 0;
    int8_t q[32];
    for (int b = 0; b < n / QK_K; b++) {
        const uint8_t *qs = w[b].qs, *ss = w[b].qs + QK_K / 4;
        int isum = 0;
        for (int ib = 0; ib < 8; ib++) {
            const uint32_t aux = kite__rd32(ss + 4 * ib);
            for (int l = 0; l < 4; l++) {
                const uint8_t signs = kite__ksigns_iq2xs[(aux >> (7 * l)) & 127];
                uint8_t g[8];
                memcpy(g, &kite__iq3xxs_grid[qs[8 * ib + 2 * l]], 4);
                memcpy(g + 4, &kite__iq3xxs_grid[qs[8 * ib + 2 * l + 1]], 4);
                signed8(q + 8 * l, g, signs);
            }
            isum += (int)(2 * (aux >> 28) + 1) * kite__idot(q, a[b].qs + 32 * ib, 32);
        }
        s += F16(w[b].d) * a[b].d * ((float)isum * 0.25f);
    }
    return s;
}

float kite__vec_dot_iq3_s_ref(int n, const block_iq3_s *w, const block_q8_K *a) {
    float s = 0;
    int8_t q[32];
    for (int b = 0; b < n / QK_K; b++) {
        int isum = 0;
        for (int ib = 0; ib < 8; ib++) {
            const uint8_t *qs = w[b].qs + 8 * ib, *signs = w[b].signs + 4 * ib;
            const int qh = w[b].qh[ib];
            for (int l = 0; l < 4; l++) {
                uint8_t g[8];
                memcpy(g, &kite__iq3s_grid[qs[2 * l] | ((qh << (8 - 2 * l)) & 256)], 4);
                memcpy(g + 4, &kite__iq3s_grid[qs[2 * l + 1] | ((qh << (7 - 2 * l)) & 256)], 4);
                signed8(q + 8 * l, g, signs[l]);
            }
            const int ls = 1 + 2 * ((w[b].scales[ib / 2] >> (4 * (ib % 2))) & 0xf);
            isum += ls * kite__idot(q, a[b].qs + 32 * ib, 32);
        }
        s += F16(w[b].d) * a[b].d * (float)isum;
    }
    return s;
}

// IQ1: value = d * ls * (g +- 1/8) with g in -1..1, so 8 * value / (d * ls) = 8g +- 1, an integer.
static inline void iq1_points(int8_t *q, int idx, int neg_shift) {
    const int8_t *g = (const int8_t *)&kite__iq1s_grid[idx];
    for (int j = 0; j < 8; j++) q[j] = (int8_t)(8 * g[j] + (neg_shift ? -1 : 1));
}

float kite__vec_dot_iq1_s_ref(int n, const block_iq1_s *w, const block_q8_K *a) {
    float s = 0;
    int8_t q[32];
    for (int b = 0; b < n / QK_K; b++) {
        int isum = 0;
        for (int ib = 0; ib < 8; ib++) {
            const uint16_t qh = w[b].qh[ib];
            for (int l = 0; l < 4; l++) iq1_points(q + 8 * l, w[b].qs[4 * ib + l] | (((qh >> (3 * l)) & 7) << 8), qh & 0x8000);
            isum += (int)(2 * ((qh >> 12) & 7) + 1) * kite__idot(q, a[b].qs + 32 * ib, 32);
        }
        s += F16(w[b].d) * a[b].d * ((float)isum * 0.125f);
    }
    return s;
}

float kite__vec_dot_iq1_m_ref(int n, const block_iq1_m *w, const block_q8_K *a) {
    float s = 0;
    int8_t q[16];
    for (int b = 0; b < n / QK_K; b++) {
        uint16_t sc[4];
        memcpy(sc, w[b].scales, sizeof sc);
        int isum = 0;
        for (int h = 0; h < 16; h++) { // 16 values: two points, one 3-bit scale
            const int ib = h / 2;
            for (int l = 0; l < 2; l++) {
                const int k = 2 * (h % 2) + l;
                const uint8_t nib = w[b].qh[2 * ib + k / 2] >> (4 * (k % 2));
                iq1_points(q + 8 * l, w[b].qs[4 * ib + k] | ((nib & 7) << 8), nib & 8);
            }
            const int ls = 2 * ((sc[ib / 2] >> (6 * (ib % 2) + 3 * (h % 2))) & 7) + 1;
            isum += ls * kite__idot(q, a[b].qs + 16 * h, 16);
        }
        s += F16(kite__iq1m_scale(&w[b])) * a[b].d * ((float)isum * 0.125f);
    }
    return s;
}

float kite__vec_dot_tq1_0_ref(int n, const block_tq1_0 *w, const block_q8_K *a) {
    static const uint8_t pow3[5] = {1, 3, 9, 27, 81};
    float s = 0;
    int8_t q[QK_K];
    for (int b = 0; b < n / QK_K; b++) {
        int8_t *p = q;
        // element order as the dequantizer: qs[0..31] x 5 digits, qs[32..47] x 5, qh[0..3] x 4
        for (int k = 0; k < 5; k++)
            for (int m = 0; m < 32; m++) *p++ = (int8_t)((((uint16_t)(uint8_t)(w[b].qs[m] * pow3[k])) * 3 >> 8) - 1);
        for (int k = 0; k < 5; k++)
            for (int m = 32; m < 48; m++) *p++ = (int8_t)((((uint16_t)(uint8_t)(w[b].qs[m] * pow3[k])) * 3 >> 8) - 1);
        for (int k = 0; k < 4; k++)
            for (int m = 0; m < 4; m++) *p++ = (int8_t)((((uint16_t)(uint8_t)(w[b].qh[m] * pow3[k])) * 3 >> 8) - 1);
        s += F16(w[b].d) * a[b].d * (float)kite__idot(q, a[b].qs, QK_K);
    }
    return s;
}

float kite__vec_dot_tq2_0_ref(int n, const block_tq2_0 *w, const block_q8_K *a) {
    float s = 0;
    int8_t q[QK_K];
    for (int b = 0; b < n / QK_K; b++) {
        for (int j = 0; j < 2; j++)
            for (int l = 0; l < 4; l++)
                for (int m = 0; m < 32; m++) q[128 * j + 32 * l + m] = (int8_t)(((w[b].qs[32 * j + m] >> (2 * l)) & 3) - 1);
        s += F16(w[b].d) * a[b].d * (float)kite__idot(q, a[b].qs, QK_K);
    }
    return s;
}

float kite__vec_dot_mxfp4_ref(int n, const block_mxfp4 *w, const block_q8_0 *a) {
    float s = 0;
    int8_t q[32];
    for (int b = 0; b < n / QK_MXFP4; b++) {
        for (int j = 0; j < 16; j++) {
            q[j] = kite__kvalues_fp4[w[b].qs[j] & 0xf];
            q[j + 16] = kite__kvalues_fp4[w[b].qs[j] >> 4];
        }
        s += kite__e8m0_to_f32_half(w[b].e) * F16(a[b].d) * (float)kite__idot(q, a[b].qs, 32);
    }
    return s;
}

KITE_REF_TILE(tile_iq2_xxs, block_iq2_xxs, block_q8_K, kite__vec_dot_iq2_xxs_ref)
KITE_REF_TILE(tile_iq2_xs, block_iq2_xs, block_q8_K, kite__vec_dot_iq2_xs_ref)
KITE_REF_TILE(tile_iq2_s, block_iq2_s, block_q8_K, kite__vec_dot_iq2_s_ref)
KITE_REF_TILE(tile_iq3_xxs, block_iq3_xxs, block_q8_K, kite__vec_dot_iq3_xxs_ref)
KITE_REF_TILE(tile_iq3_s, block_iq3_s, block_q8_K, kite__vec_dot_iq3_s_ref)
KITE_REF_TILE(tile_iq1_s, block_iq1_s, block_q8_K, kite__vec_dot_iq1_s_ref)
KITE_REF_TILE(tile_iq1_m, block_iq1_m, block_q8_K, kite__vec_dot_iq1_m_ref)
KITE_REF_TILE(tile_tq1_0, block_tq1_0, block_q8_K, kite__vec_dot_tq1_0_ref)
KITE_REF_TILE(tile_tq2_0, block_tq2_0, block_q8_K, kite__vec_dot_tq2_0_ref)
KITE_REF_TILE(tile_mxfp4, block_mxfp4, block_q8_0, kite__vec_dot_mxfp4_ref)

void kite__kernels_fill_ref_iq(kite__kernels *k) {
    KITE_SET_TILES_IQ(k);
}
