// embed.c - text embeddings from the forward pass: the final-normed hidden states of a token
// sequence, pooled (mean, first token, last token) as llama.cpp's embedding contexts do.
#include <stdio.h>

#include "model/model_internal.h"

kite_pooling kite_model_pooling(const kite_model *m) {
    char key[96];
    snprintf(key, sizeof key, "%s.pooling_type", m->hp.arch_name);
    uint64_t v;
    // llama.cpp's numbering: 0 none, 1 mean, 2 cls, 3 last (4 rank: not an embedding)
    if (kite_gguf_get_u64(m->gguf, key, &v) && v >= 1 && v <= 3) return (kite_pooling)v;
    return KITE_POOLING_MEAN; // decoder models carry no key: mean, as llama-server's embeddings
}

kite_status kite_ctx_embed(kite_ctx *c, const int32_t *tokens, int32_t n, kite_pooling pooling, float *out) {
    return kite_ctx_embed_seq(c, 0, tokens, n, pooling, out);
}

kite_status kite_ctx_embed_seq(kite_ctx *c, int32_t seq, const int32_t *tokens, int32_t n, kite_pooling pooling,
                               float *out) {
    const int32_t E = c->m->hp.n_embd;
    if (pooling < KITE_POOLING_MEAN || pooling > KITE_POOLING_LAST)
        return kite__fail(KITE_ERR_INVALID, "pooling %d is not mean (1), cls (2) or last (3)", (int)pooling);
    if (seq < 0 || seq >= c->n_seq)
        return kite__fail(KITE_ERR_INVALID, "sequence %d is out of range [0, %d)", seq, c->n_seq);
    if (n <= 0 || !tokens) return kite__fail(KITE_ERR_INVALID, "an embedding needs at least one token");
    if (n > c->n_ctx)
        return kite__fail(KITE_ERR_INVALID, "%d tokens do not fit the context of %d", n, c->n_ctx);
    // mean needs every token's state; cls the first's, last the last's
    const int32_t n_rows = pooling == KITE_POOLING_MEAN ? n : 1;
    bool *want = calloc((size_t)n, sizeof *want);
    int32_t *seqs = malloc((size_t)n * sizeof *seqs);
    float *rows = malloc((size_t)n_rows * (size_t)E * sizeof(float));
    if (!want || !seqs || !rows) {
        free(want);
        free(seqs);
        free(rows);
        return kite__fail(KITE_ERR_NOMEM, "out of memory");
    }
    for (int32_t i = 0; i < n; i++) seqs[i] = seq;
    for (int32_t i = 0; i < n; i++)
        want[i] = pooling == KITE_POOLING_MEAN || (pooling == KITE_POOLING_CLS ? i == 0 : i == n - 1);
    kite_ctx_seq_reset(c, seq);
    c->out_hidden = true;
    const kite_batch b = {.tokens = tokens, .seq = seqs, .n = n, .want = want};
    kite_status s = kite_ctx_decode(c, &b, rows);
    c->out_hidden = false;
    kite_ctx_seq_reset(c, seq);
    if (s == KITE_OK) {
        for (int32_t d = 0; d < E; d++) {
            double sum = 0.0;
            for (int32_t r = 0; r < n_rows; r++) sum += rows[(size_t)r * E + d];
            out[d] = (float)(sum / n_rows);
        }
    }
    free(want);
    free(seqs);
    free(rows);
    return s;
}
