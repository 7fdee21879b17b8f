// glu_neon.c - the gated activations' rows for aarch64 NEON, 4 lanes at a time: SwiGLU on
// neon_expf.h's expf (where its check at first use passed), the scalar op's add, divide and
// multiply per lane in its order (no fused multiply-add); GeGLU by FCVTN's f16 bits and four
// table loads (NEON has no gather). The scalar ops' bits.
#include <math.h>

#include "kernels/kernels_internal.h"
#include "kernels/neon_expf.h"

void kite__swiglu_neon(float *g, const float *u, int32_t n) {
    if (!kite__expf_vec_ok_neon()) { // the vector expf is not this libm's: the scalar op
        kite__swiglu_ref(g, u, n);
        return;
    }
    const float32x4_t one = vdupq_n_f32(1.0f);
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float32x4_t x = vld1q_f32(g + i);
        // the scalar op's steps per lane: expf(-x), 1 + that, x / that, times u
        const float32x4_t e = kite__nexpf4(vnegq_f32(x));
        const float32x4_t s = vdivq_f32(x, vaddq_f32(one, e));
        vst1q_f32(g + i, vmulq_f32(s, vld1q_f32(u + i)));
        if (vmaxvq_u32(kite__nexpf4_libm(x))) { // |g| >= 88, inf or nan: libm's cases
            float a[4];
            vst1q_f32(a, x);
            for (int l = 0; l < 4; l++)
                if (!(fabsf(a[l]) < 88.0f)) {
                    g[i + l] = a[l];
                    kite__swiglu_ref(g + i + l, u + i + l, 1);
                }
        }
    }
    kite__swiglu_ref(g + i, u + i, n - i); // fewer than 4 left
}

void kite__geglu_neon(float *g, const float *u, int32_t n, const float *tab) {
    const float32x4_t lo = vdupq_n_f32(-10.0f), hi = vdupq_n_f32(10.0f);
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float32x4_t x = vld1q_f32(g + i);
        // FCVTN rounds to nearest even as kite_f32_to_f16 does (subnormal halves, overflow to
        // inf), except nan: it keeps payload bits, where the index is sign | 0x7e00
        uint16x4_t h = vreinterpret_u16_f16(vcvt_f16_f32(x));
        const uint16x4_t nan = vmovn_u32(vmvnq_u32(vceqq_f32(x, x)));
        const uint16x4_t fix = vorr_u16(vand_u16(vshrn_n_u32(vreinterpretq_u32_f32(x), 16), vdup_n_u16(0x8000)),
                                        vdup_n_u16(0x7e00));
        h = vbsl_u16(nan, fix, h);
        float32x4_t y = vld1q_dup_f32(tab + vget_lane_u16(h, 0));
        y = vld1q_lane_f32(tab + vget_lane_u16(h, 1), y, 1);
        y = vld1q_lane_f32(tab + vget_lane_u16(h, 2), y, 2);
        y = vld1q_lane_f32(tab + vget_lane_u16(h, 3), y, 3);
        y = vbslq_f32(vcgeq_f32(x, hi), x, y);                                             // x >= 10: x
        y = vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(y), vcleq_f32(x, lo))); // x <= -10: +0
        vst1q_f32(g + i, vmulq_f32(y, vld1q_f32(u + i)));
    }
    kite__geglu_ref(g + i, u + i, n - i, tab); // fewer than 4 left
}
