// perplexity.c - perplexity over a token stream, chunked and scored the way llama-perplexity
// does it, so the numbers compare directly with llama.cpp's.
#include <math.h>

#include "model/model_internal.h"
#include "tokenizer/kite_tokenizer.h"

// -log softmax(logits)[tok], with the max subtracted first and the sum in double.
static double nll_of(const float *logits, int32_t n_vocab, int32_t tok) {
    float mx = logits[0];
    for (int32_t i = 1; i < n_vocab; i++) mx = logits[i] > mx ? logits[i] : mx;
    double sum = 0.0;
    for (int32_t i = 0; i < n_vocab; i++) sum += expf(logits[i] - mx);
    return -((double)(logits[tok] - mx) - log(sum));
}

kite_status kite_perplexity(kite_ctx *c, const int32_t *tokens, int64_t n_tokens,
                            bool (*progress)(void *user, int32_t chunk, int32_t n_chunks, double ppl), void *user,
                            kite_ppl_result *out) {
    return kite_perplexity_ex(c, tokens, n_tokens, 0, progress, NULL, user, out);
}

kite_status kite_perplexity_ex(kite_ctx *c, const int32_t *tokens, int64_t n_tokens, int32_t max_chunks,
                               bool (*progress)(void *user, int32_t chunk, int32_t n_chunks, double ppl),
                               kite_ppl_chunk_fn on_chunk, void *user, kite_ppl_result *out) {
    memset(out, 0, sizeof *out);
    const int32_t n_ctx = c->n_ctx, n_vocab = c->m->hp.n_vocab;
    // each chunk scores tokens n_ctx/2 + 1 .. n_ctx - 1: fewer than 3 leaves none, and the
    // mean of no scores is NaN
    if (n_ctx < KITE_PPL_MIN_CTX)
        return kite__fail(KITE_ERR_INVALID,
                          "a context of %d tokens is too short for perplexity: it needs at least %d (the second half of "
                          "each chunk is scored, after its first token)",
                          n_ctx, KITE_PPL_MIN_CTX);
    // llama-perplexity asks a text for 2 chunks at least (max_chunks < 0 here: the caller's text),
    // but scores a KL-divergence base file of one chunk
    const int64_t need = max_chunks == 1 ? n_ctx : 2 * (int64_t)n_ctx;
    if (n_tokens < need)
        return kite__fail(KITE_ERR_INVALID, "perplexity needs at least %lld tokens (%d chunk%s of %d), got %lld",
                          (long long)need, need > n_ctx ? 2 : 1, need > n_ctx ? "s" : "", n_ctx, (long long)n_tokens);
    int32_t n_chunks = (int32_t)KITE_MIN(n_tokens / n_ctx, INT32_MAX);
    if (max_chunks > 0) n_chunks = KITE_MIN(n_chunks, max_chunks);
    // the first half of each chunk only gives the scored half some context
    const int32_t first = n_ctx / 2;
    const int32_t bos = kite_vocab_bos(c->m->vocab);
    const bool add_bos = kite_vocab_add_bos(c->m->vocab) && bos != KITE_TOKEN_NULL;

    float *logits = malloc((size_t)n_ctx * n_vocab * sizeof(float));
    int32_t *chunk = malloc((size_t)n_ctx * sizeof(int32_t));
    if (!logits || !chunk) {
        free(logits);
        free(chunk);
        return kite__fail(KITE_ERR_NOMEM, "out of memory for %d x %d logits", n_ctx, n_vocab);
    }
    kite_status s = KITE_OK;
    double nll = 0.0, nll2 = 0.0;
    int64_t count = 0;
    for (int32_t ci = 0; ci < n_chunks && s == KITE_OK; ci++) {
        const int32_t *src = tokens + (int64_t)ci * n_ctx;
        memcpy(chunk, src, (size_t)n_ctx * sizeof(int32_t));
        if (add_bos) chunk[0] = bos; // every chunk starts like a fresh document
        kite_ctx_reset(c);
        s = kite_ctx_eval_all(c, chunk, n_ctx, logits);
        if (s != KITE_OK) break;
        // token j+1 is scored by the logits at j
        for (int32_t j = first; j < n_ctx - 1; j++) {
            const double v = nll_of(logits + (size_t)j * n_vocab, n_vocab, src[j + 1]);
            nll += v;
            nll2 += v * v;
        }
        count += n_ctx - 1 - first;
        if (on_chunk && !on_chunk(user, ci, src, n_ctx, first, logits + (size_t)first * n_vocab))
            s = kite__fail(KITE_ERR_ABORTED, "perplexity stopped by the caller");
        else if (progress && !progress(user, ci + 1, n_chunks, exp(nll / (double)count)))
            s = kite__fail(KITE_ERR_ABORTED, "perplexity stopped by the caller");
    }
    kite_ctx_reset(c);
    free(logits);
    free(chunk);
    if (s != KITE_OK) return s;
    out->nll = nll / (double)count;
    out->ppl = exp(out->nll);
    const double var = nll2 / (double)count - out->nll * out->nll;
    out->ppl_err = var > 0 && count > 1 ? sqrt(var / (double)(count - 1)) * out->ppl : 0.0;
    out->n_chunks = n_chunks;
    out->n_scored = count;
    return KITE_OK;
}
