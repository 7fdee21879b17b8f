// forward.c - the transformer forward pass for the llama family (llama, phi3, qwen2): one
// function, one comment per stage. Every op runs on the backend its layer is placed on
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

kite_status kite__forward(kite_ctx *c, const kite_step *st, const int32_t *tokens, const int32_t *out_rows,
                          int32_t n_out, float *logits) {
    const kite_model *m = c->m;
    const kite_hparams *hp = &m->hp;
    const int32_t E = hp->n_embd, hd = hp->head_dim, F = hp->n_ff, n = st->n;
    const int32_t q_dim = hp->n_head * hd, kv_dim = hp->n_head_kv * hd, qkv_dim = q_dim + 2 * kv_dim;
    KITE_ASSERT(n > 0 && n <= c->n_batch && n_out >= 0 && n_out <= n);

    // the activations by role (rows of the step; see kite_act)
    const kite_view x = {KITE_ACT_X, 0, E}, xn = {KITE_ACT_XN, 0, E}, att = {KITE_ACT_ATT, 0, q_dim},
                    ff = {KITE_ACT_FF, 0, F}, ff2 = {KITE_ACT_FF2, 0, F};
    const kite_rope rope = {.n_rot = hp->n_rot, .neox = hp->rope_neox, .freq_base = hp->rope_freq_base,
                            .freq_scale = hp->rope_freq_scale, .attn_factor = hp->rope_attn_factor,
                            .factors = c->rope_factors};
    // phi3 scales q before attention, the others scale the scores
    const float q_scale = 1.0f / sqrtf((float)hd);
    const bool scale_q = hp->arch == KITE_ARCH_PHI3;
    const kite_attn attn = {.n_head = hp->n_head, .n_head_kv = hp->n_head_kv, .head_dim = hd,
                            .scale = scale_q ? 1.0f : q_scale};
    for (int i = 0; i < c->n_backends; i++) c->backends[i]->begin(c->backends[i], st);

    // token embeddings: one row of token_embd per token
    kite_backend *B = c->input_backend;
    B->embed(B, &m->tok_embd, tokens, n, x);

    for (int32_t il = 0; il < hp->n_layer; il++) {
        const kite_layer *L = &m->layers[il];
        if (c->layer_backend[il] != B) {
            move_residual(c, B, c->layer_backend[il], n);
            B = c->layer_backend[il];
        }

        // attention norm
        B->rmsnorm(B, xn, x, L->attn_norm, n, E, hp->norm_eps);

        // q, k, v projections (a fused qkv is read in place; qwen2 adds biases)
        kite_view q = {KITE_ACT_Q, 0, q_dim}, k = {KITE_ACT_K, 0, kv_dim}, v = {KITE_ACT_V, 0, kv_dim};
        if (L->wqkv.data) {
            B->matmul(B, &L->wqkv, xn, n, (kite_view){KITE_ACT_QKV, 0, qkv_dim});
            q = (kite_view){KITE_ACT_QKV, 0, qkv_dim};
            k = (kite_view){KITE_ACT_QKV, q_dim, qkv_dim};
            v = (kite_view){KITE_ACT_QKV, q_dim + kv_dim, qkv_dim};
        } else {
            B->matmul(B, &L->wq, xn, n, q);
            B->matmul(B, &L->wk, xn, n, k);
            B->matmul(B, &L->wv, xn, n, v);
            if (L->bq) B->add_bias(B, q, L->bq, n, q_dim);
            if (L->bk) B->add_bias(B, k, L->bk, n, kv_dim);
            if (L->bv) B->add_bias(B, v, L->bv, n, kv_dim);
        }

        // RoPE on q and k, then k and v into the cache at their positions
        B->rope(B, q, n, hp->n_head, hd, &rope);
        B->rope(B, k, n, hp->n_head_kv, hd, &rope);
        B->kv_store(B, il, k, v, n);

        // causal self-attention over the cache
        if (scale_q) B->scale(B, q, n, q_dim, q_scale);
        B->attention(B, il, q, att, n, &attn);

        // output projection and residual
        B->matmul(B, &L->wo, att, n, xn);
        B->add(B, x, xn, n, E);

        // feed-forward norm
        B->rmsnorm(B, xn, x, L->ffn_norm, n, E, hp->norm_eps);

        // SwiGLU feed-forward: down(silu(gate) * up), gate and up fused for phi3
        if (L->w_gate_up.data) {
            const kite_view gate = {KITE_ACT_FF, 0, 2 * F}, up = {KITE_ACT_FF, F, 2 * F};
            B->matmul(B, &L->w_gate_up, xn, n, gate);
            B->swiglu(B, ff2, gate, up, n, F);
        } else {
            B->matmul(B, &L->w_gate, xn, n, ff2);
            B->matmul(B, &L->w_up, xn, n, ff);
            B->swiglu(B, ff2, ff2, ff, n, F);
        }
        B->matmul(B, &L->w_down, ff2, n, xn);
        B->add(B, x, xn, n, E);
    }

    // final norm and output head for the rows whose logits are wanted
    if (c->output_backend != B) {
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
    }

    // the first failure of any backend's step
    kite_status s = KITE_OK;
    for (int i = 0; i < c->n_backends; i++) {
        kite_status e = c->backends[i]->end(c->backends[i]);
        if (s == KITE_OK) s = e;
    }
    return s;
}
