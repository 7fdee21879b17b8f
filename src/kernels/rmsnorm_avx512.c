// rmsnorm_avx512.c - the RMS norm rows with rows in AVX-512 double lanes (rmsnorm_x86.inc, driven by
// rmsnorm_rows.inc).
#define KITE_RMS_AVX512 1
#define RMS_NAME kite__rmsnorm_rows_avx512
#include "kernels/rmsnorm_x86.inc"
#include "kernels/rmsnorm_rows.inc"
