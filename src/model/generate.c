// generate.c - the text generation loop on one context: a driver over one kite_gen_seq
// (gen_seq.c) that evaluates what it asks for with kite_ctx_eval.
#include "model/model_internal.h"
#include "sampler/kite_sampler.h"

kite_gen_params kite_gen_default_params(void) {
    kite_gen_params p = {0};
    p.n_predict = -1;
    p.sampling = kite_sampler_default_params();
    return p;
}

kite_status kite_gen_seq_start_ctx(kite_ctx *c, const char *prompt, const kite_gen_seq_params *p, kite_gen_seq **out) {
    *out = NULL;
    if (!p) return kite__fail(KITE_ERR_INVALID, "no generation parameters");
    const bool keep = p->gen.keep_context, reuse = p->gen.reuse_prefix && !keep;
    if (!keep && !reuse) kite_ctx_reset(c);
    kite_gen_seq *g = NULL;
    KITE_TRY(kite_gen_seq_start(c->m, prompt, keep ? kite_ctx_pos(c) : 0, c->n_ctx, p, &g));
    const kite_status s = reuse ? kite_gen_seq_use_cache(g, c, 0, NULL) : KITE_OK;
    if (s != KITE_OK) {
        kite_gen_seq_free(g);
        return s;
    }
    *out = g;
    return KITE_OK;
}

kite_status kite_generate(kite_ctx *c, const char *prompt, const kite_gen_params *p,
                          bool (*on_piece)(void *user, const char *piece, size_t len), void *user) {
    kite_gen_params defaults = kite_gen_default_params();
    if (!p) p = &defaults;
    if (!prompt) return kite__fail(KITE_ERR_INVALID, "prompt is NULL");
    if (p->n_stop < 0 || (p->n_stop > 0 && !p->stop)) return kite__fail(KITE_ERR_INVALID, "bad stop string list");
    if (p->stats) *p->stats = (kite_gen_stats){0};
    const kite_gen_seq_params sp = {.gen = *p, .on_piece = on_piece, .user = user};
    kite_gen_seq *g = NULL;
    KITE_TRY(kite_gen_seq_start_ctx(c, prompt, &sp, &g));
    kite_status s = KITE_OK;
    const int32_t *toks;
    for (int32_t n; s == KITE_OK && (n = kite_gen_seq_next(g, &toks)) > 0;) {
        const float *logits = NULL;
        s = kite_ctx_eval(c, toks, n, &logits);
        if (s == KITE_OK) s = kite_gen_seq_step(g, n, logits);
    }
    if (p->stats) *p->stats = kite_gen_seq_stats(g);
    kite_gen_seq_free(g);
    return s;
}
