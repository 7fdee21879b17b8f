// rmsnorm_wasm.c - the RMS norm rows for wasm SIMD128 (both wasm sets) with rows in f64x2 lanes:
// a block of up to 8 rows is summed at once, 4 floats of each of 4 rows loaded and transposed,
// so that vector j holds element i + j of the 4 rows; widened to double (two f64x2: rows 0-1 and
// 2-3), squared (exact) and added to the rows' running sums element after element. Each lane is
// one row's sum in the scalar op's order (kite__rmsnorm_row_ref): 4 independent add chains where
// the scalar op has one. The scale step is the scalar op's along the row, 4 lanes at a time.
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

void kite__rmsnorm_rows_wasm(float *const *y, const float *const *x, const float *w, int32_t n, int32_t rows,
                             float eps) {
    for (int32_t r0 = 0; r0 < rows; r0 += RMS_BLOCK) {
        const int nr = rows - r0 < RMS_BLOCK ? (int)(rows - r0) : RMS_BLOCK;
        if (nr == 1) { // one row: one chain either way
            kite__rmsnorm_row_ref(y[r0], x[r0], w, n, eps);
            continue;
        }
        const float *p[RMS_BLOCK]; // the block's rows; lanes past them repeat its first row
        for (int k = 0; k < RMS_BLOCK; k++) p[k] = x[r0 + (k < nr ? k : 0)];
        double sum[RMS_BLOCK];
        if (nr > 4) rms_sums(p, 2, n, sum);
        else rms_sums(p, 1, n, sum);
        // every sum of the block is taken before a row is written (y[r] may be x[r])
        for (int k = 0; k < nr; k++) {
            const float scale = 1.0f / sqrtf((float)(sum[k] / n) + eps);
            float *yr = y[r0 + k];
            const float *xr = x[r0 + k];
            const v128_t s = wasm_f32x4_splat(scale);
            int32_t i = 0;
            for (; i + 4 <= n; i += 4)
                wasm_v128_store(yr + i, wasm_f32x4_mul(wasm_f32x4_mul(wasm_v128_load(xr + i), s), wasm_v128_load(w + i)));
            for (; i < n; i++) yr[i] = xr[i] * scale * w[i];
        }
    }
}
