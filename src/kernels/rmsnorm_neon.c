// rmsnorm_neon.c - the RMS norm rows for aarch64 NEON with rows in float64x2 lanes: a block of up
// to 16 rows is summed at once, 4 floats of each of 4 rows loaded and transposed, so that vector
// j holds element i + j of the 4 rows; widened to double (two float64x2: rows 0-1 and 2-3) and
// added squared to the rows' running sums element after element by FMA (the square of a float is
// exact in double, so the fused add rounds as the scalar op's add does). Each lane is one row's
// sum in the scalar op's order (kite__rmsnorm_row_ref): 8 independent add chains where the scalar
// op has one. The scale step is the scalar op's along the row, 4 lanes at a time; the block
// driver is rmsnorm_rows.inc's.
#include <arm_neon.h>
#include <math.h>

#include "kernels/kernels_internal.h"

enum { RMS_BLOCK = 16 };

// sums (rows 0-1 in a, 2-3 in b) += the squares of v's lanes (rows 0..3)
static inline void rms_add(float64x2_t *a, float64x2_t *b, float32x4_t v) {
    const float64x2_t lo = vcvt_f64_f32(vget_low_f32(v)), hi = vcvt_high_f64_f32(v);
    *a = vfmaq_f64(*a, lo, lo);
    *b = vfmaq_f64(*b, hi, hi);
}

// acc (rows 0-1, 2-3 of group g at 2g, 2g + 1) += the squares of elements i .. i + 3 of the rows
static inline __attribute__((always_inline)) void rms_add4(float64x2_t *acc, const float *const *p, int g, int32_t i) {
    const float32x4_t r0 = vld1q_f32(p[4 * g] + i), r1 = vld1q_f32(p[4 * g + 1] + i);
    const float32x4_t r2 = vld1q_f32(p[4 * g + 2] + i), r3 = vld1q_f32(p[4 * g + 3] + i);
    // t0 = r0[0] r1[0] r0[2] r1[2], t1 = r0[1] r1[1] r0[3] r1[3]; t2, t3 the same of rows 2, 3
    const float64x2_t t0 = vreinterpretq_f64_f32(vtrn1q_f32(r0, r1)), t1 = vreinterpretq_f64_f32(vtrn2q_f32(r0, r1));
    const float64x2_t t2 = vreinterpretq_f64_f32(vtrn1q_f32(r2, r3)), t3 = vreinterpretq_f64_f32(vtrn2q_f32(r2, r3));
    rms_add(&acc[2 * g], &acc[2 * g + 1], vreinterpretq_f32_f64(vtrn1q_f64(t0, t2))); // element i
    rms_add(&acc[2 * g], &acc[2 * g + 1], vreinterpretq_f32_f64(vtrn1q_f64(t1, t3))); // i + 1
    rms_add(&acc[2 * g], &acc[2 * g + 1], vreinterpretq_f32_f64(vtrn2q_f64(t0, t2))); // i + 2
    rms_add(&acc[2 * g], &acc[2 * g + 1], vreinterpretq_f32_f64(vtrn2q_f64(t1, t3))); // i + 3
}

// sum[k] = the scalar op's sum of squares of row p[k] (n floats), k < 4 * groups.
static inline __attribute__((always_inline)) void rms_sums(const float *const *p, int groups, int32_t n,
                                                           double *sum) {
    float64x2_t acc[2 * RMS_BLOCK / 4];
    for (int g = 0; g < 2 * groups; g++) acc[g] = vdupq_n_f64(0.0);
    int32_t i = 0;
    // 16 floats of a row (a cache line where the row is 64-byte aligned) taken at once: rows 4 KB
    // apart share an L1 set, and a block's 16 rows can fill its ways
    for (; i + 16 <= n; i += 16)
        for (int g = 0; g < groups; g++)
            for (int h = 0; h < 16; h += 4) rms_add4(acc, p, g, i + h);
    for (; i + 4 <= n; i += 4)
        for (int g = 0; g < groups; g++) rms_add4(acc, p, g, i);
    for (; i < n; i++) // the last n % 4 elements, one at a time
        for (int g = 0; g < groups; g++) {
            const float t[4] = {p[4 * g][i], p[4 * g + 1][i], p[4 * g + 2][i], p[4 * g + 3][i]};
            rms_add(&acc[2 * g], &acc[2 * g + 1], vld1q_f32(t));
        }
    for (int g = 0; g < 2 * groups; g++) vst1q_f64(sum + 2 * g, acc[g]);
}

// the block's sums, its groups of 4 rows a constant for the unrolled loops
static inline void rms_block_sums(const float *const *p, int nr, int32_t n, double *sum) {
    switch ((nr + 3) / 4) {
    case 4: rms_sums(p, 4, n, sum); break;
    case 3: rms_sums(p, 3, n, sum); break;
    case 2: rms_sums(p, 2, n, sum); break;
    default: rms_sums(p, 1, n, sum); break;
    }
}

// y[i] = (x[i] * scale) * w[i] for i < n (the scalar op's products, in its order).
static inline void rms_scale_row(float *y, const float *x, const float *w, int32_t n, float scale) {
    const float32x4_t s = vdupq_n_f32(scale);
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vmulq_f32(vmulq_f32(vld1q_f32(x + i), s), vld1q_f32(w + i)));
    for (; i < n; i++) y[i] = x[i] * scale * w[i];
}

#define RMS_NAME kite__rmsnorm_rows_neon
#include "kernels/rmsnorm_rows.inc"
