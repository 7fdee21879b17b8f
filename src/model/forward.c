// forward.c - the transformer forward pass for the llama family (llama, phi3, qwen2): one
// function, one comment per stage; matmuls go to the kernels, the small ops to ops.c.
#include <math.h>
#include <stdatomic.h>

#include "base/f16.h"
#include "kernels/kite_kernels.h"
#include "model/model_internal.h"
#include "model/ops.h"

// y (n rows of w->n_out) = x (n rows of w->n_in) times the weight's rows.
static kite_status matmul(kite_ctx *c, const kite_weight *w, const float *x, int32_t n, float *y) {
    return kite_matmul(c->pool, w->type, w->data, w->n_in, w->n_out, x, n, y, c->a.scratch, c->a.scratch_size);
}

// ---- attention: every (token, query head) pair is one task, spread over the pool ------------

typedef struct attn_job {
    kite_ctx *c;
    int32_t layer, n_tok, pos0;
    float scale;
    kite_attn_mode mode;
    atomic_int next_task; // the next (token, head) task nobody has taken
} attn_job;

// ggml's CPU flash attention runs batches of at least 64 queries through a tiled f32 kernel when
// the head size is a multiple of its f32 vector width (16 floats in the AVX-512 build that
// node-llama-cpp loads on x86-64 hosts with it), else row by row with an f16 accumulator.
#define FA_TILE_MIN_TOKENS 64
#define FA_TILE_HEAD_MULTIPLE 16

static kite_attn_mode attn_mode(const kite_ctx *c, int32_t n_tok) {
    if (!c->flash_attn) return KITE_ATTN_MATMUL;
    if (n_tok >= FA_TILE_MIN_TOKENS && c->m->hp.head_dim % FA_TILE_HEAD_MULTIPLE == 0) return KITE_ATTN_FA_F32;
    return KITE_ATTN_FA_F16;
}

static void attn_worker(void *arg, int ith, int nth) {
    attn_job *j = arg;
    kite_ctx *c = j->c;
    const kite_hparams *hp = &c->m->hp;
    const int32_t hd = hp->head_dim, kv_dim = hp->n_head_kv * hd, q_dim = hp->n_head * hd;
    const int32_t group = hp->n_head / hp->n_head_kv; // query heads sharing one KV head (GQA)
    const size_t layer_off = (size_t)j->layer * c->n_ctx * kv_dim;
    float *scores = c->a.scores + (size_t)ith * c->n_ctx;
    (void)nth;
    // Tasks come from a shared counter (kite_pool_run_shared): a thread that is descheduled
    // on a busy machine holds no share of the work hostage.
    for (int32_t task; (task = atomic_fetch_add_explicit(&j->next_task, 1, memory_order_relaxed)) <
                       j->n_tok * hp->n_head;) {
        const int32_t t = task / hp->n_head, h = task % hp->n_head, kvh = h / group;
        const size_t off = layer_off + (size_t)kvh * hd;
        // causal: token t sees the cache up to and including its own position
        c->attend(j->mode, c->a.q + (size_t)t * q_dim + (size_t)h * hd, c->k_cache + off, c->v_cache + off, kv_dim,
                  j->pos0 + t + 1, hd, j->scale, scores, c->a.att + (size_t)t * q_dim + (size_t)h * hd);
    }
}

// ---- the forward pass -------------------------------------------------------------------------

kite_status kite__forward(kite_ctx *c, const int32_t *tokens, int32_t n, bool all, float *logits_out) {
    const kite_model *m = c->m;
    const kite_hparams *hp = &m->hp;
    kite_acts *a = &c->a;
    const int32_t E = hp->n_embd, hd = hp->head_dim, F = hp->n_ff, pos0 = c->pos;
    const int32_t q_dim = hp->n_head * hd, kv_dim = hp->n_head_kv * hd, qkv_dim = q_dim + 2 * kv_dim;
    KITE_ASSERT(n > 0 && n <= c->n_batch && pos0 + n <= c->n_ctx);

    // token embeddings: one row of token_embd per token
    for (int32_t t = 0; t < n; t++)
        KITE_TRY(kite__embed_row(m->tok_embd.type, m->tok_embd.data, E, tokens[t], a->x + (size_t)t * E));

    // rotation angles of the batch's positions, shared by every layer
    for (int32_t t = 0; t < n; t++)
        kite__rope_cache(a->rope + (size_t)t * hp->n_rot, pos0 + t, hp->n_rot, hp->rope_freq_base,
                         hp->rope_freq_scale, hp->rope_attn_factor, c->rope_factors);

    for (int32_t il = 0; il < hp->n_layer; il++) {
        const kite_layer *L = &m->layers[il];
        const size_t cache_off = ((size_t)il * c->n_ctx + pos0) * kv_dim;

        // attention norm
        for (int32_t t = 0; t < n; t++)
            kite__rmsnorm(a->xn + (size_t)t * E, a->x + (size_t)t * E, L->attn_norm, E, hp->norm_eps);

        // q, k, v projections (fused qkv split into its three parts; qwen2 adds biases)
        if (L->wqkv.data) {
            KITE_TRY(matmul(c, &L->wqkv, a->xn, n, a->qkv));
            for (int32_t t = 0; t < n; t++) {
                const float *src = a->qkv + (size_t)t * qkv_dim;
                memcpy(a->q + (size_t)t * q_dim, src, q_dim * sizeof(float));
                memcpy(a->k + (size_t)t * kv_dim, src + q_dim, kv_dim * sizeof(float));
                memcpy(a->v + (size_t)t * kv_dim, src + q_dim + kv_dim, kv_dim * sizeof(float));
            }
        } else {
            KITE_TRY(matmul(c, &L->wq, a->xn, n, a->q));
            KITE_TRY(matmul(c, &L->wk, a->xn, n, a->k));
            KITE_TRY(matmul(c, &L->wv, a->xn, n, a->v));
            for (int32_t t = 0; t < n; t++) {
                if (L->bq) kite__add(a->q + (size_t)t * q_dim, L->bq, q_dim);
                if (L->bk) kite__add(a->k + (size_t)t * kv_dim, L->bk, kv_dim);
                if (L->bv) kite__add(a->v + (size_t)t * kv_dim, L->bv, kv_dim);
            }
        }

        // RoPE on q and k, then k and v into the F16 cache at their positions
        for (int32_t t = 0; t < n; t++) {
            const float *cs = a->rope + (size_t)t * hp->n_rot;
            kite__rope_apply(a->q + (size_t)t * q_dim, hp->n_head, hd, hp->n_rot, cs, hp->rope_neox);
            kite__rope_apply(a->k + (size_t)t * kv_dim, hp->n_head_kv, hd, hp->n_rot, cs, hp->rope_neox);
        }
        for (size_t i = 0; i < (size_t)n * kv_dim; i++) {
            c->k_cache[cache_off + i] = kite_f32_to_f16(a->k[i]);
            c->v_cache[cache_off + i] = kite_f32_to_f16(a->v[i]);
        }

        // causal self-attention over the cache (phi3 scales q before, the others the scores)
        attn_job job = {.c = c, .layer = il, .n_tok = n, .pos0 = pos0, .scale = 1.0f / sqrtf((float)hd),
                        .mode = attn_mode(c, n)};
        atomic_init(&job.next_task, 0);
        if (hp->arch == KITE_ARCH_PHI3) {
            for (size_t i = 0; i < (size_t)n * q_dim; i++) a->q[i] *= job.scale;
            job.scale = 1.0f;
        }
        kite_pool_run_shared(c->pool, attn_worker, &job);

        // output projection and residual
        KITE_TRY(matmul(c, &L->wo, a->att, n, a->xn));
        kite__add(a->x, a->xn, n * E);

        // feed-forward norm
        for (int32_t t = 0; t < n; t++)
            kite__rmsnorm(a->xn + (size_t)t * E, a->x + (size_t)t * E, L->ffn_norm, E, hp->norm_eps);

        // SwiGLU feed-forward: down(silu(gate) * up), gate and up fused for phi3
        if (L->w_gate_up.data) {
            KITE_TRY(matmul(c, &L->w_gate_up, a->xn, n, a->ff));
            for (int32_t t = 0; t < n; t++) {
                float *gu = a->ff + (size_t)t * 2 * F;
                kite__swiglu(gu, gu + F, F);
                memmove(a->ff2 + (size_t)t * F, gu, F * sizeof(float));
            }
        } else {
            KITE_TRY(matmul(c, &L->w_gate, a->xn, n, a->ff2));
            KITE_TRY(matmul(c, &L->w_up, a->xn, n, a->ff));
            kite__swiglu(a->ff2, a->ff, n * F);
        }
        KITE_TRY(matmul(c, &L->w_down, a->ff2, n, a->xn));
        kite__add(a->x, a->xn, n * E);
    }

    // final norm and output head: every token's logits, or only the last one's
    const int32_t first = all ? 0 : n - 1, n_out = n - first;
    for (int32_t t = first; t < n; t++)
        kite__rmsnorm(a->xn + (size_t)(t - first) * E, a->x + (size_t)t * E, m->output_norm, E, hp->norm_eps);
    float *logits = all ? logits_out : a->logits;
    KITE_TRY(matmul(c, &m->output, a->xn, n_out, logits));
    if (m->output_bias)
        for (int32_t t = 0; t < n_out; t++) kite__add(logits + (size_t)t * hp->n_vocab, m->output_bias, hp->n_vocab);

    c->pos = pos0 + n;
    return KITE_OK;
}
