// rmsnorm_wasm.c - the RMS norm rows for wasm SIMD128 (both wasm sets) with rows in f64x2 lanes:
// a block of up to 8 rows is summed at once, 4 floats of each of 4 rows loaded and transposed,
// so that vector j holds element i + j of the 4 rows; widened to double (two f64x2: rows 0-1 and
// 2-3), squared (exact) and added to the rows' running sums element after element. Each lane is
// one row's sum in the scalar op's order (kite__rmsnorm_row_ref): 4 independent add chains where
// the scalar op has one. The scale step is the scalar op's along the row, 4 lanes at a time; the
// block driver is rmsnorm_rows.inc's.
#include <math.h>
#include <wasm_simd128.h>

#include "kernels/kernels_internal.h"

enum { RMS_BLOCK = 8 };

// sums (rows 0-1 in a, 2-3 in b) += the squares of v's lanes (rows 0..3)
static inline void rms_add(v128_t *a, v128_t *b, v128_t v) {
    const v128_t lo = wasm_f64x2_promote_low_f32x4(v), hi = wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(v, v, 2, 3, 2, 3));
    *a = wasm_f64x2_add(*a, wasm_f64x2_mul(lo, lo));
    *b = wasm_f64x2_add(*b, wasm_f64x2_mul(hi, hi));
}

// sum[k] = the scalar op's sum of squares of row p[k] (n floats), k < 4 * groups.
static inline __attribute__((always_inline)) void rms_sums(const float *const *p, int groups, int32_t n,
                                                           double *sum) {
    v128_t acc[4] = {wasm_f64x2_splat(0.0), wasm_f64x2_splat(0.0), wasm_f64x2_splat(0.0), wasm_f64x2_splat(0.0)};
    int32_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int g = 0; g < groups; g++) {
            const v128_t r0 = wasm_v128_load(p[4 * g] + i), r1 = wasm_v128_load(p[4 * g + 1] + i);
            const v128_t r2 = wasm_v128_load(p[4 * g + 2] + i), r3 = wasm_v128_load(p[4 * g + 3] + i);
            const v128_t t0 = wasm_i32x4_shuffle(r0, r1, 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(r0, r1, 2, 6, 3, 7);
            const v128_t t2 = wasm_i32x4_shuffle(r2, r3, 0, 4, 1, 5), t3 = wasm_i32x4_shuffle(r2, r3, 2, 6, 3, 7);
            rms_add(&acc[2 * g], &acc[2 * g + 1], wasm_i32x4_shuffle(t0, t2, 0, 1, 4, 5)); // element i
            rms_add(&acc[2 * g], &acc[2 * g + 1], wasm_i32x4_shuffle(t0, t2, 2, 3, 6, 7)); // i + 1
            rms_add(&acc[2 * g], &acc[2 * g + 1], wasm_i32x4_shuffle(t1, t3, 0, 1, 4, 5)); // i + 2
            rms_add(&acc[2 * g], &acc[2 * g + 1], wasm_i32x4_shuffle(t1, t3, 2, 3, 6, 7)); // i + 3
        }
    for (; i < n; i++) // the last n % 4 elements, one at a time
        for (int g = 0; g < groups; g++) {
            const float t[4] = {p[4 * g][i], p[4 * g + 1][i], p[4 * g + 2][i], p[4 * g + 3][i]};
            rms_add(&acc[2 * g], &acc[2 * g + 1], wasm_v128_load(t));
        }
    for (int g = 0; g < 2 * groups; g++) wasm_v128_store(sum + 2 * g, acc[g]);
}

// the block's sums, its groups of 4 rows a constant for the unrolled loops
static inline void rms_block_sums(const float *const *p, int nr, int32_t n, double *sum) {
    if (nr > 4) rms_sums(p, 2, n, sum);
    else rms_sums(p, 1, n, sum);
}

// y[i] = (x[i] * scale) * w[i] for i < n (the scalar op's products, in its order).
static inline void rms_scale_row(float *y, const float *x, const float *w, int32_t n, float scale) {
    const v128_t s = wasm_f32x4_splat(scale);
    int32_t i = 0;
    for (; i + 4 <= n; i += 4)
        wasm_v128_store(y + i, wasm_f32x4_mul(wasm_f32x4_mul(wasm_v128_load(x + i), s), wasm_v128_load(w + i)));
    for (; i < n; i++) y[i] = x[i] * scale * w[i];
}

#define RMS_NAME kite__rmsnorm_rows_wasm
#include "kernels/rmsnorm_rows.inc"
