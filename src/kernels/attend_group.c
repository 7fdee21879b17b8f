// attend_group.c - kite_kernels_attend_group: a group of queries sharing one KV head goes to the
// active set's group op where it has one (x86, wasm), else through its single-query op one by one;
// and kite_kernels_f32_to_f16_row, the KV cache's conversion, with F16C on the x86 sets.
#include "kernels/attend.h"
#include "kernels/kernels_internal.h"

#include "base/kite_f16.h"

void kite__attend_group_each(kite_attend_fn op, const kite_attn_group *g) {
    for (int32_t i = 0; i < g->n_q; i++)
        op(g->mode, g->q[i], g->k, g->v, g->kv_stride, g->n_kv[i], g->head_dim, g->scale,
           g->scores + (size_t)i * (size_t)g->scores_stride, g->out[i]);
}

void kite__attend_cap_scores(kite__softcap_row_fn row, kite_attn_mode mode, float *x, int32_t n, float scale,
                             float softcap) {
    if (mode == KITE_ATTN_MATMUL)
        row(x, n, 1.0f / softcap, softcap, scale);
    else
        row(x, n, scale / softcap, softcap, 1.0f);
}

void kite__attend_group_each_capped(kite__attend_capped_fn op, const kite_attn_group *g) {
    for (int32_t i = 0; i < g->n_q; i++)
        op(g->mode, g->q[i], g->k, g->v, g->kv_stride, g->n_kv[i], g->head_dim, g->scale, g->softcap,
           g->scores + (size_t)i * (size_t)g->scores_stride, g->out[i]);
}

void kite_kernels_attend_group(const kite_attn_group *g) {
    const kite__kernels *k = kite__kernels_active();
    if (g->softcap != 0.0f && !k->attend_group_softcap)
        kite__attend_group_each_capped(kite__attend_head_capped, g);
    else if (k->attend_group)
        k->attend_group(g);
    else
        kite__attend_group_each(k->attend, g);
}

void kite_kernels_f32_to_f16_row(const float *src, uint16_t *dst, int32_t n) {
    const kite__kernels *k = kite__kernels_active();
    if (k->f32_to_f16_row) {
        k->f32_to_f16_row(src, dst, n);
        return;
    }
    for (int32_t i = 0; i < n; i++) dst[i] = kite_f32_to_f16(src[i]);
}
