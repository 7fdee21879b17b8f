// exports_model.c - a loaded model for JS: load from a streamed heap buffer, describe,
// tokenize/detokenize, format chats and generate with streamed pieces (in one call, or in steps
// whose logits an asynchronous backend delivers: kw_gen_start/eval/step/finish).
#include "exports.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_request.h"

// One model, its inference context, and the heap blocks holding its file(s) (owned).
typedef struct kw_model {
    uint8_t *buf;
    uint8_t **more; // a split set's other files (n_more blocks), or NULL
    int32_t n_more;
    kite_model *m;
    kite_ctx *c; // NULL for vocab-only loads
    kite_gen_seq *gen;   // the stepped generation in progress (kw_gen_start), or NULL
    int32_t gen_n;       // tokens its last kw_gen_eval submitted
    const float *gen_logits; // and where their logits land
} kw_model;

// Text pieces and sampled ids go to JS as they come; a non-zero return asks to stop.
EM_JS(int, kw_js_piece, (const char *p, size_t n), {
    var num = function(x) { return typeof x == 'bigint' ? Number(x) : x >>> 0; };
    return Module.kitePiece ? Module.kitePiece(num(p), num(n)) : 0;
});
EM_JS(void, kw_js_token, (int32_t id), {
    if (Module.kiteToken) Module.kiteToken(id);
});

EMSCRIPTEN_KEEPALIVE void kw_model_free(kw_model *h) {
    if (!h) return;
    kite_gen_seq_free(h->gen);
    kite_ctx_free(h->c);
    kite_model_free(h->m);
    free(h->buf);
    for (int32_t i = 0; i < h->n_more; i++) free(h->more[i]);
    free(h->more);
    free(h);
}

// Loads the GGUF in a->buf[0..a->len) (a kw_alloc block; with a->n_more > 0, the first file of
// a split set whose others are a->more[i][0..a->more_lens[i])) and creates a context of a->n_ctx
// tokens (0: the model's default) on a->n_threads threads. On success a->model owns every file
// block (not the more / more_lens arrays); on failure the caller still does. vocab_only skips
// the weights' checks and the context.
EMSCRIPTEN_KEEPALIVE int kw_model_load(kw_load_args *a) {
    if (a->n_ctx < 0) return kite_set_error(KITE_ERR_INVALID, "nCtx must be >= 0 (got %d)", a->n_ctx);
    if (a->n_threads < 0) return kite_set_error(KITE_ERR_INVALID, "threads must be >= 1 (got %d)", a->n_threads);
    if (a->n_more < 0 || (a->n_more > 0 && (!a->more || !a->more_lens)))
        return kite_set_error(KITE_ERR_INVALID, "bad split set (%d more files)", a->n_more);
    const int32_t n = 1 + a->n_more;
    kw_model *h = calloc(1, sizeof *h);
    const uint8_t **bufs = malloc((size_t)n * sizeof *bufs);
    uint64_t *lens = malloc((size_t)n * sizeof *lens);
    if (h && a->n_more > 0) h->more = malloc((size_t)a->n_more * sizeof *h->more);
    if (!h || !bufs || !lens || (a->n_more > 0 && !h->more)) {
        if (h) free(h->more);
        free(h);
        free(bufs);
        free(lens);
        return kite_set_error(KITE_ERR_NOMEM, "out of wasm memory");
    }
    bufs[0] = a->buf;
    lens[0] = a->len;
    for (int32_t i = 0; i < a->n_more; i++) {
        bufs[i + 1] = a->more[i];
        lens[i + 1] = a->more_lens[i];
    }
    // the file blocks are the model's from here (and the caller frees them on failure): the
    // matrices the kernels read faster in X8 are repacked where they lie, no second copy
    kite_model_params mp = {.vocab_only = a->vocab_only != 0, .in_place = true, .offload_layers = a->offload_layers};
    kite_status s = kite_model_load_split(bufs, lens, n, &mp, &h->m);
    free(bufs);
    free(lens);
    if (s == KITE_OK && !a->vocab_only) {
        kite_ctx_params cp = kite_ctx_default_params();
        cp.n_ctx = a->n_ctx;
        cp.n_threads = a->n_threads;
        s = kite_ctx_new(h->m, &cp, &h->c);
    }
    if (s != KITE_OK) {
        kite_model_free(h->m);
        free(h->more);
        free(h);
        return s;
    }
    h->buf = a->buf;
    for (int32_t i = 0; i < a->n_more; i++) h->more[i] = a->more[i];
    h->n_more = a->n_more;
    a->model = h;
    return KITE_OK;
}

// The model's GGUF file, for kw_gguf_info_json (the JS adds kw_model_facts_json to it).
EMSCRIPTEN_KEEPALIVE const kite_gguf *kw_model_gguf(const kw_model *h) { return kite_model_gguf(h->m); }

// The model's recommended sampling as GenerateOptions names ({"temperature":0.6,"topK":20,...};
// the good general.sampling.* keys), and a "sampling_warning" naming the bad ones if any.
static void sampling_facts(const kite_model *m, char *out, size_t n) {
    char warn[512];
    kite_sampler_params p = kite_sampler_default_params();
    const uint32_t got = kite_sampling_from_file(kite_model_gguf(m), 0, &p, warn, sizeof warn);
    int k = snprintf(out, n, "\"sampling\":{");
#define PUT(bit, fmt, name, v) \
    if (got & (bit) && k < (int)n) k += snprintf(out + k, n - (size_t)k, "%s\"" name "\":" fmt, out[k - 1] == '{' ? "" : ",", v)
    PUT(KITE_SAMPLING_TEMP, "%.9g", "temperature", (double)p.temp);
    PUT(KITE_SAMPLING_TOP_K, "%d", "topK", p.top_k);
    PUT(KITE_SAMPLING_TOP_P, "%.9g", "topP", (double)p.top_p);
    PUT(KITE_SAMPLING_MIN_P, "%.9g", "minP", (double)p.min_p);
    PUT(KITE_SAMPLING_REPEAT_PENALTY, "%.9g", "repeatPenalty", (double)p.repeat_penalty);
    PUT(KITE_SAMPLING_PENALTY_LAST_N, "%d", "repeatLastN", p.penalty_last_n);
    PUT(KITE_SAMPLING_XTC_PROBABILITY, "%.9g", "xtcProbability", (double)p.xtc_probability);
    PUT(KITE_SAMPLING_XTC_THRESHOLD, "%.9g", "xtcThreshold", (double)p.xtc_threshold);
    PUT(KITE_SAMPLING_MIROSTAT, "%d", "mirostat", p.mirostat);
    PUT(KITE_SAMPLING_MIROSTAT_TAU, "%.9g", "mirostatTau", (double)p.mirostat_tau);
    PUT(KITE_SAMPLING_MIROSTAT_ETA, "%.9g", "mirostatEta", (double)p.mirostat_eta);
#undef PUT
    // the warning names keys and numbers only: nothing to escape
    if (k < (int)n) snprintf(out + k, n - (size_t)k, warn[0] ? "},\"sampling_warning\":\"%s\"" : "}", warn);
}

// *out: the runtime facts of a loaded model as a JSON object (architecture, shapes, context
// length, vocabulary, weight bytes per token, its recommended sampling); free with kw_free.
EMSCRIPTEN_KEEPALIVE int kw_model_facts_json(const kw_model *h, char **out) {
    const kite_hparams *hp = kite_model_hparams(h->m);
    const kite_vocab *v = kite_model_vocab(h->m);
    char sampling[768], buf[1536];
    sampling_facts(h->m, sampling, sizeof sampling);
    int n = snprintf(buf, sizeof buf,
                     "{\"arch\":\"%s\",\"n_vocab\":%d,\"n_ctx_train\":%d,\"n_ctx\":%d,\"n_embd\":%d,"
                     "\"n_layer\":%d,\"n_head\":%d,\"n_head_kv\":%d,\"n_ff\":%d,\"vocab_type\":\"%s\","
                     "\"bos\":%d,\"eos\":%d,\"add_bos\":%s,\"weight_bytes\":%llu,%s}",
                     hp->arch_name, hp->n_vocab, hp->n_ctx_train, h->c ? kite_ctx_n_ctx(h->c) : 0, hp->n_embd,
                     hp->n_layer, hp->n_head, hp->n_head_kv, hp->n_ff, v ? kite_vocab_type_name(v) : "none",
                     v ? kite_vocab_bos(v) : -1, v ? kite_vocab_eos(v) : -1,
                     v && kite_vocab_add_bos(v) ? "true" : "false",
                     (unsigned long long)kite_model_weight_bytes(h->m), sampling);
    if (n < 0 || n >= (int)sizeof buf) return kite_set_error(KITE_ERR_INVALID, "model facts too long");
    *out = malloc((size_t)n + 1);
    if (!*out) return kite_set_error(KITE_ERR_NOMEM, "out of wasm memory");
    memcpy(*out, buf, (size_t)n + 1);
    return KITE_OK;
}

// Tokenizes a->text; a->ids (free with kw_free) gets a->n_ids ids.
EMSCRIPTEN_KEEPALIVE int kw_tokenize(kw_tokenize_args *a) {
    return kite_tokenize_alloc(kite_model_vocab(a->model->m), a->text, strlen(a->text), a->add_special != 0,
                               a->parse_special != 0, &a->ids, &a->n_ids);
}

// Detokenizes ids[0..n) (llama_detokenize without removing or rendering special tokens);
// *out is a NUL-terminated string to free with kw_free.
EMSCRIPTEN_KEEPALIVE int kw_detokenize(const kw_model *h, const int32_t *ids, int32_t n, char **out) {
    const kite_vocab *v = kite_model_vocab(h->m);
    if (n < 0) return kite_set_error(KITE_ERR_INVALID, "negative token count");
    int32_t nv = kite_vocab_n_tokens(v);
    for (int32_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= nv)
            return kite_set_error(KITE_ERR_INVALID, "token id %d at position %d is out of range (vocabulary of %d)", ids[i],
                              i, nv);
    int32_t cap = 64;
    for (;;) {
        char *buf = malloc((size_t)cap + 1);
        if (!buf) return kite_set_error(KITE_ERR_NOMEM, "out of wasm memory");
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

kite_status kw__model_chat_template(const kw_model *h, char **out) {
    *out = NULL;
    kite_str t = {0};
    if (!kite_gguf_get_str(kite_model_gguf(h->m), "tokenizer.chat_template", &t)) return KITE_OK;
    char *tmpl = malloc((size_t)t.len + 1);
    if (!tmpl) return kite_set_error(KITE_ERR_NOMEM, "out of wasm memory");
    memcpy(tmpl, t.ptr, (size_t)t.len);
    tmpl[t.len] = 0;
    *out = tmpl;
    return KITE_OK;
}

// Formats messages with the model's chat template (tokenizer.chat_template; llama.cpp's
// default, chatml, when absent). msgs holds n (role, content) pointer pairs; a role is one of
// OpenAI's, developer rendered as kite serve renders it (chat_request_role; any other role is
// refused naming messages[i].role); flags are kite_chat_apply_ex's KITE_CHAT_* (1: add the
// assistant's opening, 2: with reasoning off).
EMSCRIPTEN_KEEPALIVE int kw_chat_apply(const kw_model *h, const kite_chat_msg *msgs, int n, int flags, char **out) {
    if (n < 0) return kite_set_error(KITE_ERR_INVALID, "negative message count");
    if (flags < 0) return kite_set_error(KITE_ERR_INVALID, "negative chat flags");
    char *tmpl = NULL;
    KW_TRY(kw__model_chat_template(h, &tmpl));
    kite_chat_msg *m = malloc(sizeof *m * (n > 0 ? (size_t)n : 1));
    kite_status s = m ? KITE_OK : kite_set_error(KITE_ERR_NOMEM, "out of wasm memory");
    char err[160];
    for (int i = 0; s == KITE_OK && i < n; i++) {
        m[i] = msgs[i];
        m[i].role = chat_request_role(tmpl, msgs[i].role, (size_t)i, err, sizeof err);
        if (!m[i].role) s = kite_set_error(KITE_ERR_INVALID, "%s", err);
    }
    if (s == KITE_OK) s = kite_chat_apply_ex(tmpl, m, (size_t)n, (unsigned)flags, out, NULL);
    free(m);
    free(tmpl);
    return s;
}

static bool to_js(const char *piece, size_t len) { return kw_js_piece(piece, len) == KW_CB_CONTINUE; }

// The running generation's tool-call splitter (kw_gen_args.tool_reply), or NULL: one run at a
// time per module instance.
static kw_tool_reply *run_reply;

static bool on_piece(void *user, const char *piece, size_t len) {
    (void)user;
    return run_reply ? kw__tool_reply_feed(run_reply, piece, len) : to_js(piece, len);
}

// Starts the run's splitter when a asks for one.
static kite_status begin_reply(const kw_gen_args *a) {
    kw__tool_reply_free(run_reply);
    run_reply = NULL;
    if (a->tool_reply == 0) return KITE_OK;
    if ((a->tool_reply & ~7) != 0 || (a->tool_reply & 3) == 0)
        return kite_set_error(KITE_ERR_INVALID, "bad tool_reply %d", a->tool_reply);
    run_reply = kw__tool_reply_new(a->tool_reply, to_js);
    return run_reply ? KITE_OK : kite_set_error(KITE_ERR_NOMEM, "out of wasm memory");
}

// Ends it: after a finished run (s OK) the text it held goes out.
static kite_status end_reply(kite_status s) {
    if (run_reply && s == KITE_OK && !kw__tool_reply_flush(run_reply))
        s = kite_set_error(KITE_ERR_ABORTED, "the reply's consumer stopped it");
    kw__tool_reply_free(run_reply);
    run_reply = NULL;
    return s;
}

static void on_token(void *user, int32_t id) {
    (void)user;
    kw_js_token(id);
}

// The generation parameters of a (inputs from kw_gen_args_init's defaults), checked. A JSON
// schema becomes a grammar in *from_schema (free it once the run has started; NULL otherwise).
static kite_status gen_params(const kw_gen_args *a, kite_gen_params *p, char **from_schema) {
    if (!a->model->c) return kite_set_error(KITE_ERR_INVALID, "the model was loaded without a context (vocabOnly)");
    if (!(a->seed >= 0 && a->seed <= 4294967295.0 && a->seed == (double)(uint32_t)a->seed))
        return kite_set_error(KITE_ERR_INVALID, "seed must be an integer in 0..4294967295 (got %g)", a->seed);
    if (a->n_stop < 0) return kite_set_error(KITE_ERR_INVALID, "negative stop string count");
    if (a->grammar && a->json_schema) return kite_set_error(KITE_ERR_INVALID, "give grammar or jsonSchema, not both");
    *p = kite_gen_default_params();
    p->n_predict = a->n_predict;
    p->sampling.temp = a->temp;
    p->sampling.top_k = a->top_k;
    p->sampling.top_p = a->top_p;
    p->sampling.min_p = a->min_p;
    p->sampling.repeat_penalty = a->repeat_penalty;
    p->sampling.penalty_last_n = a->repeat_last_n;
    p->sampling.typical_p = a->typical_p;
    p->sampling.top_n_sigma = a->top_n_sigma;
    p->sampling.xtc_probability = a->xtc_probability;
    p->sampling.xtc_threshold = a->xtc_threshold;
    p->sampling.mirostat = a->mirostat;
    p->sampling.mirostat_tau = a->mirostat_tau;
    p->sampling.mirostat_eta = a->mirostat_eta;
    p->sampling.dry_multiplier = a->dry_multiplier;
    p->sampling.dry_base = a->dry_base;
    p->sampling.dry_allowed_length = a->dry_allowed_length;
    p->sampling.dry_penalty_last_n = a->dry_penalty_last_n;
    p->dry_sequence_breakers = a->n_dry_breakers >= 0 ? a->dry_breakers : NULL;
    p->n_dry_sequence_breakers = a->n_dry_breakers >= 0 ? a->n_dry_breakers : 0;
    p->sampling.seed = (uint32_t)a->seed;
    // the options not given take the model's recommended values (its warnings: kw_model_facts_json)
    kite_sampling_from_file(kite_model_gguf(a->model->m), (uint32_t)a->sampling_given, &p->sampling, NULL, 0);
    p->stop = a->stops;
    p->n_stop = a->n_stop;
    p->no_bos = a->no_bos != 0;
    p->keep_context = a->keep_context != 0;
    p->reuse_prefix = a->reuse_prefix != 0;
    p->parse_special = a->parse_special != 0;
    p->on_token = on_token;
    *from_schema = NULL;
    if (a->json_schema) KW_TRY(kite_json_schema_to_grammar(a->json_schema, strlen(a->json_schema), from_schema));
    p->grammar = *from_schema ? *from_schema : a->grammar;
    if (a->grammar_trigger) {
        p->grammar_triggers = &a->grammar_trigger;
        p->n_grammar_triggers = 1;
    }
    if (a->reasoning_budget < -1) {
        free(*from_schema);
        *from_schema = NULL;
        return kite_set_error(KITE_ERR_INVALID, "reasoningBudget must be -1 or more (got %d)", a->reasoning_budget);
    }
    // the budget applies to replies of a template with reasoning tags (the tags and the opening
    // are static strings: the template itself is not kept); a lazy grammar sits their blocks out
    kite_str t = {0};
    if ((a->reasoning_budget >= 0 || p->n_grammar_triggers > 0) && kite_gguf_get_str(kite_model_gguf(a->model->m), "tokenizer.chat_template", &t)) {
        char *tmpl = malloc((size_t)t.len + 1);
        if (!tmpl) {
            free(*from_schema);
            *from_schema = NULL;
            return kite_set_error(KITE_ERR_NOMEM, "out of wasm memory");
        }
        memcpy(tmpl, t.ptr, (size_t)t.len);
        tmpl[t.len] = 0;
        if (kite_chat_reasoning_tags(tmpl, &p->reasoning_start, &p->reasoning_end)) {
            p->reasoning_budget = a->reasoning_budget;
            p->reasoning_message = a->reasoning_message;
            // what the reply already holds: the prompt's own text from reply_at (a continued
            // message, as kite serve's), else the template's opening
            const size_t pl = a->prompt ? strlen(a->prompt) : 0;
            const char *opening = a->reply_at >= 0 && (size_t)a->reply_at <= pl ? a->prompt + a->reply_at
                                                                                : kite_chat_reply_opening(tmpl, a->no_thinking);
            p->reasoning_prefill = opening[0] ? opening : NULL;
        }
        free(tmpl);
    }
    return KITE_OK;
}

static void put_stats(kw_gen_args *a, const kite_gen_stats *st) {
    a->n_prompt = st->n_prompt;
    a->n_cached = st->n_cached;
    a->n_generated = st->n_generated;
    a->prefill_s = st->prefill_s;
    a->decode_s = st->decode_s;
    a->stopped_eog = st->stopped_eog;
    a->stopped_string = st->stopped_string;
}

// Generates from a->prompt (see kite_generate), streaming pieces and ids to JS; a's inputs
// start from kw_gen_args_init's defaults, and its out fields get the run's statistics.
EMSCRIPTEN_KEEPALIVE int kw_generate(kw_gen_args *a) {
    kite_gen_params p;
    char *from_schema;
    KW_TRY(gen_params(a, &p, &from_schema));
    kite_gen_stats st = {0};
    p.stats = &st;
    kite_status s = begin_reply(a);
    if (s == KITE_OK) s = end_reply(kite_generate(a->model->c, a->prompt, &p, on_piece, NULL));
    free(from_schema);
    put_stats(a, &st);
    return s;
}

// kw_generate in steps, for a backend whose logits arrive asynchronously (webgpu): starts the
// run (tokenizes the prompt; resets the context unless keep_context, or keeps the prefix it shares
// with the prompt with reuse_prefix, as kite_generate). Then, until a->n_eval is
// 0: kw_gen_eval submits the next tokens, the caller awaits the backend, kw_gen_step samples
// and streams. kw_gen_finish (always, also after an error) ends it. The prompt and stop
// strings must live until kw_gen_finish. One run per model at a time.
EMSCRIPTEN_KEEPALIVE int kw_gen_start(kw_gen_args *a) {
    kw_model *h = a->model;
    if (h->gen) return kite_set_error(KITE_ERR_INVALID, "a stepped generation is already running");
    if (!a->prompt) return kite_set_error(KITE_ERR_INVALID, "prompt is NULL");
    kite_gen_params p;
    char *from_schema;
    KW_TRY(gen_params(a, &p, &from_schema));
    const kite_gen_seq_params sp = {.gen = p, .on_piece = on_piece};
    h->gen_n = 0;
    // the sequence parses the grammar at start: the schema's text can go then
    kite_status s = begin_reply(a);
    if (s == KITE_OK) s = kite_gen_seq_start_ctx(h->c, a->prompt, &sp, &h->gen);
    if (s != KITE_OK) end_reply(s);
    free(from_schema);
    return s;
}

// Submits the tokens the run asks for next; a->n_eval gets their count (0: the run is done).
EMSCRIPTEN_KEEPALIVE int kw_gen_eval(kw_gen_args *a) {
    kw_model *h = a->model;
    a->n_eval = 0;
    if (!h->gen) return kite_set_error(KITE_ERR_INVALID, "no stepped generation is running");
    const int32_t *toks = NULL;
    const int32_t n = kite_gen_seq_done(h->gen) ? 0 : kite_gen_seq_next(h->gen, &toks);
    if (n <= 0) return KITE_OK;
    h->gen_logits = NULL;
    KW_TRY(kite_ctx_eval(h->c, toks, n, &h->gen_logits));
    h->gen_n = n;
    a->n_eval = n;
    return KITE_OK;
}

// After the backend delivered the logits of kw_gen_eval's tokens: samples, streams the text
// and checks the stops (kite_gen_seq_step).
EMSCRIPTEN_KEEPALIVE int kw_gen_step(kw_gen_args *a) {
    kw_model *h = a->model;
    if (!h->gen || h->gen_n <= 0) return kite_set_error(KITE_ERR_INVALID, "kw_gen_step without a kw_gen_eval");
    const int32_t n = h->gen_n;
    h->gen_n = 0;
    return kite_gen_seq_step(h->gen, n, h->gen_logits);
}

// Ends the stepped run: a's out fields get its statistics; the sequence is freed. A tool-call
// splitter's held text goes out when the run is done (a stop or the end, not an error).
EMSCRIPTEN_KEEPALIVE void kw_gen_finish(kw_gen_args *a) {
    kw_model *h = a->model;
    if (!h->gen) return;
    end_reply(kite_gen_seq_done(h->gen) ? KITE_OK : KITE_ERR_ABORTED);
    const kite_gen_stats st = kite_gen_seq_stats(h->gen);
    put_stats(a, &st);
    kite_gen_seq_free(h->gen);
    h->gen = NULL;
    h->gen_n = 0;
}

// Replaces a->model's context with one whose last a->n_gpu_layers repeating layers (and the
// output head past the layer count) run on the offload backend a->backend ("webgpu": its JS
// half comes from Module.kiteWebGpu). On failure the old context stays.
EMSCRIPTEN_KEEPALIVE int kw_model_offload(kw_offload_args *a) {
    if (!a->model || !a->model->m) return kite_set_error(KITE_ERR_INVALID, "no model");
    if (a->n_ctx < 0) return kite_set_error(KITE_ERR_INVALID, "nCtx must be >= 0 (got %d)", a->n_ctx);
    if (a->model->gen) return kite_set_error(KITE_ERR_INVALID, "a stepped generation is running");
    kite_ctx_params cp = kite_ctx_default_params();
    cp.n_ctx = a->n_ctx;
    cp.n_gpu_layers = a->n_gpu_layers;
    cp.gpu_backend = a->backend;
    kite_ctx *c = NULL;
    kite_status s = kite_ctx_new(a->model->m, &cp, &c);
    if (s != KITE_OK) return s;
    kite_ctx_free(a->model->c);
    a->model->c = c;
    return KITE_OK;
}

// Evaluates a->tokens[0..a->n) after what the context holds; a->logits gets the last token's
// logits (a->n_vocab floats). On an asynchronous backend (webgpu) they hold their values once
// the backend's settle() has resolved.
EMSCRIPTEN_KEEPALIVE int kw_eval(kw_eval_args *a) {
    if (!a->model || !a->model->c) return kite_set_error(KITE_ERR_INVALID, "no context");
    a->n_vocab = kite_model_hparams(a->model->m)->n_vocab;
    return kite_ctx_eval(a->model->c, a->tokens, a->n, &a->logits);
}
