// generate.c - the text generation loop: tokenize, prefill, then sample / detokenize / stream
// until an end-of-generation token, a stop string, the token budget or a full context.
#include <time.h>

#include "base/kite_buf.h"
#include "model/model_internal.h"
#include "sampler/kite_sampler.h"
#include "tokenizer/kite_tokenizer.h"

kite_gen_params kite_gen_default_params(void) {
    kite_gen_params p = {0};
    p.n_predict = -1;
    p.sampling = kite_sampler_default_params();
    return p;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

kite_status kite_generate(kite_ctx *c, const char *prompt, const kite_gen_params *p,
                          bool (*on_piece)(void *user, const char *piece, size_t len), void *user) {
    kite_gen_params defaults = kite_gen_default_params();
    if (!p) p = &defaults;
    if (!prompt) return kite__fail(KITE_ERR_INVALID, "prompt is NULL");
    if (p->n_stop < 0 || (p->n_stop > 0 && !p->stop)) return kite__fail(KITE_ERR_INVALID, "bad stop string list");
    kite_gen_stats st = {0};
    const kite_vocab *vocab = c->m->vocab;
    const int32_t n_vocab = c->m->hp.n_vocab;
    if (!p->keep_context) kite_ctx_reset(c);

    // tokenize (BOS only at the start of the context)
    int32_t *ids = NULL, n_ids = 0;
    KITE_TRY(kite_tokenize_alloc(vocab, prompt, strlen(prompt), !p->no_bos && kite_ctx_pos(c) == 0, p->parse_special, &ids, &n_ids));
    kite_sampler *smp = NULL;
    char *piece_big = NULL; // a token's text when it does not fit piece_small
    kite_buf pend = {0}; // text sampled but not yet shown: it may still turn out to begin a stop string
    kite_status s = KITE_OK;
    if (n_ids == 0) s = kite__fail(KITE_ERR_INVALID, "the prompt has no tokens");
    else if (n_ids >= c->n_ctx - kite_ctx_pos(c))
        s = kite__fail(KITE_ERR_INVALID, "prompt of %d tokens does not fit the context (%d of %d used)", n_ids, kite_ctx_pos(c),
                       c->n_ctx);
    if (s == KITE_OK) s = kite_sampler_new(&p->sampling, &smp);
    if (s != KITE_OK) goto done;

    // prefill: the prompt in batches; its tokens also feed the repetition penalties
    for (int32_t i = 0; i < n_ids; i++) kite_sampler_accept(smp, ids[i]);
    st.n_prompt = n_ids;
    double t0 = now_s();
    const float *logits = NULL;
    s = kite_ctx_eval(c, ids, n_ids, &logits);
    st.prefill_s = now_s() - t0;
    if (s != KITE_OK) goto done;

    // decode: sample, stream the text, feed the token back
    t0 = now_s();
    char piece_small[256], *piece = piece_small;
    while (p->n_predict < 0 || st.n_generated < p->n_predict) {
        int32_t tok = kite_sampler_sample(smp, logits, n_vocab);
        if (tok < 0) {
            s = kite__fail(KITE_ERR_NOMEM, "sampling failed: %s", kite_last_error());
            break;
        }
        kite_sampler_accept(smp, tok);
        if (kite_vocab_is_eog(vocab, tok)) {
            st.stopped_eog = true;
            break;
        }
        st.n_generated++;
        if (p->on_token) p->on_token(user, tok);
        int32_t np = kite_token_to_piece(vocab, tok, piece_small, sizeof piece_small, false);
        piece = piece_small;
        if (np < 0) { // a rare long piece: a buffer of the size asked for
            char *big = realloc(piece_big, (size_t)-np);
            if (!big) {
                s = kite__fail(KITE_ERR_NOMEM, "out of memory for a %d-byte piece", -np);
                break;
            }
            piece = piece_big = big;
            np = kite_token_to_piece(vocab, tok, piece, -np, false);
        }
        if (!kite_buf_append(&pend, piece, (size_t)np)) {
            s = kite__fail(KITE_ERR_NOMEM, "out of memory for generated text");
            break;
        }
        kite_stop_result r = kite_stop_match(pend.ptr, pend.len, p->stop, (size_t)p->n_stop);
        if (r.n_release > 0 && on_piece && !on_piece(user, pend.ptr, r.n_release)) {
            s = kite__fail(KITE_ERR_ABORTED, "generation stopped by the caller");
            break;
        }
        if (r.n_release > 0) { // pend.ptr is still NULL while every piece so far was empty
            memmove(pend.ptr, pend.ptr + r.n_release, pend.len - r.n_release);
            pend.len -= r.n_release;
        }
        if (r.stopped) {
            st.stopped_string = true;
            pend.len = 0;
            break;
        }
        if (kite_ctx_pos(c) >= c->n_ctx) break; // context full
        if (p->n_predict >= 0 && st.n_generated >= p->n_predict) {
            // A kept context (chat) must hold every token shown: the next turn's text follows it.
            if (p->keep_context) s = kite_ctx_eval(c, &tok, 1, &logits);
            break;
        }
        if ((s = kite_ctx_eval(c, &tok, 1, &logits)) != KITE_OK) break;
    }
    st.decode_s = now_s() - t0;
    // what was held back as a possible stop-string start is output after all
    if (s == KITE_OK && pend.len > 0 && on_piece && !on_piece(user, pend.ptr, pend.len))
        s = kite__fail(KITE_ERR_ABORTED, "generation stopped by the caller");

done:
    if (p->stats) *p->stats = st;
    kite_sampler_free(smp);
    kite_buf_free(&pend);
    free(piece_big);
    free(ids);
    return s;
}
