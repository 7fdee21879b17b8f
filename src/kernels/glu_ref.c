// glu_ref.c - the gated activations' rows: the scalar SwiGLU (the specification every kernel set
// reproduces) and kite_kernels_swiglu, which runs the active set's.
#include <math.h>

#include "kernels/kernels_internal.h"

void kite__swiglu_ref(float *g, const float *u, int32_t n) {
    for (int32_t i = 0; i < n; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

void kite_kernels_swiglu(float *g, const float *u, int32_t n) { kite__kernels_active()->swiglu(g, u, n); }
