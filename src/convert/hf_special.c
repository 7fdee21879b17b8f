// hf_special.c - what both vocabulary kinds (BPE tokenizer.json, SentencePiece tokenizer.model)
// add after their tokens, as gguf-py's SpecialVocab does: the special token ids, add_bos /
// add_eos, the chat template; and the small helpers they share.
#include "convert/convert_internal.h"
#include "base/internal.h"

#include <stdio.h>

bool kite__hf_is_type(const kite__jval *v, const char *type) {
    const kite__jval *t = v ? kite__json_get(v, "type") : NULL;
    return t && t->type == KITE__J_STR && !strcmp(t->s, type);
}

bool kite__hf_bool(const kite__jval *v, const char *key, bool def) {
    const kite__jval *b = kite__json_get(v, key);
    return b && b->type == KITE__J_BOOL ? b->b : def;
}

bool kite__hf_looks_special(const char *t) {
    size_t n = strlen(t);
    if (!strcmp(t, "<pad>") || !strcmp(t, "<mask>") || !strcmp(t, "<2mass>") || !strcmp(t, "[@BOS@]")) return true;
    if (n >= 3 && !strncmp(t, "<|", 2) && !strcmp(t + n - 2, "|>")) return true;
    if (n >= 5 && !strncmp(t, "<\xef\xbd\x9c", 4) && !strcmp(t + n - 4, "\xef\xbd\x9c>")) return true; // <｜ ｜>
    return n >= 8 && !strncmp(t, "<unused", 7) && t[n - 1] == '>';
}

kite_status kite__hf_read_all(const kite_hf_files *f, const char *name, uint8_t **data, uint64_t *len) {
    if (f->read_all) return f->read_all(f->user, name, data, len);
    *data = NULL;
    *len = 0;
    if (!f->exists(f->user, name)) return KITE_OK;
    uint64_t size = 0;
    KITE_TRY(f->size(f->user, name, &size));
    if (size > (1u << 30)) return kite_set_error(KITE_ERR_INVALID, "%s: %llu bytes, too big", name, (unsigned long long)size);
    uint8_t *p = malloc(size ? (size_t)size : 1);
    if (!p) return kite_set_error(KITE_ERR_NOMEM, "%s: out of memory", name);
    kite_status s = size ? f->read_at(f->user, name, 0, p, size) : KITE_OK;
    if (s != KITE_OK) {
        free(p);
        return s;
    }
    *data = p;
    *len = size;
    return KITE_OK;
}

kite_status kite__hf_read_json(const kite_hf_files *f, const char *name, kite__jval **out) {
    *out = NULL;
    uint8_t *data = NULL;
    uint64_t len = 0;
    KITE_TRY(kite__hf_read_all(f, name, &data, &len));
    if (!data) return KITE_OK;
    kite_status s = kite__hf_json(name, data, len, out);
    free(data);
    return s;
}

kite_status kite__hf_put_strs(kite_gguf_writer *w, const char *key, kite_str *strs, uint64_t n) {
    kite_gguf_value v = {.type = KITE_GGUF_ARRAY};
    v.arr.elem = KITE_GGUF_STRING;
    v.arr.n = n;
    v.arr.strs = strs;
    return kite_gguf_writer_set(w, key, &v);
}

// The special token ids: tokenizer_config.json's <typ>_token (a string or {"content"}) looked
// up among added_tokens, then config.json's <typ>_token_id for the types still unset.
static kite_status special_ids(kite_gguf_writer *w, const kite__jval *tc, const kite__jval *added, const kite__jval *cfg,
                               uint32_t n_vocab) {
    static const char *const types[][2] = {
        {"bos", "tokenizer.ggml.bos_token_id"},  {"eos", "tokenizer.ggml.eos_token_id"},
        {"unk", "tokenizer.ggml.unknown_token_id"}, {"sep", "tokenizer.ggml.seperator_token_id"},
        {"pad", "tokenizer.ggml.padding_token_id"}, {"cls", "tokenizer.ggml.cls_token_id"},
        {"mask", "tokenizer.ggml.mask_token_id"},
    };
    enum { NT = sizeof types / sizeof types[0] };
    int64_t ids[NT];
    for (int t = 0; t < NT; t++) {
        ids[t] = -1;
        char key[32];
        snprintf(key, sizeof key, "%s_token", types[t][0]);
        const kite__jval *e = tc ? kite__json_get(tc, key) : NULL;
        if (e && e->type == KITE__J_OBJ) e = kite__json_get(e, "content");
        if (!e || e->type != KITE__J_STR) continue;
        for (size_t i = 0; added && i < added->n && ids[t] < 0; i++) {
            const kite__jval *c = kite__json_get(added->items[i], "content");
            if (c && c->type == KITE__J_STR && !strcmp(c->s, e->s)) ids[t] = kite__json_get(added->items[i], "id")->i;
        }
    }
    for (int t = 0; t < NT; t++) {
        char key[32];
        snprintf(key, sizeof key, "%s_token_id", types[t][0]);
        const kite__jval *e = kite__json_get(cfg, key);
        if (ids[t] < 0 && e && e->type == KITE__J_NUM && e->is_int) {
            if (e->i < 0) return kite__fail(KITE_ERR_INVALID, "config.json: \"%s\" is negative", key);
            ids[t] = e->i;
        }
        if (ids[t] < 0) continue;
        if (ids[t] >= n_vocab)
            return kite__fail(KITE_ERR_INVALID, "%s token id %lld is past the vocab size %u", types[t][0], (long long)ids[t], n_vocab);
        KITE_TRY(kite_gguf_writer_set_u32(w, types[t][1], (uint32_t)ids[t]));
    }
    return KITE_OK;
}

kite_status kite__hf_set_bool(kite_gguf_writer *w, const char *key, bool b) {
    kite_gguf_value v = {.type = KITE_GGUF_BOOL, .u = b};
    return kite_gguf_writer_set(w, key, &v);
}

// add_bos / add_eos: from a TemplateProcessing post-processor (its single template's leading /
// trailing special token), then tokenizer_config.json's add_bos_token / add_eos_token.
static kite_status add_flags(kite_gguf_writer *w, const kite__jval *tok, const kite__jval *tc, const kite__hf_model *m,
                             uint32_t n_vocab) {
    const kite__jval *pp = kite__json_get(tok, "post_processor");
    const kite__jval *procs = pp ? kite__json_get(pp, "processors") : NULL;
    size_t np = procs && procs->type == KITE__J_ARR ? procs->n : (pp && pp->type == KITE__J_OBJ ? 1 : 0);
    for (size_t i = 0; i < np; i++) {
        const kite__jval *p = procs && procs->type == KITE__J_ARR ? procs->items[i] : pp;
        if (kite__hf_is_type(p, "RobertaProcessing") || kite__hf_is_type(p, "BertProcessing"))
            return kite__fail(KITE_ERR_UNSUPPORTED, "tokenizer.json: a %s post-processor is not supported",
                              kite__json_get(p, "type")->s);
        const kite__jval *single = kite__hf_is_type(p, "TemplateProcessing") ? kite__json_get(p, "single") : NULL;
        if (!single || single->type != KITE__J_ARR || single->n < 2) continue;
        // The template names its tokens by text; which are bos / eos comes from the config.
        const kite__jval *tb = tc ? kite__json_get(tc, "bos_token") : NULL, *te = tc ? kite__json_get(tc, "eos_token") : NULL;
        if (tb && tb->type == KITE__J_OBJ) tb = kite__json_get(tb, "content");
        if (te && te->type == KITE__J_OBJ) te = kite__json_get(te, "content");
        const kite__jval *first = kite__json_get(single->items[0], "SpecialToken");
        const kite__jval *last = kite__json_get(single->items[single->n - 1], "SpecialToken");
        const kite__jval *fid = first ? kite__json_get(first, "id") : NULL, *lid = last ? kite__json_get(last, "id") : NULL;
        if (fid && fid->type == KITE__J_STR)
            KITE_TRY(kite__hf_set_bool(w, "tokenizer.ggml.add_bos_token", tb && tb->type == KITE__J_STR && !strcmp(tb->s, fid->s)));
        if (lid && lid->type == KITE__J_STR)
            KITE_TRY(kite__hf_set_bool(w, "tokenizer.ggml.add_eos_token", te && te->type == KITE__J_STR && !strcmp(te->s, lid->s)));
    }
    static const char *const flags[][2] = {{"add_bos_token", "tokenizer.ggml.add_bos_token"},
                                           {"add_eos_token", "tokenizer.ggml.add_eos_token"}};
    for (int i = 0; i < 2 && tc; i++) {
        const kite__jval *b = kite__json_get(tc, flags[i][0]);
        if (b && b->type == KITE__J_BOOL) KITE_TRY(kite__hf_set_bool(w, flags[i][1], b->b));
    }
    // LlamaModel: granite's small models (vocab 49152, as SmolLM's) add no BOS.
    if (m->llama_like && n_vocab == 49152) KITE_TRY(kite__hf_set_bool(w, "tokenizer.ggml.add_bos_token", false));
    return KITE_OK;
}

// tokenizer.chat_template: tokenizer_config.json's chat_template (a string, or a list of
// {name, template}: "default" is the template, the others tokenizer.chat_template.<name>),
// else chat_template.jinja.
static kite_status chat_template(const kite_hf_files *f, kite_gguf_writer *w, const kite__jval *tc) {
    const kite__jval *ct = kite__json_get(tc, "chat_template");
    if (ct && ct->type == KITE__J_STR) return kite_gguf_writer_set_str(w, "tokenizer.chat_template", ct->s);
    if (ct && ct->type == KITE__J_ARR) {
        for (size_t i = 0; i < ct->n; i++) {
            const kite__jval *n = kite__json_get(ct->items[i], "name"), *t = kite__json_get(ct->items[i], "template");
            if (!n || n->type != KITE__J_STR || !t || t->type != KITE__J_STR)
                return kite__fail(KITE_ERR_INVALID, "tokenizer_config.json: chat_template[%zu] is not {name, template}", i);
            char key[160];
            if (!strcmp(n->s, "default")) snprintf(key, sizeof key, "tokenizer.chat_template");
            else snprintf(key, sizeof key, "tokenizer.chat_template.%s", n->s);
            KITE_TRY(kite_gguf_writer_set_str(w, key, t->s));
        }
        return KITE_OK;
    }
    uint8_t *data = NULL;
    uint64_t len = 0;
    KITE_TRY(kite__hf_read_all(f, "chat_template.jinja", &data, &len));
    if (!data) return KITE_OK;
    kite_status s = KITE_OK;
    if (memchr(data, 0, len)) s = kite__fail(KITE_ERR_INVALID, "chat_template.jinja: holds a NUL byte");
    char *z = s == KITE_OK ? malloc(len + 1) : NULL;
    if (s == KITE_OK && !z) s = kite__fail(KITE_ERR_NOMEM, "tokenizer: out of memory");
    if (z) {
        memcpy(z, data, len);
        z[len] = 0;
        s = kite_gguf_writer_set_str(w, "tokenizer.chat_template", z);
    }
    free(z);
    free(data);
    return s;
}

kite_status kite__hf_special_keys(const kite_hf_files *f, const kite__jval *tok, const kite__jval *tc, const kite__jval *cfg,
                                  const kite__hf_model *m, uint32_t n_vocab, kite_gguf_writer *w) {
    const kite__jval *added = kite__json_get(tok, "added_tokens");
    if (added && added->type != KITE__J_ARR) added = NULL;
    for (size_t i = 0; added && i < added->n; i++) {
        const kite__jval *id = kite__json_get(added->items[i], "id"), *c = kite__json_get(added->items[i], "content");
        if (!id || id->type != KITE__J_NUM || !id->is_int || id->i < 0 || !c || c->type != KITE__J_STR)
            return kite__fail(KITE_ERR_INVALID, "tokenizer.json: added_tokens[%zu] lacks an id or content", i);
    }
    KITE_TRY(special_ids(w, tc, added, cfg, n_vocab));
    KITE_TRY(add_flags(w, tok, tc, m, n_vocab));
    if (tc) KITE_TRY(chat_template(f, w, tc));
    return KITE_OK;
}
