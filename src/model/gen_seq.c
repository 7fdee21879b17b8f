// gen_seq.c - one sequence's text generation as steps: tokenize and prepare, then for each
// evaluated token's logits sample / detokenize / stream until an end-of-generation token, a stop
// string, the token budget or a full cache. kite_generate (generate.c) and the server's batch
// scheduler drive it.
#include <math.h>
#include <time.h>

#include "base/kite_buf.h"
#include "model/model_internal.h"
#include "model/reasoning_budget.h"
#include "sampler/kite_sampler.h"
#include "tokenizer/kite_tokenizer.h"

typedef enum gen_state {
    GEN_PROMPT,  // prompt tokens left to evaluate
    GEN_DECODE,  // the last sampled token is to be evaluated
    GEN_FLUSH,   // the last token of a kept context is to be evaluated, then done
    GEN_DONE,
} gen_state;

struct kite_gen_seq {
    kite_gen_seq_params p;
    const kite_vocab *vocab;
    int32_t n_vocab, n_ctx, pos; // pos: tokens in the sequence's cache
    int32_t *ids, n_ids, n_eval; // the prompt and how much of it was evaluated
    int32_t tok;                 // the last sampled token
    gen_state state;
    kite_sampler *smp;
    kite_grammar *grammar;       // optional: the output must be a sentence of it
    kite_grammar_state *gst;
    const kite_grammar_vocab *gvocab; // the model's token table (shared)
    float *masked;               // (n_vocab) logits with the grammar's rejected tokens at -inf
    kite_rbudget *rb;            // optional: the reasoning budget
    float *forced;               // (n_vocab) logits with all but the budget's forced token at -inf
    kite_buf pend;              // text sampled but not yet released: it may begin a stop string
    size_t produced;             // bytes of text sampled so far
    char *piece_big;             // a token's text when it does not fit a small buffer
    kite_gen_stats st;
    double t_start, t_decode;
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// A sequence over ids[0..n_ids) (p already checked by seq_start_check), which it owns: they are
// freed with it, also when it fails.
static kite_status seq_start_owned(const kite_model *m, int32_t *ids, int32_t n_ids, int32_t pos, int32_t n_ctx,
                                   const kite_gen_seq_params *p, kite_gen_seq **out) {
    kite_gen_seq *g = calloc(1, sizeof *g);
    if (!g) {
        free(ids);
        return kite__fail(KITE_ERR_NOMEM, "out of memory");
    }
    g->p = *p;
    g->vocab = m->vocab;
    g->n_vocab = m->hp.n_vocab;
    g->n_ctx = n_ctx;
    g->pos = pos;
    g->ids = ids;
    g->n_ids = n_ids;
    kite_status s = KITE_OK;
    if (g->n_ids == 0) s = kite__fail(KITE_ERR_INVALID, "the prompt has no tokens");
    else if (g->n_ids >= n_ctx - pos)
        s = kite__fail(KITE_ERR_INVALID, "prompt of %d tokens does not fit the context (%d of %d used)", g->n_ids, pos,
                       n_ctx);
    if (s == KITE_OK) s = kite__gen_sampler_new(m, &p->gen, &g->smp);
    if (s == KITE_OK && p->gen.grammar) {
        s = kite_model_grammar_parse(m, p->gen.grammar, NULL, &g->grammar);
        if (s == KITE_OK) s = kite_grammar_state_new(g->grammar, &g->gst);
        if (s == KITE_OK && p->gen.n_grammar_triggers > 0)
            s = kite_grammar_state_set_triggers(g->gst, p->gen.grammar_triggers, (size_t)p->gen.n_grammar_triggers);
        if (s == KITE_OK && !(g->gvocab = kite__model_grammar_vocab(m))) s = KITE_ERR_NOMEM;
        if (s == KITE_OK && !(g->masked = malloc((size_t)g->n_vocab * sizeof *g->masked)))
            s = kite__fail(KITE_ERR_NOMEM, "out of memory for the grammar's logits");
    }
    if (s == KITE_OK) s = kite__rbudget_new(g->vocab, &p->gen, &g->rb);
    if (s == KITE_OK && g->rb && !(g->forced = malloc((size_t)g->n_vocab * sizeof *g->forced)))
        s = kite__fail(KITE_ERR_NOMEM, "out of memory for the reasoning budget's logits");
    if (s != KITE_OK) {
        kite_gen_seq_free(g);
        return s;
    }
    // the prompt's tokens also feed the repetition penalties
    for (int32_t i = 0; i < g->n_ids; i++) kite_sampler_accept(g->smp, g->ids[i]);
    g->st.n_prompt = g->n_ids;
    g->t_start = now_s();
    *out = g;
    return KITE_OK;
}

// The checks every start makes before it allocates; KITE_OK or the failure (nothing allocated).
static kite_status seq_start_check(const kite_gen_seq_params *p, int32_t pos, int32_t n_ctx) {
    if (!p) return kite__fail(KITE_ERR_INVALID, "no generation parameters");
    if (p->gen.n_stop < 0 || (p->gen.n_stop > 0 && !p->gen.stop))
        return kite__fail(KITE_ERR_INVALID, "bad stop string list");
    if (p->gen.n_grammar_triggers < 0 || (p->gen.n_grammar_triggers > 0 && (!p->gen.grammar_triggers || !p->gen.grammar)))
        return kite__fail(KITE_ERR_INVALID, "grammar triggers need a grammar and a list of words");
    if (pos < 0 || pos > n_ctx)
        return kite__fail(KITE_ERR_INVALID, "position %d is outside the cache of %d", pos, n_ctx);
    return KITE_OK;
}

kite_status kite_gen_seq_start(const kite_model *m, const char *prompt, int32_t pos, int32_t n_ctx,
                               const kite_gen_seq_params *p, kite_gen_seq **out) {
    *out = NULL;
    if (!prompt) return kite__fail(KITE_ERR_INVALID, "prompt is NULL");
    kite_status s = seq_start_check(p, pos, n_ctx);
    if (s != KITE_OK) return s;
    int32_t *ids = NULL, n_ids = 0;
    s = kite_tokenize_alloc(m->vocab, prompt, strlen(prompt), !p->gen.no_bos && pos == 0, p->gen.parse_special, &ids,
                            &n_ids);
    return s == KITE_OK ? seq_start_owned(m, ids, n_ids, pos, n_ctx, p, out) : s;
}

kite_status kite_gen_seq_start_tokens(const kite_model *m, const int32_t *tokens, int32_t n_tokens, int32_t pos,
                                      int32_t n_ctx, const kite_gen_seq_params *p, kite_gen_seq **out) {
    *out = NULL;
    if (n_tokens < 0 || (n_tokens > 0 && !tokens)) return kite__fail(KITE_ERR_INVALID, "bad prompt token list");
    kite_status s = seq_start_check(p, pos, n_ctx);
    if (s != KITE_OK) return s;
    for (int32_t i = 0; i < n_tokens; i++)
        if (tokens[i] < 0 || tokens[i] >= m->hp.n_vocab)
            return kite__fail(KITE_ERR_INVALID, "prompt token %d is %d, outside the vocabulary of %d", i, tokens[i],
                              m->hp.n_vocab);
    int32_t *ids = malloc((size_t)(n_tokens > 0 ? n_tokens : 1) * sizeof *ids);
    if (!ids) return kite__fail(KITE_ERR_NOMEM, "out of memory");
    if (n_tokens > 0) memcpy(ids, tokens, (size_t)n_tokens * sizeof *ids);
    return seq_start_owned(m, ids, n_tokens, pos, n_ctx, p, out);
}

int32_t kite_gen_seq_next(const kite_gen_seq *g, const int32_t **tokens) {
    switch (g->state) {
    case GEN_PROMPT: *tokens = g->ids + g->n_eval; return g->n_ids - g->n_eval;
    case GEN_DECODE:
    case GEN_FLUSH: *tokens = &g->tok; return 1;
    case GEN_DONE: break;
    }
    *tokens = NULL;
    return 0;
}

bool kite_gen_seq_done(const kite_gen_seq *g) { return g->state == GEN_DONE; }

int32_t kite_gen_seq_prompt(const kite_gen_seq *g, const int32_t **tokens) {
    *tokens = g->ids;
    return g->n_ids;
}

kite_status kite_gen_seq_use_cache(kite_gen_seq *g, kite_ctx *c, int32_t seq, int32_t *n_cached) {
    if (n_cached) *n_cached = 0;
    if (g->state != GEN_PROMPT || g->n_eval != 0 || g->pos != 0)
        return kite__fail(KITE_ERR_INVALID, "the cache is reused before the first step of a run started at position 0");
    if (seq < 0 || seq >= kite_ctx_n_seq(c))
        return kite__fail(KITE_ERR_INVALID, "sequence %d is out of range [0, %d)", seq, kite_ctx_n_seq(c));
    if (kite_ctx_n_ctx(c) != g->n_ctx)
        return kite__fail(KITE_ERR_INVALID, "the run was started for a cache of %d positions, not %d", g->n_ctx,
                          kite_ctx_n_ctx(c));
    // the last prompt token is always evaluated: its logits pick the first reply token
    const int32_t n = kite_ctx_seq_common_prefix(c, seq, g->ids, g->n_ids - 1);
    KITE_TRY(kite_ctx_seq_truncate(c, seq, n));
    g->n_eval = g->pos = n;
    g->st.n_cached = n;
    if (n_cached) *n_cached = n;
    return KITE_OK;
}

kite_gen_stats kite_gen_seq_stats(const kite_gen_seq *g) { return g->st; }

// Ends the sequence; a normal end (s == KITE_OK) releases the held-back text.
static kite_status finish(kite_gen_seq *g, kite_status s) {
    if (s == KITE_OK && g->pend.len > 0 && g->p.on_piece && !g->p.on_piece(g->p.user, g->pend.ptr, g->pend.len))
        s = kite__fail(KITE_ERR_ABORTED, "generation stopped by the caller");
    g->pend.len = 0;
    g->state = GEN_DONE;
    if (g->t_decode > 0) g->st.decode_s = now_s() - g->t_decode;
    return s;
}

// The text of token tok (points at small or g->piece_big); its length in *n, -1 on OOM.
static const char *token_text(kite_gen_seq *g, int32_t tok, char *small, int32_t n_small, int32_t *n) {
    int32_t np = kite_token_to_piece(g->vocab, tok, small, n_small, false);
    if (np >= 0) {
        *n = np;
        return small;
    }
    char *big = realloc(g->piece_big, (size_t)-np); // a rare long piece: a buffer of the size asked for
    if (!big) {
        *n = -1;
        return NULL;
    }
    g->piece_big = big;
    *n = kite_token_to_piece(g->vocab, tok, big, -np, false);
    return big;
}

// Samples from logits, streams the token's text and checks the stops.
static kite_status sample_step(kite_gen_seq *g, const float *logits) {
    const kite_gen_params *gp = &g->p.gen;
    if (gp->n_predict >= 0 && g->st.n_generated >= gp->n_predict) return finish(g, KITE_OK);
    // a spent reasoning budget comes first (as llama.cpp's): every other token at -inf
    const int32_t must = g->rb ? kite__rbudget_forced(g->rb) : -1;
    if (must >= 0) {
        for (int32_t i = 0; i < g->n_vocab; i++) g->forced[i] = -INFINITY;
        g->forced[must] = logits[must];
        logits = g->forced;
    }
    // a lazy grammar sits out reasoning blocks (llama.cpp's grammar_should_apply), decided before
    // the token is taken
    const bool use_grammar = g->gst && !(gp->n_grammar_triggers > 0 && g->rb && kite__rbudget_in_block(g->rb));
    int32_t tok = kite_sampler_sample(g->smp, logits, g->n_vocab);
    if (tok >= 0 && use_grammar && !kite_grammar_state_allows(g->gst, g->gvocab, tok)) {
        // As llama.cpp's common sampler does by default: the chain picks from the raw logits, and
        // only when the grammar cannot take that token are the tokens it cannot take set to -inf
        // before the chain picks again (its random source going on from the first draw).
        memcpy(g->masked, logits, (size_t)g->n_vocab * sizeof *g->masked);
        kite_status ms = kite_grammar_state_mask(g->gst, g->gvocab, g->masked, g->n_vocab);
        if (ms != KITE_OK) return finish(g, ms);
        bool any = false;
        for (int32_t i = 0; i < g->n_vocab && !any; i++) any = g->masked[i] != -INFINITY;
        if (!any) { // nothing can follow: done if the grammar is complete (a vocabulary without EOG)
            if (kite_grammar_state_can_end(g->gst)) return finish(g, KITE_OK);
            return finish(g, kite__fail(KITE_ERR_INVALID, "grammar: no token of the vocabulary can continue the text"));
        }
        tok = kite_sampler_sample(g->smp, g->masked, g->n_vocab);
    }
    if (tok < 0) return finish(g, kite__fail(KITE_ERR_NOMEM, "sampling failed: %s", kite_last_error()));
    kite_sampler_accept(g->smp, tok);
    if (g->rb) kite__rbudget_accept(g->rb, tok);
    if (use_grammar) {
        kite_status as = kite_grammar_state_accept_token(g->gst, g->gvocab, tok);
        if (as != KITE_OK) return finish(g, as);
    }
    if (kite_vocab_is_eog(g->vocab, tok)) {
        g->st.stopped_eog = true;
        return finish(g, KITE_OK);
    }
    g->st.n_generated++;
    g->tok = tok;
    if (gp->on_token) gp->on_token(g->p.user, tok);
    if (g->p.on_token) {
        const kite_gen_token t = {.id = tok, .offset = g->produced, .logits = logits, .n_vocab = g->n_vocab};
        if (!g->p.on_token(g->p.user, &t))
            return finish(g, kite__fail(KITE_ERR_ABORTED, "generation stopped by the caller"));
    }
    char small[256];
    int32_t np;
    const char *piece = token_text(g, tok, small, sizeof small, &np);
    if (!piece) return finish(g, kite__fail(KITE_ERR_NOMEM, "out of memory for a long piece"));
    g->produced += (size_t)np;
    if (!kite_buf_append(&g->pend, piece, (size_t)np))
        return finish(g, kite__fail(KITE_ERR_NOMEM, "out of memory for generated text"));
    kite_stop_result r = kite_stop_match(g->pend.ptr, g->pend.len, gp->stop, (size_t)gp->n_stop);
    if (r.n_release > 0 && g->p.on_piece && !g->p.on_piece(g->p.user, g->pend.ptr, r.n_release)) {
        g->pend.len = 0;
        return finish(g, kite__fail(KITE_ERR_ABORTED, "generation stopped by the caller"));
    }
    if (r.n_release > 0) { // pend.ptr is still NULL while every piece so far was empty
        memmove(g->pend.ptr, g->pend.ptr + r.n_release, g->pend.len - r.n_release);
        g->pend.len -= r.n_release;
    }
    if (r.stopped) {
        g->st.stopped_string = true;
        g->pend.len = 0;
        return finish(g, KITE_OK);
    }
    if (g->pos >= g->n_ctx) return finish(g, KITE_OK); // the cache is full
    if (gp->n_predict >= 0 && g->st.n_generated >= gp->n_predict) {
        // A kept context (chat) must hold every token shown: the next turn's text follows it.
        if (gp->keep_context) g->state = GEN_FLUSH;
        else return finish(g, KITE_OK);
        return KITE_OK;
    }
    g->state = GEN_DECODE;
    return KITE_OK;
}

kite_status kite_gen_seq_step(kite_gen_seq *g, int32_t n_done, const float *logits) {
    const int32_t *toks;
    const int32_t n = kite_gen_seq_next(g, &toks);
    if (n == 0) return kite__fail(KITE_ERR_INVALID, "the sequence has ended");
    if (n_done < 1 || n_done > n)
        return finish(g, kite__fail(KITE_ERR_INVALID, "%d tokens evaluated of %d pending", n_done, n));
    if (n_done == n && !logits) return finish(g, kite__fail(KITE_ERR_INVALID, "no logits for the last token"));
    g->pos += n_done;
    if (g->state == GEN_PROMPT) {
        g->n_eval += n_done;
        if (n_done < n) return KITE_OK; // more of the prompt to come
        g->t_decode = now_s();
        g->st.prefill_s = g->t_decode - g->t_start;
    } else if (g->state == GEN_FLUSH) {
        return finish(g, KITE_OK);
    }
    return sample_step(g, logits);
}

void kite_gen_seq_free(kite_gen_seq *g) {
    if (!g) return;
    kite_sampler_free(g->smp);
    kite_grammar_state_free(g->gst);
    kite_grammar_free(g->grammar);
    free(g->masked);
    kite__rbudget_free(g->rb);
    free(g->forced);
    kite_buf_free(&g->pend);
    free(g->piece_big);
    free(g->ids);
    free(g);
}
