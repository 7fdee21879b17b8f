// attend_group.c - kite_kernels_attend_group: a group of queries sharing one KV head goes to the
// active set's group op where it has one (x86), else through its single-query op one by one;
// and kite_kernels_f32_to_f16_row, the KV cache's conversion, with F16C on the x86 sets.
#include "kernels/attend.h"

#include <string.h>

#include "base/kite_f16.h"

#if defined(__x86_64__) || defined(_M_X64)
#define KITE_X86 1
#endif

void kite_kernels_attend_group(const kite_attn_group *g) {
    const kite_attend_fn op = kite_kernels_attend();
#ifdef KITE_X86
    if (op == kite__attend_head_avx2) { // the avx2, avx512 and amx sets
        const char *isa = kite_kernels_isa();
        if (!strcmp(isa, "avx512") || !strcmp(isa, "amx"))
            kite__attend_group_avx512(g);
        else
            kite__attend_group_avx2(g);
        return;
    }
#endif
    for (int32_t i = 0; i < g->n_q; i++)
        op(g->mode, g->q[i], g->k, g->v, g->kv_stride, g->n_kv[i], g->head_dim, g->scale,
           g->scores + (size_t)i * (size_t)g->scores_stride, g->out[i]);
}

void kite_kernels_f32_to_f16_row(const float *src, uint16_t *dst, int32_t n) {
#ifdef KITE_X86
    if (kite_kernels_attend() == kite__attend_head_avx2) { // the avx2, avx512 and amx sets: F16C
        kite__f32_to_f16_row_avx2(src, dst, n);
        return;
    }
#endif
    for (int32_t i = 0; i < n; i++) dst[i] = kite_f32_to_f16(src[i]);
}
