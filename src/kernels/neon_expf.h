// neon_expf.h - expf on aarch64 NEON float64x2 lanes with the bits of aarch64 glibc's expf (the
// ARM optimized-routines algorithm of expf_data.h, built with its TOINT_INTRINSICS: z = InvLn2N * x
// rounded, k = round(z) ties away from zero by FRINTA / FCVTAS, r = z - k exactly, and the
// polynomial's steps contracted to FMAs, as libm.a's __expf disassembles), and the row ops built
// on it (expf_row_neon.c). Other libms (Apple's, bionic's) are met by the row ops' check at first
// use, which falls back to the libm's expf where the lanes disagree with it.
#ifndef KITE_NEON_EXPF_H
#define KITE_NEON_EXPF_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/expf_data.h"
#if defined(__aarch64__)
#include <arm_neon.h>
#endif

// x[i] = expf(x[i]) for i < n with this libm's bits: vector lanes where a check against expf at
// first use agreed (kite__expf_vec_ok_neon), libm's expf for every value otherwise and for |x| >=
// 88, inf and nan (its special cases) always. Compiled on aarch64 only.
void kite__expf_row_neon(float *x, int32_t n);
// kite__softmax_exp_sum (attend.h) with that row op: x[i] = expf(x[i] - mx), the same floats,
// summed in double in row order; returns 1 / sum rounded to float.
float kite__softmax_exp_sum_neon(float *x, int32_t n, float mx);
// True when the vector expf agrees with libm's expf on kite__expf_check_args' values (expf_data.h),
// so that the row ops and the SwiGLU rows use it (checked once per process).
bool kite__expf_vec_ok_neon(void);

#if defined(__aarch64__)
// __expf's steps on 2 double lanes holding floats with |x| < 88, before the final rounding to
// float (vcvt_f32_f64 of it is expf(x) bit for bit where kite__expf_vec_ok_neon holds).
static inline float64x2_t kite__nexpf2_f64(float64x2_t xd) {
    const float64x2_t z = vmulq_f64(vdupq_n_f64(KITE_EXP2F_INVLN2N), xd);
    const float64x2_t r = vsubq_f64(z, vrndaq_f64(z));
    const int64x2_t ki = vcvtaq_s64_f64(z);
    // 2^(k/32): the table has no vector gather on NEON, so two loads by index
    const uint64x2_t k31 = vandq_u64(vreinterpretq_u64_s64(ki), vdupq_n_u64(31));
    uint64x2_t t = vld1q_dup_u64(&kite__exp2f_tab[vgetq_lane_u64(k31, 0)]);
    t = vld1q_lane_u64(&kite__exp2f_tab[vgetq_lane_u64(k31, 1)], t, 1);
    const float64x2_t s = vreinterpretq_f64_s64(vaddq_s64(vreinterpretq_s64_u64(t), vshlq_n_s64(ki, 47)));
    const float64x2_t zz = vfmaq_f64(vdupq_n_f64(KITE_EXP2F_C1), vdupq_n_f64(KITE_EXP2F_C0), r);
    const float64x2_t r2 = vmulq_f64(r, r);
    float64x2_t y = vfmaq_f64(vdupq_n_f64(1.0), vdupq_n_f64(KITE_EXP2F_C2), r);
    y = vfmaq_f64(y, zz, r2);
    return vmulq_f64(y, s);
}

// expf of 4 float lanes, libm's bits where |x| < 88 (other lanes: see kite__nexpf4_libm).
static inline float32x4_t kite__nexpf4(float32x4_t x) {
    const float32x2_t lo = vcvt_f32_f64(kite__nexpf2_f64(vcvt_f64_f32(vget_low_f32(x))));
    return vcvt_high_f32_f64(lo, kite__nexpf2_f64(vcvt_high_f64_f32(x)));
}

// All ones in the lanes with |x| >= 88, inf or nan: libm's special cases.
static inline uint32x4_t kite__nexpf4_libm(float32x4_t x) {
    return vcgtq_u32(vandq_u32(vreinterpretq_u32_f32(x), vdupq_n_u32(0x7fffffff)), vdupq_n_u32(0x42afffff));
}
#endif

#endif
