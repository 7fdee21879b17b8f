// forward.c - the transformer forward pass for the llama family (llama, phi3, qwen2, qwen3,
// qwen3moe, gemma2, gemma3, smollm3): one function, one comment per stage. Every op runs on the backend its layer is placed on
// (backend.h); the pass itself is written once for all of them.
#include <math.h>

#include "model/backend.h"
#include "model/model_internal.h"

// Copies the residual stream of the step from one backend to the next (through host memory).
static void move_residual(kite_ctx *c, kite_backend *from, kite_backend *to, int32_t n) {
    const int32_t E = c->m->hp.n_embd;
    const kite_view x = {KITE_ACT_X, 0, E};
    from->read(from, x, n, E, c->host_x);
    to->write(to, x, n, E, c->host_x);
}

// x rows += tmp rows, RMS-normed first where post_norm (gemma): one fused op where the
// backend has it, else the norm in place and an add.
static void residual_add(kite_backend *B, kite_view x, kite_view tmp, int32_t n, const float *post_norm, float eps) {
    const int32_t E = x.stride;
    if (post_norm && B->rmsnorm_add) {
        B->rmsnorm_add(B, x, tmp, post_norm, n, E, eps);
        return;
    }
    if (post_norm) B->rmsnorm(B, tmp, tmp, post_norm, n, E, eps);
    B->add(B, x, tmp, n, E);
}

// x rows += w times in rows (the residual add of a sublayer's output projection; post_norm:
// the output RMS-normed first, gemma): one fused op where the backend has it, else a matmul
// into tmp and residual_add.
static void residual_matmul(kite_backend *B, const kite_weight *w, kite_view in, int32_t n, kite_view x, kite_view tmp,
                            const float *post_norm, float eps) {
    if (!post_norm && B->matmul_add) {
        B->matmul_add(B, w, in, n, x);
        return;
    }
    B->matmul(B, w, in, n, tmp);
    residual_add(B, x, tmp, n, post_norm, eps);
}

// q's bias (qwen2; bias false: already added) and per-head RMS norm (qwen3, gemma3; norm
// false: left to rope_qk) on n rows, before its RoPE.
static void prepare_q(kite_backend *B, const kite_layer *L, const kite_hparams *hp, kite_view q, int32_t n, bool bias,
                      bool norm) {
    if (bias && L->bq) B->add_bias(B, q, L->bq, n, hp->n_head * hp->head_dim);
    if (norm && L->attn_q_norm) B->rmsnorm_heads(B, q, n, hp->n_head, hp->head_dim, L->attn_q_norm, hp->norm_eps);
}

// The q, k, v projections of the normed rows in XN (n rows) into *q, *k, *v (views of Q, K, V
// or of the fused QKV): a fused qkv matrix read in place; separate matrices as one product into
// q|k|v where the backend has matmul_cat, their biases (qwen2) with it; else one matmul each,
// k's and v's biases added (q's is left to prepare_q). trim_q: only the output rows' q is wanted,
// projected later (k and v as one product into q|k|v's columns where the backend has
// matmul_cat). True where q|k|v went as one matmul_cat.
static bool project_qkv(kite_backend *B, const kite_layer *L, const kite_hparams *hp, int32_t n, bool trim_q,
                        kite_view *q, kite_view *k, kite_view *v) {
    const int32_t hd = hp->head_dim, q_dim = hp->n_head * hd, kv_dim = hp->n_head_kv * hd;
    const int32_t qkv_dim = q_dim + 2 * kv_dim;
    const kite_view xn = {KITE_ACT_XN, 0, hp->n_embd};
    *q = (kite_view){KITE_ACT_Q, 0, q_dim};
    *k = (kite_view){KITE_ACT_K, 0, kv_dim};
    *v = (kite_view){KITE_ACT_V, 0, kv_dim};
    const bool cat = !L->wqkv.data && B->matmul_cat && !trim_q;
    if (trim_q && B->matmul_cat) {
        const kite_weight *ws[] = {&L->wk, &L->wv};
        const float *bias[] = {L->bk, L->bv};
        *k = (kite_view){KITE_ACT_QKV, q_dim, qkv_dim};
        *v = (kite_view){KITE_ACT_QKV, q_dim + kv_dim, qkv_dim};
        B->matmul_cat(B, ws, bias, 2, xn, n, *k);
    } else if (L->wqkv.data || cat) {
        const kite_view qkv = {KITE_ACT_QKV, 0, qkv_dim};
        const kite_weight *ws[] = {&L->wq, &L->wk, &L->wv};
        const float *bias[] = {L->bq, L->bk, L->bv};
        if (cat)
            B->matmul_cat(B, ws, bias, 3, xn, n, qkv);
        else
            B->matmul(B, &L->wqkv, xn, n, qkv);
        *q = (kite_view){KITE_ACT_QKV, 0, qkv_dim};
        *k = (kite_view){KITE_ACT_QKV, q_dim, qkv_dim};
        *v = (kite_view){KITE_ACT_QKV, q_dim + kv_dim, qkv_dim};
    } else {
        if (!trim_q) B->matmul(B, &L->wq, xn, n, *q);
        B->matmul(B, &L->wk, xn, n, *k);
        B->matmul(B, &L->wv, xn, n, *v);
        if (L->bk) B->add_bias(B, *k, L->bk, n, kv_dim);
        if (L->bv) B->add_bias(B, *v, L->bv, n, kv_dim);
    }
    return cat;
}

// The feed-forward sublayer on n rows, its input the normed rows in XN, added into x: routed
// experts (qwen3moe), or down(act(gate) * up) with SwiGLU (GeGLU for gemma), gate and up fused
// for phi3; gemma RMS-norms the output. Fused ops where the backend has them.
static void feed_forward(kite_backend *B, const kite_layer *L, const kite_hparams *hp, kite_view x, int32_t n) {
    const int32_t E = hp->n_embd, F = hp->n_ff;
    const kite_view xn = {KITE_ACT_XN, 0, E}, ff = {KITE_ACT_FF, 0, F}, ff2 = {KITE_ACT_FF2, 0, F};
    if (hp->n_expert > 0) {
        const kite_moe moe = {.gate_inp = &L->ffn_gate_inp, .gate = &L->gate_exps, .up = &L->up_exps,
                              .down = &L->down_exps, .gate_stride = L->gate_exps_stride,
                              .up_stride = L->up_exps_stride, .down_stride = L->down_exps_stride,
                              .n_expert = hp->n_expert, .n_used = hp->n_expert_used, .n_ff = hp->n_ff_exp};
        B->moe(B, &moe, xn, xn, n);
        residual_add(B, x, xn, n, L->ffn_post_norm, hp->norm_eps);
        return;
    }
    if (B->ffn_swiglu && (L->w_gate_up.data || hp->ffn_act != KITE_FFN_GELU)) {
        B->ffn_swiglu(B, L->w_gate_up.data ? &L->w_gate_up : &L->w_gate, L->w_gate_up.data ? NULL : &L->w_up, xn, n,
                      ff2);
    } else if (B->ffn_geglu && !L->w_gate_up.data) { // (GeGLU: SwiGLU took the branch above)
        B->ffn_geglu(B, &L->w_gate, &L->w_up, xn, n, ff2);
    } else if (L->w_gate_up.data) {
        const kite_view gate = {KITE_ACT_FF, 0, 2 * F}, up = {KITE_ACT_FF, F, 2 * F};
        B->matmul(B, &L->w_gate_up, xn, n, gate);
        B->swiglu(B, ff2, gate, up, n, F);
    } else {
        B->matmul(B, &L->w_gate, xn, n, ff2);
        B->matmul(B, &L->w_up, xn, n, ff);
        if (hp->ffn_act == KITE_FFN_GELU)
            B->geglu(B, ff2, ff2, ff, n, F);
        else
            B->swiglu(B, ff2, ff2, ff, n, F);
    }
    residual_matmul(B, &L->w_down, ff2, n, x, xn, L->ffn_post_norm, hp->norm_eps);
}

kite_status kite__forward(kite_ctx *c, const kite_step *st, const int32_t *tokens, const int32_t *out_rows,
                          int32_t n_out, float *logits) {
    const kite_model *m = c->m;
    const kite_hparams *hp = &m->hp;
    const int32_t E = hp->n_embd, hd = hp->head_dim;
    int32_t n = st->n; // rows going on (the last layer keeps only the output rows, see below)
    const int32_t q_dim = hp->n_head * hd;
    KITE_ASSERT(n > 0 && n <= c->n_batch && n_out >= 0 && n_out <= n);

    // the activations by role (rows of the step; see kite_act)
    const kite_view x = {KITE_ACT_X, 0, E}, xn = {KITE_ACT_XN, 0, E}, att = {KITE_ACT_ATT, 0, q_dim};
    // phi3 and gemma scale q before attention, the others scale the scores
    const float q_scale = hp->attn_scale;
    const bool scale_q = hp->arch == KITE_ARCH_PHI3 || hp->arch == KITE_ARCH_GEMMA2 || hp->arch == KITE_ARCH_GEMMA3;
    for (int i = 0; i < c->n_backends; i++) c->backends[i]->begin(c->backends[i], st);

    // token embeddings: one row of token_embd per token (gemma scales them by sqrt(n_embd))
    kite_backend *B = c->input_backend;
    B->embed(B, &m->tok_embd, tokens, n, x);
    if (hp->embd_scale != 1.0f) B->scale(B, x, n, E, hp->embd_scale);

    for (int32_t il = 0; il < hp->n_layer; il++) {
        const kite_layer *L = &m->layers[il];
        if (c->layer_backend[il] != B) {
            move_residual(c, B, c->layer_backend[il], n);
            B = c->layer_backend[il];
        }

        // attention norm
        B->rmsnorm(B, xn, x, L->attn_norm, n, E, hp->norm_eps);

        // past the last layer's K and V only the output rows matter (llama.cpp's graph drops
        // the others after its attention; a row's result does not depend on the others'): the
        // queries, attention and the rest of the layer run for those rows alone (all of them
        // when an observer is set: it sees every row). Where q is its own matrix the output
        // rows' q is projected alone, else gathered from the fused q|k|v.
        const bool last = il == hp->n_layer - 1 && !c->observed;
        const bool trim = last && n_out < n, trim_q = trim && !L->wqkv.data;

        // q, k, v projections
        kite_view q, k, v;
        const bool cat = project_qkv(B, L, hp, n, trim_q, &q, &k, &v);
        const bool q_biased = !L->wqkv.data && B->matmul_cat; // q's bias added with its product

        // per-head RMS norm of k (qwen3, gemma3), RoPE on k with the layer's base and scale
        // (gemma3's sliding layers have their own; smollm3's NoPE layers none), then k and v
        // into the cache at their positions
        const kite_rope rope = {.n_rot = hp->n_rot, .neox = hp->rope_neox, .freq_base = L->rope_base,
                                .freq_scale = L->rope_scale, .attn_factor = hp->rope_attn_factor,
                                .factors = c->rope_factors};
        // (where the backend rotates q and k together and every row attends, q's bias comes
        // first and both are normed and rotate before the cache write: the same ops on
        // independent rows, in another order; where only some rows attend, rope_qk takes k
        // alone here and q for those rows below)
        const bool rope_qk = L->use_rope && B->rope_qk && !trim, rope_1 = L->use_rope && B->rope_qk && trim;
        if (L->attn_k_norm && !rope_qk && !rope_1)
            B->rmsnorm_heads(B, k, n, hp->n_head_kv, hd, L->attn_k_norm, hp->norm_eps);
        if (rope_qk) {
            prepare_q(B, L, hp, q, n, !cat, false);
            B->rope_qk(B, q, k, n, hp->n_head, hp->n_head_kv, hd, NULL, &rope, L->attn_q_norm, L->attn_k_norm,
                       hp->norm_eps);
        } else if (rope_1) {
            B->rope_qk(B, k, k, n, 0, hp->n_head_kv, hd, NULL, &rope, NULL, L->attn_k_norm, hp->norm_eps);
        } else if (L->use_rope) {
            B->rope(B, k, n, hp->n_head_kv, hd, NULL, &rope);
        }
        B->kv_store(B, il, k, v, n);
        if (last && n_out == 0) break; // no output wanted: the cache is all this step leaves

        // the rows that attend: with trim, the output rows' residuals go to the first rows of x
        // (through XN: a gather needs two buffers) and their queries to the first rows of Q
        // (projected from their normed rows again, or gathered from the fused q|k|v through XN)
        const int32_t *rows = NULL; // the step's token of each attending row (NULL: row t)
        if (trim) {
            const kite_view tmp = {KITE_ACT_XN, 0, L->wqkv.data ? q_dim : E};
            if (trim_q) {
                B->gather(B, tmp, x, out_rows, n_out, E);
                B->gather(B, x, tmp, c->row_ids, n_out, E);
                B->rmsnorm(B, xn, x, L->attn_norm, n_out, E, hp->norm_eps);
                if (q_biased) {
                    const kite_weight *wq = &L->wq;
                    B->matmul_cat(B, &wq, &L->bq, 1, xn, n_out, q);
                } else {
                    B->matmul(B, &L->wq, xn, n_out, q);
                }
            } else {
                B->gather(B, tmp, q, out_rows, n_out, q_dim);
                q = tmp;
            }
            rows = out_rows;
        }
        const int32_t nq = trim ? n_out : n;
        if (rope_1) {
            prepare_q(B, L, hp, q, nq, !q_biased, false);
            B->rope_qk(B, q, q, nq, hp->n_head, 0, hd, rows, &rope, L->attn_q_norm, NULL, hp->norm_eps);
        } else if (!rope_qk) {
            prepare_q(B, L, hp, q, nq, !q_biased, true);
            if (L->use_rope) B->rope(B, q, nq, hp->n_head, hd, rows, &rope);
        }

        // causal self-attention over the cache, or its sliding window (phi3 and gemma scale q,
        // the others the scores); gemma2 soft-caps scores
        const kite_attn attn = {.n_head = hp->n_head, .n_head_kv = hp->n_head_kv, .head_dim = hd,
                                .scale = scale_q ? 1.0f : q_scale, .window = L->swa ? hp->n_swa : 0,
                                .softcap = hp->attn_softcap};
        if (scale_q) B->scale(B, q, nq, q_dim, q_scale);
        B->attention(B, il, q, att, nq, rows, &attn);
        if (trim && !trim_q) { // the residuals of the output rows, through XN (free again)
            const kite_view tmp = {KITE_ACT_XN, 0, E};
            B->gather(B, tmp, x, out_rows, n_out, E);
            B->gather(B, x, tmp, c->row_ids, n_out, E);
        }
        if (trim) {
            n = n_out;
            out_rows = c->row_ids;
        }

        // output projection (gemma: RMS-normed) and residual
        residual_matmul(B, &L->wo, att, n, x, xn, L->attn_post_norm, hp->norm_eps);

        // feed-forward norm, feed-forward and residual
        B->rmsnorm(B, xn, x, L->ffn_norm, n, E, hp->norm_eps);
        feed_forward(B, L, hp, x, n);
    }

    // final norm and output head for the rows whose logits are wanted
    if (n_out > 0 && c->output_backend != B) {
        move_residual(c, B, c->output_backend, n);
        B = c->output_backend;
    }
    if (n_out > 0 && c->out_hidden) { // embeddings: the normed hidden states themselves
        const kite_view out = {KITE_ACT_OUT, 0, E};
        B->bind_output(B, logits, n_out, E);
        B->gather(B, xn, x, out_rows, n_out, E);
        B->rmsnorm(B, out, xn, m->output_norm, n_out, E, hp->norm_eps);
    } else if (n_out > 0) {
        const kite_view out = {KITE_ACT_OUT, 0, hp->n_vocab};
        B->bind_output(B, logits, n_out, hp->n_vocab);
        B->gather(B, xn, x, out_rows, n_out, E);
        B->rmsnorm(B, xn, xn, m->output_norm, n_out, E, hp->norm_eps);
        B->matmul(B, &m->output, xn, n_out, out);
        if (m->output_bias) B->add_bias(B, out, m->output_bias, n_out, hp->n_vocab);
        if (hp->final_softcap > 0.0f) B->softcap(B, out, n_out, hp->n_vocab, hp->final_softcap);
    }

    // the first failure of any backend's step
    kite_status s = KITE_OK;
    for (int i = 0; i < c->n_backends; i++) {
        kite_status e = c->backends[i]->end(c->backends[i]);
        if (s == KITE_OK) s = e;
    }
    return s;
}
