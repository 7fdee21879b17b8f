// kernels_wasm.c - wasm kernels (placeholder until the SIMD tiles land).
#include "kernels/kernels_internal.h"

void kite__kernels_fill_wasm(kite__kernels *k) { k->isa = "wasm-simd128"; }
