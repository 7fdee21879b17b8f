// kernels_avx2.c - the x86 tiles (kernels_x86.inc) built for AVX2 + FMA + F16C.
#define KITE_X86_AVX2_BUILD 1
#include "kernels/kernels_x86.inc"
#include "kernels/kernels_x86_tokens.inc"
#include "kernels/kernels_x86_rows4.inc"
#include "kernels/kernels_x86_set.inc"
#include "kernels/kernels_x86_iq.inc"
#include "kernels/kernels_x86_iq_gemv.inc"
#include "kernels/kernels_x86_x8.inc"
#include "kernels/kernels_x86_x8_q5k.inc"
#include "kernels/kernels_x86_x8_iq4xs.inc"
#include "kernels/kernels_x86_x8_q3k.inc"
#include "kernels/kernels_x86_x8_q2k.inc"

#include "kernels/attend.h"

void kite__kernels_fill_avx2(kite__kernels *k) {
    k->isa = "avx2";
    k->attend = kite__attend_head_avx2;
    k->attend_group = kite__attend_group_fa16_avx2;
    k->f32_to_f16_row = kite__f32_to_f16_row_avx2;
    k->swiglu = kite__swiglu_avx2;
    k->geglu = kite__geglu_avx2;
    k->softcap = kite__softcap_avx2;
    k->rmsnorm_rows = kite__rmsnorm_rows_avx2;
    k->attend_group_softcap = true; // kite__attend_group_fa16_avx2 caps in vector lanes
    x86_fill(k);
    x86_fill_iq(k);
    x86_fill_x8(k);
    kite__kernels_packed_avx2(k); // 16 tokens or more: the packed GEMM
}
