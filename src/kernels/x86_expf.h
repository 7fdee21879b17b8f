// x86_expf.h - expf on AVX-512 / AVX2 lanes with the bits of glibc's x86-64 expf on FMA hosts
// (__expf_fma: the ARM optimized-routines algorithm musl's expf also is, its double steps
// contracted to FMAs by the compiler), and the row ops built on it (expf_row_avx2.c,
// expf_row_avx512.c).
#ifndef KITE_X86_EXPF_H
#define KITE_X86_EXPF_H

#include <stdbool.h>
#include <stdint.h>
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

#include "kernels/expf_data.h"

// x[i] = expf(x[i]) for i < n with this libm's bits: vector lanes where a check against expf
// at first use agreed (kite__expf_vec_ok_*), libm's expf for every value otherwise and for
// |x| >= 88, inf and nan (its special cases) always. Compiled where the ISA is (x86 only).
void kite__expf_row_avx2(float *x, int32_t n);
void kite__expf_row_avx512(float *x, int32_t n);
// kite__softmax_exp_sum (attend.h) with these row ops: x[i] = expf(x[i] - mx), the same floats,
// summed in double in row order; returns 1 / sum rounded to float.
float kite__softmax_exp_sum_avx2(float *x, int32_t n, float mx);
float kite__softmax_exp_sum_avx512(float *x, int32_t n, float mx);
// True when the vector expf agrees with libm's expf on a few thousand values, so the row ops
// use it (checked once per process; false also on a host without the ISA is the caller's risk:
// call only where the set runs).
bool kite__expf_vec_ok_avx2(void);
bool kite__expf_vec_ok_avx512(void);

#if defined(__AVX2__) && defined(__FMA__)
// __expf_fma's steps on 4 double lanes holding floats with |x| < 88, before the final rounding
// to float (as libm disassembles: kd = fma(InvLn2N, x, shift); r = fma(InvLn2N, x, -(kd -
// shift)); y = fma(fma(C0, r, C1), r * r, fma(r, C2, 1)) * 2^(k/32)).
static inline __m256d kite__xexpf4_f64(__m256d xd) {
    const __m256d inv = _mm256_set1_pd(KITE_EXP2F_INVLN2N), shift = _mm256_set1_pd(KITE_EXP2F_SHIFT);
    __m256d kd = _mm256_fmadd_pd(inv, xd, shift);
    const __m256i ki = _mm256_castpd_si256(kd);
    kd = _mm256_sub_pd(kd, shift);
    const __m256d r = _mm256_fmsub_pd(inv, xd, kd);
    const __m256i t = _mm256_i64gather_epi64((const long long *)kite__exp2f_tab,
                                             _mm256_and_si256(ki, _mm256_set1_epi64x(31)), 8);
    const __m256d s = _mm256_castsi256_pd(_mm256_add_epi64(t, _mm256_slli_epi64(ki, 47)));
    const __m256d z = _mm256_fmadd_pd(_mm256_set1_pd(KITE_EXP2F_C0), r, _mm256_set1_pd(KITE_EXP2F_C1));
    const __m256d r2 = _mm256_mul_pd(r, r);
    __m256d y = _mm256_fmadd_pd(r, _mm256_set1_pd(KITE_EXP2F_C2), _mm256_set1_pd(1.0));
    y = _mm256_fmadd_pd(z, r2, y);
    return _mm256_mul_pd(y, s);
}

// expf of 8 float lanes, libm's bits where |x| < 88 (other lanes: see kite__xexpf8_libm).
static inline __m256 kite__xexpf8(__m256 x) {
    const __m128 lo = _mm256_cvtpd_ps(kite__xexpf4_f64(_mm256_cvtps_pd(_mm256_castps256_ps128(x))));
    const __m128 hi = _mm256_cvtpd_ps(kite__xexpf4_f64(_mm256_cvtps_pd(_mm256_extractf128_ps(x, 1))));
    return _mm256_insertf128_ps(_mm256_castps128_ps256(lo), hi, 1);
}

// Bit l set where lane l has |x| >= 88, is inf or nan: libm's special cases.
static inline int kite__xexpf8_libm(__m256 x) {
    const __m256i a = _mm256_and_si256(_mm256_castps_si256(x), _mm256_set1_epi32(0x7fffffff));
    return _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(a, _mm256_set1_epi32(0x42afffff))));
}
#endif

#if defined(__AVX512F__) && defined(__AVX512DQ__)
// The same steps on 8 double lanes; the table from four registers by permutes.
static inline __m512d kite__xexpf8_f64(__m512d xd) {
    const __m512d inv = _mm512_set1_pd(KITE_EXP2F_INVLN2N), shift = _mm512_set1_pd(KITE_EXP2F_SHIFT);
    __m512d kd = _mm512_fmadd_pd(inv, xd, shift);
    const __m512i ki = _mm512_castpd_si512(kd);
    kd = _mm512_sub_pd(kd, shift);
    const __m512d r = _mm512_fmsub_pd(inv, xd, kd);
    const __m512i *tab = (const __m512i *)kite__exp2f_tab;
    const __m512i t0 = _mm512_permutex2var_epi64(_mm512_load_si512(tab), ki, _mm512_load_si512(tab + 1));
    const __m512i t1 = _mm512_permutex2var_epi64(_mm512_load_si512(tab + 2), ki, _mm512_load_si512(tab + 3));
    const __m512i t = _mm512_mask_blend_epi64(_mm512_test_epi64_mask(ki, _mm512_set1_epi64(16)), t0, t1);
    const __m512d s = _mm512_castsi512_pd(_mm512_add_epi64(t, _mm512_slli_epi64(ki, 47)));
    const __m512d z = _mm512_fmadd_pd(_mm512_set1_pd(KITE_EXP2F_C0), r, _mm512_set1_pd(KITE_EXP2F_C1));
    const __m512d r2 = _mm512_mul_pd(r, r);
    __m512d y = _mm512_fmadd_pd(r, _mm512_set1_pd(KITE_EXP2F_C2), _mm512_set1_pd(1.0));
    y = _mm512_fmadd_pd(z, r2, y);
    return _mm512_mul_pd(y, s);
}

// expf of 16 float lanes, libm's bits where |x| < 88 (other lanes: see kite__xexpf16_libm).
static inline __m512 kite__xexpf16(__m512 x) {
    const __m256 lo = _mm512_cvtpd_ps(kite__xexpf8_f64(_mm512_cvtps_pd(_mm512_castps512_ps256(x))));
    const __m256 hi = _mm512_cvtpd_ps(kite__xexpf8_f64(_mm512_cvtps_pd(_mm512_extractf32x8_ps(x, 1))));
    return _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
}

// Lanes with |x| >= 88, inf or nan: libm's special cases.
static inline __mmask16 kite__xexpf16_libm(__m512 x) {
    const __m512i a = _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(0x7fffffff));
    return _mm512_cmpgt_epi32_mask(a, _mm512_set1_epi32(0x42afffff));
}
#endif

#endif
