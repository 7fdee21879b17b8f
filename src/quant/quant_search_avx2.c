// quant_search_avx2.c - the quantizers' searches (quant_search_x86.inc) built for AVX2.
#define KITE_QS_ISA avx2
#define KITE_QS_ISA_NAME "avx2"
#include "quant/quant_search_x86.inc"
