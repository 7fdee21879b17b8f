// vec_dot_ref.c - scalar reference dot products, one per weight type: the specification the
// SIMD kernels are tested against. Integer math per block as ggml's generic vec_dot_*; the
// float steps are the canonical order of kernels_internal.h, which every SIMD set reproduces
// bit for bit.
#include "kernels/kernels_internal.h"

#include "base/kite_f16.h"
#include "blocks/block_util.h"
#include "kernels/attend.h"

#define F16(x) kite_f16_to_f32(x)

// ---- plain number types: the canonical chunked 8-lane order (kernels_internal.h) ------------

// The canonical dot of n products prod(i) (each already rounded to float).
#define CANONICAL_FDOT(n, prod)                                                                    \
    do {                                                                                           \
        float s_ = 0;                                                                              \
        for (int c0_ = 0; c0_ < (n); c0_ += KITE_FDOT_CHUNK) {                                      \
            const int len_ = (n) - c0_ < KITE_FDOT_CHUNK ? (n) - c0_ : KITE_FDOT_CHUNK;            \
            const int full_ = len_ & ~7;                                                           \
            float l_[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                                \
            for (int i_ = 0; i_ < full_; i_++) l_[i_ & 7] = l_[i_ & 7] + prod(c0_ + i_);           \
            float c_ = ((l_[0] + l_[4]) + (l_[2] + l_[6])) + ((l_[1] + l_[5]) + (l_[3] + l_[7]));   \
            for (int i_ = full_; i_ < len_; i_++) c_ = c_ + prod(c0_ + i_);                         \
            s_ = s_ + c_;                                                                          \
        }                                                                                          \
        return s_;                                                                                 \
    } while (0)

float kite__vec_dot_f32_ref(int n, const float *w, const float *a) {
#define PROD(i) (w[i] * a[i])
    CANONICAL_FDOT(n, PROD);
#undef PROD
}

float kite__vec_dot_f16_ref(int n, const kite_f16 *w, const kite_f16 *a) {
#define PROD(i) (F16(w[i]) * F16(a[i]))
    CANONICAL_FDOT(n, PROD);
#undef PROD
}

float kite__vec_dot_bf16_ref(int n, const kite_bf16 *w, const kite_bf16 *a) {
#define PROD(i) (kite_bf16_to_f32(w[i]) * kite_bf16_to_f32(a[i]))
    CANONICAL_FDOT(n, PROD);
#undef PROD
}

// ---- 32-element blocks x Q8_0 / Q8_1 -----------------------------------------------------

// Nibble order of Q4_0/Q4_1/IQ4_NL: byte j holds element j (low) and element j + 16 (high).
static void unpack_nibbles(const uint8_t *qs, int8_t q[32]) {
    for (int j = 0; j < 16; j++) {
        q[j] = (int8_t)(qs[j] & 0x0F);
        q[j + 16] = (int8_t)(qs[j] >> 4);
    }
}

// Q5_0/Q5_1: the nibbles plus bit 4 of element j taken from bit j of qh.
static void unpack_q5(const uint8_t *qs, const uint8_t qh_bytes[4], int8_t q[32]) {
    uint32_t qh;
    memcpy(&qh, qh_bytes, 4);
    unpack_nibbles(qs, q);
    for (int j = 0; j < 32; j++) q[j] = (int8_t)(q[j] | (((qh >> j) & 1) << 4));
}

float kite__vec_dot_q4_0_ref(int n, const block_q4_0 *w, const block_q8_0 *a) {
    float s = 0;
    int8_t q[32];
    for (int b = 0; b < n / 32; b++) {
        unpack_nibbles(w[b].qs, q);
        for (int j = 0; j < 32; j++) q[j] -= 8;
        s += (F16(w[b].d) * F16(a[b].d)) * (float)kite__idot(q, a[b].qs, 32);
    }
    return s;
}

float kite__vec_dot_q4_1_ref(int n, const block_q4_1 *w, const block_q8_1 *a) {
    float s = 0;
    int8_t q[32];
    for (int b = 0; b < n / 32; b++) {
        unpack_nibbles(w[b].qs, q);
        // sum(d*q + m) * a = d*da*sum(q*qa) + m * (da*sum(qa)), and a.s holds da*sum(qa)
        s += (F16(w[b].d) * F16(a[b].d)) * (float)kite__idot(q, a[b].qs, 32) + F16(w[b].m) * F16(a[b].s);
    }
    return s;
}

float kite__vec_dot_q5_0_ref(int n, const block_q5_0 *w, const block_q8_0 *a) {
    float s = 0;
    int8_t q[32];
    for (int b = 0; b < n / 32; b++) {
        unpack_q5(w[b].qs, w[b].qh, q);
        for (int j = 0; j < 32; j++) q[j] -= 16;
        s += (F16(w[b].d) * F16(a[b].d)) * (float)kite__idot(q, a[b].qs, 32);
    }
    return s;
}

float kite__vec_dot_q5_1_ref(int n, const block_q5_1 *w, const block_q8_1 *a) {
    float s = 0;
    int8_t q[32];
    for (int b = 0; b < n / 32; b++) {
        unpack_q5(w[b].qs, w[b].qh, q);
        s += (F16(w[b].d) * F16(a[b].d)) * (float)kite__idot(q, a[b].qs, 32) + F16(w[b].m) * F16(a[b].s);
    }
    return s;
}

float kite__vec_dot_q8_0_ref(int n, const block_q8_0 *w, const block_q8_0 *a) {
    float s = 0;
    for (int b = 0; b < n / 32; b++) s += (F16(w[b].d) * F16(a[b].d)) * (float)kite__idot(w[b].qs, a[b].qs, 32);
    return s;
}

float kite__vec_dot_iq4_nl_ref(int n, const block_iq4_nl *w, const block_q8_0 *a) {
    float s = 0;
    int8_t q[32];
    for (int b = 0; b < n / 32; b++) {
        unpack_nibbles(w[b].qs, q);
        for (int j = 0; j < 32; j++) q[j] = kite__kvalues_iq4nl[q[j]];
        s += (F16(w[b].d) * F16(a[b].d)) * (float)kite__idot(q, a[b].qs, 32);
    }
    return s;
}

// ---- 256-element super-blocks x Q8_K -------------------------------------------------------
// Each kernel decodes the integer levels of a super-block into q[256] (element order), then
// sums scale(sub-block) * dot(q, a) over the sub-blocks in integers.

float kite__vec_dot_q2_K_ref(int n, const block_q2_K *w, const block_q8_K *a) {
    float s = 0;
    int8_t q[QK_K];
    for (int b = 0; b < n / QK_K; b++) {
        // element 128h + 32j + l is bits 2j..2j+1 of qs[32h + l]
        for (int h = 0; h < 2; h++)
            for (int j = 0; j < 4; j++)
                for (int l = 0; l < 32; l++) q[128 * h + 32 * j + l] = (int8_t)((w[b].qs[32 * h + l] >> (2 * j)) & 3);
        int isum = 0, msum = 0;
        for (int sb = 0; sb < 16; sb++) {
            isum += (w[b].scales[sb] & 0x0F) * kite__idot(q + 16 * sb, a[b].qs + 16 * sb, 16);
            msum += (w[b].scales[sb] >> 4) * a[b].bsums[sb]; // the min term: m * sum(qa)
        }
        s += a[b].d * F16(w[b].d) * (float)isum - a[b].d * F16(w[b].dmin) * (float)msum;
    }
    return s;
}

float kite__vec_dot_q3_K_ref(int n, const block_q3_K *w, const block_q8_K *a) {
    float s = 0;
    int8_t q[QK_K], sc[16];
    for (int b = 0; b < n / QK_K; b++) {
        // element 128h + 32j + l: bits 2j.. of qs[32h + l], minus 4 unless bit (4h + j) of hmask[l]
        for (int h = 0; h < 2; h++)
            for (int j = 0; j < 4; j++)
                for (int l = 0; l < 32; l++) {
                    int lo = (w[b].qs[32 * h + l] >> (2 * j)) & 3;
                    int hi = (w[b].hmask[l] >> (4 * h + j)) & 1;
                    q[128 * h + 32 * j + l] = (int8_t)(lo - (hi ? 0 : 4));
                }
        kite__unpack_scales_q3k(w[b].scales, sc);
        int isum = 0;
        for (int sb = 0; sb < 16; sb++) isum += sc[sb] * kite__idot(q + 16 * sb, a[b].qs + 16 * sb, 16);
        s += F16(w[b].d) * a[b].d * (float)isum;
    }
    return s;
}

// Q4_K and Q5_K share the scale layout: eight sub-blocks of 32 with 6-bit scale and min.
static float dot_k4_common(const int8_t *q, kite_f16 d, kite_f16 dmin, const uint8_t *scales, const block_q8_K *a) {
    uint8_t sc[8], mn[8];
    kite__unpack_scales_k4(scales, sc, mn);
    int isum = 0, msum = 0;
    for (int sb = 0; sb < 8; sb++) {
        isum += sc[sb] * kite__idot(q + 32 * sb, a->qs + 32 * sb, 32);
        msum += mn[sb] * (a->bsums[2 * sb] + a->bsums[2 * sb + 1]);
    }
    return F16(d) * a->d * (float)isum - F16(dmin) * a->d * (float)msum;
}

float kite__vec_dot_q4_K_ref(int n, const block_q4_K *w, const block_q8_K *a) {
    float s = 0;
    int8_t q[QK_K];
    for (int b = 0; b < n / QK_K; b++) {
        // element 64j + l is the low nibble of qs[32j + l], element 64j + 32 + l the high one
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < 32; l++) {
                q[64 * j + l] = (int8_t)(w[b].qs[32 * j + l] & 0x0F);
                q[64 * j + 32 + l] = (int8_t)(w[b].qs[32 * j + l] >> 4);
            }
        s += dot_k4_common(q, w[b].d, w[b].dmin, w[b].scales, &a[b]);
    }
    return s;
}

float kite__vec_dot_q5_K_ref(int n, const block_q5_K *w, const block_q8_K *a) {
    float s = 0;
    int8_t q[QK_K];
    for (int b = 0; b < n / QK_K; b++) {
        // as Q4_K, plus bit 4 of element 32i + l from bit i of qh[l]
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < 32; l++) {
                q[64 * j + l] = (int8_t)((w[b].qs[32 * j + l] & 0x0F) | (((w[b].qh[l] >> (2 * j)) & 1) << 4));
                q[64 * j + 32 + l] = (int8_t)((w[b].qs[32 * j + l] >> 4) | (((w[b].qh[l] >> (2 * j + 1)) & 1) << 4));
            }
        s += dot_k4_common(q, w[b].d, w[b].dmin, w[b].scales, &a[b]);
    }
    return s;
}

float kite__vec_dot_q6_K_ref(int n, const block_q6_K *w, const block_q8_K *a) {
    float s = 0;
    int8_t q[QK_K];
    for (int b = 0; b < n / QK_K; b++) {
        // per half h (128 elements): ql = ql + 64h, qh = qh + 32h; element 128h + 32i + l has
        // low nibble from ql[l + 32(i&1)] (i < 2: low, else high) and 2 high bits (qh[l] >> 2i)
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = w[b].ql + 64 * h, *qh = w[b].qh + 32 * h;
            for (int i = 0; i < 4; i++)
                for (int l = 0; l < 32; l++) {
                    int lo = (ql[l + 32 * (i & 1)] >> (4 * (i >> 1))) & 0x0F;
                    int hi = (qh[l] >> (2 * i)) & 3;
                    q[128 * h + 32 * i + l] = (int8_t)((lo | (hi << 4)) - 32);
                }
        }
        int isum = 0;
        for (int sb = 0; sb < 16; sb++) isum += w[b].scales[sb] * kite__idot(q + 16 * sb, a[b].qs + 16 * sb, 16);
        s += F16(w[b].d) * a[b].d * (float)isum;
    }
    return s;
}

float kite__vec_dot_iq4_xs_ref(int n, const block_iq4_xs *w, const block_q8_K *a) {
    float s = 0;
    int8_t q[32];
    for (int b = 0; b < n / QK_K; b++) {
        int isum = 0; // |isum| <= 8 * 32 * 127 * 128 * 32 < 2^31
        for (int sb = 0; sb < 8; sb++) {
            // 6-bit scale: low 4 bits in a nibble of scales_l, high 2 bits in scales_h
            int ls = ((w[b].scales_l[sb / 2] >> (4 * (sb & 1))) & 0x0F) | (((w[b].scales_h >> (2 * sb)) & 3) << 4);
            unpack_nibbles(w[b].qs + 16 * sb, q);
            for (int j = 0; j < 32; j++) q[j] = kite__kvalues_iq4nl[q[j]];
            isum += (ls - 32) * kite__idot(q, a[b].qs + 32 * sb, 32);
        }
        s += F16(w[b].d) * a[b].d * (float)isum;
    }
    return s;
}

// ---- the scalar kernel set: tiles made of single dots ------------------------------------

KITE_REF_TILE(tile_f32, float, float, kite__vec_dot_f32_ref)
KITE_REF_TILE(tile_f16, kite_f16, kite_f16, kite__vec_dot_f16_ref)
KITE_REF_TILE(tile_bf16, kite_bf16, kite_bf16, kite__vec_dot_bf16_ref)
KITE_REF_TILE(tile_q4_0, block_q4_0, block_q8_0, kite__vec_dot_q4_0_ref)
KITE_REF_TILE(tile_q4_1, block_q4_1, block_q8_1, kite__vec_dot_q4_1_ref)
KITE_REF_TILE(tile_q5_0, block_q5_0, block_q8_0, kite__vec_dot_q5_0_ref)
KITE_REF_TILE(tile_q5_1, block_q5_1, block_q8_1, kite__vec_dot_q5_1_ref)
KITE_REF_TILE(tile_q8_0, block_q8_0, block_q8_0, kite__vec_dot_q8_0_ref)
KITE_REF_TILE(tile_iq4_nl, block_iq4_nl, block_q8_0, kite__vec_dot_iq4_nl_ref)
KITE_REF_TILE(tile_q2_K, block_q2_K, block_q8_K, kite__vec_dot_q2_K_ref)
KITE_REF_TILE(tile_q3_K, block_q3_K, block_q8_K, kite__vec_dot_q3_K_ref)
KITE_REF_TILE(tile_q4_K, block_q4_K, block_q8_K, kite__vec_dot_q4_K_ref)
KITE_REF_TILE(tile_q5_K, block_q5_K, block_q8_K, kite__vec_dot_q5_K_ref)
KITE_REF_TILE(tile_q6_K, block_q6_K, block_q8_K, kite__vec_dot_q6_K_ref)
KITE_REF_TILE(tile_iq4_xs, block_iq4_xs, block_q8_K, kite__vec_dot_iq4_xs_ref)

void kite__kernels_fill_ref(kite__kernels *k) {
    memset(k, 0, sizeof *k);
    k->isa = "scalar";
    KITE_SET_TILES(k);
    kite__kernels_fill_ref_iq(k);
    k->quant_q8_0 = kite_quantize_row_q8_0_ref;
    k->quant_q8_1 = kite_quantize_row_q8_1_ref;
    k->quant_q8_K = kite_quantize_row_q8_K_ref;
    k->attend = kite__attend_head_ref;
    k->swiglu = kite__swiglu_ref;
    k->geglu = kite__geglu_ref;
    k->softcap = kite__softcap_ref;
    k->rmsnorm_rows = kite__rmsnorm_rows_ref;
}
