// quant_search_neon.c - the quantizers' searches (quant_search_simd128.inc) built for aarch64
// NEON. The float operations are AArch64's IEEE ones (FDIV exact; the build's -ffp-contract=off
// keeps gcc from fusing its vector a * b + c into FMLA; Linux runs with FPCR.FZ clear).
#include <arm_neon.h>

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define AI static inline __attribute__((always_inline))

typedef float32x4_t VF;
typedef int32x4_t VI;
typedef uint32x4_t VM;
typedef uint8x16_t VB;

AI VF vf_set1(float a) { return vdupq_n_f32(a); }
AI VF vf_make(float a, float b, float c, float d) {
    const float t[4] = {a, b, c, d};
    return vld1q_f32(t);
}
AI VF vf_load(const float *p) { return vld1q_f32(p); }
AI VF vf_zero(void) { return vdupq_n_f32(0.0f); }
AI void vf_store(float *p, VF v) { vst1q_f32(p, v); }
AI VF vf_add(VF a, VF b) { return vaddq_f32(a, b); }
AI VF vf_sub(VF a, VF b) { return vsubq_f32(a, b); }
AI VF vf_mul(VF a, VF b) { return vmulq_f32(a, b); }
AI VF vf_div(VF a, VF b) { return vdivq_f32(a, b); }
AI VF vf_abs(VF a) { return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(a), vdupq_n_u32(0x7fffffffu))); }
AI VF vf_neg(VF a) { return vreinterpretq_f32_u32(veorq_u32(vreinterpretq_u32_f32(a), vdupq_n_u32(0x80000000u))); }
AI VM vm_lt(VF a, VF b) { return vcltq_f32(a, b); }
AI VM vm_gt(VF a, VF b) { return vcgtq_f32(a, b); }
AI VM vm_le(VF a, VF b) { return vcleq_f32(a, b); }
AI VM vm_eq(VF a, VF b) { return vceqq_f32(a, b); }
AI VM vm_not(VM a) { return vmvnq_u32(a); }
AI VM vm_and(VM a, VM b) { return vandq_u32(a, b); }
AI VM vm_or(VM a, VM b) { return vorrq_u32(a, b); }
AI VM vm_andnot(VM a, VM b) { return vbicq_u32(a, b); }
AI int vm_bits(VM m) {
    static const uint32_t bit[4] = {1, 2, 4, 8};
    return (int)vaddvq_u32(vandq_u32(m, vld1q_u32(bit)));
}
AI VF vf_sel(VM m, VF a, VF b) { return vbslq_f32(m, a, b); }
AI VI vi_sel(VM m, VI a, VI b) { return vbslq_s32(m, a, b); }
AI VI vi_set1(int a) { return vdupq_n_s32(a); }
AI VI vi_add(VI a, VI b) { return vaddq_s32(a, b); }
AI VI vi_sub(VI a, VI b) { return vsubq_s32(a, b); }
AI VI vi_min(VI a, VI b) { return vminq_s32(a, b); }
AI VI vi_max(VI a, VI b) { return vmaxq_s32(a, b); }
AI VI vi_and(VI a, VI b) { return vandq_s32(a, b); }
AI VI vi_or(VI a, VI b) { return vorrq_s32(a, b); }
AI VI vi_shl4(VI a) { return vshlq_n_s32(a, 4); }
AI VI vi_from_mask(VM m) { return vreinterpretq_s32_u32(m); }
AI VI vi_bits_of(VF v) { return vreinterpretq_s32_f32(v); }
AI VF vf_from_i(VI v) { return vcvtq_f32_s32(v); }
AI VI vi_trunc(VF v) { return vcvtq_s32_f32(v); }

AI void store_u8x4(uint8_t *dst, VI v) {
    uint16x4_t h = vmovn_u32(vreinterpretq_u32_s32(v));
    uint8x8_t b = vmovn_u16(vcombine_u16(h, h));
    const uint32_t w = vget_lane_u32(vreinterpret_u32_u8(b), 0);
    memcpy(dst, &w, sizeof w);
}

AI VF vf_pmin(VF a, VF b) { return vbslq_f32(vcltq_f32(b, a), b, a); }
AI float vf_hmin(VF v) { return vminvq_f32(v); }

AI VB vb_load(const uint8_t *p) { return vld1q_u8(p); }
AI VB vb_load8(const uint8_t *p) { return vcombine_u8(vld1_u8(p), vdup_n_u8(0)); }
AI VB vb_or(VB a, VB b) { return vorrq_u8(a, b); }
AI VB vb_shl2(VB a) { return vshlq_n_u8(a, 2); }
AI VB vb_lookup16(VB t, VB i) { return vqtbl1q_u8(t, i); }
AI VF vf_lookup16(VB t, VB i) { return vreinterpretq_f32_u8(vqtbl1q_u8(t, i)); }
AI VF vf_lookup32(VB t0, VB t1, VB i) {
    const uint8x16x2_t t = {{t0, t1}};
    return vreinterpretq_f32_u8(vqtbl2q_u8(t, i));
}

// FCVT converts every finite half exactly (subnormals included); infinities and NaNs (exponent
// 31: FCVT would quiet a signalling NaN) are left to the scalar conversion.
AI bool f16x4_to_f32(const uint16_t *x, float *y) {
    const uint16x4_t h = vld1_u16(x);
    const uint16x4_t e = vand_u16(h, vdup_n_u16(0x7c00));
    if (vmaxv_u16(vceq_u16(e, vdup_n_u16(0x7c00)))) return false;
    vst1q_f32(y, vcvt_f32_f16(vreinterpret_f16_u16(h)));
    return true;
}

#define KITE_QS_ISA neon
#define KITE_QS_ISA_NAME "neon"
#include "quant/quant_search_simd128.inc"
