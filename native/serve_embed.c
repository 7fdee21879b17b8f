// serve_embed.c - POST /v1/embeddings (OpenAI's shape) and /embedding (llama-server's): inputs
// (a string, strings, token ids or lists of them) -> tokens (BOS and special tokens as
// llama-server) -> a slot -> kite_ctx_embed_seq in its sequence with the model's pooling ->
// normalized (embd_normalize, Euclidean by default) -> floats or base64.
#if !defined(__wasi__) && !defined(__EMSCRIPTEN__)
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve_internal.h"

#define MAX_INPUTS 2048 // inputs per request

typedef struct embed_input {
    int32_t *ids; // malloc'd
    int32_t n;
} embed_input;

// One input: a string (tokenized) or an array of token ids. false + message if neither.
static bool read_input(const serve_state *s, const json_value *v, size_t i, embed_input *in, char *err, size_t es) {
    const kite_vocab *voc = kite_model_vocab(s->ms->model);
    int32_t n_vocab = kite_vocab_n_tokens(voc);
    if (v->type == JSON_STRING) {
        if (kite_tokenize_alloc(voc, v->str, v->len, true, true, &in->ids, &in->n) != KITE_OK) {
            snprintf(err, es, "input[%zu]: %s", i, kite_last_error());
            return false;
        }
        return true;
    }
    if (v->type != JSON_ARRAY) {
        snprintf(err, es, "input[%zu] must be a string or an array of token ids, not %s", i, json_type_name(v->type));
        return false;
    }
    in->ids = malloc((v->len ? v->len : 1) * sizeof *in->ids);
    if (!in->ids) {
        snprintf(err, es, "out of memory");
        return false;
    }
    for (const json_value *x = v->child; x; x = x->next) {
        if (x->type != JSON_NUMBER || x->number != (double)(int32_t)x->number || x->number < 0 ||
            x->number >= n_vocab) {
            snprintf(err, es, "input[%zu][%d] is not a token id in [0, %d)", i, in->n, n_vocab);
            return false;
        }
        in->ids[in->n++] = (int32_t)x->number;
    }
    return true;
}

// The inputs of body's "input" (or "content"): a string, token ids, or an array of either.
static embed_input *read_inputs(const serve_state *s, const json_value *body, size_t *n_in, char *err, size_t es) {
    const json_value *in = json_get(body, "input");
    if (!in || in->type == JSON_NULL) in = json_get(body, "content");
    if (!in || in->type == JSON_NULL) {
        snprintf(err, es, "'input' (or 'content') is missing");
        return NULL;
    }
    // one input: a string or a flat array of token ids; else an array of inputs
    bool single = in->type == JSON_STRING || (in->type == JSON_ARRAY && in->child && in->child->type == JSON_NUMBER);
    size_t n = single ? 1 : in->type == JSON_ARRAY ? in->len : 0;
    if (n == 0 || n > MAX_INPUTS) {
        snprintf(err, es, "'input' must be a string, token ids, or an array of 1 to %d of them", MAX_INPUTS);
        return NULL;
    }
    embed_input *out = calloc(n, sizeof *out);
    if (!out) {
        snprintf(err, es, "out of memory");
        return NULL;
    }
    int32_t n_ctx = kite_ctx_n_ctx(s->ms->ctx);
    size_t i = 0;
    bool ok = true;
    for (const json_value *v = single ? in : in->child; ok && v && i < n; v = v->next, i++) {
        ok = read_input(s, v, i, &out[i], err, es);
        if (ok && out[i].n == 0) {
            snprintf(err, es, "input[%zu] is empty", i);
            ok = false;
        } else if (ok && out[i].n > n_ctx) {
            snprintf(err, es, "input[%zu] is %d tokens; the limit is %d (the context, set with -c)", i, out[i].n, n_ctx);
            ok = false;
        }
        if (single) break;
    }
    if (!ok) {
        for (size_t k = 0; k < n; k++) free(out[k].ids);
        free(out);
        return NULL;
    }
    *n_in = n;
    return out;
}

// llama.cpp's common_embd_normalize: -1 none, 0 max-abs to int16 range, 1 taxicab, 2 Euclidean,
// p > 2 the p-norm.
static void normalize(float *v, int32_t n, int mode) {
    double sum = 0;
    if (mode < 0) return;
    if (mode == 0) {
        for (int32_t i = 0; i < n; i++) sum = fmax(sum, fabs(v[i]));
        sum /= 32760.0;
    } else if (mode == 2) {
        for (int32_t i = 0; i < n; i++) sum += (double)v[i] * v[i];
        sum = sqrt(sum);
    } else {
        for (int32_t i = 0; i < n; i++) sum += pow(fabs(v[i]), mode);
        sum = pow(sum, 1.0 / mode);
    }
    double scale = sum > 0 ? 1.0 / sum : 0;
    for (int32_t i = 0; i < n; i++) v[i] = (float)(v[i] * scale);
}

// Standard base64 of n bytes (the float bytes of OpenAI's encoding_format "base64").
static void write_base64(json_writer *w, const unsigned char *p, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    kite_buf b = {0};
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        char q[4] = {tab[v >> 18 & 63], tab[v >> 12 & 63], i + 1 < n ? tab[v >> 6 & 63] : '=', i + 2 < n ? tab[v & 63] : '='};
        kite_buf_append(&b, q, 4);
    }
    jw_string(w, b.ptr ? b.ptr : "", b.len);
    if (b.nomem) w->out.nomem = true;
    kite_buf_free(&b);
}

void serve_embed(serve_state *s, http_out *o, const json_value *body, bool oai, unsigned long task) {
    char err[400] = "";
    long long mode = 2;
    const json_value *fmt = json_get(body, "encoding_format"), *dims = json_get(body, "dimensions");
    const json_value *norm = json_get(body, "embd_normalize");
    bool base64 = fmt && fmt->type == JSON_STRING && strcmp(fmt->str, "base64") == 0;
    if (fmt && fmt->type != JSON_NULL && !base64 && !(fmt->type == JSON_STRING && strcmp(fmt->str, "float") == 0)) {
        serve_error(o, 400, "'encoding_format' must be \"float\" or \"base64\"", NULL);
        return;
    }
    if (dims && dims->type != JSON_NULL) {
        serve_error(o, 400, "unsupported parameter 'dimensions': embeddings have the model's width", NULL);
        return;
    }
    if (norm && norm->type != JSON_NULL) {
        if (norm->type != JSON_NUMBER || norm->number != floor(norm->number) || norm->number < -1 || norm->number > 64) {
            serve_error(o, 400, "'embd_normalize' must be an integer in [-1, 64]", NULL);
            return;
        }
        mode = (long long)norm->number;
    }
    size_t n_in = 0;
    embed_input *in = read_inputs(s, body, &n_in, err, sizeof err);
    if (!in) {
        serve_error(o, 400, err, NULL);
        return;
    }
    const int32_t n_embd = kite_model_hparams(s->ms->model)->n_embd;
    float *vecs = malloc(n_in * (size_t)n_embd * sizeof *vecs);
    kite_gen_stats st = {0};
    kite_status rs = KITE_OK;
    bool gone = false;
    if (!vecs) {
        serve_error(o, 500, "out of memory", NULL);
        goto out;
    }
    // nothing is written until the end: a FIN means the client left
    int slot = serve_slot_acquire(s, o->fd, true, task, NULL, 0);
    if (slot < 0) {
        o->keep_alive = false;
        goto out;
    }
    pthread_mutex_lock(&s->lock);
    s->slots[slot].embedding = true;
    pthread_mutex_unlock(&s->lock);
    kite_pooling pooling = kite_model_pooling(s->ms->model);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t i = 0; i < n_in && rs == KITE_OK && !gone; i++) {
        gone = http_stop || (i > 0 && http_client_gone(o->fd, true));
        if (gone) break;
        // in the slot's own sequence, between two of the scheduler's steps
        pthread_mutex_lock(&s->model_lock);
        rs = kite_ctx_embed_seq(s->ms->ctx, slot, in[i].ids, in[i].n, pooling, vecs + i * (size_t)n_embd);
        pthread_mutex_unlock(&s->model_lock);
        if (rs != KITE_OK) snprintf(err, sizeof err, "input[%zu]: %s", i, kite_last_error());
        normalize(vecs + i * (size_t)n_embd, n_embd, (int)mode);
        st.n_prompt += in[i].n;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    st.prefill_s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    serve_slot_release(s, slot, &st);
    if (gone) {
        o->keep_alive = false;
        goto out;
    }
    if (rs != KITE_OK) {
        serve_error(o, rs == KITE_ERR_INVALID ? 400 : 500, err, NULL);
        goto out;
    }
    json_writer w = {0};
    if (oai) {
        jw_begin_object(&w);
        jw_key(&w, "object");
        jw_cstr(&w, "list");
        jw_key(&w, "model");
        const json_value *m = json_get(body, "model");
        jw_cstr(&w, m && m->type == JSON_STRING && !memchr(m->str, 0, m->len) ? m->str : s->model_id);
        jw_key(&w, "usage");
        jw_begin_object(&w);
        jw_key(&w, "prompt_tokens");
        jw_int(&w, st.n_prompt);
        jw_key(&w, "total_tokens");
        jw_int(&w, st.n_prompt);
        jw_end_object(&w);
        jw_key(&w, "data");
    }
    jw_begin_array(&w);
    for (size_t i = 0; i < n_in; i++) {
        const float *v = vecs + i * (size_t)n_embd;
        jw_begin_object(&w);
        jw_key(&w, "index");
        jw_int(&w, (long long)i);
        if (oai) {
            jw_key(&w, "object");
            jw_cstr(&w, "embedding");
        }
        jw_key(&w, "embedding");
        if (base64 && oai) write_base64(&w, (const unsigned char *)v, (size_t)n_embd * sizeof *v); // little-endian hosts
        else {
            if (!oai) jw_begin_array(&w); // llama-server: one pooled vector in a list
            jw_begin_array(&w);
            for (int32_t k = 0; k < n_embd; k++) jw_number(&w, v[k]);
            jw_end_array(&w);
            if (!oai) jw_end_array(&w);
        }
        jw_end_object(&w);
    }
    jw_end_array(&w);
    if (oai) jw_end_object(&w);
    serve_send_json(o, 200, &w);
    jw_free(&w);
out:
    for (size_t k = 0; k < n_in; k++) free(in[k].ids);
    free(in);
    free(vecs);
}
#endif
