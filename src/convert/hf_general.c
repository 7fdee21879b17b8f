// hf_general.c - the general.* keys llama.cpp's converter takes from the checkpoint besides its
// name: generation_config.json's sampling settings (gguf-py's Metadata.load ->
// general.sampling.*).
#include "convert/convert_internal.h"
#include "base/internal.h"

#include <float.h>
#include <math.h>
#include <stdio.h>

typedef enum { S_STR, S_INT, S_FLOAT } sample_kind;

// Sets key from generation_config.json's value v: an int32, a float32 or a string, as gguf-py
// writes it (a value of another type makes llama.cpp's writer fail, so it is refused).
static kite_status put_sampling(kite_gguf_writer *w, const char *json, const char *key, sample_kind kind, const kite__jval *v) {
    if (kind == S_STR) {
        if (v->type != KITE__J_STR) return kite__fail(KITE_ERR_INVALID, "generation_config.json: \"%s\" is not a string", json);
        return kite_gguf_writer_set_str(w, key, v->s);
    }
    if (v->type != KITE__J_NUM || (kind == S_INT && (!v->is_int || v->i < INT32_MIN || v->i > INT32_MAX)))
        return kite__fail(KITE_ERR_INVALID, "generation_config.json: \"%s\" is not %s", json,
                          kind == S_INT ? "an integer in int32's range" : "a number");
    if (kind == S_INT) {
        kite_gguf_value x = {.type = KITE_GGUF_INT32, .i = v->i};
        return kite_gguf_writer_set(w, key, &x);
    }
    double d = v->is_int ? (double)v->i : v->d;
    if (!(fabs(d) <= FLT_MAX)) return kite__fail(KITE_ERR_INVALID, "generation_config.json: \"%s\" is out of float32's range", json);
    return kite_gguf_writer_set_f32(w, key, (float)d);
}

kite_status kite__hf_sampling_keys(const kite_hf_files *f, kite_gguf_writer *w) {
    static const struct {
        const char *json, *alt, *key; // alt: read when json is absent
        sample_kind kind;
    } keys[] = {
        {"sequence", NULL, "general.sampling.sequence", S_STR},
        {"top_k", NULL, "general.sampling.top_k", S_INT},
        {"top_p", NULL, "general.sampling.top_p", S_FLOAT},
        {"min_p", NULL, "general.sampling.min_p", S_FLOAT},
        {"xtc_probability", NULL, "general.sampling.xtc_probability", S_FLOAT},
        {"xtc_threshold", NULL, "general.sampling.xtc_threshold", S_FLOAT},
        {"temperature", NULL, "general.sampling.temp", S_FLOAT},
        {"penalty_last_n", NULL, "general.sampling.penalty_last_n", S_INT},
        {"penalty_repeat", "repetition_penalty", "general.sampling.penalty_repeat", S_FLOAT},
        {"mirostat", NULL, "general.sampling.mirostat", S_INT},
        {"mirostat_tau", NULL, "general.sampling.mirostat_tau", S_FLOAT},
        {"mirostat_eta", NULL, "general.sampling.mirostat_eta", S_FLOAT},
    };
    uint8_t *data = NULL;
    uint64_t len = 0;
    KITE_TRY(kite__hf_read_all(f, "generation_config.json", &data, &len));
    if (!data) return KITE_OK;
    kite__jval *gc = NULL;
    kite_status s = kite__json_parse((const char *)data, (size_t)len, &gc);
    free(data);
    if (s != KITE_OK || gc->type != KITE__J_OBJ) { // gguf-py skips a file that does not parse
        kite__json_free(gc);
        return KITE_OK;
    }
    s = KITE_OK;
    for (size_t i = 0; s == KITE_OK && i < sizeof keys / sizeof keys[0]; i++) {
        const kite__jval *v = kite__json_get(gc, keys[i].json);
        const char *name = keys[i].json;
        if (!v && keys[i].alt) v = kite__json_get(gc, name = keys[i].alt);
        if (v && v->type != KITE__J_NULL) s = put_sampling(w, name, keys[i].key, keys[i].kind, v);
    }
    kite__json_free(gc);
    return s;
}
