// serve_api.c - routing and access control of `kite serve` (API keys, CORS origins) and its
// cheap endpoints: /health, /v1/models, /tokenize, /detokenize, /apply-template, /props,
// /slots, /metrics. The generation endpoints are in serve_generate.c.
#if !defined(__wasi__) && !defined(__EMSCRIPTEN__)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "serve_internal.h"

// ---- state ----------------------------------------------------------------------------------

bool serve_state_init(serve_state *s) {
    s->slots = calloc((size_t)s->n_parallel, sizeof *s->slots);
    if (!s->slots) return false;
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->model_lock, NULL);
    pthread_cond_init(&s->changed, NULL);
    pthread_cond_init(&s->sched_wake, NULL);
    for (int i = 0; i < s->n_parallel; i++) pthread_cond_init(&s->slots[i].job.ready, NULL);
    return true;
}

void serve_state_free(serve_state *s) {
    for (int i = 0; i < s->n_parallel; i++) {
        pthread_cond_destroy(&s->slots[i].job.ready);
        kite_buf_free(&s->slots[i].job.text);
        kite_buf_free(&s->slots[i].job.lens);
        kite_buf_free(&s->slots[i].job.toks);
    }
    pthread_cond_destroy(&s->sched_wake);
    pthread_cond_destroy(&s->changed);
    pthread_mutex_destroy(&s->model_lock);
    pthread_mutex_destroy(&s->lock);
    free(s->slots);
    s->slots = NULL;
}

// The endpoints that run the model (they take a slot).
static bool is_generation_path(const char *path) {
    return !strcmp(path, "/completion") || !strcmp(path, "/completions") || !strcmp(path, "/v1/completions") ||
           !strcmp(path, "/chat/completions") || !strcmp(path, "/v1/chat/completions") ||
           !strcmp(path, "/embedding") || !strcmp(path, "/embeddings") || !strcmp(path, "/v1/embeddings");
}

bool serve_is_generation(const http_request *req) {
    return strcmp(req->method, "POST") == 0 && is_generation_path(req->path);
}

bool serve_admit(serve_state *s) {
    pthread_mutex_lock(&s->lock);
    bool ok = s->n_admitted < s->n_parallel + s->max_queue;
    if (ok) s->n_admitted++;
    pthread_mutex_unlock(&s->lock);
    return ok;
}

// ---- responses ----------------------------------------------------------------------------

void serve_send_json(http_out *o, int status, json_writer *w) {
    if (w->out.nomem) {
        static const char oom[] = "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\",\"code\":500}}";
        http_respond(o, 500, "application/json", oom, sizeof oom - 1, NULL);
        return;
    }
    http_respond(o, status, "application/json", w->out.ptr, w->out.len, NULL);
}

// The error "type" llama-server gives with each status (OpenAI's names where they exist).
static const char *error_type(int status) {
    return status == 501   ? "not_supported_error"
           : status == 503 ? "unavailable_error"
           : status >= 500 ? "server_error"
           : status == 401 ? "authentication_error"
           : status == 403 ? "permission_error"
           : status == 404 ? "not_found_error"
                           : "invalid_request_error";
}

// Opens {"error": {"message", "type", "code" ... (the caller may add members, then closes both).
static void begin_error(json_writer *w, int status, const char *type, const char *message) {
    jw_begin_object(w);
    jw_key(w, "error");
    jw_begin_object(w);
    jw_key(w, "message");
    jw_cstr(w, message);
    jw_key(w, "type");
    jw_cstr(w, type);
    jw_key(w, "code");
    jw_int(w, status);
}

void serve_write_error(json_writer *w, int status, const char *message) {
    begin_error(w, status, error_type(status), message);
    jw_end_object(w);
    jw_end_object(w);
}

void serve_error_exceed_context(http_out *o, int32_t n_prompt, int32_t n_ctx) {
    char msg[256];
    snprintf(msg, sizeof msg,
             "the prompt is %d tokens; the limit is %d (a slot's context of %d tokens, -c divided by --parallel, "
             "less one for the reply)",
             n_prompt, n_ctx - 1, n_ctx);
    json_writer w = {0};
    begin_error(&w, 400, "exceed_context_size_error", msg);
    jw_key(&w, "n_prompt_tokens");
    jw_int(&w, n_prompt);
    jw_key(&w, "n_ctx");
    jw_int(&w, n_ctx);
    jw_end_object(&w);
    jw_end_object(&w);
    serve_send_json(o, 400, &w);
    jw_free(&w);
}

void serve_error(http_out *o, int status, const char *message, const char *extra_headers) {
    json_writer w = {0};
    serve_write_error(&w, status, message);
    if (w.out.nomem) serve_send_json(o, status, &w);
    else http_respond(o, status, "application/json", w.out.ptr, w.out.len, extra_headers);
    jw_free(&w);
}

// ---- access control ---------------------------------------------------------------------------

// Compares without an early exit, so the time taken does not tell how much of a key matched.
static bool same_secret(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    unsigned diff = (unsigned)(la ^ lb);
    for (size_t i = 0; i < la; i++) diff |= (unsigned char)a[i] ^ (unsigned char)(lb ? b[i % lb] : 0);
    return diff == 0;
}

static bool key_ok(const serve_state *s, const http_request *req) {
    if (s->n_api_keys == 0) return true;
    const char *key = req->auth; // "Bearer KEY", or the key alone (X-Api-Key) as llama-server takes it
    if (strncasecmp(key, "Bearer ", 7) == 0) key += 7;
    while (*key == ' ') key++;
    if (!*key) return false;
    bool ok = false;
    for (int i = 0; i < s->n_api_keys; i++) ok |= same_secret(key, s->api_keys[i]);
    return ok;
}

static bool origin_allowed(const serve_state *s, const char *origin) {
    for (int i = 0; i < s->n_cors_origins; i++)
        if (strcmp(s->cors_origins[i], origin) == 0) return true;
    return false;
}

// ---- cheap endpoints --------------------------------------------------------------------------

static void list_models(serve_state *s, http_out *o) {
    json_writer w = {0};
    jw_begin_object(&w);
    jw_key(&w, "object");
    jw_cstr(&w, "list");
    jw_key(&w, "data");
    jw_begin_array(&w);
    jw_begin_object(&w);
    jw_key(&w, "id");
    jw_cstr(&w, s->model_id);
    jw_key(&w, "object");
    jw_cstr(&w, "model");
    jw_key(&w, "created");
    jw_int(&w, s->started);
    jw_key(&w, "owned_by");
    jw_cstr(&w, "kite");
    jw_key(&w, "meta");
    jw_begin_object(&w);
    const kite_hparams *hp = kite_model_hparams(s->ms->model);
    jw_key(&w, "arch");
    jw_cstr(&w, hp->arch_name);
    jw_key(&w, "n_vocab");
    jw_int(&w, hp->n_vocab);
    jw_key(&w, "n_ctx_train");
    jw_int(&w, hp->n_ctx_train);
    jw_key(&w, "n_embd");
    jw_int(&w, hp->n_embd);
    jw_key(&w, "n_ctx");
    jw_int(&w, kite_ctx_n_ctx(s->ms->ctx));
    jw_key(&w, "chat_template");
    jw_cstr(&w, kite_chat_detect(s->chat_tmpl));
    jw_end_object(&w);
    jw_end_object(&w);
    jw_end_array(&w);
    jw_end_object(&w);
    serve_send_json(o, 200, &w);
    jw_free(&w);
}

// A boolean member, or def when absent/null; false + message when it is another type.
static bool opt_bool(const json_value *b, const char *key, bool def, bool *out, char *err, size_t es) {
    const json_value *v = json_get(b, key);
    *out = def;
    if (!v || v->type == JSON_NULL) return true;
    if (v->type != JSON_BOOL) {
        snprintf(err, es, "'%s' must be a boolean, not %s", key, json_type_name(v->type));
        return false;
    }
    *out = v->boolean;
    return true;
}

// True when s[0..n) is well-formed UTF-8 (pieces that are not go out as byte arrays).
static bool valid_utf8(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        size_t k = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : 9;
        if (k == 9 || i + k >= n + (k ? 0 : 1)) return false;
        unsigned cp = k == 0 ? c : k == 1 ? c & 0x1F : k == 2 ? c & 0x0F : c & 0x07;
        for (size_t j = 1; j <= k; j++) {
            if ((p[i + j] & 0xC0) != 0x80) return false;
            cp = cp << 6 | (p[i + j] & 0x3F);
        }
        if ((k == 1 && cp < 0x80) || (k == 2 && (cp < 0x800 || (cp >= 0xD800 && cp < 0xE000))) ||
            (k == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return false;
        i += k + 1;
    }
    return true;
}

// POST /tokenize {"content", "add_special" (false), "parse_special" (true), "with_pieces" (false)}.
static void tokenize(serve_state *s, http_out *o, const json_value *b) {
    char err[256] = "";
    const json_value *c = json_get(b, "content");
    bool add_special, parse_special, with_pieces;
    if (!c || c->type != JSON_STRING) {
        serve_error(o, 400, "'content' must be a string", NULL);
        return;
    }
    if (!opt_bool(b, "add_special", false, &add_special, err, sizeof err) ||
        !opt_bool(b, "parse_special", true, &parse_special, err, sizeof err) ||
        !opt_bool(b, "with_pieces", false, &with_pieces, err, sizeof err)) {
        serve_error(o, 400, err, NULL);
        return;
    }
    const kite_vocab *v = kite_model_vocab(s->ms->model);
    int32_t *ids = NULL, n = 0;
    if (kite_tokenize_alloc(v, c->str, c->len, add_special, parse_special, &ids, &n) != KITE_OK) {
        snprintf(err, sizeof err, "tokenize: %s", kite_last_error());
        serve_error(o, 400, err, NULL);
        return;
    }
    json_writer w = {0};
    jw_begin_object(&w);
    jw_key(&w, "tokens");
    jw_begin_array(&w);
    char piece[256];
    for (int32_t i = 0; i < n; i++) {
        if (!with_pieces) {
            jw_int(&w, ids[i]);
            continue;
        }
        jw_begin_object(&w);
        jw_key(&w, "id");
        jw_int(&w, ids[i]);
        jw_key(&w, "piece");
        int32_t np = kite_token_to_piece(v, ids[i], piece, sizeof piece, true);
        if (np < 0) np = 0; // a piece over 256 bytes: none in real vocabularies
        if (valid_utf8(piece, (size_t)np)) jw_string(&w, piece, (size_t)np);
        else {
            jw_begin_array(&w);
            for (int32_t k = 0; k < np; k++) jw_int(&w, (unsigned char)piece[k]);
            jw_end_array(&w);
        }
        jw_end_object(&w);
    }
    jw_end_array(&w);
    jw_end_object(&w);
    free(ids);
    serve_send_json(o, 200, &w);
    jw_free(&w);
}

// POST /detokenize {"tokens": [ids]} -> {"content"}.
static void detokenize(serve_state *s, http_out *o, const json_value *b) {
    const json_value *t = json_get(b, "tokens");
    const kite_vocab *v = kite_model_vocab(s->ms->model);
    int32_t n_vocab = kite_vocab_n_tokens(v);
    if (!t || t->type != JSON_ARRAY) {
        serve_error(o, 400, "'tokens' must be an array of token ids", NULL);
        return;
    }
    int32_t *ids = malloc((t->len ? t->len : 1) * sizeof *ids);
    if (!ids) {
        serve_error(o, 500, "out of memory", NULL);
        return;
    }
    size_t i = 0;
    for (const json_value *x = t->child; x; x = x->next, i++) {
        if (x->type != JSON_NUMBER || x->number != (double)(int32_t)x->number || x->number < 0 ||
            x->number >= n_vocab) {
            char err[160];
            snprintf(err, sizeof err, "tokens[%zu] is not a token id in [0, %d)", i, n_vocab);
            serve_error(o, 400, err, NULL);
            free(ids);
            return;
        }
        ids[i] = (int32_t)x->number;
    }
    int32_t need = kite_detokenize(v, ids, (int32_t)i, NULL, 0, false, true);
    char *text = need < 0 ? malloc((size_t)-need) : NULL;
    int32_t len = text ? kite_detokenize(v, ids, (int32_t)i, text, -need, false, true) : 0;
    free(ids);
    json_writer w = {0};
    jw_begin_object(&w);
    jw_key(&w, "content");
    jw_string(&w, text ? text : "", len > 0 ? (size_t)len : 0);
    jw_end_object(&w);
    free(text);
    if (need < 0 && !text) serve_error(o, 500, "out of memory", NULL);
    else serve_send_json(o, 200, &w);
    jw_free(&w);
}

// POST /apply-template {"messages"} -> {"prompt"}: the text a chat request would generate from.
static void apply_template(serve_state *s, http_out *o, const json_value *b) {
    char err[512] = "", *prompt = NULL;
    if (!serve_chat_prompt(s, b, &prompt, NULL, NULL, err, sizeof err)) {
        serve_error(o, 400, err, NULL);
        return;
    }
    json_writer w = {0};
    jw_begin_object(&w);
    jw_key(&w, "prompt");
    jw_cstr(&w, prompt);
    jw_end_object(&w);
    free(prompt);
    serve_send_json(o, 200, &w);
    jw_free(&w);
}

// A float as its shortest decimal form (0.8, not 0.800000011920929).
static void jw_float(json_writer *w, float f) {
    char t[32];
    snprintf(t, sizeof t, "%.7g", (double)f);
    jw_number(w, strtod(t, NULL));
}

static void props(serve_state *s, http_out *o) {
    json_writer w = {0};
    int32_t n_ctx = kite_ctx_n_ctx(s->ms->ctx);
    jw_begin_object(&w);
    jw_key(&w, "default_generation_settings");
    jw_begin_object(&w);
    jw_key(&w, "n_ctx");
    jw_int(&w, n_ctx);
    jw_key(&w, "params");
    jw_begin_object(&w);
    jw_key(&w, "n_predict");
    jw_int(&w, s->n_predict);
    jw_key(&w, "temperature");
    jw_float(&w, s->sampling.temp);
    jw_key(&w, "top_k");
    jw_int(&w, s->sampling.top_k);
    jw_key(&w, "top_p");
    jw_float(&w, s->sampling.top_p);
    jw_key(&w, "min_p");
    jw_float(&w, s->sampling.min_p);
    jw_key(&w, "repeat_penalty");
    jw_float(&w, s->sampling.repeat_penalty);
    jw_key(&w, "repeat_last_n");
    jw_int(&w, s->sampling.penalty_last_n);
    jw_key(&w, "presence_penalty");
    jw_float(&w, s->sampling.presence_penalty);
    jw_key(&w, "frequency_penalty");
    jw_float(&w, s->sampling.frequency_penalty);
    const struct { const char *key; float v; } more[] = {
        {"typical_p", s->sampling.typical_p},       {"top_n_sigma", s->sampling.top_n_sigma},
        {"xtc_probability", s->sampling.xtc_probability}, {"xtc_threshold", s->sampling.xtc_threshold},
        {"mirostat_tau", s->sampling.mirostat_tau}, {"mirostat_eta", s->sampling.mirostat_eta},
        {"dry_multiplier", s->sampling.dry_multiplier}, {"dry_base", s->sampling.dry_base},
    };
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) {
        jw_key(&w, more[i].key);
        jw_float(&w, more[i].v);
    }
    jw_key(&w, "mirostat");
    jw_int(&w, s->sampling.mirostat);
    jw_key(&w, "dry_allowed_length");
    jw_int(&w, s->sampling.dry_allowed_length);
    jw_key(&w, "dry_penalty_last_n");
    jw_int(&w, s->sampling.dry_penalty_last_n);
    jw_end_object(&w);
    jw_end_object(&w);
    jw_key(&w, "total_slots");
    jw_int(&w, s->n_parallel);
    // Every slot generates at once: one batched forward pass per step over the busy slots.
    jw_key(&w, "concurrent_generations");
    jw_int(&w, s->n_parallel);
    jw_key(&w, "max_queue");
    jw_int(&w, s->max_queue);
    jw_key(&w, "model_path");
    jw_cstr(&w, s->ms->path);
    jw_key(&w, "model_alias");
    jw_cstr(&w, s->model_id);
    // llama-server gives the template's source here (the model's own, or the built-in one named)
    jw_key(&w, "chat_template");
    jw_cstr(&w, s->chat_tmpl);
    jw_key(&w, "chat_template_name");
    jw_cstr(&w, kite_chat_detect(s->chat_tmpl));
    const kite_vocab *v = kite_model_vocab(s->ms->model);
    const char *special[2] = {"bos_token", "eos_token"};
    const int32_t ids[2] = {kite_vocab_bos(v), kite_vocab_eos(v)};
    for (int k = 0; k < 2; k++) {
        char piece[256];
        int32_t np = ids[k] >= 0 ? kite_token_to_piece(v, ids[k], piece, sizeof piece, true) : 0;
        jw_key(&w, special[k]);
        jw_string(&w, piece, np > 0 && valid_utf8(piece, (size_t)np) ? (size_t)np : 0);
    }
    jw_key(&w, "modalities");
    jw_begin_object(&w);
    jw_key(&w, "vision");
    jw_bool(&w, false);
    jw_key(&w, "audio");
    jw_bool(&w, false);
    jw_key(&w, "video");
    jw_bool(&w, false);
    jw_end_object(&w);
    jw_key(&w, "endpoint_slots");
    jw_bool(&w, true);
    jw_key(&w, "endpoint_props");
    jw_bool(&w, false);
    jw_key(&w, "endpoint_metrics");
    jw_bool(&w, s->metrics);
    jw_key(&w, "is_sleeping");
    jw_bool(&w, false);
    jw_key(&w, "build_info");
    jw_cstr(&w, "kite");
    jw_end_object(&w);
    serve_send_json(o, 200, &w);
    jw_free(&w);
}

static void slots(serve_state *s, http_out *o) {
    json_writer w = {0};
    int32_t n_ctx = kite_ctx_n_ctx(s->ms->ctx);
    pthread_mutex_lock(&s->lock);
    jw_begin_array(&w);
    for (int i = 0; i < s->n_parallel; i++) {
        const serve_slot *sl = &s->slots[i];
        jw_begin_object(&w);
        jw_key(&w, "id");
        jw_int(&w, i);
        if (sl->used) { // as llama-server: the current or last request, absent before the first
            jw_key(&w, "id_task");
            jw_int(&w, (long long)sl->task);
        }
        jw_key(&w, "n_ctx");
        jw_int(&w, n_ctx);
        jw_key(&w, "is_processing");
        jw_bool(&w, sl->busy);
        jw_key(&w, "state");
        jw_cstr(&w, !sl->busy ? "idle" : sl->embedding ? "embedding" : "generating");
        jw_key(&w, "speculative");
        jw_bool(&w, false);
        jw_key(&w, "n_prompt_tokens");
        jw_int(&w, sl->n_prompt);
        jw_key(&w, "n_prompt_tokens_processed");
        jw_int(&w, sl->n_prompt - sl->n_cached);
        jw_key(&w, "n_prompt_tokens_cache");
        jw_int(&w, sl->n_cached);
        jw_key(&w, "n_decoded");
        jw_int(&w, sl->n_generated);
        jw_key(&w, "next_token"); // llama-server's place for the count
        jw_begin_array(&w);
        jw_begin_object(&w);
        jw_key(&w, "has_next_token");
        jw_bool(&w, sl->busy);
        jw_key(&w, "n_decoded");
        jw_int(&w, sl->n_generated);
        jw_end_object(&w);
        jw_end_array(&w);
        jw_end_object(&w);
    }
    jw_end_array(&w);
    pthread_mutex_unlock(&s->lock);
    serve_send_json(o, 200, &w);
    jw_free(&w);
}

// One metric in Prometheus text form (HELP, TYPE, sample); a value with no fraction is printed
// as an integer.
static void metric(kite_buf *t, const char *name, const char *type, const char *help, double v) {
    char line[512];
    int n = v == (double)(long long)v
                ? snprintf(line, sizeof line, "# HELP %s %s\n# TYPE %s %s\n%s %lld\n", name, help, name, type, name,
                           (long long)v)
                : snprintf(line, sizeof line, "# HELP %s %s\n# TYPE %s %s\n%s %.6f\n", name, help, name, type, name, v);
    if (n > 0) kite_buf_append(t, line, (size_t)n);
}

// Prometheus text exposition format (version 0.0.4): llama-server's llamacpp:* metrics (the same
// names, types and meanings, so its dashboards work; the speculative-decoding counters stay 0,
// Kite has none), then Kite's own kite:*.
static void metrics(serve_state *s, http_out *o) {
    if (!s->metrics) {
        serve_error(o, 501, "This server does not support metrics endpoint. Start it with `--metrics`", NULL);
        return;
    }
    pthread_mutex_lock(&s->lock);
    int generating = 0; // every busy slot runs (batched)
    for (int i = 0; i < s->n_parallel; i++) generating += s->slots[i].busy;
    const double prompt_rate = s->m_bucket_prompt_s > 0 ? (double)s->m_bucket_prompt_tokens / s->m_bucket_prompt_s : 0;
    const double predict_rate =
        s->m_bucket_predict_s > 0 ? (double)s->m_bucket_predicted_tokens / s->m_bucket_predict_s : 0;
    s->m_bucket_prompt_tokens = s->m_bucket_predicted_tokens = 0; // the rates cover the time since the last scrape
    s->m_bucket_prompt_s = s->m_bucket_predict_s = 0;
    const struct {
        const char *name, *type, *help;
        double v;
    } m[] = {
        {"llamacpp:prompt_tokens_total", "counter", "Number of prompt tokens processed, excluding cached tokens",
         (double)s->m_prompt_tokens},
        {"llamacpp:prompt_tokens_cached_total", "counter", "Number of prompt tokens reused from the cache",
         (double)s->m_prompt_cached},
        {"llamacpp:prompt_seconds_total", "counter", "Total time spent processing prompts", s->m_prompt_s},
        {"llamacpp:tokens_predicted_total", "counter", "Number of generation tokens processed",
         (double)s->m_predicted_tokens},
        {"llamacpp:tokens_predicted_seconds_total", "counter", "Total time spent generating tokens", s->m_predict_s},
        {"llamacpp:n_decode_total", "counter", "Total number of forward passes (batched decode steps)",
         (double)s->m_n_decode},
        {"llamacpp:n_tokens_max", "counter", "Largest observed sequence length (prompt + generation)",
         (double)s->m_n_tokens_max},
        {"llamacpp:spec_decode_num_draft_tokens_total", "counter", "Speculative: Total draft tokens generated", 0},
        {"llamacpp:spec_decode_num_accepted_tokens_total", "counter",
         "Speculative: Total draft tokens accepted by the target model", 0},
        {"llamacpp:spec_decode_num_drafts_total", "counter", "Speculative: Total speculative decoding verification steps",
         0},
        {"llamacpp:prompt_tokens_seconds", "gauge", "Average prompt throughput in tokens/s", prompt_rate},
        {"llamacpp:predicted_tokens_seconds", "gauge", "Average generation throughput in tokens/s", predict_rate},
        {"llamacpp:requests_processing", "gauge", "Number of requests processing", generating},
        {"llamacpp:requests_deferred", "gauge", "Number of requests deferred", s->n_admitted - generating},
        {"llamacpp:n_busy_slots_per_decode", "gauge", "Average number of busy slots per forward pass",
         s->m_n_decode ? (double)s->m_busy_slots / (double)s->m_n_decode : 0},
        {"kite:requests_total", "counter", "Requests received (all endpoints).", (double)s->n_done},
        {"kite:slots_total", "gauge", "Slots (--parallel).", s->n_parallel},
    };
    pthread_mutex_unlock(&s->lock);
    kite_buf t = {0};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) metric(&t, m[i].name, m[i].type, m[i].help, m[i].v);
    char start[64];
    snprintf(start, sizeof start, "Process-Start-Time-Unix: %lld\r\n", s->started);
    if (t.nomem) serve_error(o, 500, "out of memory", NULL);
    else http_respond(o, 200, "text/plain; version=0.0.4; charset=utf-8", t.ptr, t.len, start);
    kite_buf_free(&t);
}

// ---- routing ------------------------------------------------------------------------------

static bool path_is(const char *path, const char *name) {
    // "/v1/x" and "/x" both work (llama-server accepts both)
    return strcmp(path, name) == 0 || (strncmp(path, "/v1", 3) == 0 && strcmp(path + 3, name) == 0);
}

typedef enum route {
    R_NONE, R_HEALTH, R_MODELS, R_PROPS, R_SLOTS, R_METRICS, // GET
    R_TOKENIZE, R_DETOKENIZE, R_APPLY_TEMPLATE, R_COMPLETIONS, R_CHAT, R_NATIVE, R_EMBED_OAI, R_EMBED_NATIVE // POST
} route;

static route find_route(const char *path) {
    if (path_is(path, "/health")) return R_HEALTH;
    if (path_is(path, "/models")) return R_MODELS;
    if (!strcmp(path, "/props")) return R_PROPS;
    if (!strcmp(path, "/slots")) return R_SLOTS;
    if (!strcmp(path, "/metrics")) return R_METRICS;
    if (!strcmp(path, "/tokenize")) return R_TOKENIZE;
    if (!strcmp(path, "/detokenize")) return R_DETOKENIZE;
    if (!strcmp(path, "/apply-template")) return R_APPLY_TEMPLATE;
    if (path_is(path, "/completions")) return R_COMPLETIONS;
    if (path_is(path, "/chat/completions")) return R_CHAT;
    if (!strcmp(path, "/completion")) return R_NATIVE;
    if (path_is(path, "/embeddings")) return R_EMBED_OAI;
    if (!strcmp(path, "/embedding")) return R_EMBED_NATIVE;
    return R_NONE;
}

static void dispatch(serve_state *s, http_out *o, const http_request *req, unsigned long task) {
    if (req->origin[0]) {
        if (!origin_allowed(s, req->origin)) {
            char msg[400];
            snprintf(msg, sizeof msg,
                     "cross-origin requests from %.255s are refused (allow the origin with --cors-origins)",
                     req->origin);
            serve_error(o, 403, msg, NULL);
            return;
        }
        o->allow_origin = req->origin;
    }
    if (strcmp(req->method, "OPTIONS") == 0) { // CORS preflight (browsers send no key with it)
        http_respond(o, 204, NULL, "", 0, NULL);
        return;
    }
    if (!atomic_load(&s->ready)) { // as llama-server: every endpoint, /health too, until the model is in
        serve_error(o, 503, "Loading model", "Retry-After: 1\r\n");
        return;
    }
    route r = find_route(req->path);
    if (r == R_NONE) {
        char msg[400];
        snprintf(msg, sizeof msg,
                 "no endpoint %.200s (try /v1/models, /v1/completions, /v1/chat/completions, /v1/embeddings, "
                 "/completion, /health)",
                 req->path);
        serve_error(o, 404, msg, NULL);
        return;
    }
    if (r != R_HEALTH && !key_ok(s, req)) {
        serve_error(o, 401, "invalid or missing API key (send 'Authorization: Bearer KEY')",
                    "WWW-Authenticate: Bearer\r\n");
        return;
    }
    bool get = strcmp(req->method, "GET") == 0, post = strcmp(req->method, "POST") == 0;
    if (r <= R_METRICS) {
        if (!get) {
            serve_error(o, 405, "use GET here", NULL);
            return;
        }
        switch (r) {
        case R_HEALTH: {
            static const char ok[] = "{\"status\":\"ok\"}";
            http_respond(o, 200, "application/json", ok, sizeof ok - 1, NULL);
            break;
        }
        case R_MODELS: list_models(s, o); break;
        case R_PROPS: props(s, o); break;
        case R_SLOTS: slots(s, o); break;
        default: metrics(s, o); break;
        }
        return;
    }
    if (!post) {
        serve_error(o, 405, "use POST here", NULL);
        return;
    }
    char err[512] = "";
    json_doc *doc = json_parse(req->body, req->body_len, err, sizeof err);
    if (!doc) {
        serve_error(o, 400, err, NULL);
        return;
    }
    const json_value *body = json_root(doc);
    if (body->type != JSON_OBJECT) {
        snprintf(err, sizeof err, "the request body must be a JSON object, not %s", json_type_name(body->type));
        serve_error(o, 400, err, NULL);
    } else {
        switch (r) {
        case R_TOKENIZE: tokenize(s, o, body); break;
        case R_DETOKENIZE: detokenize(s, o, body); break;
        case R_APPLY_TEMPLATE: apply_template(s, o, body); break;
        case R_COMPLETIONS: serve_generate(s, o, body, SERVE_OAI_COMPLETION, task); break;
        case R_CHAT: serve_generate(s, o, body, SERVE_OAI_CHAT, task); break;
        case R_EMBED_OAI: serve_embed(s, o, body, true, task); break;
        case R_EMBED_NATIVE: serve_embed(s, o, body, false, task); break;
        default: serve_generate(s, o, body, SERVE_NATIVE, task); break;
        }
    }
    json_free(doc);
}

void serve_handle(serve_state *s, http_out *o, const http_request *req) {
    pthread_mutex_lock(&s->lock);
    unsigned long task = s->n_done++;
    pthread_mutex_unlock(&s->lock);
    dispatch(s, o, req, task);
    if (serve_is_generation(req)) {
        pthread_mutex_lock(&s->lock);
        s->n_admitted--;
        pthread_cond_broadcast(&s->changed);
        pthread_mutex_unlock(&s->lock);
    }
}
#endif
