// kernels_avx512.c - x86 avx512 kernels (placeholder until the SIMD tiles land).
#include "kernels/kernels_internal.h"

void kite__kernels_fill_avx512(kite__kernels *k) { k->isa = "avx512"; }
