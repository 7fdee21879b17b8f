// kernels_x86.h - the x86 tiles, written once and compiled twice: by kernels_avx2.c (AVX2+FMA,
// maddubs for int8 dots) and by kernels_avx512.c (KITE_X86_VNNI: AVX-512VL VNNI dpbusd/dpwssd
// on 256-bit vectors, whose 32 registers also allow wider token tiles).
// Every tile computes NR weight rows x NT tokens per pass: the weight block is decoded once
// and used for NT tokens, the activation block loaded once and used for NR rows.
#ifndef KITE_KERNELS_X86_H
#define KITE_KERNELS_X86_H

#include <immintrin.h>
#include <string.h>

#include "kernels/kernels_internal.h"
#include "quant/quant_util.h"

#define AI static inline __attribute__((always_inline))

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

AI __m256i loadu(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }

// 16 bytes of nibbles -> 32 levels: element j < 16 is the low nibble of byte j, element
// j + 16 its high nibble (the Q4_0/Q4_1/Q5/IQ4 order).
AI __m256i nibbles32(const uint8_t *qs) {
    __m128i b = _mm_loadu_si128((const __m128i *)qs);
    __m256i v = _mm256_set_m128i(_mm_srli_epi16(b, 4), b);
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

enum { K_Q4_0, K_Q4_1, K_Q5_0, K_Q5_1, K_Q8_0, K_IQ4_NL };

// Unsigned levels (Q4_0/Q5_0) carry an offset subtracted via the activation sum; signed ones
// (Q8_0/IQ4_NL) go through abs/sign; Q4_1/Q5_1 add the min term m * s.
AI int k_signed(int kind) { return kind == K_Q8_0 || kind == K_IQ4_NL; }
AI int k_has_min(int kind) { return kind == K_Q4_1 || kind == K_Q5_1; }
AI size_t k_wsize(int kind) {
    return kind == K_Q4_0 ? sizeof(block_q4_0) : kind == K_Q4_1 ? sizeof(block_q4_1) : kind == K_Q5_0 ? sizeof(block_q5_0)
         : kind == K_Q5_1 ? sizeof(block_q5_1) : kind == K_Q8_0 ? sizeof(block_q8_0) : sizeof(block_iq4_nl);
}

AI __m256i k_levels(int kind, const uint8_t *b) {
    switch (kind) {
    case K_Q4_0: return nibbles32(((const block_q4_0 *)b)->qs);
    case K_Q4_1: return nibbles32(((const block_q4_1 *)b)->qs);
    case K_Q5_0: return _mm256_or_si256(nibbles32(((const block_q5_0 *)b)->qs), q5_high(((const block_q5_0 *)b)->qh));
    case K_Q5_1: return _mm256_or_si256(nibbles32(((const block_q5_1 *)b)->qs), q5_high(((const block_q5_1 *)b)->qh));
    case K_Q8_0: return loadu(((const block_q8_0 *)b)->qs);
    default: return _mm256_shuffle_epi8(iq4nl_table(), nibbles32(((const block_iq4_nl *)b)->qs));
    }
}

AI void micro32(int kind, int nb, const uint8_t *w, size_t ws, const uint8_t *a, size_t as, float *y, size_t ys,
                const int NR, const int NT) {
    const size_t wsz = k_wsize(kind);
    const size_t asz = k_has_min(kind) ? sizeof(block_q8_1) : sizeof(block_q8_0);
    const size_t aq = k_has_min(kind) ? 4 : 2; // offset of qs in the activation block
    __m256 acc[4][NT_MAX];
    float macc[4][NT_MAX];
    for (int r = 0; r < NR; r++)
        for (int t = 0; t < NT; t++) acc[r][t] = _mm256_setzero_ps(), macc[r][t] = 0;
    for (int b = 0; b < nb; b++) {
        __m256i av[NT_MAX], aoff[NT_MAX];
        __m256 ad[NT_MAX];
        float asum[NT_MAX];
        for (int t = 0; t < NT; t++) {
            const uint8_t *ab = a + t * as + b * asz;
            av[t] = loadu(ab + aq);
            ad[t] = _mm256_set1_ps(f16s(ab));
            if (k_has_min(kind)) asum[t] = f16s(ab + 2);
            if (kind == K_Q4_0 || kind == K_Q5_0) // offset * sum(a), lane-wise like the dot
                aoff[t] = _mm256_slli_epi32(dot_us(_mm256_set1_epi8(1), av[t]), kind == K_Q4_0 ? 3 : 4);
        }
        for (int r = 0; r < NR; r++) {
            const uint8_t *wb = w + r * ws + b * wsz;
            __m256i q = k_levels(kind, wb);
            __m256 dw = _mm256_set1_ps(f16s(wb));
            __m256i u = k_signed(kind) ? _mm256_abs_epi8(q) : q;
            for (int t = 0; t < NT; t++) {
                __m256i p = k_signed(kind) ? dot_us(u, _mm256_sign_epi8(av[t], q)) : dot_us(u, av[t]);
                if (kind == K_Q4_0 || kind == K_Q5_0) p = _mm256_sub_epi32(p, aoff[t]);
                acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_mul_ps(dw, ad[t]), acc[r][t]);
                if (k_has_min(kind)) macc[r][t] += f16s(wb + 2) * asum[t];
            }
        }
    }
    for (int r = 0; r < NR; r++)
        for (int t = 0; t < NT; t++) y[t * ys + r] = hsum(acc[r][t]) + macc[r][t];
}

// ---- k-quants x Q8_K -------------------------------------------------------------------------

enum { K_Q2_K, K_Q3_K, K_Q4_K, K_Q5_K, K_Q6_K, K_IQ4_XS };

AI size_t kk_wsize(int kind) {
    return kind == K_Q2_K ? sizeof(block_q2_K) : kind == K_Q3_K ? sizeof(block_q3_K) : kind == K_Q4_K ? sizeof(block_q4_K)
         : kind == K_Q5_K ? sizeof(block_q5_K) : kind == K_Q6_K ? sizeof(block_q6_K) : sizeof(block_iq4_xs);
}

// int16 scale pair for a 32-element group made of two 16-element sub-blocks s0, s1.
AI __m256i scale_pair(int s0, int s1) { return _mm256_set_m128i(_mm_set1_epi16((short)s1), _mm_set1_epi16((short)s0)); }

// Per super-block and row: integer sums isum[t] of scale * level * a (offsets folded in),
// the float factor d, and (for min types) msum[t] with factor dmin.
AI void micro_k(int kind, int nb, const uint8_t *w, size_t ws, const uint8_t *a, size_t as, float *y, size_t ys,
                const int NR, const int NT) {
    const size_t wsz = kk_wsize(kind);
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    __m256 acc[4][NT_MAX];
    for (int r = 0; r < NR; r++)
        for (int t = 0; t < NT; t++) acc[r][t] = _mm256_setzero_ps();
    for (int b = 0; b < nb; b++) {
        const block_q8_K *ab[NT_MAX];
        for (int t = 0; t < NT; t++) ab[t] = (const block_q8_K *)(a + t * as) + b;
        for (int r = 0; r < NR; r++) {
            const uint8_t *wb = w + r * ws + b * wsz;
            __m256i isum[NT_MAX], msum[NT_MAX];
            for (int t = 0; t < NT; t++) isum[t] = msum[t] = _mm256_setzero_si256();
            float d, dmin = 0;
            if (kind == K_Q4_K || kind == K_Q5_K) {
                const block_q4_K *x4 = (const block_q4_K *)wb; // Q5_K starts the same way
                const uint8_t *qs = kind == K_Q4_K ? x4->qs : ((const block_q5_K *)wb)->qs;
                d = f16s(&x4->d), dmin = f16s(&x4->dmin);
                uint8_t sc[8], mn[8], mn2[16];
                kite__unpack_scales_k4(x4->scales, sc, mn);
                for (int j = 0; j < 8; j++) mn2[2 * j] = mn2[2 * j + 1] = mn[j];
                __m256i mins16 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)mn2));
                __m256i qh = kind == K_Q5_K ? loadu(((const block_q5_K *)wb)->qh) : _mm256_setzero_si256();
                for (int j = 0; j < 4; j++) {
                    __m256i bytes = loadu(qs + 32 * j);
                    __m256i lo = _mm256_and_si256(bytes, m4);
                    __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), m4);
                    if (kind == K_Q5_K) {
                        const __m256i b0 = _mm256_set1_epi8((char)(1 << (2 * j))), b1 = _mm256_set1_epi8((char)(2 << (2 * j)));
                        const __m256i h16 = _mm256_set1_epi8(0x10);
                        lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, b0), b0), h16));
                        hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, b1), b1), h16));
                    }
                    const __m256i slo = _mm256_set1_epi16(sc[2 * j]), shi = _mm256_set1_epi16(sc[2 * j + 1]);
                    for (int t = 0; t < NT; t++) {
                        isum[t] = madd_acc(isum[t], _mm256_maddubs_epi16(lo, loadu(ab[t]->qs + 64 * j)), slo);
                        isum[t] = madd_acc(isum[t], _mm256_maddubs_epi16(hi, loadu(ab[t]->qs + 64 * j + 32)), shi);
                    }
                }
                for (int t = 0; t < NT; t++) msum[t] = _mm256_madd_epi16(loadu(ab[t]->bsums), mins16);
            } else if (kind == K_Q6_K) {
                const block_q6_K *x6 = (const block_q6_K *)wb;
                d = f16s(&x6->d);
                const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x6->scales));
                for (int h = 0; h < 2; h++) {
                    const __m256i ql0 = loadu(x6->ql + 64 * h), ql1 = loadu(x6->ql + 64 * h + 32);
                    const __m256i qhv = loadu(x6->qh + 32 * h);
                    for (int i = 0; i < 4; i++) {
                        __m256i lo = (i & 1) ? ql1 : ql0;
                        lo = _mm256_and_si256(i >> 1 ? _mm256_srli_epi16(lo, 4) : lo, m4);
                        __m256i hb = _mm256_and_si256(_mm256_srli_epi16(qhv, 2 * i), _mm256_set1_epi8(3));
                        __m256i q = _mm256_or_si256(lo, _mm256_slli_epi16(hb, 4));
                        const int g = 4 * h + i;
                        const __m256i sp = scale_pair(x6->scales[2 * g], x6->scales[2 * g + 1]);
                        for (int t = 0; t < NT; t++)
                            isum[t] = madd_acc(isum[t], _mm256_maddubs_epi16(q, loadu(ab[t]->qs + 32 * g)), sp);
                    }
                }
                // levels are stored +32: subtract 32 * sum(scale * bsum)
                for (int t = 0; t < NT; t++)
                    isum[t] = _mm256_sub_epi32(isum[t], _mm256_slli_epi32(_mm256_madd_epi16(loadu(ab[t]->bsums), sc16), 5));
            } else if (kind == K_Q3_K) {
                const block_q3_K *x3 = (const block_q3_K *)wb;
                d = f16s(&x3->d);
                int8_t sc[16];
                kite__unpack_scales_q3k(x3->scales, sc);
                const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)sc));
                const __m256i hm = loadu(x3->hmask);
                for (int h = 0; h < 2; h++) {
                    const __m256i qv = loadu(x3->qs + 32 * h);
                    for (int j = 0; j < 4; j++) {
                        __m256i lo = _mm256_and_si256(_mm256_srli_epi16(qv, 2 * j), _mm256_set1_epi8(3));
                        const __m256i bit = _mm256_set1_epi8((char)(1 << (4 * h + j)));
                        __m256i hb = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(hm, bit), bit), _mm256_set1_epi8(4));
                        __m256i q = _mm256_or_si256(lo, hb); // level + 4, in 0..7
                        const int g = 4 * h + j;
                        const __m256i sp = scale_pair(sc[2 * g], sc[2 * g + 1]);
                        for (int t = 0; t < NT; t++)
                            isum[t] = madd_acc(isum[t], _mm256_maddubs_epi16(q, loadu(ab[t]->qs + 32 * g)), sp);
                    }
                }
                for (int t = 0; t < NT; t++)
                    isum[t] = _mm256_sub_epi32(isum[t], _mm256_slli_epi32(_mm256_madd_epi16(loadu(ab[t]->bsums), sc16), 2));
            } else if (kind == K_Q2_K) {
                const block_q2_K *x2 = (const block_q2_K *)wb;
                d = f16s(&x2->d), dmin = f16s(&x2->dmin);
                const __m128i scb = _mm_loadu_si128((const __m128i *)x2->scales);
                const __m256i mins16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(scb, 4), _mm_set1_epi8(0x0F)));
                for (int h = 0; h < 2; h++) {
                    const __m256i qv = loadu(x2->qs + 32 * h);
                    for (int j = 0; j < 4; j++) {
                        __m256i q = _mm256_and_si256(_mm256_srli_epi16(qv, 2 * j), _mm256_set1_epi8(3));
                        const int g = 4 * h + j;
                        const __m256i sp = scale_pair(x2->scales[2 * g] & 0x0F, x2->scales[2 * g + 1] & 0x0F);
                        for (int t = 0; t < NT; t++)
                            isum[t] = madd_acc(isum[t], _mm256_maddubs_epi16(q, loadu(ab[t]->qs + 32 * g)), sp);
                    }
                }
                for (int t = 0; t < NT; t++) msum[t] = _mm256_madd_epi16(loadu(ab[t]->bsums), mins16);
            } else { // IQ4_XS: signed non-linear levels through abs/sign, one scale per 32
                const block_iq4_xs *xi = (const block_iq4_xs *)wb;
                d = f16s(&xi->d);
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
            for (int t = 0; t < NT; t++) {
                acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_set1_ps(d * ab[t]->d), acc[r][t]);
                if (kind == K_Q4_K || kind == K_Q5_K || kind == K_Q2_K)
                    acc[r][t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(msum[t]), _mm256_set1_ps(dmin * ab[t]->d), acc[r][t]);
            }
        }
    }
    for (int r = 0; r < NR; r++)
        for (int t = 0; t < NT; t++) y[t * ys + r] = hsum(acc[r][t]);
}

// ---- plain number types --------------------------------------------------------------------

enum { K_F32, K_F16, K_BF16 };

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

AI void micro_f(int kind, int n, const uint8_t *w, size_t ws, const uint8_t *a, size_t as, float *y, size_t ys,
                const int NR, const int NT) {
    __m256 acc[4][NT_MAX];
    for (int r = 0; r < NR; r++)
        for (int t = 0; t < NT; t++) acc[r][t] = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 av[NT_MAX];
        for (int t = 0; t < NT; t++) av[t] = load8f(kind, a + t * as, i);
        for (int r = 0; r < NR; r++) {
            __m256 wv = load8f(kind, w + r * ws, i);
            for (int t = 0; t < NT; t++) acc[r][t] = _mm256_fmadd_ps(wv, av[t], acc[r][t]);
        }
    }
    for (int r = 0; r < NR; r++)
        for (int t = 0; t < NT; t++) {
            float s = hsum(acc[r][t]);
            for (int k = i; k < n; k++) s += load1f(kind, w + r * ws, k) * load1f(kind, a + t * as, k);
            y[t * ys + r] = s;
        }
}

// ---- tile drivers: full 4-row x NT_MAX-token micro tiles, then the edges ---------------------

#define X86_TILE(name, micro, kind, len)                                                                      \
    static void name(int n, const void *wv, size_t ws, int nr, const void *av, size_t as, int nt, float *y,   \
                     size_t ys) {                                                                             \
        const uint8_t *w = wv, *a = av;                                                                       \
        int t = 0;                                                                                            \
        for (; t + NT_MAX <= nt; t += NT_MAX) {                                                               \
            int r = 0;                                                                                        \
            for (; r + 4 <= nr; r += 4) micro(kind, len, w + r * ws, ws, a + t * as, as, y + t * ys + r, ys, 4, NT_MAX); \
            for (; r < nr; r++) micro(kind, len, w + r * ws, ws, a + t * as, as, y + t * ys + r, ys, 1, NT_MAX);  \
        }                                                                                                     \
        for (; t < nt; t++) {                                                                                 \
            int r = 0;                                                                                        \
            for (; r + 4 <= nr; r += 4) micro(kind, len, w + r * ws, ws, a + t * as, as, y + t * ys + r, ys, 4, 1); \
            for (; r < nr; r++) micro(kind, len, w + r * ws, ws, a + t * as, as, y + t * ys + r, ys, 1, 1);   \
        }                                                                                                     \
    }

X86_TILE(tile_q4_0, micro32, K_Q4_0, n / 32)
X86_TILE(tile_q4_1, micro32, K_Q4_1, n / 32)
X86_TILE(tile_q5_0, micro32, K_Q5_0, n / 32)
X86_TILE(tile_q5_1, micro32, K_Q5_1, n / 32)
X86_TILE(tile_q8_0, micro32, K_Q8_0, n / 32)
X86_TILE(tile_iq4_nl, micro32, K_IQ4_NL, n / 32)
X86_TILE(tile_q2_K, micro_k, K_Q2_K, n / QK_K)
X86_TILE(tile_q3_K, micro_k, K_Q3_K, n / QK_K)
X86_TILE(tile_q4_K, micro_k, K_Q4_K, n / QK_K)
X86_TILE(tile_q5_K, micro_k, K_Q5_K, n / QK_K)
X86_TILE(tile_q6_K, micro_k, K_Q6_K, n / QK_K)
X86_TILE(tile_iq4_xs, micro_k, K_IQ4_XS, n / QK_K)
X86_TILE(tile_f32, micro_f, K_F32, n)
X86_TILE(tile_f16, micro_f, K_F16, n)
X86_TILE(tile_bf16, micro_f, K_BF16, n)

static void x86_fill(kite__kernels *k) {
    k->tile[KITE_TYPE_Q4_0] = tile_q4_0;
    k->tile[KITE_TYPE_Q4_1] = tile_q4_1;
    k->tile[KITE_TYPE_Q5_0] = tile_q5_0;
    k->tile[KITE_TYPE_Q5_1] = tile_q5_1;
    k->tile[KITE_TYPE_Q8_0] = tile_q8_0;
    k->tile[KITE_TYPE_IQ4_NL] = tile_iq4_nl;
    k->tile[KITE_TYPE_Q2_K] = tile_q2_K;
    k->tile[KITE_TYPE_Q3_K] = tile_q3_K;
    k->tile[KITE_TYPE_Q4_K] = tile_q4_K;
    k->tile[KITE_TYPE_Q5_K] = tile_q5_K;
    k->tile[KITE_TYPE_Q6_K] = tile_q6_K;
    k->tile[KITE_TYPE_IQ4_XS] = tile_iq4_xs;
    k->tile[KITE_TYPE_F32] = tile_f32;
    k->tile[KITE_TYPE_F16] = tile_f16;
    k->tile[KITE_TYPE_BF16] = tile_bf16;
}

#endif
