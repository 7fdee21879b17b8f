// kernels_neon.c - aarch64 NEON tiles with the dot-product extension (SDOT: 4 int8 products
// per int32 lane). Levels are decoded to signed int8 so every type uses the same signed dot.
// The row tiles here (GEMV and 1-3 tokens): 32-element blocks run 4 rows x 2 tokens per pass,
// k-quants stream one row for 2 tokens. 4 or more tokens (prefill) go to the lanes = tokens
// tiles of kernels_neon_tokens.inc. Float results follow the canonical order of
// kernels_internal.h (the _ref's bits).
#include "kernels/kernels_internal.h"
#include "kernels/kernel_kinds.h"

#include <arm_neon.h>
#include <string.h>

#include "blocks/block_util.h"
#include "kernels/attend.h"

#define AI static inline __attribute__((always_inline))
#define NT_MAX 2

AI float h2f(const void *p) {
    __fp16 h;
    memcpy(&h, p, 2);
    return (float)h;
}

// A 4-row pass reads four short interleaved streams that hardware prefetchers pick up late;
// walk a whole number of row groups ahead, at least 8 KB (the x86 measurement: short rows
// otherwise prefetch less than one DRAM latency ahead).
enum { PF_MIN = 8192 };
AI size_t prefetch_distance(size_t ws) {
    size_t g = 4 * ws;
    return g >= PF_MIN ? g : (PF_MIN + g - 1) / g * g;
}
AI void prefetch_range(const uint8_t *p, size_t bytes) {
    for (size_t o = 0; o < bytes; o += 64) __builtin_prefetch(p + o);
}

// 16 bytes of nibbles -> levels of elements 0..15 (low) and 16..31 (high)
AI void nibbles(const uint8_t *qs, int8x16_t *lo, int8x16_t *hi) {
    uint8x16_t b = vld1q_u8(qs);
    *lo = vreinterpretq_s8_u8(vandq_u8(b, vdupq_n_u8(0x0F)));
    *hi = vreinterpretq_s8_u8(vshrq_n_u8(b, 4));
}

// 0x10 in byte j where bit j of the 16-bit value h is set
AI int8x16_t bits16_to_0x10(uint32_t h) {
    uint8x16_t v = vcombine_u8(vdup_n_u8((uint8_t)h), vdup_n_u8((uint8_t)(h >> 8)));
    static const uint8_t bits[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    return vreinterpretq_s8_u8(vandq_u8(vtstq_u8(v, vld1q_u8(bits)), vdupq_n_u8(0x10)));
}

// ---- 32-element blocks x Q8_0 / Q8_1 -------------------------------------------------------



AI void k_levels(int kind, const uint8_t *b, int8x16_t *l0, int8x16_t *l1) {
    switch (kind) {
    case K_Q4_0:
        nibbles(((const block_q4_0 *)b)->qs, l0, l1);
        *l0 = vsubq_s8(*l0, vdupq_n_s8(8)), *l1 = vsubq_s8(*l1, vdupq_n_s8(8));
        break;
    case K_Q4_1: nibbles(((const block_q4_1 *)b)->qs, l0, l1); break;
    case K_Q5_0: case K_Q5_1: {
        const uint8_t *qs = kind == K_Q5_0 ? ((const block_q5_0 *)b)->qs : ((const block_q5_1 *)b)->qs;
        const uint8_t *qhp = kind == K_Q5_0 ? ((const block_q5_0 *)b)->qh : ((const block_q5_1 *)b)->qh;
        uint32_t qh;
        memcpy(&qh, qhp, 4);
        nibbles(qs, l0, l1);
        *l0 = vorrq_s8(*l0, bits16_to_0x10(qh & 0xffff));
        *l1 = vorrq_s8(*l1, bits16_to_0x10(qh >> 16));
        if (kind == K_Q5_0) *l0 = vsubq_s8(*l0, vdupq_n_s8(16)), *l1 = vsubq_s8(*l1, vdupq_n_s8(16));
        break;
    }
    case K_Q8_0: *l0 = vld1q_s8(((const block_q8_0 *)b)->qs), *l1 = vld1q_s8(((const block_q8_0 *)b)->qs + 16); break;
    default: {
        const int8x16_t tbl = vld1q_s8(kite__kvalues_iq4nl);
        nibbles(((const block_iq4_nl *)b)->qs, l0, l1);
        *l0 = vqtbl1q_s8(tbl, vreinterpretq_u8_s8(*l0)), *l1 = vqtbl1q_s8(tbl, vreinterpretq_u8_s8(*l1));
    }
    }
}

// Four half floats at p, p + stride, p + 2*stride, p + 3*stride as one vector (exact).
AI float32x4_t h2f_x4(const uint8_t *p, size_t stride) {
    uint16_t h[4];
    for (int r = 0; r < 4; r++) memcpy(&h[r], p + r * stride, 2);
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h)));
}

// The canonical order of kernels_internal.h: per block the exact integer dot, then one float
// term added to one running sum per (row, token). The 4-row pass reduces the four rows' int32x4
// partial dots with a pairwise-add tree into one vector with lane = row, so the float term of
// four rows is computed at once (vmulq/vaddq, each op rounded alone: no FMA).
AI void micro32(int kind, int nb, const uint8_t *w, size_t ws, const uint8_t *a, size_t as, float *y, size_t ys,
                const int NR, const int NT) {
    const size_t wsz = k_wsize(kind);
    const size_t asz = k_has_min(kind) ? sizeof(block_q8_1) : sizeof(block_q8_0);
    const size_t aq = k_has_min(kind) ? 4 : 2;
    float32x4_t acc[NT_MAX]; // NR == 4: lane r is row r's running sum
    float acc1[NT_MAX];      // NR == 1
    for (int t = 0; t < NT; t++) acc[t] = vdupq_n_f32(0), acc1[t] = 0;
    const size_t pf_dist = prefetch_distance(ws);
    for (int b = 0; b < nb; b++) {
        if (NR == 4) prefetch_range(w + pf_dist + b * 4 * wsz, 4 * wsz);
        int8x16_t a0[NT_MAX], a1[NT_MAX];
        float ad[NT_MAX], as_[NT_MAX];
        for (int t = 0; t < NT; t++) {
            const uint8_t *ab = a + t * as + b * asz;
            a0[t] = vld1q_s8((const int8_t *)(ab + aq)), a1[t] = vld1q_s8((const int8_t *)(ab + aq + 16));
            ad[t] = h2f(ab);
            as_[t] = k_has_min(kind) ? h2f(ab + 2) : 0;
        }
        const uint8_t *wb0 = w + b * wsz;
        if (NR == 4) {
            int32x4_t p[4][NT_MAX];
            for (int r = 0; r < 4; r++) {
                int8x16_t l0, l1;
                k_levels(kind, wb0 + r * ws, &l0, &l1);
                for (int t = 0; t < NT; t++) p[r][t] = vdotq_s32(vdotq_s32(vdupq_n_s32(0), l0, a0[t]), l1, a1[t]);
            }
            const float32x4_t dw = h2f_x4(wb0, ws);
            float32x4_t mw = vdupq_n_f32(0);
            if (k_has_min(kind)) mw = h2f_x4(wb0 + 2, ws);
            for (int t = 0; t < NT; t++) {
                const int32x4_t isum = vpaddq_s32(vpaddq_s32(p[0][t], p[1][t]), vpaddq_s32(p[2][t], p[3][t]));
                float32x4_t term = vmulq_f32(vmulq_n_f32(dw, ad[t]), vcvtq_f32_s32(isum));
                if (k_has_min(kind)) term = vaddq_f32(term, vmulq_n_f32(mw, as_[t]));
                acc[t] = vaddq_f32(acc[t], term);
            }
        } else {
            int8x16_t l0, l1;
            k_levels(kind, wb0, &l0, &l1);
            const float dw = h2f(wb0);
            for (int t = 0; t < NT; t++) {
                const int isum = vaddvq_s32(vdotq_s32(vdotq_s32(vdupq_n_s32(0), l0, a0[t]), l1, a1[t]));
                float term = (dw * ad[t]) * (float)isum;
                if (k_has_min(kind)) term = term + h2f(wb0 + 2) * as_[t];
                acc1[t] = acc1[t] + term;
            }
        }
    }
    for (int t = 0; t < NT; t++) {
        if (NR == 4) vst1q_f32(y + t * ys, acc[t]);
        else y[t * ys] = acc1[t];
    }
}

// ---- k-quants x Q8_K ------------------------------------------------------------------------

enum { K_Q4_K, K_Q5_K, K_Q6_K, K_Q2_K, K_Q3_K, K_IQ4_XS };

AI size_t kk_wsize(int kind) {
    return kind == K_Q4_K ? sizeof(block_q4_K) : kind == K_Q5_K ? sizeof(block_q5_K) : kind == K_Q6_K ? sizeof(block_q6_K)
         : kind == K_Q2_K ? sizeof(block_q2_K) : kind == K_Q3_K ? sizeof(block_q3_K) : sizeof(block_iq4_xs);
}

AI int32x4_t dot32(int8x16_t l0, int8x16_t l1, const int8_t *q) {
    return vdotq_s32(vdotq_s32(vdupq_n_s32(0), l0, vld1q_s8(q)), l1, vld1q_s8(q + 16));
}

AI void micro_k(int kind, int nb, const uint8_t *w, size_t ws, const uint8_t *a, size_t as, float *y, size_t ys,
                const int NR, const int NT) {
    const size_t wsz = kk_wsize(kind);
    const uint8x16_t m4 = vdupq_n_u8(0x0F);
    for (int r = 0; r < NR; r++) {
        const uint8_t *wr = w + r * ws;
        float acc[NT_MAX]; // one running sum per token (canonical order)
        for (int t = 0; t < NT; t++) acc[t] = 0;
        for (int b = 0; b < nb; b++) {
            const uint8_t *wb = wr + b * wsz;
            const block_q8_K *ab[NT_MAX];
            int32x4_t isum[NT_MAX];
            int msum[NT_MAX]; // min term sum (Q2_K, Q4_K, Q5_K)
            for (int t = 0; t < NT; t++) ab[t] = (const block_q8_K *)(a + t * as) + b, isum[t] = vdupq_n_s32(0), msum[t] = 0;
            float d, dmin = 0;
            if (kind == K_Q4_K || kind == K_Q5_K) {
                const block_q4_K *x4 = (const block_q4_K *)wb;
                const uint8_t *qs = kind == K_Q4_K ? x4->qs : ((const block_q5_K *)wb)->qs;
                d = h2f(&x4->d);
                dmin = h2f(&x4->dmin);
                uint8_t sc[8], mn[8];
                kite__unpack_scales_k4(x4->scales, sc, mn);
                uint8x16_t qh0 = vdupq_n_u8(0), qh1 = qh0;
                if (kind == K_Q5_K) qh0 = vld1q_u8(((const block_q5_K *)wb)->qh), qh1 = vld1q_u8(((const block_q5_K *)wb)->qh + 16);
                for (int j = 0; j < 4; j++) {
                    uint8x16_t b0 = vld1q_u8(qs + 32 * j), b1 = vld1q_u8(qs + 32 * j + 16);
                    uint8x16_t lo0 = vandq_u8(b0, m4), lo1 = vandq_u8(b1, m4);
                    uint8x16_t hi0 = vshrq_n_u8(b0, 4), hi1 = vshrq_n_u8(b1, 4);
                    if (kind == K_Q5_K) {
                        const uint8x16_t bl = vdupq_n_u8((uint8_t)(1 << (2 * j))), bh = vdupq_n_u8((uint8_t)(2 << (2 * j)));
                        const uint8x16_t h16 = vdupq_n_u8(0x10);
                        lo0 = vorrq_u8(lo0, vandq_u8(vtstq_u8(qh0, bl), h16));
                        lo1 = vorrq_u8(lo1, vandq_u8(vtstq_u8(qh1, bl), h16));
                        hi0 = vorrq_u8(hi0, vandq_u8(vtstq_u8(qh0, bh), h16));
                        hi1 = vorrq_u8(hi1, vandq_u8(vtstq_u8(qh1, bh), h16));
                    }
                    for (int t = 0; t < NT; t++) {
                        isum[t] = vmlaq_n_s32(isum[t], dot32(vreinterpretq_s8_u8(lo0), vreinterpretq_s8_u8(lo1), ab[t]->qs + 64 * j), sc[2 * j]);
                        isum[t] = vmlaq_n_s32(isum[t], dot32(vreinterpretq_s8_u8(hi0), vreinterpretq_s8_u8(hi1), ab[t]->qs + 64 * j + 32), sc[2 * j + 1]);
                    }
                }
                for (int t = 0; t < NT; t++) {
                    int ms = 0;
                    for (int s = 0; s < 8; s++) ms += mn[s] * (ab[t]->bsums[2 * s] + ab[t]->bsums[2 * s + 1]);
                    msum[t] = ms;
                }
            } else if (kind == K_Q2_K || kind == K_Q3_K) { // 2-bit levels (+ high bit - 4), scale per 16
                const uint8_t *qs = kind == K_Q2_K ? ((const block_q2_K *)wb)->qs : ((const block_q3_K *)wb)->qs;
                int8_t sc[16];
                uint8x16_t hm0 = vdupq_n_u8(0), hm1 = hm0;
                if (kind == K_Q2_K) {
                    const block_q2_K *x2 = (const block_q2_K *)wb;
                    d = h2f(&x2->d);
                    dmin = h2f(&x2->dmin);
                    for (int k = 0; k < 16; k++) sc[k] = (int8_t)(x2->scales[k] & 0x0F);
                    for (int t = 0; t < NT; t++) {
                        int ms = 0;
                        for (int k = 0; k < 16; k++) ms += (x2->scales[k] >> 4) * ab[t]->bsums[k];
                        msum[t] = ms;
                    }
                } else {
                    const block_q3_K *x3 = (const block_q3_K *)wb;
                    d = h2f(&x3->d);
                    kite__unpack_scales_q3k(x3->scales, sc);
                    hm0 = vld1q_u8(x3->hmask), hm1 = vld1q_u8(x3->hmask + 16);
                }
                for (int h = 0; h < 2; h++) {
                    const uint8x16_t q0 = vld1q_u8(qs + 32 * h), q1 = vld1q_u8(qs + 32 * h + 16);
                    for (int j = 0; j < 4; j++) {
                        const uint8x16_t m3 = vdupq_n_u8(3);
                        const int8x16_t sh = vdupq_n_s8((int8_t)(-2 * j)); // right shift by 2j
                        uint8x16_t u0 = vandq_u8(vshlq_u8(q0, sh), m3), u1 = vandq_u8(vshlq_u8(q1, sh), m3);
                        int8x16_t l0 = vreinterpretq_s8_u8(u0), l1 = vreinterpretq_s8_u8(u1);
                        if (kind == K_Q3_K) {
                            const uint8x16_t bit = vdupq_n_u8((uint8_t)(1 << (4 * h + j))), four = vdupq_n_u8(4);
                            l0 = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(u0, vandq_u8(vtstq_u8(hm0, bit), four))), vdupq_n_s8(4));
                            l1 = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(u1, vandq_u8(vtstq_u8(hm1, bit), four))), vdupq_n_s8(4));
                        }
                        const int g = 4 * h + j;
                        for (int t = 0; t < NT; t++) {
                            const int8_t *q = ab[t]->qs + 32 * g;
                            isum[t] = vmlaq_n_s32(isum[t], vdotq_s32(vdupq_n_s32(0), l0, vld1q_s8(q)), sc[2 * g]);
                            isum[t] = vmlaq_n_s32(isum[t], vdotq_s32(vdupq_n_s32(0), l1, vld1q_s8(q + 16)), sc[2 * g + 1]);
                        }
                    }
                }
            } else if (kind == K_IQ4_XS) {
                const block_iq4_xs *xi = (const block_iq4_xs *)wb;
                d = h2f(&xi->d);
                const int8x16_t tbl = vld1q_s8(kite__kvalues_iq4nl);
                for (int sb = 0; sb < 8; sb++) {
                    int ls = ((xi->scales_l[sb / 2] >> (4 * (sb & 1))) & 0x0F) | (((xi->scales_h >> (2 * sb)) & 3) << 4);
                    int8x16_t l0, l1;
                    nibbles(xi->qs + 16 * sb, &l0, &l1);
                    l0 = vqtbl1q_s8(tbl, vreinterpretq_u8_s8(l0)), l1 = vqtbl1q_s8(tbl, vreinterpretq_u8_s8(l1));
                    for (int t = 0; t < NT; t++) isum[t] = vmlaq_n_s32(isum[t], dot32(l0, l1, ab[t]->qs + 32 * sb), ls - 32);
                }
            } else { // Q6_K: signed levels (q - 32), one int8 scale per 16
                const block_q6_K *x6 = (const block_q6_K *)wb;
                d = h2f(&x6->d);
                for (int h = 0; h < 2; h++) {
                    const uint8_t *ql = x6->ql + 64 * h, *qhp = x6->qh + 32 * h;
                    const uint8x16_t qh0 = vld1q_u8(qhp), qh1 = vld1q_u8(qhp + 16);
                    for (int i = 0; i < 4; i++) {
                        uint8x16_t b0 = vld1q_u8(ql + 32 * (i & 1)), b1 = vld1q_u8(ql + 32 * (i & 1) + 16);
                        if (i >> 1) b0 = vshrq_n_u8(b0, 4), b1 = vshrq_n_u8(b1, 4);
                        else b0 = vandq_u8(b0, m4), b1 = vandq_u8(b1, m4);
                        const uint8x16_t m3 = vdupq_n_u8(0x30);
                        // bits 2i, 2i+1 of qh -> bits 4, 5 (shift amounts are constants after unrolling)
                        uint8x16_t h0, h1;
                        switch (i) {
                        case 0: h0 = vshlq_n_u8(qh0, 4), h1 = vshlq_n_u8(qh1, 4); break;
                        case 1: h0 = vshlq_n_u8(qh0, 2), h1 = vshlq_n_u8(qh1, 2); break;
                        case 2: h0 = qh0, h1 = qh1; break;
                        default: h0 = vshrq_n_u8(qh0, 2), h1 = vshrq_n_u8(qh1, 2); break;
                        }
                        int8x16_t l0 = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(b0, vandq_u8(h0, m3))), vdupq_n_s8(32));
                        int8x16_t l1 = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(b1, vandq_u8(h1, m3))), vdupq_n_s8(32));
                        const int g = 4 * h + i;
                        for (int t = 0; t < NT; t++) {
                            const int8_t *q = ab[t]->qs + 32 * g;
                            isum[t] = vmlaq_n_s32(isum[t], vdotq_s32(vdupq_n_s32(0), l0, vld1q_s8(q)), x6->scales[2 * g]);
                            isum[t] = vmlaq_n_s32(isum[t], vdotq_s32(vdupq_n_s32(0), l1, vld1q_s8(q + 16)), x6->scales[2 * g + 1]);
                        }
                    }
                }
            }
            // the super-block's exact integer dot, then its float term (each op rounded alone)
            const int has_min = kind == K_Q2_K || kind == K_Q4_K || kind == K_Q5_K;
            for (int t = 0; t < NT; t++) {
                const float is = (float)vaddvq_s32(isum[t]), da = ab[t]->d;
                if (has_min) acc[t] = acc[t] + ((d * da) * is - (dmin * da) * (float)msum[t]);
                else acc[t] = acc[t] + (d * da) * is;
            }
        }
        for (int t = 0; t < NT; t++) y[t * ys + r] = acc[t];
    }
}

// ---- f16 / f32 (f32 arithmetic, as the _ref and ggml's x86 path) -----------------------------


AI void load8f(int kind, const uint8_t *p, int i, float32x4_t *lo, float32x4_t *hi) {
    if (kind == K_F32) {
        *lo = vld1q_f32((const float *)p + i), *hi = vld1q_f32((const float *)p + i + 4);
    } else if (kind == K_F16) {
        float16x8_t h = vreinterpretq_f16_u16(vld1q_u16((const uint16_t *)p + i));
        *lo = vcvt_f32_f16(vget_low_f16(h)), *hi = vcvt_high_f32_f16(h);
    } else { // bf16 is the top half of a float
        uint16x8_t h = vld1q_u16((const uint16_t *)p + i);
        *lo = vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(h), 16));
        *hi = vreinterpretq_f32_u32(vshll_high_n_u16(h, 16));
    }
}
AI float load1f(int kind, const uint8_t *p, int i) {
    if (kind == K_BF16) {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        return kite_bf16_to_f32(h);
    }
    return kind == K_F32 ? ((const float *)p)[i] : h2f(p + 2 * i);
}

// NR rows x NT tokens in the canonical chunked 8-lane order (kernels_internal.h): one 8-lane
// accumulator per (row, token) as two vectors (lanes 0-3, 4-7), reduced at each chunk's end as
// u = lo + hi = [l0+l4, l1+l5, l2+l6, l3+l7], then (u0 + u2) + (u1 + u3). F16 products are
// exact in float, so FMA gives the same bits there; F32 and BF16 multiply, then add.
AI void micro_f(int kind, int n, const uint8_t *w, size_t ws, const uint8_t *a, size_t as, float *y, size_t ys,
                const int NR, const int NT) {
    float s[4][NT_MAX];
    for (int r = 0; r < NR; r++)
        for (int t = 0; t < NT; t++) s[r][t] = 0;
    for (int c0 = 0; c0 < n; c0 += KITE_FDOT_CHUNK) {
        const int len = n - c0 < KITE_FDOT_CHUNK ? n - c0 : KITE_FDOT_CHUNK, full = len & ~7;
        float32x4_t acc0[4][NT_MAX], acc1[4][NT_MAX];
        for (int r = 0; r < NR; r++)
            for (int t = 0; t < NT; t++) acc0[r][t] = acc1[r][t] = vdupq_n_f32(0);
        for (int i = c0; i < c0 + full; i += 8) {
            float32x4_t a0[NT_MAX], a1[NT_MAX];
            for (int t = 0; t < NT; t++) load8f(kind, a + t * as, i, &a0[t], &a1[t]);
            for (int r = 0; r < NR; r++) {
                float32x4_t w0, w1;
                load8f(kind, w + r * ws, i, &w0, &w1);
                for (int t = 0; t < NT; t++) {
                    if (kind == K_F16) {
                        acc0[r][t] = vfmaq_f32(acc0[r][t], w0, a0[t]);
                        acc1[r][t] = vfmaq_f32(acc1[r][t], w1, a1[t]);
                    } else {
                        acc0[r][t] = vaddq_f32(acc0[r][t], vmulq_f32(w0, a0[t]));
                        acc1[r][t] = vaddq_f32(acc1[r][t], vmulq_f32(w1, a1[t]));
                    }
                }
            }
        }
        for (int r = 0; r < NR; r++)
            for (int t = 0; t < NT; t++) {
                const float32x4_t u = vaddq_f32(acc0[r][t], acc1[r][t]);
                float c = (vgetq_lane_f32(u, 0) + vgetq_lane_f32(u, 2)) + (vgetq_lane_f32(u, 1) + vgetq_lane_f32(u, 3));
                for (int i = c0 + full; i < c0 + len; i++)
                    c = c + load1f(kind, w + r * ws, i) * load1f(kind, a + t * as, i);
                s[r][t] = s[r][t] + c;
            }
    }
    for (int r = 0; r < NR; r++)
        for (int t = 0; t < NT; t++) y[t * ys + r] = s[r][t];
}

// ---- tile drivers: 4 or more tokens through the lanes = tokens tiles, the rest row tiles ------

#include "kernels/kernels_neon_tokens.inc"

NEON_TILE32(tile_q4_0, K_Q4_0)
NEON_TILE32(tile_q4_1, K_Q4_1)
NEON_TILE32(tile_q5_0, K_Q5_0)
NEON_TILE32(tile_q5_1, K_Q5_1)
NEON_TILE32(tile_q8_0, K_Q8_0)
NEON_TILE32(tile_iq4_nl, K_IQ4_NL)
NEON_TILEK(tile_q4_K, K_Q4_K)
NEON_TILEK(tile_q5_K, K_Q5_K)
NEON_TILEK(tile_q6_K, K_Q6_K)
NEON_TILEK(tile_q2_K, K_Q2_K)
NEON_TILEK(tile_q3_K, K_Q3_K)
NEON_TILEK(tile_iq4_xs, K_IQ4_XS)
KITE_TILE(tile_f32, micro_f, K_F32, n)
KITE_TILE(tile_f16, micro_f, K_F16, n)
KITE_TILE(tile_bf16, micro_f, K_BF16, n)

#include "kernels/kernels_neon_iq.inc"

void kite__kernels_fill_neon(kite__kernels *k) {
    k->isa = "neon";
    k->attend = kite__attend_head_neon;
    k->attend_group = kite__attend_group_neon;
    k->attend_group_softcap = true; // kite__attend_head_capped_neon caps in vector lanes (the scalar op's bits)
    k->swiglu = kite__swiglu_neon;
    k->geglu = kite__geglu_neon;
    k->softcap = kite__softcap_neon;
    k->rmsnorm_rows = kite__rmsnorm_rows_neon;
    KITE_SET_TILES(k);
    KITE_SET_TILES_IQ(k);
}
