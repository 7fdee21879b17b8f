// rmsnorm_avx2.c - the RMS norm rows with rows in AVX2 double lanes (rmsnorm_x86.inc, driven by
// rmsnorm_rows.inc).
#define KITE_RMS_AVX512 0
#define RMS_NAME kite__rmsnorm_rows_avx2
#include "kernels/rmsnorm_x86.inc"
#include "kernels/rmsnorm_rows.inc"
