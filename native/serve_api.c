// serve_api.c - OpenAI-compatible request handling: JSON request -> prompt and sampling
// parameters -> kite_generate -> JSON response or a stream of Server-Sent Events.
#if !defined(__wasi__) && !defined(__EMSCRIPTEN__)
#include "serve_api.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"

#define MAX_STOP 16 // stop strings per request (OpenAI allows 4; llama-server more)

// ---- responses ----------------------------------------------------------------------------

static void send_json(int fd, int status, json_writer *w) {
    if (w->out.nomem) {
        static const char oom[] = "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\",\"code\":500}}";
        http_respond(fd, 500, "application/json", oom, sizeof oom - 1);
        return;
    }
    http_respond(fd, status, "application/json", w->out.ptr, w->out.len);
}

static void write_error(json_writer *w, int status, const char *message) {
    jw_begin_object(w);
    jw_key(w, "error");
    jw_begin_object(w);
    jw_key(w, "message");
    jw_cstr(w, message);
    jw_key(w, "type");
    jw_cstr(w, status >= 500 ? "server_error" : status == 404 ? "not_found_error" : "invalid_request_error");
    jw_key(w, "code");
    jw_int(w, status);
    jw_end_object(w);
    jw_end_object(w);
}

void serve_error(int fd, int status, const char *message) {
    json_writer w = {0};
    write_error(&w, status, message);
    send_json(fd, status, &w);
    jw_free(&w);
}

// ---- request parameters -------------------------------------------------------------------

typedef struct gen_request {
    bool chat, stream;
    kite_sampler_params sampling;
    int32_t n_predict;
    const char *stop[MAX_STOP];
    int32_t n_stop;
    char *prompt; // malloc'd
} gen_request;

// A number member in [lo, hi], or absent/null (then *out is left alone). false + message if not.
static bool opt_number(const json_value *body, const char *key, double lo, double hi, double *out, char *err,
                       size_t es) {
    const json_value *v = json_get(body, key);
    if (!v || v->type == JSON_NULL) return true;
    if (v->type != JSON_NUMBER) {
        snprintf(err, es, "'%s' must be a number, not %s", key, json_type_name(v->type));
        return false;
    }
    if (!(v->number >= lo && v->number <= hi)) {
        snprintf(err, es, "'%s' = %g is out of range [%g, %g]", key, v->number, lo, hi);
        return false;
    }
    *out = v->number;
    return true;
}

static bool opt_float(const json_value *b, const char *key, double lo, double hi, float *out, char *err, size_t es) {
    double d = *out;
    if (!opt_number(b, key, lo, hi, &d, err, es)) return false;
    *out = (float)d;
    return true;
}

static bool opt_int(const json_value *b, const char *key, double lo, double hi, long long *out, char *err, size_t es) {
    double d = (double)*out;
    if (!opt_number(b, key, lo, hi, &d, err, es)) return false;
    if (d != floor(d)) {
        snprintf(err, es, "'%s' must be an integer", key);
        return false;
    }
    *out = (long long)d;
    return true;
}

// A string without NUL bytes (the prompt goes on as a C string).
static bool plain_string(const json_value *v, const char *what, char *err, size_t es) {
    if (v->type != JSON_STRING) {
        snprintf(err, es, "%s must be a string, not %s", what, json_type_name(v->type));
        return false;
    }
    if (memchr(v->str, 0, v->len)) {
        snprintf(err, es, "%s contains a NUL character", what);
        return false;
    }
    return true;
}

static bool parse_sampling(const serve_state *s, const json_value *b, gen_request *r, char *err, size_t es) {
    r->sampling = s->sampling;
    r->n_predict = s->n_predict;
    long long seed = -1, n_predict = r->n_predict, top_k = r->sampling.top_k, last_n = r->sampling.penalty_last_n,
              n = 1;
    bool seeded = json_get(b, "seed") && json_get(b, "seed")->type != JSON_NULL;
    if (!opt_float(b, "temperature", 0, 100, &r->sampling.temp, err, es) ||
        !opt_float(b, "top_p", 0, 1, &r->sampling.top_p, err, es) ||
        !opt_float(b, "min_p", 0, 1, &r->sampling.min_p, err, es) ||
        !opt_int(b, "top_k", 0, 1 << 24, &top_k, err, es) ||
        !opt_float(b, "presence_penalty", -100, 100, &r->sampling.presence_penalty, err, es) ||
        !opt_float(b, "frequency_penalty", -100, 100, &r->sampling.frequency_penalty, err, es) ||
        !opt_float(b, "repeat_penalty", 0.0001, 100, &r->sampling.repeat_penalty, err, es) ||
        !opt_int(b, "repeat_last_n", 0, 1 << 22, &last_n, err, es) ||
        !opt_int(b, "seed", -1, 4294967295.0, &seed, err, es) ||
        !opt_int(b, "max_tokens", -1, 1 << 24, &n_predict, err, es) ||
        !opt_int(b, "max_completion_tokens", -1, 1 << 24, &n_predict, err, es) ||
        !opt_int(b, "n_predict", -1, 1 << 24, &n_predict, err, es) || !opt_int(b, "n", 1, 1, &n, err, es))
        return false;
    r->sampling.top_k = (int32_t)top_k;
    r->sampling.penalty_last_n = (int32_t)last_n;
    r->n_predict = (int32_t)n_predict;
    // No seed (or -1): the server's --seed if it got one, else a fresh one per request.
    if (seeded && seed >= 0) r->sampling.seed = (uint32_t)seed;
    else if (!s->seed_given) r->sampling.seed = model_cli_random_seed() ^ (uint32_t)s->n_done;

    const json_value *st = json_get(b, "stream");
    if (st && st->type != JSON_NULL && st->type != JSON_BOOL) {
        snprintf(err, es, "'stream' must be a boolean, not %s", json_type_name(st->type));
        return false;
    }
    r->stream = st && st->type == JSON_BOOL && st->boolean;

    const json_value *stop = json_get(b, "stop");
    if (stop && stop->type == JSON_STRING) {
        if (!plain_string(stop, "'stop'", err, es)) return false;
        r->stop[r->n_stop++] = stop->str;
    } else if (stop && stop->type == JSON_ARRAY) {
        if (stop->len > MAX_STOP) {
            snprintf(err, es, "'stop' has %zu strings; at most %d are supported", stop->len, MAX_STOP);
            return false;
        }
        for (const json_value *x = stop->child; x; x = x->next) {
            if (!plain_string(x, "each 'stop' entry", err, es)) return false;
            r->stop[r->n_stop++] = x->str;
        }
    } else if (stop && stop->type != JSON_NULL) {
        snprintf(err, es, "'stop' must be a string or an array of strings, not %s", json_type_name(stop->type));
        return false;
    }
    return true;
}

// The text of a chat message's content: a string, null, or an array of {"type":"text"} parts.
static char *message_text(const json_value *c, size_t i, char *err, size_t es) {
    char what[64];
    snprintf(what, sizeof what, "messages[%zu].content", i);
    if (!c || c->type == JSON_NULL) return strdup("");
    if (c->type == JSON_STRING) return plain_string(c, what, err, es) ? strdup(c->str) : NULL;
    if (c->type != JSON_ARRAY) {
        snprintf(err, es, "%s must be a string or an array of text parts, not %s", what, json_type_name(c->type));
        return NULL;
    }
    size_t total = 1;
    for (const json_value *part = c->child; part; part = part->next) {
        const json_value *type = json_get(part, "type"), *text = json_get(part, "text");
        if (!type || type->type != JSON_STRING || strcmp(type->str, "text") != 0 || !text ||
            !plain_string(text, what, err, es)) {
            if (!err[0]) snprintf(err, es, "%s: only {\"type\": \"text\", \"text\": ...} parts are supported", what);
            return NULL;
        }
        total += text->len;
    }
    char *out = malloc(total), *o = out;
    if (!out) return NULL;
    for (const json_value *part = c->child; part; part = part->next) {
        const json_value *text = json_get(part, "text");
        memcpy(o, text->str, text->len);
        o += text->len;
    }
    *o = 0;
    return out;
}

// messages -> one prompt string through the chat template.
static bool chat_prompt(const serve_state *s, const json_value *b, gen_request *r, char *err, size_t es) {
    const json_value *msgs = json_get(b, "messages");
    if (!msgs || msgs->type != JSON_ARRAY || msgs->len == 0) {
        snprintf(err, es, "'messages' must be a non-empty array");
        return false;
    }
    kite_chat_msg *m = calloc(msgs->len, sizeof *m);
    if (!m) {
        snprintf(err, es, "out of memory");
        return false;
    }
    bool ok = true;
    size_t i = 0;
    for (const json_value *x = msgs->child; x && ok; x = x->next, i++) {
        const json_value *role = json_get(x, "role");
        char what[48];
        snprintf(what, sizeof what, "messages[%zu].role", i);
        if (x->type != JSON_OBJECT) {
            snprintf(err, es, "messages[%zu] must be an object", i);
            ok = false;
        } else if (!role) {
            snprintf(err, es, "%s is missing", what);
            ok = false;
        } else if (!plain_string(role, what, err, es)) {
            ok = false;
        } else {
            m[i].role = role->str;
            m[i].content = message_text(json_get(x, "content"), i, err, es);
            if (!m[i].content) {
                if (!err[0]) snprintf(err, es, "out of memory");
                ok = false;
            }
        }
    }
    if (ok) {
        size_t len;
        if (kite_chat_apply(s->chat_tmpl, m, msgs->len, true, &r->prompt, &len) != KITE_OK) {
            snprintf(err, es, "chat template: %s", kite_last_error());
            ok = false;
        }
    }
    for (size_t k = 0; k < msgs->len; k++) free((char *)m[k].content);
    free(m);
    return ok;
}

static bool completion_prompt(const json_value *b, gen_request *r, char *err, size_t es) {
    const json_value *p = json_get(b, "prompt");
    if (p && p->type == JSON_ARRAY && p->len == 1) p = p->child; // ["text"]
    if (!p) {
        snprintf(err, es, "'prompt' is missing");
        return false;
    }
    if (!plain_string(p, "'prompt'", err, es)) return false;
    r->prompt = strdup(p->str);
    if (!r->prompt) snprintf(err, es, "out of memory");
    return r->prompt != NULL;
}

// ---- generation ---------------------------------------------------------------------------

typedef struct gen_out {
    serve_state *s;
    int fd;
    const gen_request *r;
    char id[48];
    long long created;
    bool started;     // SSE headers sent
    bool client_gone; // a write failed
    char hold[4];     // the start of a UTF-8 character whose rest has not come yet
    size_t n_hold;
    kite__buf text;   // non-streamed: the whole reply
} gen_out;

static void chunk_head(json_writer *w, const gen_out *o) {
    jw_begin_object(w);
    jw_key(w, "id");
    jw_cstr(w, o->id);
    jw_key(w, "object");
    jw_cstr(w, o->r->chat ? (o->r->stream ? "chat.completion.chunk" : "chat.completion") : "text_completion");
    jw_key(w, "created");
    jw_int(w, o->created);
    jw_key(w, "model");
    jw_cstr(w, o->s->model_id);
    jw_key(w, "choices");
    jw_begin_array(w);
    jw_begin_object(w);
    jw_key(w, "index");
    jw_int(w, 0);
}

static bool send_event(gen_out *o, json_writer *w) {
    if (w->out.nomem) return false;
    if (!http_sse_data(o->fd, w->out.ptr, w->out.len)) o->client_gone = true;
    return !o->client_gone;
}

// The OpenAI "usage" member: token counts of the prompt and the completion.
static void write_usage(json_writer *w, const kite_gen_stats *st) {
    jw_key(w, "usage");
    jw_begin_object(w);
    jw_key(w, "prompt_tokens");
    jw_int(w, st->n_prompt);
    jw_key(w, "completion_tokens");
    jw_int(w, st->n_generated);
    jw_key(w, "total_tokens");
    jw_int(w, (long long)st->n_prompt + st->n_generated);
    jw_end_object(w);
}

// One streamed chunk of text (finish: NULL) or the closing chunk (finish: its reason).
static bool stream_chunk(gen_out *o, const char *text, size_t len, const char *finish, const kite_gen_stats *st) {
    json_writer w = {0};
    chunk_head(&w, o);
    if (o->r->chat) {
        jw_key(&w, "delta");
        jw_begin_object(&w);
        if (!finish) {
            jw_key(&w, "content");
            jw_string(&w, text, len);
        }
        jw_end_object(&w);
    } else {
        jw_key(&w, "text");
        jw_string(&w, text, len);
        jw_key(&w, "logprobs");
        jw_null(&w);
    }
    jw_key(&w, "finish_reason");
    if (finish) jw_cstr(&w, finish);
    else jw_null(&w);
    jw_end_object(&w);
    jw_end_array(&w);
    if (st) {
        write_usage(&w, st);
    }
    jw_end_object(&w);
    bool ok = send_event(o, &w);
    jw_free(&w);
    return ok;
}

static bool stream_start(gen_out *o) {
    if (o->started) return !o->client_gone;
    o->started = true;
    if (!http_sse_begin(o->fd)) {
        o->client_gone = true;
        return false;
    }
    if (!o->r->chat) return true;
    // OpenAI opens a chat stream with the assistant role and empty content.
    json_writer w = {0};
    chunk_head(&w, o);
    jw_key(&w, "delta");
    jw_begin_object(&w);
    jw_key(&w, "role");
    jw_cstr(&w, "assistant");
    jw_key(&w, "content");
    jw_cstr(&w, "");
    jw_end_object(&w);
    jw_key(&w, "finish_reason");
    jw_null(&w);
    jw_end_object(&w);
    jw_end_array(&w);
    jw_end_object(&w);
    bool ok = send_event(o, &w);
    jw_free(&w);
    return ok;
}

static bool on_piece(void *user, const char *piece, size_t len) {
    gen_out *o = user;
    if (!o->r->stream) return kite__buf_append(&o->text, piece, len);
    // Send whole UTF-8 characters only: a JSON string cannot carry half of one.
    char buf[512];
    while (len > 0) {
        size_t take = len < sizeof buf - o->n_hold ? len : sizeof buf - o->n_hold;
        memcpy(buf, o->hold, o->n_hold);
        memcpy(buf + o->n_hold, piece, take);
        size_t n = o->n_hold + take, ready = json_utf8_complete(buf, n);
        o->n_hold = n - ready;
        memcpy(o->hold, buf + ready, o->n_hold);
        if (ready > 0 && !(stream_start(o) && stream_chunk(o, buf, ready, NULL, NULL))) return false;
        piece += take;
        len -= take;
    }
    return true;
}

static void respond_whole(gen_out *o, const char *finish, const kite_gen_stats *st) {
    json_writer w = {0};
    chunk_head(&w, o);
    if (o->r->chat) {
        jw_key(&w, "message");
        jw_begin_object(&w);
        jw_key(&w, "role");
        jw_cstr(&w, "assistant");
        jw_key(&w, "content");
        jw_string(&w, o->text.ptr ? o->text.ptr : "", o->text.len);
        jw_end_object(&w);
    } else {
        jw_key(&w, "text");
        jw_string(&w, o->text.ptr ? o->text.ptr : "", o->text.len);
        jw_key(&w, "logprobs");
        jw_null(&w);
    }
    jw_key(&w, "finish_reason");
    jw_cstr(&w, finish);
    jw_end_object(&w);
    jw_end_array(&w);
    write_usage(&w, st);
    jw_end_object(&w);
    send_json(o->fd, 200, &w);
    jw_free(&w);
}

static void generate(serve_state *s, int fd, gen_request *r) {
    gen_out o = {.s = s, .fd = fd, .r = r, .created = (long long)time(NULL)};
    snprintf(o.id, sizeof o.id, "%s-%lld-%lu", r->chat ? "chatcmpl" : "cmpl", s->started, s->n_done);
    kite_gen_stats st = {0};
    kite_gen_params gp = kite_gen_default_params();
    gp.n_predict = r->n_predict;
    gp.sampling = r->sampling;
    gp.stop = r->n_stop ? r->stop : NULL;
    gp.n_stop = r->n_stop;
    gp.parse_special = r->chat; // the template's markers are special tokens
    gp.stats = &st;
    kite_status rs = kite_generate(s->ms->ctx, r->prompt, &gp, on_piece, &o);
    const char *finish = st.stopped_eog || st.stopped_string ? "stop" : "length";
    if (o.client_gone || (rs == KITE_ERR_ABORTED && r->stream)) {
        // the client went away: nobody to answer
    } else if (rs != KITE_OK) {
        char msg[600];
        snprintf(msg, sizeof msg, "generation failed: %s", kite_last_error());
        int status = rs == KITE_ERR_INVALID ? 400 : 500;
        if (!o.started) {
            serve_error(fd, status, msg);
        } else {
            json_writer w = {0};
            write_error(&w, status, msg);
            send_event(&o, &w);
            jw_free(&w);
            http_sse_data(fd, "[DONE]", 6);
        }
    } else if (r->stream) {
        if (stream_start(&o) && (o.n_hold == 0 || stream_chunk(&o, o.hold, o.n_hold, NULL, NULL)) &&
            stream_chunk(&o, "", 0, finish, &st))
            http_sse_data(fd, "[DONE]", 6);
    } else {
        respond_whole(&o, finish, &st);
    }
    if (s->verbose)
        fprintf(stderr, "kite serve: %s %d prompt + %d generated tokens, %s%s\n", r->chat ? "chat" : "completion",
                st.n_prompt, st.n_generated, rs == KITE_OK ? finish : "error: ",
                rs == KITE_OK ? "" : kite_last_error());
    kite__buf_free(&o.text);
}

// ---- routing ------------------------------------------------------------------------------

static void list_models(serve_state *s, int fd) {
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
    jw_key(&w, "n_ctx");
    jw_int(&w, kite_ctx_n_ctx(s->ms->ctx));
    jw_key(&w, "chat_template");
    jw_cstr(&w, kite_chat_detect(s->chat_tmpl));
    jw_end_object(&w);
    jw_end_object(&w);
    jw_end_array(&w);
    jw_end_object(&w);
    send_json(fd, 200, &w);
    jw_free(&w);
}

static bool path_is(const char *path, const char *name) {
    // "/v1/x" and "/x" both work (llama-server accepts both)
    return strcmp(path, name) == 0 || (strncmp(path, "/v1", 3) == 0 && strcmp(path + 3, name) == 0);
}

void serve_handle(serve_state *s, int fd, const http_request *req) {
    s->n_done++;
    bool get = strcmp(req->method, "GET") == 0, post = strcmp(req->method, "POST") == 0;
    if (strcmp(req->method, "OPTIONS") == 0) { // CORS preflight
        http_respond(fd, 204, NULL, "", 0);
        return;
    }
    bool is_health = strcmp(req->path, "/health") == 0, is_models = path_is(req->path, "/models");
    bool is_compl = path_is(req->path, "/completions"), is_chat = path_is(req->path, "/chat/completions");
    if (!is_health && !is_models && !is_compl && !is_chat) {
        char msg[400];
        snprintf(msg, sizeof msg, "no endpoint %.200s (try /v1/models, /v1/completions, /v1/chat/completions, /health)",
                 req->path);
        serve_error(fd, 404, msg);
        return;
    }
    if ((is_health || is_models) && !get) {
        serve_error(fd, 405, "use GET here");
        return;
    }
    if (is_health) {
        static const char ok[] = "{\"status\":\"ok\"}";
        http_respond(fd, 200, "application/json", ok, sizeof ok - 1);
        return;
    }
    if (is_models) {
        list_models(s, fd);
        return;
    }
    if (!post) {
        serve_error(fd, 405, "use POST here");
        return;
    }
    char err[512] = "";
    json_doc *doc = json_parse(req->body, req->body_len, err, sizeof err);
    if (!doc) {
        serve_error(fd, 400, err);
        return;
    }
    const json_value *body = json_root(doc);
    gen_request r = {.chat = is_chat};
    bool ok;
    if (body->type != JSON_OBJECT) {
        snprintf(err, sizeof err, "the request body must be a JSON object, not %s", json_type_name(body->type));
        ok = false;
    } else {
        ok = parse_sampling(s, body, &r, err, sizeof err) &&
             (is_chat ? chat_prompt(s, body, &r, err, sizeof err) : completion_prompt(body, &r, err, sizeof err));
    }
    if (ok) generate(s, fd, &r);
    else serve_error(fd, 400, err);
    free(r.prompt);
    json_free(doc);
}
#endif
