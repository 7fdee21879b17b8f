// softcap_neon.c - the soft-cap rows for aarch64 NEON, 4 floats at a time on float64x2 lanes, with
// x86_tanh.h's method (its formulas, constants and bound; fused multiply-adds where x86 fuses): a
// lane is kept only where every double within KITE_XTANH_ERR of its tanh rounds to one float; a
// group of 4 with another lane (near a rounding boundary, or nan) goes to the scalar op whole.
// kite__softcap_scaled_ref's bits (test_softcap; KITE_TANH_ALL=1 for all 2^32 arguments).
#include <arm_neon.h>

#include "kernels/kernels_internal.h"
#include "kernels/x86_tanh.h"

// tanh(a) for 2 double lanes a >= 0 (not nan), within about 2^-49 relative.
static inline float64x2_t ntanh2_pos(float64x2_t a) {
    // small: a + a^3 p(a^2)
    const float64x2_t s = vmulq_f64(a, a);
    float64x2_t p = vfmaq_f64(vdupq_n_f64(KITE_XTANH_T11), vdupq_n_f64(KITE_XTANH_T13), s);
    p = vfmaq_f64(vdupq_n_f64(KITE_XTANH_T9), p, s);
    p = vfmaq_f64(vdupq_n_f64(KITE_XTANH_T7), p, s);
    p = vfmaq_f64(vdupq_n_f64(KITE_XTANH_T5), p, s);
    p = vfmaq_f64(vdupq_n_f64(KITE_XTANH_T3), p, s);
    const float64x2_t small = vfmaq_f64(a, vmulq_f64(a, s), p);
    // large: (1 - e) / (1 + e), e = exp(-2a) = 2^k exp(r)
    const float64x2_t x = vmulq_f64(vminq_f64(a, vdupq_n_f64(KITE_XTANH_BIG)), vdupq_n_f64(-2.0));
    const float64x2_t shift = vdupq_n_f64(0x1.8p52);
    float64x2_t kd = vfmaq_f64(shift, x, vdupq_n_f64(KITE_XTANH_LOG2E));
    const int64x2_t ki = vreinterpretq_s64_f64(kd);
    kd = vsubq_f64(kd, shift);
    float64x2_t r = vfmsq_f64(x, kd, vdupq_n_f64(KITE_XTANH_LN2_HI));
    r = vfmsq_f64(r, kd, vdupq_n_f64(KITE_XTANH_LN2_LO));
    float64x2_t q = vdupq_n_f64(kite__xtanh_exp_q[0]);
    for (int j = 1; j < 14; j++) q = vfmaq_f64(vdupq_n_f64(kite__xtanh_exp_q[j]), q, r);
    // 2^k (k in [-58, 0]) from the shifted sum's low bits
    const float64x2_t two_k = vreinterpretq_f64_s64(vaddq_s64(vshlq_n_s64(ki, 52), vdupq_n_s64(1023ll << 52)));
    const float64x2_t e = vmulq_f64(q, two_k), one = vdupq_n_f64(1.0);
    const float64x2_t large = vdivq_f64(vsubq_f64(one, e), vaddq_f64(one, e));
    return vbslq_f64(vcltq_f64(a, vdupq_n_f64(KITE_XTANH_SMALL)), small, large);
}

void kite__softcap_scaled_neon(float *x, int32_t n, float inv, float cap, float post) {
    const float32x4_t vinv = vdupq_n_f32(inv), vcap = vdupq_n_f32(cap), vpost = vdupq_n_f32(post);
    const float64x2_t below = vdupq_n_f64(1.0 - KITE_XTANH_ERR), above = vdupq_n_f64(1.0 + KITE_XTANH_ERR);
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float32x4_t y = vmulq_f32(vld1q_f32(x + i), vinv), ay = vabsq_f32(y);
        const float64x2_t t0 = ntanh2_pos(vcvt_f64_f32(vget_low_f32(ay))), t1 = ntanh2_pos(vcvt_high_f64_f32(ay));
        const float32x4_t lo = vcvt_high_f32_f64(vcvt_f32_f64(vmulq_f64(t0, below)), vmulq_f64(t1, below));
        const float32x4_t hi = vcvt_high_f32_f64(vcvt_f32_f64(vmulq_f64(t0, above)), vmulq_f64(t1, above));
        if (vminvq_u32(vandq_u32(vceqq_f32(lo, hi), vceqq_f32(y, y))) == 0) {
            kite__softcap_scaled_ref(x + i, 4, inv, cap, post); // (the settled lanes' bits are the same)
            continue;
        }
        const float32x4_t f = vcvt_high_f32_f64(vcvt_f32_f64(t0), t1);
        const float32x4_t t = vbslq_f32(vdupq_n_u32(0x80000000u), y, f); // tanh(-y) = -tanh(y)
        vst1q_f32(x + i, vmulq_f32(vmulq_f32(vcap, t), vpost));
    }
    kite__softcap_scaled_ref(x + i, n - i, inv, cap, post); // fewer than 4 left
}

void kite__softcap_neon(float *x, int32_t n, float cap) { kite__softcap_scaled_neon(x, n, 1.0f / cap, cap, 1.0f); }
