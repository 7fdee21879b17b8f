// hf_special.c - what both vocabulary kinds (BPE tokenizer.json, SentencePiece tokenizer.model)
// add after their tokens, as gguf-py's SpecialVocab does: the special token ids (eot / eom
// included), add_bos / add_eos / add_sep, the chat template; and the small helpers they share.
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

kite_status kite__hf_set_bool(kite_gguf_writer *w, const char *key, bool b) {
    kite_gguf_value v = {.type = KITE_GGUF_BOOL, .u = b};
    return kite_gguf_writer_set(w, key, &v);
}

// gguf-py's SpecialVocab token types, in its order; eot / eom join when a TemplateProcessing
// replaces the eos token. The GGUF key of each id (NULL: gguf-py has no writer for it, so the
// cls id is never written).
enum { T_BOS, T_EOS, T_UNK, T_SEP, T_PAD, T_CLS, T_MASK, T_EOT, T_EOM, NT };
static const char *const type_name[NT] = {"bos", "eos", "unk", "sep", "pad", "cls", "mask", "eot", "eom"};
static const char *const id_key[NT] = {"tokenizer.ggml.bos_token_id",     "tokenizer.ggml.eos_token_id",
                                       "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.seperator_token_id",
                                       "tokenizer.ggml.padding_token_id", NULL,
                                       "tokenizer.ggml.mask_token_id",    "tokenizer.ggml.eot_token_id",
                                       "tokenizer.ggml.eom_token_id"};

// What SpecialVocab works with: tokenizer_config.json's <typ>_token values (a string or an
// object, compared as Python compares them) as it rewrites them, and the add_<typ>_token flags.
typedef struct special_state {
    const kite__jval *text[NT];
    int n_types; // the types looked up: up to T_EOT, then eot / eom once added
    int add[NT]; // -1 unset, else 0 / 1 (written for bos, eos, sep: gguf-py's writers)
} special_state;

// Python's truth value of a JSON value (NULL: absent, None).
static bool truthy(const kite__jval *v) {
    if (!v) return false;
    switch (v->type) {
    case KITE__J_NULL: return false;
    case KITE__J_BOOL: return v->b;
    case KITE__J_NUM: return v->is_int ? v->i != 0 : v->d != 0;
    case KITE__J_STR: return v->slen != 0;
    default: return v->n != 0;
    }
}

// A template's token text (a string) == a config value, as Python compares them (an object,
// {"content": ...}, never equals a string).
static bool same_text(const kite__jval *s, const kite__jval *v) {
    return v && v->type == KITE__J_STR && v->slen == s->slen && !memcmp(v->s, s->s, s->slen);
}

// The id of a TemplateProcessing item's SpecialToken (a non-empty string), or NULL.
static const kite__jval *template_token(const kite__jval *item) {
    const kite__jval *sp = kite__json_get(item, "SpecialToken"), *id = sp ? kite__json_get(sp, "id") : NULL;
    return id && id->type == KITE__J_STR && id->slen ? id : NULL;
}

// A TemplateProcessing item's Sequence id is `id` ("A" or "B").
static bool is_sequence(const kite__jval *item, const char *id) {
    const kite__jval *sq = kite__json_get(item, "Sequence"), *v = sq ? kite__json_get(sq, "id") : NULL;
    return v && v->type == KITE__J_STR && !strcmp(v->s, id);
}

// SpecialVocab's reading of the pair template, "[first] A [sep] [eos] B [last]" (first / last:
// the single template's, NULL when it has none): add_sep when a special token between A and B
// is the sep or eos (the first of two counts only when the single template ends without one);
// the sep then defaults to the eos.
static void read_pair(special_state *st, const kite__jval *pair, const kite__jval *first, const kite__jval *last, bool has_tc) {
    if (!pair || pair->type != KITE__J_ARR || pair->n == 0) return;
    const kite__jval *t0 = template_token(pair->items[0]), *tn = template_token(pair->items[pair->n - 1]);
    size_t lo = first && t0 && same_text(first, t0) ? 1 : 0, hi = last && tn && same_text(last, tn) ? pair->n - 1 : pair->n;
    if (hi <= lo || !is_sequence(pair->items[lo], "A") || !is_sequence(pair->items[hi - 1], "B") || hi - lo < 3) return;
    bool add_sep = false;
    for (size_t i = lo + 1; i < hi - 1 && i < lo + 3; i++) { // the middle's first two items
        const kite__jval *e = template_token(pair->items[i]);
        bool sep_or_eos = e && (same_text(e, st->text[T_SEP]) || same_text(e, st->text[T_EOS]));
        if (sep_or_eos && (i > lo + 1 ? hi - lo == 4 : !last)) add_sep = true;
    }
    st->add[T_SEP] = add_sep;
    if (add_sep && !truthy(st->text[T_SEP]) && has_tc) st->text[T_SEP] = st->text[T_EOS];
}

// SpecialVocab's reading of a TemplateProcessing: of its single template, a leading special
// token is taken as bos / cls where the config names neither, add_bos when it is the bos or
// cls; a trailing one becomes eos, the config's eos moving to eot (then eom), add_eos. Then the
// pair template (read_pair).
static void read_template(special_state *st, const kite__jval *p, bool has_tc) {
    const kite__jval *single = kite__json_get(p, "single"), *first = NULL, *last = NULL;
    if (single && single->type == KITE__J_ARR && single->n > 1) {
        first = template_token(single->items[0]);
        last = template_token(single->items[single->n - 1]);
    }
    if (first) {
        if (!has_tc) {
            st->text[T_BOS] = first;
        } else if (!same_text(first, st->text[T_BOS]) && !same_text(first, st->text[T_CLS])) {
            if (!truthy(st->text[T_BOS])) st->text[T_BOS] = first;
            if (!truthy(st->text[T_CLS])) st->text[T_CLS] = first;
        }
        st->add[T_BOS] = same_text(first, st->text[T_BOS]) || same_text(first, st->text[T_CLS]);
    }
    if (last) {
        if (!has_tc) {
            st->text[T_EOS] = last;
        } else if (!same_text(last, st->text[T_EOS])) {
            if (st->n_types < NT) st->text[st->n_types++] = st->text[T_EOS]; // eot, then eom
            st->text[T_EOS] = last;
        }
        st->add[T_EOS] = 1;
    }
    read_pair(st, kite__json_get(p, "pair"), first, last, has_tc);
}

// The special token ids and add_bos / add_eos / add_sep, as SpecialVocab: tokenizer.json's
// post-processor, then tokenizer_config.json's <typ>_token looked up among added_tokens and its
// add_<typ>_token flags, then config.json's <typ>_token_id for the types still unset.
static kite_status special_ids(kite_gguf_writer *w, const kite__jval *tok, const kite__jval *tc, const kite__jval *added,
                               const kite__jval *cfg, uint32_t n_vocab) {
    special_state st = {.n_types = T_EOT};
    const bool has_tc = tc && tc->n; // an empty tokenizer_config.json counts as none, as in Python
    for (int t = 0; t < NT; t++) st.add[t] = -1;
    for (int t = 0; t < T_EOT && tc; t++) {
        char key[32];
        snprintf(key, sizeof key, "%s_token", type_name[t]);
        st.text[t] = kite__json_get(tc, key);
    }
    if (has_tc && !truthy(st.text[T_BOS]) && truthy(st.text[T_CLS])) st.text[T_BOS] = st.text[T_CLS];
    if (has_tc && !truthy(st.text[T_EOS]) && truthy(st.text[T_SEP])) st.text[T_EOS] = st.text[T_SEP];
    const kite__jval *pp = kite__json_get(tok, "post_processor");
    const kite__jval *procs = pp ? kite__json_get(pp, "processors") : NULL;
    size_t np = procs && procs->type == KITE__J_ARR ? procs->n : (pp && pp->type == KITE__J_OBJ ? 1 : 0);
    for (size_t i = 0; i < np; i++) {
        const kite__jval *p = procs && procs->type == KITE__J_ARR ? procs->items[i] : pp;
        if (kite__hf_is_type(p, "RobertaProcessing") || kite__hf_is_type(p, "BertProcessing"))
            return kite__fail(KITE_ERR_UNSUPPORTED, "tokenizer.json: a %s post-processor is not supported",
                              kite__json_get(p, "type")->s);
        if (kite__hf_is_type(p, "TemplateProcessing")) read_template(&st, p, has_tc);
    }
    int64_t ids[NT];
    for (int t = 0; t < NT; t++) {
        ids[t] = -1;
        if (t >= st.n_types || !has_tc) continue;
        char key[32];
        snprintf(key, sizeof key, "add_%s_token", type_name[t]);
        const kite__jval *flag = kite__json_get(tc, key);
        if (flag && flag->type == KITE__J_BOOL) st.add[t] = flag->b;
        const kite__jval *e = st.text[t];
        if (e && e->type == KITE__J_OBJ) e = kite__json_get(e, "content");
        if (!e || e->type != KITE__J_STR) continue;
        for (size_t i = 0; added && i < added->n && ids[t] < 0; i++) {
            const kite__jval *c = kite__json_get(added->items[i], "content");
            if (c && c->type == KITE__J_STR && !strcmp(c->s, e->s)) ids[t] = kite__json_get(added->items[i], "id")->i;
        }
    }
    for (int t = 0; t < st.n_types; t++) {
        char key[32];
        snprintf(key, sizeof key, "%s_token_id", type_name[t]);
        const kite__jval *e = kite__json_get(cfg, key);
        if (ids[t] < 0 && e && e->type == KITE__J_NUM && e->is_int) {
            if (e->i < 0) return kite__fail(KITE_ERR_INVALID, "config.json: \"%s\" is negative", key);
            ids[t] = e->i;
        }
        if (ids[t] < 0 || !id_key[t]) continue;
        if (ids[t] >= n_vocab)
            return kite__fail(KITE_ERR_INVALID, "%s token id %lld is past the vocab size %u", type_name[t], (long long)ids[t], n_vocab);
        KITE_TRY(kite_gguf_writer_set_u32(w, id_key[t], (uint32_t)ids[t]));
    }
    static const int add_types[] = {T_BOS, T_EOS, T_SEP};
    for (size_t i = 0; i < sizeof add_types / sizeof add_types[0]; i++) {
        char key[40];
        snprintf(key, sizeof key, "tokenizer.ggml.add_%s_token", type_name[add_types[i]]);
        if (st.add[add_types[i]] >= 0) KITE_TRY(kite__hf_set_bool(w, key, st.add[add_types[i]]));
    }
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
    KITE_TRY(special_ids(w, tok, tc, added, cfg, n_vocab));
    // LlamaModel: granite's small models (vocab 49152, as SmolLM's) add no BOS.
    if (m->llama_like && n_vocab == 49152) KITE_TRY(kite__hf_set_bool(w, "tokenizer.ggml.add_bos_token", false));
    if (tc) KITE_TRY(chat_template(f, w, tc));
    return KITE_OK;
}
