// kernels_x86.h - the x86 tiles, written once and compiled twice: by kernels_avx2.c (AVX2+FMA,
// maddubs for int8 dots) and by kernels_avx512.c (KITE_X86_VNNI: AVX-512VL VNNI dpbusd/dpwssd
// on 256-bit vectors, whose 32 registers also allow wider token tiles).
// The row tiles compute NR weight rows x NT tokens per pass (GEMV and up to 3 tokens): the
// weight block is decoded once and used for NT tokens, the activation block loaded once and
// used for NR rows. 4 tokens or more go to the lanes = tokens tiles of kernels_x86_tokens.h.
// All of them follow the canonical float order of kernels_internal.h.
#ifndef KITE_KERNELS_X86_H
#define KITE_KERNELS_X86_H

#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "kernels/kernels_internal.h"
#include "kernels/kernel_kinds.h"
#include "blocks/block_util.h"

#define AI static inline __attribute__((always_inline))

#ifdef KITE_X86_VNNI
#define KITE_X86_HAS_VNNI 1
#else
#define KITE_X86_HAS_VNNI 0
#endif

#ifdef KITE_X86_VNNI
// Token tile width: 4 rows x 4 tokens of float accumulators fit in 32 ymm registers.
#define NT_MAX 4
#else
#define NT_MAX 2 // 16 ymm registers
#endif

// ---- primitives ----------------------------------------------------------------------------

AI float f16s(const void *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

// 8 int32 lanes; lane k = sum of u8 u[4k..4k+3] times s8 s[4k..4k+3] (no saturation in the
// ranges used here: |u| <= 128, |s| <= 127, so maddubs pairs stay below 2^15).
AI __m256i dot_us(__m256i u, __m256i s) {
#ifdef KITE_X86_VNNI
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s);
#else
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
#endif
}

// acc + dot_us(u, s), fused where the ISA has it.
AI __m256i dot_us_acc(__m256i acc, __m256i u, __m256i s) {
#ifdef KITE_X86_VNNI
    return _mm256_dpbusd_epi32(acc, u, s);
#else
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
#endif
}

// acc + pairwise int16 products p*s summed into int32 lanes.
AI __m256i madd_acc(__m256i acc, __m256i p, __m256i s) {
#ifdef KITE_X86_VNNI
    return _mm256_dpwssd_epi32(acc, p, s);
#else
    return _mm256_add_epi32(acc, _mm256_madd_epi16(p, s));
#endif
}

AI float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// Prefetches `bytes` starting at p into L1. A 4-row pass reads four short interleaved streams
// (one row is 0.3-2 KB), which the hardware prefetcher only picks up after a few misses each;
// walking the next row group's bytes linearly at the rate this group is consumed keeps the
// memory pipe full (measured: 5 -> 18 GB/s for cold Q8_0 GEMV on Zen 4).
AI void prefetch_next(const uint8_t *p, size_t bytes) {
    for (size_t o = 0; o < bytes; o += 64) _mm_prefetch((const char *)p + o, _MM_HINT_T0);
}

// A half read from memory, converted and broadcast to all 8 lanes (vpbroadcastw + vcvtph2ps).
AI __m256 f16_bcast(const void *p) {
    short h;
    memcpy(&h, p, 2);
    return _mm256_cvtph_ps(_mm_set1_epi16(h));
}

// How far ahead a 4-row pass prefetches: a whole number of row groups, at least PF_MIN bytes:
// short rows (Q5_0 576 wide: 1.6 KB per group) would otherwise prefetch less than one DRAM
// latency ahead (measured on SmolLM2-135M shapes: decode 1.4-2x faster with 4-8 KB).
enum { PF_MIN = 8192 };
AI size_t prefetch_distance(size_t ws) {
    size_t g = 4 * ws;
    return g >= PF_MIN ? g : (PF_MIN + g - 1) / g * g;
}

AI __m256i loadu(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }

// 16 bytes of nibbles -> 32 levels: element j < 16 is the low nibble of byte j, element
// j + 16 its high nibble (the Q4_0/Q4_1/Q5/IQ4 order).
AI __m256i nibbles32(const uint8_t *qs) {
    // the 16 bytes in both halves, the upper half shifted by 4: one broadcast load, one
    // per-lane variable shift (no cross-lane insert)
    __m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qs));
    v = _mm256_srlv_epi64(v, _mm256_setr_epi64x(0, 0, 4, 4));
    return _mm256_and_si256(v, _mm256_set1_epi8(0x0F));
}

// 0x10 in byte j where bit j of the little-endian 32-bit qh is set (Q5_0/Q5_1 bit 4).
AI __m256i q5_high(const uint8_t *qh) {
    uint32_t h;
    memcpy(&h, qh, 4);
    __m256i v = _mm256_set1_epi32((int)h);
    const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                            2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bits = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    v = _mm256_and_si256(_mm256_shuffle_epi8(v, spread), bits);
    return _mm256_and_si256(_mm256_cmpeq_epi8(v, bits), _mm256_set1_epi8(0x10));
}

AI __m256i iq4nl_table(void) {
    __m128i t = _mm_loadu_si128((const __m128i *)kite__kvalues_iq4nl);
    return _mm256_set_m128i(t, t);
}

// ---- the 32-element block family x Q8_0 / Q8_1 ---------------------------------------------

// Unsigned levels (Q4_0/Q5_0) carry an offset subtracted via the activation sum; signed ones
// (Q8_0/IQ4_NL) go through abs/sign; Q4_1/Q5_1 add the min term m * s.
AI int k_signed(int kind) { return kind == K_Q8_0 || kind == K_IQ4_NL; }

AI __m256i k_levels(int kind, const uint8_t *b) {
    switch (kind) {
    case K_Q4_0: return nibbles32(((const block_q4_0 *)b)->qs);
    case K_Q4_1: return nibbles32(((const block_q4_1 *)b)->qs);
    case K_Q5_0: case K_Q5_1: {
        const uint8_t *qs = kind == K_Q5_0 ? ((const block_q5_0 *)b)->qs : ((const block_q5_1 *)b)->qs;
        const uint8_t *qh = kind == K_Q5_0 ? ((const block_q5_0 *)b)->qh : ((const block_q5_1 *)b)->qh;
#ifdef KITE_X86_VNNI
        // AVX-512BW: qh is exactly a 32-lane byte mask; OR 0x10 into the lanes it selects
        uint32_t h;
        memcpy(&h, qh, 4);
        const __m256i nib = nibbles32(qs);
        return _mm256_mask_add_epi8(nib, _cvtu32_mask32(h), nib, _mm256_set1_epi8(0x10));
#else
        return _mm256_or_si256(nibbles32(qs), q5_high(qh));
#endif
    }
    case K_Q8_0: return loadu(((const block_q8_0 *)b)->qs);
    default: return _mm256_shuffle_epi8(iq4nl_table(), nibbles32(((const block_iq4_nl *)b)->qs));
    }
}

// The 16-bit halves at p + r * stride for 4 rows, as 4 floats (one block scale of 4 weight
// rows converted at once).
AI __m128 f16_rows4(const uint8_t *p, size_t stride) {
    uint16_t h[4];
    for (int r = 0; r < 4; r++) memcpy(&h[r], p + r * stride, 2);
    return _mm_cvtph_ps(_mm_setr_epi16((short)h[0], (short)h[1], (short)h[2], (short)h[3], 0, 0, 0, 0));
}

// [sum of p0's 8 lanes, p1's, p2's, p3's] (exact: integer adds).
AI __m128i hsum4_i32(__m256i p0, __m256i p1, __m256i p2, __m256i p3) {
    const __m256i c = _mm256_hadd_epi32(_mm256_hadd_epi32(p0, p1), _mm256_hadd_epi32(p2, p3));
    return _mm_add_epi32(_mm256_castsi256_si128(c), _mm256_extracti128_si256(c, 1));
}

AI int hsum_i32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

// NR (4 or 1) rows x NT tokens. Per block, each (row, token) integer dot is reduced to one
// int32 and its float term added to that pair's running sum in block order: the canonical
// order of kernels_internal.h. With 4 rows the sums of one token live in the lanes of one
// vector (lane = row), so the block's float work is one convert, two multiplies and an add
// for 4 rows at once.
AI void micro32(int kind, int nb, const uint8_t *w, size_t ws, const uint8_t *a, size_t as, float *y, size_t ys,
                const int NR, const int NT) {
    const size_t wsz = k_wsize(kind);
    const size_t asz = k_has_min(kind) ? sizeof(block_q8_1) : sizeof(block_q8_0);
    const size_t aq = k_has_min(kind) ? 4 : 2; // offset of qs in the activation block
    __m128 acc4[NT_MAX]; // NR == 4: lane r = row r's running sum
    float acc1[NT_MAX];  // NR == 1
    for (int t = 0; t < NT; t++) acc4[t] = _mm_setzero_ps(), acc1[t] = 0;
    const size_t pf_dist = prefetch_distance(ws);
    for (int b = 0; b < nb; b++) {
        if (NR == 4) prefetch_next(w + pf_dist + b * 4 * wsz, 4 * wsz);
        __m256i av[NT_MAX], aoff[NT_MAX];
        float ad[NT_MAX], asum[NT_MAX];
        for (int t = 0; t < NT; t++) {
            const uint8_t *ab = a + t * as + b * asz;
            av[t] = loadu(ab + aq);
            ad[t] = f16s(ab);
            if (k_has_min(kind)) asum[t] = f16s(ab + 2);
            if (kind == K_Q4_0 || kind == K_Q5_0) // -offset * sum(a), lane-wise like the dot
                aoff[t] = _mm256_sub_epi32(_mm256_setzero_si256(),
                                           _mm256_slli_epi32(dot_us(_mm256_set1_epi8(1), av[t]), kind == K_Q4_0 ? 3 : 4));
        }
        __m256i q[4], u[4];
        for (int r = 0; r < NR; r++) {
            q[r] = k_levels(kind, w + r * ws + b * wsz);
            u[r] = k_signed(kind) ? _mm256_abs_epi8(q[r]) : q[r];
        }
        const uint8_t *wb = w + b * wsz;
        __m128 dw4 = _mm_setzero_ps(), m4 = _mm_setzero_ps();
        if (NR == 4) {
            dw4 = f16_rows4(wb, ws);
            if (k_has_min(kind)) m4 = f16_rows4(wb + 2, ws);
        }
        for (int t = 0; t < NT; t++) {
            __m256i p[4];
            for (int r = 0; r < NR; r++)
                p[r] = k_signed(kind)                       ? dot_us(u[r], _mm256_sign_epi8(av[t], q[r]))
                       : (kind == K_Q4_0 || kind == K_Q5_0) ? dot_us_acc(aoff[t], u[r], av[t]) // starts at -offset*sum(a)
                                                            : dot_us(u[r], av[t]);
            if (NR == 4) {
                __m128 term = _mm_mul_ps(_mm_mul_ps(dw4, _mm_set1_ps(ad[t])), _mm_cvtepi32_ps(hsum4_i32(p[0], p[1], p[2], p[3])));
                if (k_has_min(kind)) term = _mm_add_ps(term, _mm_mul_ps(m4, _mm_set1_ps(asum[t])));
                acc4[t] = _mm_add_ps(acc4[t], term);
            } else {
                float term = (f16s(wb) * ad[t]) * (float)hsum_i32(p[0]);
                if (k_has_min(kind)) term = term + f16s(wb + 2) * asum[t];
                acc1[t] = acc1[t] + term;
            }
        }
    }
    for (int t = 0; t < NT; t++) {
        if (NR == 4) _mm_storeu_ps(y + t * ys, acc4[t]);
        else y[t * ys] = acc1[t];
    }
}

// ---- k-quants x Q8_K -------------------------------------------------------------------------

enum { K_Q2_K, K_Q3_K, K_Q4_K, K_Q5_K, K_Q6_K, K_IQ4_XS };

AI size_t kk_wsize(int kind) {
    return kind == K_Q2_K ? sizeof(block_q2_K) : kind == K_Q3_K ? sizeof(block_q3_K) : kind == K_Q4_K ? sizeof(block_q4_K)
         : kind == K_Q5_K ? sizeof(block_q5_K) : kind == K_Q6_K ? sizeof(block_q6_K) : sizeof(block_iq4_xs);
}

// Sixteen 8-bit scales widened to int16, each half broadcast to both 128-bit lanes, so one
// in-lane byte shuffle with a constant mask picks any scale (or pair of scales) per lane.
typedef struct scales16 { __m256i lo, hi; } scales16;
AI scales16 scales16_load(__m128i s8, int is_signed) {
    __m128i h8 = _mm_srli_si128(s8, 8);
    __m128i a = is_signed ? _mm_cvtepi8_epi16(s8) : _mm_cvtepu8_epi16(s8);
    __m128i b = is_signed ? _mm_cvtepi8_epi16(h8) : _mm_cvtepu8_epi16(h8);
    return (scales16){_mm256_broadcastsi128_si256(a), _mm256_broadcastsi128_si256(b)};
}
// int16 lanes [scale e0 x8 | scale e1 x8] (e0, e1 < 16, both in the same half).
AI __m256i scales16_pick(scales16 s, int e0, int e1) {
    const int k0 = e0 & 7, k1 = e1 & 7;
    const __m256i m = _mm256_set_m128i(_mm_set1_epi16((short)(((2 * k1 + 1) << 8) | (2 * k1))),
                                       _mm_set1_epi16((short)(((2 * k0 + 1) << 8) | (2 * k0))));
    return _mm256_shuffle_epi8(e0 < 8 ? s.lo : s.hi, m);
}

// Q4_K/Q5_K: the 12 packed bytes -> eight 6-bit scales (bytes 0..7) and mins (bytes 8..15),
// with 32-bit word operations (the layout of kite__unpack_scales_k4).
AI __m128i k4_scales_mins(const uint8_t *s12) {
    uint32_t u[3];
    memcpy(u, s12, 12);
    const uint32_t m6 = 0x3f3f3f3f, m4 = 0x0f0f0f0f, m2 = 0x03030303;
    uint32_t sc_lo = u[0] & m6, sc_hi = (u[2] & m4) | (((u[0] >> 6) & m2) << 4);
    uint32_t mn_lo = u[1] & m6, mn_hi = ((u[2] >> 4) & m4) | (((u[1] >> 6) & m2) << 4);
    return _mm_setr_epi32((int)sc_lo, (int)sc_hi, (int)mn_lo, (int)mn_hi);
}

// The integer sums of one super-block (row block wb) for NT tokens (ab[t]: token t's Q8_K block):
// isum[t] = sum of scale * dot (offsets folded in via the bsums), msum[t] the min term's sum,
// both as 8 int32 lanes to be added up; *d and *dmin the block's float scales.
AI void ksums(int kind, const uint8_t *wb, const block_q8_K *const *ab, const int NT, __m256i *isum, __m256i *msum,
              float *d, float *dmin) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int t = 0; t < NT; t++) isum[t] = msum[t] = _mm256_setzero_si256();
    *dmin = 0;
    if (kind == K_Q4_K || kind == K_Q5_K) {
        const block_q4_K *x4 = (const block_q4_K *)wb; // Q5_K starts the same way
        const uint8_t *qs = kind == K_Q4_K ? x4->qs : ((const block_q5_K *)wb)->qs;
        *d = f16s(&x4->d), *dmin = f16s(&x4->dmin);
        const __m128i sm = k4_scales_mins(x4->scales);
        const scales16 sc = scales16_load(sm, 0); // .lo: scales, .hi: mins
        // mins repeated per 16-element half: [m0 m0 m1 m1 ... m7 m7] against the 16 bsums
        const __m256i mins16 = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(sm, sm));
        const __m256i qh = kind == K_Q5_K ? loadu(((const block_q5_K *)wb)->qh) : _mm256_setzero_si256();
        for (int j = 0; j < 4; j++) {
            __m256i bytes = loadu(qs + 32 * j);
            __m256i lo = _mm256_and_si256(bytes, m4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), m4);
            if (kind == K_Q5_K) { // bit 2j of qh[l] is bit 4 of the low level, bit 2j+1 of the high one
                const __m256i h16 = _mm256_set1_epi8(0x10);
                lo = _mm256_or_si256(lo, _mm256_and_si256(j < 2 ? _mm256_slli_epi16(qh, 4 - 2 * j) : _mm256_srli_epi16(qh, 2 * j - 4), h16));
                hi = _mm256_or_si256(hi, _mm256_and_si256(j < 2 ? _mm256_slli_epi16(qh, 3 - 2 * j) : _mm256_srli_epi16(qh, 2 * j - 3), h16));
            }
            const __m256i slo = scales16_pick(sc, 2 * j, 2 * j), shi = scales16_pick(sc, 2 * j + 1, 2 * j + 1);
            for (int t = 0; t < NT; t++) {
                isum[t] = madd_acc(isum[t], _mm256_maddubs_epi16(lo, loadu(ab[t]->qs + 64 * j)), slo);
                isum[t] = madd_acc(isum[t], _mm256_maddubs_epi16(hi, loadu(ab[t]->qs + 64 * j + 32)), shi);
            }
        }
        for (int t = 0; t < NT; t++) msum[t] = _mm256_madd_epi16(loadu(ab[t]->bsums), mins16);
    } else if (kind == K_Q6_K) {
        const block_q6_K *x6 = (const block_q6_K *)wb;
        *d = f16s(&x6->d);
        const __m128i s8 = _mm_loadu_si128((const __m128i *)x6->scales);
        const scales16 sc = scales16_load(s8, 1);
        for (int h = 0; h < 2; h++) {
            const __m256i ql0 = loadu(x6->ql + 64 * h), ql1 = loadu(x6->ql + 64 * h + 32);
            const __m256i qhv = loadu(x6->qh + 32 * h);
            for (int i = 0; i < 4; i++) {
                __m256i lo = (i & 1) ? ql1 : ql0;
                lo = _mm256_and_si256(i >> 1 ? _mm256_srli_epi16(lo, 4) : lo, m4);
                // bits 2i, 2i+1 of qh[l] -> bits 4, 5 of the level
                __m256i hb = i < 2 ? _mm256_slli_epi16(qhv, 4 - 2 * i) : _mm256_srli_epi16(qhv, 2 * i - 4);
                __m256i q = _mm256_or_si256(lo, _mm256_and_si256(hb, _mm256_set1_epi8(0x30)));
                const int g = 4 * h + i;
                const __m256i sp = scales16_pick(sc, 2 * g, 2 * g + 1);
                for (int t = 0; t < NT; t++)
                    isum[t] = madd_acc(isum[t], _mm256_maddubs_epi16(q, loadu(ab[t]->qs + 32 * g)), sp);
            }
        }
        // levels are stored +32: subtract 32 * sum(scale * bsum)
        const __m256i sc16 = _mm256_cvtepi8_epi16(s8);
        for (int t = 0; t < NT; t++)
            isum[t] = _mm256_sub_epi32(isum[t], _mm256_slli_epi32(_mm256_madd_epi16(loadu(ab[t]->bsums), sc16), 5));
    } else if (kind == K_Q3_K) {
        const block_q3_K *x3 = (const block_q3_K *)wb;
        *d = f16s(&x3->d);
        int8_t scb[16];
        kite__unpack_scales_q3k(x3->scales, scb);
        const __m128i s8 = _mm_loadu_si128((const __m128i *)scb);
        const scales16 sc = scales16_load(s8, 1);
        const __m256i hm = loadu(x3->hmask);
        for (int h = 0; h < 2; h++) {
            const __m256i qv = loadu(x3->qs + 32 * h);
            for (int j = 0; j < 4; j++) {
                __m256i lo = _mm256_and_si256(_mm256_srli_epi16(qv, 2 * j), _mm256_set1_epi8(3));
                const __m256i bit = _mm256_set1_epi8((char)(1 << (4 * h + j)));
                __m256i hb = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(hm, bit), bit), _mm256_set1_epi8(4));
                __m256i q = _mm256_or_si256(lo, hb); // level + 4, in 0..7
                const int g = 4 * h + j;
                const __m256i sp = scales16_pick(sc, 2 * g, 2 * g + 1);
                for (int t = 0; t < NT; t++)
                    isum[t] = madd_acc(isum[t], _mm256_maddubs_epi16(q, loadu(ab[t]->qs + 32 * g)), sp);
            }
        }
        const __m256i sc16 = _mm256_cvtepi8_epi16(s8);
        for (int t = 0; t < NT; t++)
            isum[t] = _mm256_sub_epi32(isum[t], _mm256_slli_epi32(_mm256_madd_epi16(loadu(ab[t]->bsums), sc16), 2));
    } else if (kind == K_Q2_K) {
        const block_q2_K *x2 = (const block_q2_K *)wb;
        *d = f16s(&x2->d), *dmin = f16s(&x2->dmin);
        const __m128i scb = _mm_loadu_si128((const __m128i *)x2->scales);
        const scales16 sc = scales16_load(_mm_and_si128(scb, _mm_set1_epi8(0x0F)), 0);
        const __m256i mins16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(scb, 4), _mm_set1_epi8(0x0F)));
        for (int h = 0; h < 2; h++) {
            const __m256i qv = loadu(x2->qs + 32 * h);
            for (int j = 0; j < 4; j++) {
                __m256i q = _mm256_and_si256(_mm256_srli_epi16(qv, 2 * j), _mm256_set1_epi8(3));
                const int g = 4 * h + j;
                const __m256i sp = scales16_pick(sc, 2 * g, 2 * g + 1);
                for (int t = 0; t < NT; t++)
                    isum[t] = madd_acc(isum[t], _mm256_maddubs_epi16(q, loadu(ab[t]->qs + 32 * g)), sp);
            }
        }
        for (int t = 0; t < NT; t++) msum[t] = _mm256_madd_epi16(loadu(ab[t]->bsums), mins16);
    } else { // IQ4_XS: signed non-linear levels through abs/sign, one scale per 32
        const block_iq4_xs *xi = (const block_iq4_xs *)wb;
        *d = f16s(&xi->d);
        const __m256i tbl = iq4nl_table();
        for (int sb = 0; sb < 8; sb++) {
            int ls = ((xi->scales_l[sb / 2] >> (4 * (sb & 1))) & 0x0F) | (((xi->scales_h >> (2 * sb)) & 3) << 4);
            __m256i q = _mm256_shuffle_epi8(tbl, nibbles32(xi->qs + 16 * sb));
            __m256i u = _mm256_abs_epi8(q);
            const __m256i s16 = _mm256_set1_epi16((short)(ls - 32));
            for (int t = 0; t < NT; t++)
                isum[t] = madd_acc(isum[t], _mm256_maddubs_epi16(u, _mm256_sign_epi8(loadu(ab[t]->qs + 32 * sb), q)), s16);
        }
    }
}

// One weight row x NT (1-3) tokens per pass, rows one after another: a k-quant row is read as
// one sequential stream (the hardware prefetcher's best case) and each decoded 32-level group
// is used for all NT tokens. Super-blocks go in pairs: the integer sums of both (isum and msum
// each) are reduced by one tree, their canonical terms computed as one vector and added to the
// running sum in block order.
AI void micro_k(int kind, int nb, const uint8_t *w, size_t ws, const uint8_t *a, size_t as, float *y, size_t ys,
                const int NR, const int NT) {
    const size_t wsz = kk_wsize(kind);
    const __m256i z = _mm256_setzero_si256();
    for (int r = 0; r < NR; r++) {
        const uint8_t *wr = w + r * ws;
        float acc[NT_MAX];
        for (int t = 0; t < NT; t++) acc[t] = 0;
        for (int b = 0; b < nb; b += 2) {
            const int pair = b + 1 < nb;
            const block_q8_K *ab0[NT_MAX], *ab1[NT_MAX];
            for (int t = 0; t < NT; t++) ab0[t] = (const block_q8_K *)(a + t * as) + b, ab1[t] = ab0[t] + pair;
            __m256i is0[NT_MAX], ms0[NT_MAX], is1[NT_MAX], ms1[NT_MAX];
            float d0, dm0, d1 = 0, dm1 = 0;
            ksums(kind, wr + b * wsz, ab0, NT, is0, ms0, &d0, &dm0);
            if (pair) ksums(kind, wr + (b + 1) * wsz, ab1, NT, is1, ms1, &d1, &dm1);
            for (int t = 0; t < NT; t++) {
                // [isum0, msum0, isum1, msum1] -> [A0, B0, A1, B1] = scales x sums -> A - B
                const __m128i x = hsum4_i32(is0[t], ms0[t], pair ? is1[t] : z, pair ? ms1[t] : z);
                const float ad0 = ab0[t]->d, ad1 = ab1[t]->d;
                const __m128 v = _mm_mul_ps(_mm_setr_ps(d0 * ad0, dm0 * ad0, d1 * ad1, dm1 * ad1), _mm_cvtepi32_ps(x));
                float tt[4];
                _mm_storeu_ps(tt, _mm_sub_ps(v, _mm_shuffle_ps(v, v, _MM_SHUFFLE(2, 3, 0, 1))));
                acc[t] = acc[t] + tt[0];
                if (pair) acc[t] = acc[t] + tt[2];
            }
        }
        for (int t = 0; t < NT; t++) y[t * ys + r] = acc[t];
    }
}

#include "kernels/kernels_x86_tokens.h"

// ---- plain number types --------------------------------------------------------------------


AI __m256 load8f(int kind, const uint8_t *p, int i) {
    if (kind == K_F32) return _mm256_loadu_ps((const float *)p + i);
    __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)p + i));
    if (kind == K_F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)); // bf16 = top half
}
AI float load1f(int kind, const uint8_t *p, int i) {
    if (kind == K_F32) return ((const float *)p)[i];
    uint16_t h;
    memcpy(&h, p + 2 * i, 2);
    return kind == K_F16 ? _cvtsh_ss(h) : kite_bf16_to_f32(h);
}

// NR rows x NT tokens in the canonical chunked 8-lane order (kernels_internal.h): one 8-lane
// accumulator per (row, token), reduced by hsum's tree at each chunk's end. F16 products are
// exact in float, so FMA gives the same bits there; F32 and BF16 multiply, then add.
AI void micro_f(int kind, int n, const uint8_t *w, size_t ws, const uint8_t *a, size_t as, float *y, size_t ys,
                const int NR, const int NT) {
    float s[4][NT_MAX];
    for (int r = 0; r < NR; r++)
        for (int t = 0; t < NT; t++) s[r][t] = 0;
    const size_t esz = kind == K_F32 ? 4 : 2;
    const size_t pf_dist = prefetch_distance(ws);
    for (int c0 = 0; c0 < n; c0 += KITE_FDOT_CHUNK) {
        const int len = n - c0 < KITE_FDOT_CHUNK ? n - c0 : KITE_FDOT_CHUNK, full = len & ~7;
        __m256 acc[4][NT_MAX];
        for (int r = 0; r < NR; r++)
            for (int t = 0; t < NT; t++) acc[r][t] = _mm256_setzero_ps();
        for (int i = c0; i < c0 + full; i += 8) {
            if (NR == 4) prefetch_next(w + pf_dist + i * 4 * esz, 4 * 8 * esz);
            __m256 av[NT_MAX];
            for (int t = 0; t < NT; t++) av[t] = load8f(kind, a + t * as, i);
            for (int r = 0; r < NR; r++) {
                const __m256 wv = load8f(kind, w + r * ws, i);
                for (int t = 0; t < NT; t++)
                    acc[r][t] = kind == K_F16 ? _mm256_fmadd_ps(wv, av[t], acc[r][t])
                                              : _mm256_add_ps(acc[r][t], _mm256_mul_ps(wv, av[t]));
            }
        }
        for (int r = 0; r < NR; r++)
            for (int t = 0; t < NT; t++) {
                float c = hsum(acc[r][t]); // ((l0+l4) + (l2+l6)) + ((l1+l5) + (l3+l7))
                for (int i = c0 + full; i < c0 + len; i++) c = c + load1f(kind, w + r * ws, i) * load1f(kind, a + t * as, i);
                s[r][t] = s[r][t] + c;
            }
    }
    for (int r = 0; r < NR; r++)
        for (int t = 0; t < NT; t++) y[t * ys + r] = s[r][t];
}

// ---- activation quantizers: the same bytes as the _ref ones -----------------------------------
// Blocks holding inf or NaN go to _ref (its NaN propagation is not worth reproducing here).

AI __m256 abs_ps(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }

// max |x| over n floats (n a multiple of 8); *finite = 0 when any is inf/NaN.
AI float amax_n(const float *x, int n, int *finite) {
    __m256 m = _mm256_setzero_ps(), bad = _mm256_setzero_ps();
    const __m256 inf = _mm256_set1_ps(INFINITY);
    for (int j = 0; j < n; j += 8) {
        __m256 a = abs_ps(_mm256_loadu_ps(x + j));
        m = _mm256_max_ps(m, a);
        bad = _mm256_or_ps(bad, _mm256_cmp_ps(a, inf, _CMP_NLT_UQ));
    }
    *finite = _mm256_movemask_ps(bad) == 0;
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

// 32 int32 (four vectors) -> 32 int8 in order (values already within int8).
AI __m256i pack32(__m256i a, __m256i b, __m256i c, __m256i d) {
    __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
    return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// roundf (half away from zero) of x * id, exactly: truncate, then step away from zero when
// the dropped fraction is >= 0.5 (both steps exact for |v| < 2^23).
AI __m256i round_away(__m256 v) {
    __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m256 frac = abs_ps(_mm256_sub_ps(v, t));
    __m256 step = _mm256_and_ps(_mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ),
                                _mm256_or_ps(_mm256_set1_ps(1.0f), _mm256_and_ps(v, _mm256_set1_ps(-0.0f))));
    return _mm256_cvttps_epi32(_mm256_add_ps(t, step));
}

static void quant_q8_x(const float *x, void *yv, int64_t n, int with_sum) {
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        int finite;
        const float amax = amax_n(x, 32, &finite);
        if (!finite) {
            if (with_sum) kite_quantize_row_q8_1_ref(x, (block_q8_1 *)yv + i, 32);
            else kite_quantize_row_q8_0_ref(x, (block_q8_0 *)yv + i, 32);
            continue;
        }
        const float d = amax / 127.0f;
        const __m256 id = _mm256_set1_ps(d != 0.0f ? 1.0f / d : 0.0f);
        __m256i q[4];
        for (int k = 0; k < 4; k++) q[k] = round_away(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), id));
        __m256i b = pack32(q[0], q[1], q[2], q[3]);
        if (with_sum) {
            block_q8_1 *y = (block_q8_1 *)yv + i;
            __m256i s = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
            __m128i h = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
            h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
            h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
            y->d = kite_f32_to_f16(d);
            y->s = kite_f32_to_f16((float)_mm_cvtsi128_si32(h) * d);
            _mm256_storeu_si256((__m256i *)y->qs, b);
        } else {
            block_q8_0 *y = (block_q8_0 *)yv + i;
            y->d = kite_f32_to_f16(d);
            _mm256_storeu_si256((__m256i *)y->qs, b);
        }
    }
}
static void quant_q8_0_simd(const float *x, block_q8_0 *y, int64_t n) { quant_q8_x(x, y, n, 0); }
static void quant_q8_1_simd(const float *x, block_q8_1 *y, int64_t n) { quant_q8_x(x, y, n, 1); }

static void quant_q8_K_simd(const float *x, block_q8_K *y, int64_t n) {
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        int finite;
        const float amax = amax_n(x, QK_K, &finite);
        if (!finite || amax == 0.0f) {
            kite_quantize_row_q8_K_ref(x, y + i, QK_K);
            continue;
        }
        int j = 0; // the first element of largest magnitude gives the sign
        while (fabsf(x[j]) != amax) j++;
        const float iscale = -127.0f / x[j];
        const __m256 is = _mm256_set1_ps(iscale);
        for (int g = 0; g < QK_K / 32; g++) {
            __m256i q[4];
            for (int k = 0; k < 4; k++) { // round to nearest even (the MXCSR default), as nearest_int
                q[k] = _mm256_cvtps_epi32(_mm256_mul_ps(is, _mm256_loadu_ps(x + 32 * g + 8 * k)));
                q[k] = _mm256_min_epi32(q[k], _mm256_set1_epi32(127));
            }
            _mm256_storeu_si256((__m256i *)(y[i].qs + 32 * g), pack32(q[0], q[1], q[2], q[3]));
            for (int h = 0; h < 2; h++) {
                __m256i s = _mm256_add_epi32(q[2 * h], q[2 * h + 1]);
                __m128i v = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
                v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0x4e));
                v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0xb1));
                y[i].bsums[2 * g + h] = (int16_t)_mm_cvtsi128_si32(v);
            }
        }
        y[i].d = 1.0f / iscale;
    }
}

// ---- tile drivers: full 4-row x NT_MAX-token micro tiles, then the edges ---------------------

X86_TILE32(tile_q4_0, K_Q4_0)
X86_TILE32(tile_q4_1, K_Q4_1)
X86_TILE32(tile_q5_0, K_Q5_0)
X86_TILE32(tile_q5_1, K_Q5_1)
X86_TILE32(tile_q8_0, K_Q8_0)
X86_TILE32(tile_iq4_nl, K_IQ4_NL)
X86_TILEK(tile_q2_K, K_Q2_K)
X86_TILEK(tile_q3_K, K_Q3_K)
X86_TILEK(tile_q4_K, K_Q4_K)
X86_TILEK(tile_q5_K, K_Q5_K)
X86_TILEK(tile_q6_K, K_Q6_K)
X86_TILEK(tile_iq4_xs, K_IQ4_XS)
KITE_TILE(tile_f32, micro_f, K_F32, n)
KITE_TILE(tile_f16, micro_f, K_F16, n)
KITE_TILE(tile_bf16, micro_f, K_BF16, n)

static void x86_fill(kite__kernels *k) {
    KITE_SET_TILES(k);
    k->quant_q8_0 = quant_q8_0_simd;
    k->quant_q8_1 = quant_q8_1_simd;
    k->quant_q8_K = quant_q8_K_simd;
}

#endif
