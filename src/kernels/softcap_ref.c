// softcap_ref.c - soft-capping rows: the scalar op (the specification every kernel set
// reproduces) and kite_kernels_softcap, which runs the active set's.
#include <math.h>

#include "kernels/kernels_internal.h"

void kite__softcap_ref(float *x, int32_t n, float cap) { kite__softcap_scaled_ref(x, n, 1.0f / cap, cap, 1.0f); }

void kite__softcap_scaled_ref(float *x, int32_t n, float inv, float cap, float post) {
    for (int32_t i = 0; i < n; i++) x[i] = cap * (float)tanh((double)(x[i] * inv)) * post;
}

void kite_kernels_softcap(float *x, int32_t n, float cap) { kite__kernels_active()->softcap(x, n, cap); }
