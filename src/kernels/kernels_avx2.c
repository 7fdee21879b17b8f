// kernels_avx2.c - x86 avx2 kernels (placeholder until the SIMD tiles land).
#include "kernels/kernels_internal.h"

void kite__kernels_fill_avx2(kite__kernels *k) { k->isa = "avx2"; }
