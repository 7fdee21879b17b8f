// kernels_neon.c - neon kernels (placeholder until the SIMD tiles land).
#include "kernels/kernels_internal.h"

void kite__kernels_fill_neon(kite__kernels *k) { k->isa = "neon"; }
