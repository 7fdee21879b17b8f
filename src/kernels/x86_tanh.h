// x86_tanh.h - (float)tanh((double)y) for float y on AVX2 / AVX-512 double lanes, with libm's
// bits by construction: each lane's tanh is computed in double to well within KITE_XTANH_ERR
// (relative), and a lane is kept only where every double within that bound of it rounds to the
// same float; the others (near a float rounding boundary, or nan) are flagged for libm's tanh.
// libm's tanh is itself within a few double ulps of tanh, so a kept lane's float is what
// rounding libm's double gives. Checked over all 2^32 inputs by test_softcap (KITE_TANH_ALL=1).
// Used by the soft-cap rows (softcap_avx2.c, softcap_avx512.c) and the x86 attention ops; the
// constants (formulas, bound) also by softcap_wasm.c on f64x2 lanes and softcap_neon.c on float64x2.
#ifndef KITE_X86_TANH_H
#define KITE_X86_TANH_H

#include <stdint.h>
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

// The bound the lanes' tanh keeps to, relative: 2^-44 (the approximation below is within about
// 2^-49, libm's tanh within 2^-51; the margin costs a fallback in about 2^-19 of the lanes).
#define KITE_XTANH_ERR 0x1p-44
// Below this |y| the odd Taylor polynomial; at and above it (1 - e) / (1 + e), e = exp(-2|y|).
#define KITE_XTANH_SMALL 0.125
// |y| at and above this is taken as this: tanh is 1 - 2^-57 or closer to 1 (one float, 1.0f).
#define KITE_XTANH_BIG 20.0

// tanh's Taylor coefficients (x^3 .. x^13)
#define KITE_XTANH_T3 (-1.0 / 3.0)
#define KITE_XTANH_T5 (2.0 / 15.0)
#define KITE_XTANH_T7 (-17.0 / 315.0)
#define KITE_XTANH_T9 (62.0 / 2835.0)
#define KITE_XTANH_T11 (-1382.0 / 155925.0)
#define KITE_XTANH_T13 (21844.0 / 6081075.0)

// exp(x) for x = -2a: x = k ln2 + r with k = round(x log2(e)) and ln2 in two parts (the high
// part's low bits zero, so that k times it is exact), exp(r) by its Taylor series to r^13
#define KITE_XTANH_LOG2E 1.4426950408889634
#define KITE_XTANH_LN2_HI 0x1.62e42fefa3800p-1
#define KITE_XTANH_LN2_LO 0x1.ef35793c76730p-45
// exp's Taylor coefficients 1/k!, k = 13 down to 0 (Horner's order)
static const double kite__xtanh_exp_q[14] = {
    1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0,
    1.0 / 40320.0,      1.0 / 5040.0,      1.0 / 720.0,      1.0 / 120.0,     1.0 / 24.0,
    1.0 / 6.0,          0.5,               1.0,              1.0,
};

#if defined(__AVX2__) && defined(__FMA__)
// tanh(a) for 4 double lanes a >= 0 (not nan), within about 2^-49 relative (see above).
static inline __m256d kite__xtanh4_pos(__m256d a) {
    // small: a + a^3 p(a^2)
    const __m256d s = _mm256_mul_pd(a, a);
    __m256d p = _mm256_fmadd_pd(_mm256_set1_pd(KITE_XTANH_T13), s, _mm256_set1_pd(KITE_XTANH_T11));
    p = _mm256_fmadd_pd(p, s, _mm256_set1_pd(KITE_XTANH_T9));
    p = _mm256_fmadd_pd(p, s, _mm256_set1_pd(KITE_XTANH_T7));
    p = _mm256_fmadd_pd(p, s, _mm256_set1_pd(KITE_XTANH_T5));
    p = _mm256_fmadd_pd(p, s, _mm256_set1_pd(KITE_XTANH_T3));
    const __m256d small = _mm256_fmadd_pd(_mm256_mul_pd(a, s), p, a);
    // large: e = exp(-2a) = 2^k exp(r), |r| <= ln2 / 2, exp(r) by its Taylor series to r^13
    const __m256d x = _mm256_mul_pd(_mm256_min_pd(a, _mm256_set1_pd(KITE_XTANH_BIG)), _mm256_set1_pd(-2.0));
    const __m256d shift = _mm256_set1_pd(0x1.8p52);
    __m256d kd = _mm256_fmadd_pd(x, _mm256_set1_pd(KITE_XTANH_LOG2E), shift);
    const __m256i ki = _mm256_castpd_si256(kd);
    kd = _mm256_sub_pd(kd, shift);
    __m256d r = _mm256_fnmadd_pd(kd, _mm256_set1_pd(KITE_XTANH_LN2_HI), x);
    r = _mm256_fnmadd_pd(kd, _mm256_set1_pd(KITE_XTANH_LN2_LO), r);
    __m256d q = _mm256_set1_pd(kite__xtanh_exp_q[0]);
    for (int j = 1; j < 14; j++) q = _mm256_fmadd_pd(q, r, _mm256_set1_pd(kite__xtanh_exp_q[j]));
    // 2^k (k in [-58, 0]) from the shifted sum's low bits
    const __m256d two_k =
        _mm256_castsi256_pd(_mm256_add_epi64(_mm256_slli_epi64(ki, 52), _mm256_set1_epi64x(1023ll << 52)));
    const __m256d e = _mm256_mul_pd(q, two_k);
    const __m256d one = _mm256_set1_pd(1.0);
    const __m256d large = _mm256_div_pd(_mm256_sub_pd(one, e), _mm256_add_pd(one, e));
    return _mm256_blendv_pd(large, small, _mm256_cmp_pd(a, _mm256_set1_pd(KITE_XTANH_SMALL), _CMP_LT_OQ));
}

// 4 float lanes: (float)tanh((double)y) in *out; the return's bit l is set where lane l is not
// settled (nan, or near a float rounding boundary) and needs libm's tanh.
static inline int kite__xtanh4(__m128 y, __m128 *out) {
    const __m128 sign = _mm_and_ps(y, _mm_set1_ps(-0.0f));
    const __m256d a = _mm256_cvtps_pd(_mm_andnot_ps(_mm_set1_ps(-0.0f), y));
    const __m256d t = kite__xtanh4_pos(a);
    const __m128 f = _mm256_cvtpd_ps(t);
    const __m128 lo = _mm256_cvtpd_ps(_mm256_mul_pd(t, _mm256_set1_pd(1.0 - KITE_XTANH_ERR)));
    const __m128 hi = _mm256_cvtpd_ps(_mm256_mul_pd(t, _mm256_set1_pd(1.0 + KITE_XTANH_ERR)));
    *out = _mm_or_ps(f, sign);
    const __m128 ok = _mm_and_ps(_mm_cmpeq_ps(lo, hi), _mm_cmpord_ps(y, y));
    return ~_mm_movemask_ps(ok) & 15;
}

// 8 float lanes: as kite__xtanh4 (bit l of the return: lane l needs libm's tanh).
static inline int kite__xtanh8(__m256 y, __m256 *out) {
    __m128 lo, hi;
    const int m = kite__xtanh4(_mm256_castps256_ps128(y), &lo) | kite__xtanh4(_mm256_extractf128_ps(y, 1), &hi) << 4;
    *out = _mm256_insertf128_ps(_mm256_castps128_ps256(lo), hi, 1);
    return m;
}
#endif

#if defined(__AVX512F__) && defined(__AVX512DQ__)
// kite__xtanh4_pos on 8 double lanes.
static inline __m512d kite__xtanh8_pos(__m512d a) {
    const __m512d s = _mm512_mul_pd(a, a);
    __m512d p = _mm512_fmadd_pd(_mm512_set1_pd(KITE_XTANH_T13), s, _mm512_set1_pd(KITE_XTANH_T11));
    p = _mm512_fmadd_pd(p, s, _mm512_set1_pd(KITE_XTANH_T9));
    p = _mm512_fmadd_pd(p, s, _mm512_set1_pd(KITE_XTANH_T7));
    p = _mm512_fmadd_pd(p, s, _mm512_set1_pd(KITE_XTANH_T5));
    p = _mm512_fmadd_pd(p, s, _mm512_set1_pd(KITE_XTANH_T3));
    const __m512d small = _mm512_fmadd_pd(_mm512_mul_pd(a, s), p, a);
    const __m512d x = _mm512_mul_pd(_mm512_min_pd(a, _mm512_set1_pd(KITE_XTANH_BIG)), _mm512_set1_pd(-2.0));
    const __m512d shift = _mm512_set1_pd(0x1.8p52);
    __m512d kd = _mm512_fmadd_pd(x, _mm512_set1_pd(KITE_XTANH_LOG2E), shift);
    const __m512i ki = _mm512_castpd_si512(kd);
    kd = _mm512_sub_pd(kd, shift);
    __m512d r = _mm512_fnmadd_pd(kd, _mm512_set1_pd(KITE_XTANH_LN2_HI), x);
    r = _mm512_fnmadd_pd(kd, _mm512_set1_pd(KITE_XTANH_LN2_LO), r);
    __m512d q = _mm512_set1_pd(kite__xtanh_exp_q[0]);
    for (int j = 1; j < 14; j++) q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(kite__xtanh_exp_q[j]));
    const __m512d two_k =
        _mm512_castsi512_pd(_mm512_add_epi64(_mm512_slli_epi64(ki, 52), _mm512_set1_epi64(1023ll << 52)));
    const __m512d e = _mm512_mul_pd(q, two_k);
    const __m512d one = _mm512_set1_pd(1.0);
    const __m512d large = _mm512_div_pd(_mm512_sub_pd(one, e), _mm512_add_pd(one, e));
    return _mm512_mask_blend_pd(_mm512_cmp_pd_mask(a, _mm512_set1_pd(KITE_XTANH_SMALL), _CMP_LT_OQ), large, small);
}

// 8 float lanes: (float)tanh((double)y) in *out; the mask's lanes are not settled (nan, or near a
// float rounding boundary) and need libm's tanh.
static inline __mmask8 kite__xtanh8_512(__m256 y, __m256 *out) {
    const __m256 sign = _mm256_and_ps(y, _mm256_set1_ps(-0.0f));
    const __m512d t = kite__xtanh8_pos(_mm512_cvtps_pd(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), y)));
    const __m256 f = _mm512_cvtpd_ps(t);
    const __m256 lo = _mm512_cvtpd_ps(_mm512_mul_pd(t, _mm512_set1_pd(1.0 - KITE_XTANH_ERR)));
    const __m256 hi = _mm512_cvtpd_ps(_mm512_mul_pd(t, _mm512_set1_pd(1.0 + KITE_XTANH_ERR)));
    *out = _mm256_or_ps(f, sign);
    return (__mmask8)(_mm256_cmp_ps_mask(lo, hi, _CMP_NEQ_UQ) | _mm256_cmp_ps_mask(y, y, _CMP_UNORD_Q));
}

// 16 float lanes: as kite__xtanh8_512.
static inline __mmask16 kite__xtanh16(__m512 y, __m512 *out) {
    __m256 lo, hi;
    const __mmask16 m = (__mmask16)(kite__xtanh8_512(_mm512_castps512_ps256(y), &lo) |
                                    (unsigned)kite__xtanh8_512(_mm512_extractf32x8_ps(y, 1), &hi) << 8);
    *out = _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
    return m;
}
#endif

#endif
