// rmsnorm_ref.c - RMS norm rows: the scalar op (the specification every kernel set reproduces)
// and kite_kernels_rmsnorm_rows, which runs the active set's.
#include <math.h>

#include "kernels/kernels_internal.h"

void kite__rmsnorm_row_ref(float *y, const float *x, const float *w, int32_t n, float eps) {
    double sum = 0.0;
    for (int32_t i = 0; i < n; i++) sum += (double)x[i] * x[i];
    const float scale = 1.0f / sqrtf((float)(sum / n) + eps);
    for (int32_t i = 0; i < n; i++) y[i] = x[i] * scale * w[i];
}

void kite__rmsnorm_rows_ref(float *const *y, const float *const *x, const float *w, int32_t n, int32_t rows,
                            float eps) {
    for (int32_t r = 0; r < rows; r++) kite__rmsnorm_row_ref(y[r], x[r], w, n, eps);
}

void kite_kernels_rmsnorm_rows(float *const *y, const float *const *x, const float *w, int32_t n, int32_t rows,
                               float eps) {
    kite__kernels_active()->rmsnorm_rows(y, x, w, n, rows, eps);
}
