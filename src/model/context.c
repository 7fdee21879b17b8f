// context.c - inference contexts: the F16 KV cache, activation buffers, the thread pool, and
// eval (splitting a long input into n_batch pieces for the forward pass).
#include "model/model_internal.h"

#include <stdint.h>

#include "base/f16.h"
#include "kernels/kite_kernels.h"
#include "model/ops.h"

// Default context when the caller gives none: the trained length, capped so that a model
// trained on 128k tokens does not allocate a KV cache for all of them by default.
#define DEFAULT_MAX_CTX 4096

kite_ctx_params kite_ctx_default_params(void) {
    kite_ctx_params p = {0};
    return p;
}

static size_t max_scratch(const kite_model *m, int32_t n_tok) {
    size_t s = kite_matmul_scratch_size(m->output.type, m->output.n_in, n_tok);
    for (int il = 0; il < m->hp.n_layer; il++) {
        const kite_layer *L = &m->layers[il];
        const kite_weight *ws[] = {&L->wq, &L->wk, &L->wv, &L->wqkv, &L->wo, &L->w_gate, &L->w_up, &L->w_gate_up,
                                   &L->w_down};
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++)
            if (ws[i]->data) s = KITE_MAX(s, kite_matmul_scratch_size(ws[i]->type, ws[i]->n_in, n_tok));
    }
    return s;
}

kite_status kite_ctx_new(kite_model *m, const kite_ctx_params *p, kite_ctx **out) {
    *out = NULL;
    kite_ctx_params d = kite_ctx_default_params();
    if (!p) p = &d;
    const kite_hparams *hp = &m->hp;
    if (!m->layers) return kite__fail(KITE_ERR_INVALID, "model was loaded vocab-only: no forward pass");
    if (p->n_ctx < 0 || p->n_ctx > (1 << 22)) return kite__fail(KITE_ERR_INVALID, "n_ctx %d is out of range", p->n_ctx);
    if (p->n_threads < 0 || p->n_threads > 512)
        return kite__fail(KITE_ERR_INVALID, "n_threads %d is out of range", p->n_threads);
    if ((unsigned)p->flash_attn > KITE_FA_OFF)
        return kite__fail(KITE_ERR_INVALID, "flash_attn %d is not auto/on/off", (int)p->flash_attn);
    if (p->n_batch < 0) return kite__fail(KITE_ERR_INVALID, "n_batch %d is negative", p->n_batch);
    if (hp->head_dim > KITE_ATTN_MAX_HEAD_DIM)
        return kite__fail(KITE_ERR_UNSUPPORTED, "head size %d is above %d", hp->head_dim, KITE_ATTN_MAX_HEAD_DIM);

    // the largest buffers, sized in 64 bits first: on wasm32 size_t products could wrap
    {
        const uint64_t n_ctx = p->n_ctx ? (uint64_t)p->n_ctx : (uint64_t)KITE_MIN(hp->n_ctx_train, DEFAULT_MAX_CTX);
        const uint64_t kv = (uint64_t)hp->n_layer * n_ctx * (uint64_t)hp->n_head_kv * (uint64_t)hp->head_dim * 2;
        const uint64_t acts = n_ctx * (uint64_t)KITE_MAX(hp->n_ff * 2, hp->n_head * hp->head_dim * 2) * 4;
        if (kv > SIZE_MAX / 4 || acts > SIZE_MAX / 4)
            return kite__fail(KITE_ERR_NOMEM, "a context of %llu tokens does not fit this address space",
                              (unsigned long long)n_ctx);
    }
    kite_ctx *c = calloc(1, sizeof *c);
    if (!c) return kite__fail(KITE_ERR_NOMEM, "out of memory");
    c->m = m;
    c->n_ctx = p->n_ctx ? p->n_ctx : KITE_MIN(hp->n_ctx_train, DEFAULT_MAX_CTX);
    c->n_threads = p->n_threads ? p->n_threads : 1;
    c->flash_attn = p->flash_attn != KITE_FA_OFF;
    c->attend = kite__attend_select();
    c->n_batch = KITE_MIN(p->n_batch ? p->n_batch : 512, c->n_ctx);
    // LongRoPE: the long factors serve contexts beyond the original training length
    c->rope_factors = (m->rope_long && c->n_ctx > hp->n_ctx_orig) ? m->rope_long : m->rope_short;

    const size_t B = (size_t)c->n_batch, E = (size_t)hp->n_embd, hd = (size_t)hp->head_dim;
    const size_t q_dim = hd * hp->n_head, kv_dim = hd * hp->n_head_kv, F = (size_t)hp->n_ff;
    const size_t kv_elems = (size_t)hp->n_layer * (size_t)c->n_ctx * kv_dim;
    kite_acts *a = &c->a;
    c->k_cache = malloc(kv_elems * sizeof(uint16_t));
    c->v_cache = malloc(kv_elems * sizeof(uint16_t));
    a->x = malloc(B * E * sizeof(float));
    a->xn = malloc(B * KITE_MAX(E, q_dim) * sizeof(float));
    a->qkv = malloc(B * (q_dim + 2 * kv_dim) * sizeof(float));
    a->q = malloc(B * q_dim * sizeof(float));
    a->k = malloc(B * kv_dim * sizeof(float));
    a->v = malloc(B * kv_dim * sizeof(float));
    a->att = malloc(B * q_dim * sizeof(float));
    a->ff = malloc(B * 2 * F * sizeof(float));
    a->ff2 = malloc(B * F * sizeof(float));
    a->logits = malloc((size_t)hp->n_vocab * sizeof(float));
    a->scores = malloc((size_t)c->n_threads * (size_t)c->n_ctx * sizeof(float));
    a->rope = malloc(B * (size_t)KITE_MAX(hp->n_rot, 2) * sizeof(float));
    a->scratch_size = max_scratch(m, c->n_batch);
    a->scratch = malloc(a->scratch_size ? a->scratch_size : 1);
    if (!c->k_cache || !c->v_cache || !a->x || !a->xn || !a->qkv || !a->q || !a->k || !a->v ||
        !a->att || !a->ff || !a->ff2 || !a->logits || !a->scores || !a->rope || !a->scratch) {
        kite_ctx_free(c);
        return kite__fail(KITE_ERR_NOMEM, "out of memory for a context of %d tokens (KV cache %llu MiB)", p->n_ctx,
                          (unsigned long long)(kv_elems * 4 >> 20));
    }
    if (c->n_threads > 1) c->pool = kite_pool_new(c->n_threads); // NULL (inline) is a valid fallback
    *out = c;
    return KITE_OK;
}

void kite_ctx_free(kite_ctx *c) {
    if (!c) return;
    kite_pool_free(c->pool);
    kite_acts *a = &c->a;
    void *bufs[] = {c->k_cache, c->v_cache, a->x, a->xn, a->qkv, a->q, a->k, a->v, a->att,
                    a->ff, a->ff2, a->logits, a->scores, a->rope, a->scratch};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    free(c);
}

void kite_ctx_reset(kite_ctx *c) { c->pos = 0; }
int32_t kite_ctx_pos(const kite_ctx *c) { return c->pos; }
int32_t kite_ctx_n_ctx(const kite_ctx *c) { return c->n_ctx; }
kite_model *kite_ctx_model(const kite_ctx *c) { return c->m; }

static kite_status check_input(const kite_ctx *c, const int32_t *tokens, int32_t n) {
    if (n <= 0 || !tokens) return kite__fail(KITE_ERR_INVALID, "eval needs at least one token");
    if (n > c->n_ctx - c->pos)
        return kite__fail(KITE_ERR_INVALID, "context full: %d tokens at position %d exceed n_ctx %d", n, c->pos,
                          c->n_ctx);
    for (int32_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= c->m->hp.n_vocab)
            return kite__fail(KITE_ERR_INVALID, "token id %d at index %d is out of range [0, %d)", tokens[i], i,
                              c->m->hp.n_vocab);
    return KITE_OK;
}

kite_status kite_ctx_eval(kite_ctx *c, const int32_t *tokens, int32_t n, const float **logits) {
    KITE_TRY(check_input(c, tokens, n));
    const int32_t pos0 = c->pos;
    for (int32_t i = 0; i < n; i += c->n_batch) {
        kite_status s = kite__forward(c, tokens + i, KITE_MIN(c->n_batch, n - i), false, NULL);
        if (s != KITE_OK) {
            c->pos = pos0;
            return s;
        }
    }
    if (logits) *logits = c->a.logits;
    return KITE_OK;
}

kite_status kite_ctx_eval_all(kite_ctx *c, const int32_t *tokens, int32_t n, float *all_logits) {
    KITE_TRY(check_input(c, tokens, n));
    const int32_t pos0 = c->pos;
    for (int32_t i = 0; i < n; i += c->n_batch) {
        kite_status s = kite__forward(c, tokens + i, KITE_MIN(c->n_batch, n - i), true,
                                      all_logits + (size_t)i * c->m->hp.n_vocab);
        if (s != KITE_OK) {
            c->pos = pos0;
            return s;
        }
    }
    return KITE_OK;
}
