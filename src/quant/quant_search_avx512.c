// quant_search_avx512.c - the quantizers' searches (quant_search_x86.inc) built for AVX-512VL:
// the 8-lane code with 32 vector registers and EVEX encodings.
#define KITE_QS_ISA avx512
#define KITE_QS_ISA_NAME "avx512"
#include "quant/quant_search_x86.inc"
