// softcap_neon.c - the soft-cap rows for aarch64 NEON, 4 floats at a time on float64x2 lanes, with
// x86_tanh.h's method (its formulas, constants and bound; fused multiply-adds where x86 fuses): a
// lane is kept only where every double within KITE_XTANH_ERR of its tanh rounds to one float; a
// group of 4 with another lane (near a rounding boundary, or nan) goes to the scalar op whole.
// kite__softcap_scaled_ref's bits (test_softcap; KITE_TANH_ALL=1 for all 2^32 arguments).
#include <arm_neon.h>

#include "kernels/kernels_internal.h"
#include "kernels/x86_tanh.h"

// tanh_pos.inc on 2 double lanes
#define TANH_POS ntanh2_pos
#define VD float64x2_t
#define SPLAT vdupq_n_f64
#define MUL vmulq_f64
#define ADD vaddq_f64
#define SUB vsubq_f64
#define DIV vdivq_f64
#define MIN vminq_f64
#define MADD(a, b, c) vfmaq_f64(c, a, b)
#define NMADD(a, b, c) vfmsq_f64(c, a, b)
#define POW2_LOW(v) \
    vreinterpretq_f64_s64(vaddq_s64(vshlq_n_s64(vreinterpretq_s64_f64(v), 52), vdupq_n_s64(1023ll << 52)))
#define SELECT_LT(a, b, x, y) vbslq_f64(vcltq_f64(a, b), x, y)
#include "kernels/tanh_pos.inc"

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
