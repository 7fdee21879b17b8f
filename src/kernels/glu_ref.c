// glu_ref.c - the gated activations' rows: the scalar SwiGLU and GeGLU (the specifications every
// kernel set reproduces) and kite_kernels_swiglu / kite_kernels_geglu, which run the active set's.
#include <math.h>

#include "base/kite_f16.h"
#include "kernels/kernels_internal.h"

void kite__swiglu_ref(float *g, const float *u, int32_t n) {
    for (int32_t i = 0; i < n; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

void kite__geglu_ref(float *g, const float *u, int32_t n, const float *tab) {
    for (int32_t i = 0; i < n; i++) {
        const float x = g[i];
        const float y = x <= -10.0f ? 0.0f : x >= 10.0f ? x : tab[kite_f32_to_f16(x)];
        g[i] = y * u[i];
    }
}

void kite_kernels_swiglu(float *g, const float *u, int32_t n) { kite__kernels_active()->swiglu(g, u, n); }

void kite_kernels_geglu(float *g, const float *u, int32_t n, const float *tab) {
    kite__kernels_active()->geglu(g, u, n, tab);
}
