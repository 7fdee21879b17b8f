// exports_model.c - a loaded model for JS: load from a streamed heap buffer, describe,
// tokenize/detokenize, format chats and generate with streamed pieces.
#include "exports.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// One model, its inference context, and the heap block holding the file (owned).
typedef struct kw_model {
    uint8_t *buf;
    kite_model *m;
    kite_ctx *c; // NULL for vocab-only loads
} kw_model;

// Text pieces and sampled ids go to JS as they come; a non-zero return asks to stop.
EM_JS(int, kw_js_piece, (const char *p, size_t n), {
    return Module.kitePiece ? Module.kitePiece(p >>> 0, n >>> 0) : 0;
});
EM_JS(void, kw_js_token, (int32_t id), {
    if (Module.kiteToken) Module.kiteToken(id);
});

EMSCRIPTEN_KEEPALIVE void kw_model_free(kw_model *h) {
    if (!h) return;
    kite_ctx_free(h->c);
    kite_model_free(h->m);
    free(h->buf);
    free(h);
}

// Loads the GGUF in buf[0..len) (a kw_alloc block) and creates a context of n_ctx tokens
// (0: the model's default) on n_threads threads. On success *out owns buf; on failure the
// caller still does. vocab_only skips the weights' checks and the context.
EMSCRIPTEN_KEEPALIVE int kw_model_load(uint8_t *buf, size_t len, int n_ctx, int n_threads, int vocab_only,
                                       kw_model **out) {
    if (n_ctx < 0) return kite__fail(KITE_ERR_INVALID, "nCtx must be >= 0 (got %d)", n_ctx);
    if (n_threads < 0) return kite__fail(KITE_ERR_INVALID, "threads must be >= 1 (got %d)", n_threads);
    kw_model *h = calloc(1, sizeof *h);
    if (!h) return kite__fail(KITE_ERR_NOMEM, "out of wasm memory");
    kite_model_params mp = {.vocab_only = vocab_only != 0};
    kite_status s = kite_model_load(buf, len, &mp, &h->m);
    if (s == KITE_OK && !vocab_only) {
        kite_ctx_params cp = kite_ctx_default_params();
        cp.n_ctx = n_ctx;
        cp.n_threads = n_threads;
        s = kite_ctx_new(h->m, &cp, &h->c);
    }
    if (s != KITE_OK) {
        kite_model_free(h->m);
        free(h);
        return s;
    }
    h->buf = buf;
    *out = h;
    return KITE_OK;
}

// The model's GGUF file, for kw_gguf_info_json (the JS adds kw_model_facts_json to it).
EMSCRIPTEN_KEEPALIVE const kite_gguf *kw_model_gguf(const kw_model *h) { return kite_model_gguf(h->m); }

// *out: the runtime facts of a loaded model as a JSON object (architecture, shapes, context
// length, vocabulary, weight bytes per token); free with kw_free.
EMSCRIPTEN_KEEPALIVE int kw_model_facts_json(const kw_model *h, char **out) {
    const kite_hparams *hp = kite_model_hparams(h->m);
    const kite_vocab *v = kite_model_vocab(h->m);
    char buf[640];
    int n = snprintf(buf, sizeof buf,
                     "{\"arch\":\"%s\",\"n_vocab\":%d,\"n_ctx_train\":%d,\"n_ctx\":%d,\"n_embd\":%d,"
                     "\"n_layer\":%d,\"n_head\":%d,\"n_head_kv\":%d,\"n_ff\":%d,\"vocab_type\":\"%s\","
                     "\"bos\":%d,\"eos\":%d,\"add_bos\":%s,\"weight_bytes\":%llu}",
                     hp->arch_name, hp->n_vocab, hp->n_ctx_train, h->c ? kite_ctx_n_ctx(h->c) : 0, hp->n_embd,
                     hp->n_layer, hp->n_head, hp->n_head_kv, hp->n_ff, v ? kite_vocab_type_name(v) : "none",
                     v ? kite_vocab_bos(v) : -1, v ? kite_vocab_eos(v) : -1,
                     v && kite_vocab_add_bos(v) ? "true" : "false",
                     (unsigned long long)kite_model_weight_bytes(h->m));
    *out = malloc((size_t)n + 1);
    if (!*out) return kite__fail(KITE_ERR_NOMEM, "out of wasm memory");
    memcpy(*out, buf, (size_t)n + 1);
    return KITE_OK;
}

// Tokenizes text; *out_ids (free with kw_free) gets *out_n ids.
EMSCRIPTEN_KEEPALIVE int kw_tokenize(const kw_model *h, const char *text, int add_special, int parse_special,
                                     int32_t **out_ids, int32_t *out_n) {
    return kite_tokenize_alloc(kite_model_vocab(h->m), text, strlen(text), add_special != 0, parse_special != 0,
                               out_ids, out_n);
}

// Detokenizes ids[0..n) (llama_detokenize without removing or rendering special tokens);
// *out is a NUL-terminated string to free with kw_free.
EMSCRIPTEN_KEEPALIVE int kw_detokenize(const kw_model *h, const int32_t *ids, int32_t n, char **out) {
    const kite_vocab *v = kite_model_vocab(h->m);
    if (n < 0) return kite__fail(KITE_ERR_INVALID, "negative token count");
    int32_t nv = kite_vocab_n_tokens(v);
    for (int32_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= nv)
            return kite__fail(KITE_ERR_INVALID, "token id %d at position %d is out of range (vocabulary of %d)", ids[i],
                              i, nv);
    int32_t cap = 64;
    for (;;) {
        char *buf = malloc((size_t)cap + 1);
        if (!buf) return kite__fail(KITE_ERR_NOMEM, "out of wasm memory");
        int32_t r = kite_detokenize(v, ids, n, buf, cap, false, false);
        if (r >= 0) {
            buf[r] = 0;
            *out = buf;
            return KITE_OK;
        }
        free(buf);
        cap = -r;
    }
}

// Formats messages with the model's chat template (tokenizer.chat_template; llama.cpp's
// default, chatml, when absent). msgs holds n (role, content) pointer pairs.
EMSCRIPTEN_KEEPALIVE int kw_chat_apply(const kw_model *h, const kite_chat_msg *msgs, int n, int add_assistant,
                                       char **out) {
    if (n < 0) return kite__fail(KITE_ERR_INVALID, "negative message count");
    kite_str t = {0};
    char *tmpl = NULL;
    if (kite_gguf_get_str(kite_model_gguf(h->m), "tokenizer.chat_template", &t)) {
        tmpl = malloc((size_t)t.len + 1);
        if (!tmpl) return kite__fail(KITE_ERR_NOMEM, "out of wasm memory");
        memcpy(tmpl, t.ptr, (size_t)t.len);
        tmpl[t.len] = 0;
    }
    kite_status s = kite_chat_apply(tmpl, msgs, (size_t)n, add_assistant != 0, out, NULL);
    free(tmpl);
    return s;
}

static bool on_piece(void *user, const char *piece, size_t len) {
    (void)user;
    return kw_js_piece(piece, len) == 0;
}

static void on_token(void *user, int32_t id) {
    (void)user;
    kw_js_token(id);
}

// Generates from prompt (see kite_generate), streaming pieces and ids to JS. flags: 1 no BOS,
// 2 keep the KV cache (continue a chat), 4 parse special-token text in the prompt. stats_out
// gets 6 doubles: prompt tokens, generated tokens, prefill seconds, decode seconds, stopped on
// EOG, stopped on a stop string. seed is a double so any uint32 passes from JS exactly.
EMSCRIPTEN_KEEPALIVE int kw_generate(kw_model *h, const char *prompt, int n_predict, float temp, int top_k,
                                     float top_p, float min_p, float repeat_penalty, int repeat_last_n,
                                     double seed, const char *const *stops, int n_stop, int flags,
                                     double *stats_out) {
    if (!h->c) return kite__fail(KITE_ERR_INVALID, "the model was loaded without a context (vocabOnly)");
    if (!(seed >= 0 && seed <= 4294967295.0))
        return kite__fail(KITE_ERR_INVALID, "seed must be an integer in 0..4294967295 (got %g)", seed);
    kite_gen_params p = kite_gen_default_params();
    p.n_predict = n_predict;
    p.sampling.temp = temp;
    p.sampling.top_k = top_k;
    p.sampling.top_p = top_p;
    p.sampling.min_p = min_p;
    p.sampling.repeat_penalty = repeat_penalty;
    p.sampling.penalty_last_n = repeat_last_n;
    p.sampling.seed = (uint32_t)seed;
    p.stop = stops;
    p.n_stop = n_stop;
    p.no_bos = (flags & 1) != 0;
    p.keep_context = (flags & 2) != 0;
    p.parse_special = (flags & 4) != 0;
    p.on_token = on_token;
    kite_gen_stats st = {0};
    p.stats = &st;
    kite_status s = kite_generate(h->c, prompt, &p, on_piece, NULL);
    stats_out[0] = st.n_prompt;
    stats_out[1] = st.n_generated;
    stats_out[2] = st.prefill_s;
    stats_out[3] = st.decode_s;
    stats_out[4] = st.stopped_eog;
    stats_out[5] = st.stopped_string;
    return s;
}
