// serve_decode.c - the server's generation loop with log-probabilities (see serve_decode.h).
// It follows src/model/generate.c step by step, so the text equals kite_generate's.
#if !defined(__wasi__) && !defined(__EMSCRIPTEN__)
#include "serve_decode.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/kite_buf.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static kite_status fail(kite_status s, char *err, size_t es, const char *msg) {
    snprintf(err, es, "%s", msg);
    return s;
}

// The token's log-probability and the n_top most likely tokens under softmax(logits).
static void fill_logprobs(const float *logits, int32_t n_vocab, int32_t n_top, serve_token *t) {
    float mx = -INFINITY;
    for (int32_t i = 0; i < n_vocab; i++)
        if (logits[i] > mx) mx = logits[i];
    double sum = 0;
    for (int32_t i = 0; i < n_vocab; i++) sum += exp((double)logits[i] - mx);
    double lse = mx + log(sum);
    t->logprob = (float)(logits[t->id] - lse);
    t->n_top = 0;
    for (int32_t i = 0; i < n_vocab; i++) { // insertion into a short sorted list (n_top <= 20)
        float l = logits[i];
        if (t->n_top == n_top && (n_top == 0 || l <= logits[t->top_id[n_top - 1]])) continue;
        int32_t k = t->n_top < n_top ? t->n_top++ : n_top - 1;
        while (k > 0 && logits[t->top_id[k - 1]] < l) {
            t->top_id[k] = t->top_id[k - 1];
            k--;
        }
        t->top_id[k] = i;
    }
    for (int32_t k = 0; k < t->n_top; k++) t->top_logprob[k] = (float)(logits[t->top_id[k]] - lse);
}

kite_status serve_decode(kite_ctx *c, const char *prompt, const serve_decode_params *p, void *user, char *err,
                         size_t es) {
    const kite_gen_params *g = &p->gen;
    kite_gen_stats st = {0};
    kite_model *m = kite_ctx_model(c);
    const kite_vocab *vocab = kite_model_vocab(m);
    const int32_t n_vocab = kite_model_hparams(m)->n_vocab, n_ctx = kite_ctx_n_ctx(c);
    kite_ctx_reset(c);

    int32_t *ids = NULL, n_ids = 0;
    kite_status s = kite_tokenize_alloc(vocab, prompt, strlen(prompt), !g->no_bos, g->parse_special, &ids, &n_ids);
    if (s != KITE_OK) {
        snprintf(err, es, "%s", kite_last_error());
        return s;
    }
    kite_sampler *smp = NULL;
    char *piece_big = NULL;
    kite_buf pend = {0}; // text sampled but not yet released: it may still begin a stop string
    size_t produced = 0;  // bytes of text sampled so far (token offsets)
    if (n_ids == 0) s = fail(KITE_ERR_INVALID, err, es, "the prompt has no tokens");
    else if (n_ids >= n_ctx) {
        snprintf(err, es, "prompt of %d tokens does not fit the context (0 of %d used)", n_ids, n_ctx);
        s = KITE_ERR_INVALID;
    }
    if (s == KITE_OK && (s = kite_sampler_new(&g->sampling, &smp)) != KITE_OK)
        snprintf(err, es, "%s", kite_last_error());
    if (s != KITE_OK) goto done;

    for (int32_t i = 0; i < n_ids; i++) kite_sampler_accept(smp, ids[i]);
    st.n_prompt = n_ids;
    double t0 = now_s();
    const float *logits = NULL;
    if ((s = kite_ctx_eval(c, ids, n_ids, &logits)) != KITE_OK) snprintf(err, es, "%s", kite_last_error());
    st.prefill_s = now_s() - t0;
    if (s != KITE_OK) goto done;

    t0 = now_s();
    char piece_small[256], *piece = piece_small;
    while (g->n_predict < 0 || st.n_generated < g->n_predict) {
        int32_t tok = kite_sampler_sample(smp, logits, n_vocab);
        if (tok < 0) {
            s = fail(KITE_ERR_NOMEM, err, es, "sampling failed");
            break;
        }
        kite_sampler_accept(smp, tok);
        if (kite_vocab_is_eog(vocab, tok)) {
            st.stopped_eog = true;
            break;
        }
        st.n_generated++;
        serve_token t = {.id = tok, .offset = produced};
        if (p->logprobs) fill_logprobs(logits, n_vocab, p->n_top, &t);
        if (p->on_token && !p->on_token(user, &t)) {
            s = fail(KITE_ERR_ABORTED, err, es, "generation stopped by the caller");
            break;
        }
        int32_t np = kite_token_to_piece(vocab, tok, piece_small, sizeof piece_small, false);
        piece = piece_small;
        if (np < 0) {
            char *big = realloc(piece_big, (size_t)-np);
            if (!big) {
                s = fail(KITE_ERR_NOMEM, err, es, "out of memory for a long piece");
                break;
            }
            piece = piece_big = big;
            np = kite_token_to_piece(vocab, tok, piece, -np, false);
        }
        produced += (size_t)np;
        if (!kite_buf_append(&pend, piece, (size_t)np)) {
            s = fail(KITE_ERR_NOMEM, err, es, "out of memory for generated text");
            break;
        }
        kite_stop_result r = kite_stop_match(pend.ptr, pend.len, g->stop, (size_t)g->n_stop);
        if (r.n_release > 0 && p->on_text && !p->on_text(user, pend.ptr, r.n_release)) {
            s = fail(KITE_ERR_ABORTED, err, es, "generation stopped by the caller");
            break;
        }
        memmove(pend.ptr, pend.ptr + r.n_release, pend.len - r.n_release);
        pend.len -= r.n_release;
        if (r.stopped) {
            st.stopped_string = true;
            pend.len = 0;
            break;
        }
        if (kite_ctx_pos(c) >= n_ctx) break; // context full
        if (g->n_predict >= 0 && st.n_generated >= g->n_predict) break;
        if ((s = kite_ctx_eval(c, &tok, 1, &logits)) != KITE_OK) {
            snprintf(err, es, "%s", kite_last_error());
            break;
        }
    }
    st.decode_s = now_s() - t0;
    if (s == KITE_OK && pend.len > 0 && p->on_text && !p->on_text(user, pend.ptr, pend.len))
        s = fail(KITE_ERR_ABORTED, err, es, "generation stopped by the caller");

done:
    if (g->stats) *g->stats = st;
    kite_sampler_free(smp);
    kite_buf_free(&pend);
    free(piece_big);
    free(ids);
    return s;
}
#endif
