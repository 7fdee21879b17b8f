// hf_vocab.c - tokenizer.json (a byte-level BPE) + tokenizer_config.json -> the GGUF
// tokenizer keys, as llama.cpp's get_vocab_base / _set_vocab_gpt2 / gguf-py's SpecialVocab
// write them. llama.cpp names the pre-tokenizer by hashing a tokenization it runs with HF's
// library; Kite cannot run that, so it names it from the pre_tokenizer's own structure and
// regex (the names llama.cpp gives those tokenizers) and refuses what it does not recognise.
#include "convert/convert_internal.h"
#include "base/kite_buf.h"
#include "base/internal.h"

#include <stdio.h>

#define MAX_VOCAB (1u << 24)

enum { TT_NORMAL = 1, TT_CONTROL = 3, TT_USER_DEFINED = 4, TT_UNUSED = 5 };

// The Split regexes of tokenizer.json files as HF ships them (llama-vocab.cpp quotes both).
static const char llama3_re[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
                                "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char qwen2_re[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
                               "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

static bool is_type(const kite__jval *v, const char *type) {
    const kite__jval *t = v ? kite__json_get(v, "type") : NULL;
    return t && t->type == KITE__J_STR && !strcmp(t->s, type);
}

// A bool member: def when absent.
static bool get_bool(const kite__jval *v, const char *key, bool def) {
    const kite__jval *b = kite__json_get(v, key);
    return b && b->type == KITE__J_BOOL ? b->b : def;
}

// A ByteLevel pre-tokenizer without a prefix space, using GPT-2's regex or not.
static bool is_byte_level(const kite__jval *v, bool use_regex) {
    return is_type(v, "ByteLevel") && !get_bool(v, "add_prefix_space", false) && get_bool(v, "use_regex", true) == use_regex;
}

// The tokenizer.ggml.pre name for tokenizer.json's pre_tokenizer, or NULL.
static const char *pre_name(const kite__jval *pt) {
    if (is_byte_level(pt, true)) return "gpt-2";
    if (!is_type(pt, "Sequence")) return NULL;
    const kite__jval *seq = kite__json_get(pt, "pretokenizers");
    if (!seq || seq->type != KITE__J_ARR || seq->n != 2) return NULL;
    const kite__jval *a = seq->items[0], *b = seq->items[1];
    if (is_type(a, "Digits") && get_bool(a, "individual_digits", false) && is_byte_level(b, true)) return "smollm";
    if (!is_type(a, "Split") || !is_byte_level(b, false) || get_bool(a, "invert", false)) return NULL;
    const kite__jval *beh = kite__json_get(a, "behavior"), *pat = kite__json_get(a, "pattern");
    const kite__jval *re = pat ? kite__json_get(pat, "Regex") : NULL;
    if (!beh || beh->type != KITE__J_STR || strcmp(beh->s, "Isolated") || !re || re->type != KITE__J_STR) return NULL;
    if (!strcmp(re->s, llama3_re)) return "llama-bpe";
    if (!strcmp(re->s, qwen2_re)) return "qwen2";
    return NULL;
}

// llama.cpp's does_token_look_special.
static bool looks_special(const char *t) {
    size_t n = strlen(t);
    if (!strcmp(t, "<pad>") || !strcmp(t, "<mask>") || !strcmp(t, "<2mass>") || !strcmp(t, "[@BOS@]")) return true;
    if (n >= 4 && !strncmp(t, "<|", 2) && !strcmp(t + n - 2, "|>")) return true;
    if (n >= 8 && !strncmp(t, "<\xef\xbd\x9c", 4) && !strcmp(t + n - 4, "\xef\xbd\x9c>")) return true; // <｜ ｜>
    return n >= 8 && !strncmp(t, "<unused", 7) && t[n - 1] == '>';
}

// Reads an optional JSON file; *out NULL when absent.
static kite_status read_json(const kite_hf_files *f, const char *name, kite__jval **out) {
    *out = NULL;
    uint8_t *data = NULL;
    uint64_t len = 0;
    KITE_TRY(f->read_all(f->user, name, &data, &len));
    if (!data) return KITE_OK;
    kite_status s = kite__hf_json(name, data, len, out);
    free(data);
    return s;
}

typedef struct vocab_build {
    uint32_t n;
    const char **text;     // per id (NULL: a [PADi] hole)
    const kite__jval **added; // per id: its added_tokens entry, or NULL
    int32_t *types;
} vocab_build;

static kite_status put_str_array(kite_gguf_writer *w, const char *key, kite_str *strs, uint64_t n) {
    kite_gguf_value v = {.type = KITE_GGUF_ARRAY};
    v.arr.elem = KITE_GGUF_STRING;
    v.arr.n = n;
    v.arr.strs = strs;
    return kite_gguf_writer_set(w, key, &v);
}

// Fills b.text / b.added from model.vocab and added_tokens, checking ids against n.
static kite_status collect_tokens(const kite__jval *vocab, const kite__jval *added, vocab_build *b) {
    for (size_t i = 0; i < vocab->n; i++) {
        const kite__jval *e = vocab->items[i];
        if (e->type != KITE__J_NUM || !e->is_int || e->i < 0)
            return kite__fail(KITE_ERR_INVALID, "tokenizer.json: vocab entry \"%s\" has no valid id", e->key);
        if ((uint64_t)e->i >= b->n)
            return kite__fail(KITE_ERR_INVALID, "tokenizer.json: token \"%s\" has id %lld, past the vocab size %u", e->key,
                              (long long)e->i, b->n);
        b->text[e->i] = e->key;
    }
    for (size_t i = 0; added && i < added->n; i++) {
        const kite__jval *e = added->items[i], *id = kite__json_get(e, "id"), *c = kite__json_get(e, "content");
        if (!id || id->type != KITE__J_NUM || !id->is_int || id->i < 0 || !c || c->type != KITE__J_STR)
            return kite__fail(KITE_ERR_INVALID, "tokenizer.json: added_tokens[%zu] lacks an id or content", i);
        if ((uint64_t)id->i >= b->n)
            return kite__fail(KITE_ERR_INVALID, "tokenizer.json: added token \"%s\" has id %lld, past the vocab size %u", c->s,
                              (long long)id->i, b->n);
        b->text[id->i] = c->s;
        b->added[id->i] = e;
    }
    return KITE_OK;
}

// tokenizer.ggml.tokens and token_type (get_vocab_base: holes become [PADi], UNUSED).
static kite_status put_tokens(kite_gguf_writer *w, vocab_build *b) {
    kite_str *strs = calloc(b->n ? b->n : 1, sizeof *strs);
    char *pads = malloc((size_t)b->n * 20 + 1);
    kite_status s = KITE_OK;
    if (!strs || !pads) s = kite__fail(KITE_ERR_NOMEM, "tokenizer: out of memory");
    char *p = pads;
    for (uint32_t i = 0; s == KITE_OK && i < b->n; i++) {
        if (!b->text[i]) {
            int k = snprintf(p, 20, "[PAD%u]", i);
            strs[i] = (kite_str){p, (uint64_t)k};
            p += k;
            b->types[i] = TT_UNUSED;
            continue;
        }
        strs[i] = (kite_str){b->text[i], strlen(b->text[i])};
        const kite__jval *a = b->added[i];
        if (!a) {
            b->types[i] = TT_NORMAL;
        } else if (get_bool(a, "special", false) || looks_special(b->text[i])) {
            b->types[i] = TT_CONTROL;
        } else {
            // llama.cpp writes a user-defined token's U+2581 as a space; such tokens belong to
            // SentencePiece-style vocabularies, which this converter refuses.
            if (strstr(b->text[i], "\xe2\x96\x81"))
                s = kite__fail(KITE_ERR_UNSUPPORTED, "tokenizer.json: added token \"%s\" holds U+2581 (SentencePiece style)",
                               b->text[i]);
            b->types[i] = TT_USER_DEFINED;
        }
    }
    if (s == KITE_OK) s = put_str_array(w, "tokenizer.ggml.tokens", strs, b->n);
    if (s == KITE_OK) {
        kite_gguf_value v = {.type = KITE_GGUF_ARRAY};
        v.arr.elem = KITE_GGUF_INT32;
        v.arr.n = b->n;
        v.arr.raw = (const uint8_t *)b->types;
        s = kite_gguf_writer_set(w, "tokenizer.ggml.token_type", &v);
    }
    free(strs);
    free(pads);
    return s;
}

// tokenizer.ggml.merges: "a b" strings as they are, or [a, b] pairs joined with a space (a
// space inside a part written as U+0120, as gguf-py does).
static kite_status put_merges(kite_gguf_writer *w, const kite__jval *merges) {
    if (!merges || merges->type != KITE__J_ARR || merges->n == 0)
        return kite__fail(KITE_ERR_INVALID, "tokenizer.json: the BPE model has no merges");
    kite_buf text = {0};
    uint64_t *ends = malloc(merges->n * sizeof *ends);
    kite_str *strs = malloc(merges->n * sizeof *strs);
    kite_status s = ends && strs ? KITE_OK : kite__fail(KITE_ERR_NOMEM, "tokenizer: out of memory");
    for (size_t i = 0; s == KITE_OK && i < merges->n; i++) {
        const kite__jval *m = merges->items[i];
        bool ok = true;
        if (m->type == KITE__J_STR) {
            ok = kite_buf_append(&text, m->s, m->slen);
        } else if (m->type == KITE__J_ARR && m->n == 2 && m->items[0]->type == KITE__J_STR && m->items[1]->type == KITE__J_STR) {
            for (int k = 0; k < 2 && ok; k++) {
                if (k) ok = kite_buf_append(&text, " ", 1);
                const kite__jval *part = m->items[k];
                for (size_t j = 0; j < part->slen && ok; j++)
                    ok = part->s[j] == ' ' ? kite_buf_append(&text, "\xc4\xa0", 2) : kite_buf_append(&text, &part->s[j], 1);
            }
        } else {
            s = kite__fail(KITE_ERR_INVALID, "tokenizer.json: merges[%zu] is neither \"a b\" nor [\"a\", \"b\"]", i);
            break;
        }
        if (!ok) s = kite__fail(KITE_ERR_NOMEM, "tokenizer: out of memory");
        ends[i] = text.len;
    }
    for (size_t i = 0; s == KITE_OK && i < merges->n; i++) {
        uint64_t b = i ? ends[i - 1] : 0;
        strs[i] = (kite_str){(const char *)text.ptr + b, ends[i] - b};
    }
    if (s == KITE_OK) s = put_str_array(w, "tokenizer.ggml.merges", strs, merges->n);
    free(text.ptr);
    free(ends);
    free(strs);
    return s;
}

// The special token ids: tokenizer_config.json's <typ>_token (a string or {"content"}) looked
// up among added_tokens, then config.json's <typ>_token_id for the types still unset.
static kite_status put_special_ids(kite_gguf_writer *w, const kite__jval *tc, const kite__jval *added, const kite__jval *cfg,
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

static kite_status set_bool(kite_gguf_writer *w, const char *key, bool b) {
    kite_gguf_value v = {.type = KITE_GGUF_BOOL, .u = b};
    return kite_gguf_writer_set(w, key, &v);
}

// add_bos / add_eos: from a TemplateProcessing post-processor (its single template's leading /
// trailing special token), then tokenizer_config.json's add_bos_token / add_eos_token.
static kite_status put_add_flags(kite_gguf_writer *w, const kite__jval *tok, const kite__jval *tc, const kite__hf_model *m,
                                 uint32_t n_vocab) {
    const kite__jval *pp = kite__json_get(tok, "post_processor");
    const kite__jval *procs = pp ? kite__json_get(pp, "processors") : NULL;
    size_t np = procs && procs->type == KITE__J_ARR ? procs->n : (pp && pp->type == KITE__J_OBJ ? 1 : 0);
    for (size_t i = 0; i < np; i++) {
        const kite__jval *p = procs && procs->type == KITE__J_ARR ? procs->items[i] : pp;
        if (is_type(p, "RobertaProcessing") || is_type(p, "BertProcessing"))
            return kite__fail(KITE_ERR_UNSUPPORTED, "tokenizer.json: a %s post-processor is not supported",
                              kite__json_get(p, "type")->s);
        const kite__jval *single = is_type(p, "TemplateProcessing") ? kite__json_get(p, "single") : NULL;
        if (!single || single->type != KITE__J_ARR || single->n < 2) continue;
        // The template names its tokens by text; which are bos / eos comes from the config.
        const kite__jval *tb = tc ? kite__json_get(tc, "bos_token") : NULL, *te = tc ? kite__json_get(tc, "eos_token") : NULL;
        if (tb && tb->type == KITE__J_OBJ) tb = kite__json_get(tb, "content");
        if (te && te->type == KITE__J_OBJ) te = kite__json_get(te, "content");
        const kite__jval *first = kite__json_get(single->items[0], "SpecialToken");
        const kite__jval *last = kite__json_get(single->items[single->n - 1], "SpecialToken");
        const kite__jval *fid = first ? kite__json_get(first, "id") : NULL, *lid = last ? kite__json_get(last, "id") : NULL;
        if (fid && fid->type == KITE__J_STR)
            KITE_TRY(set_bool(w, "tokenizer.ggml.add_bos_token", tb && tb->type == KITE__J_STR && !strcmp(tb->s, fid->s)));
        if (lid && lid->type == KITE__J_STR)
            KITE_TRY(set_bool(w, "tokenizer.ggml.add_eos_token", te && te->type == KITE__J_STR && !strcmp(te->s, lid->s)));
    }
    static const char *const flags[][2] = {{"add_bos_token", "tokenizer.ggml.add_bos_token"},
                                           {"add_eos_token", "tokenizer.ggml.add_eos_token"}};
    for (int i = 0; i < 2 && tc; i++) {
        const kite__jval *b = kite__json_get(tc, flags[i][0]);
        if (b && b->type == KITE__J_BOOL) KITE_TRY(set_bool(w, flags[i][1], b->b));
    }
    // LlamaModel: granite's small models (vocab 49152, as SmolLM's) add no BOS.
    if (m->llama_like && n_vocab == 49152) KITE_TRY(set_bool(w, "tokenizer.ggml.add_bos_token", false));
    return KITE_OK;
}

// tokenizer.chat_template: tokenizer_config.json's chat_template (a string, or a list of
// {name, template}: "default" is the template, the others tokenizer.chat_template.<name>),
// else chat_template.jinja.
static kite_status put_chat_template(const kite_hf_files *f, kite_gguf_writer *w, const kite__jval *tc) {
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
    KITE_TRY(f->read_all(f->user, "chat_template.jinja", &data, &len));
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

// Checks the tokenizer model is a byte-level BPE this converter handles; the pre name in *pre.
static kite_status check_model(const kite__jval *tok, const char **pre) {
    const kite__jval *model = kite__json_get(tok, "model");
    if (!model || model->type != KITE__J_OBJ) return kite__fail(KITE_ERR_INVALID, "tokenizer.json: missing \"model\"");
    const kite__jval *type = kite__json_get(model, "type");
    if (!type || type->type != KITE__J_STR || strcmp(type->s, "BPE"))
        return kite__fail(KITE_ERR_UNSUPPORTED, "tokenizer.json: model type %s is not supported (only BPE)",
                          type && type->type == KITE__J_STR ? type->s : "(none)");
    if (get_bool(model, "byte_fallback", false))
        return kite__fail(KITE_ERR_UNSUPPORTED, "tokenizer.json: a BPE with byte_fallback (SentencePiece style) is not supported");
    const kite__jval *norm = kite__json_get(tok, "normalizer");
    if (norm && norm->type != KITE__J_NULL && !is_type(norm, "NFC"))
        return kite__fail(KITE_ERR_UNSUPPORTED, "tokenizer.json: normalizer %s is not supported",
                          is_type(norm, "Sequence") ? "Sequence" : "(not NFC)");
    const kite__jval *vocab = kite__json_get(model, "vocab");
    if (!vocab || vocab->type != KITE__J_OBJ) return kite__fail(KITE_ERR_INVALID, "tokenizer.json: model has no \"vocab\" object");
    *pre = pre_name(kite__json_get(tok, "pre_tokenizer"));
    if (!*pre)
        return kite__fail(KITE_ERR_UNSUPPORTED, "tokenizer.json: pre_tokenizer is none Kite knows (GPT-2's ByteLevel, Llama 3's "
                                                "or Qwen2's Split regex + ByteLevel, SmolLM's Digits + ByteLevel)");
    return KITE_OK;
}

static kite_status vocab_keys(const kite_hf_files *f, const kite__jval *cfg, const kite__hf_model *m, kite_gguf_writer *w,
                              const kite__jval *tok, const kite__jval *tc) {
    const char *pre = NULL;
    KITE_TRY(check_model(tok, &pre));
    const kite__jval *model = kite__json_get(tok, "model"), *vocab = kite__json_get(model, "vocab");
    const kite__jval *added = kite__json_get(tok, "added_tokens");
    if (added && added->type != KITE__J_ARR) added = NULL;
    uint32_t n_vocab = 0;
    int r = kite__hf_u32(cfg, "vocab_size", &n_vocab);
    if (r < 0) return KITE_ERR_INVALID;
    if (r == 0) { // len(tokenizer.vocab): the distinct ids of vocab and added tokens, taken as max + 1
        for (size_t i = 0; i < vocab->n; i++)
            if (vocab->items[i]->is_int && vocab->items[i]->i >= n_vocab) n_vocab = (uint32_t)vocab->items[i]->i + 1;
        for (size_t i = 0; added && i < added->n; i++) {
            const kite__jval *id = kite__json_get(added->items[i], "id");
            if (id && id->is_int && id->i >= n_vocab && id->i < UINT32_MAX) n_vocab = (uint32_t)id->i + 1;
        }
    }
    if (n_vocab == 0) return kite__fail(KITE_ERR_INVALID, "tokenizer.json: empty vocabulary");
    if (n_vocab > MAX_VOCAB) // the largest real vocabularies have about 262k tokens
        return kite__fail(KITE_ERR_INVALID, "vocab size %u is over %u", n_vocab, MAX_VOCAB);
    if (m->llama_like && kite__json_get(tc, "add_prefix_space") && kite__json_get(tc, "add_prefix_space")->type == KITE__J_BOOL)
        KITE_TRY(set_bool(w, "tokenizer.ggml.add_space_prefix", kite__json_get(tc, "add_prefix_space")->b));
    KITE_TRY(kite_gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2"));
    KITE_TRY(kite_gguf_writer_set_str(w, "tokenizer.ggml.pre", pre));
    vocab_build b = {.n = n_vocab};
    b.text = calloc(n_vocab, sizeof *b.text);
    b.added = calloc(n_vocab, sizeof *b.added);
    b.types = calloc(n_vocab, sizeof *b.types);
    kite_status s = b.text && b.added && b.types ? KITE_OK : kite__fail(KITE_ERR_NOMEM, "tokenizer: out of memory");
    if (s == KITE_OK) s = collect_tokens(vocab, added, &b);
    if (s == KITE_OK) s = put_tokens(w, &b);
    free(b.text);
    free(b.added);
    free(b.types);
    KITE_TRY(s);
    KITE_TRY(put_merges(w, kite__json_get(model, "merges")));
    KITE_TRY(put_special_ids(w, tc, added, cfg, n_vocab));
    KITE_TRY(put_add_flags(w, tok, tc, m, n_vocab));
    if (tc) KITE_TRY(put_chat_template(f, w, tc));
    return KITE_OK;
}

kite_status kite__hf_vocab(const kite_hf_files *f, const kite__jval *cfg, const kite__hf_model *m, kite_gguf_writer *w) {
    kite__jval *tok = NULL, *tc = NULL;
    KITE_TRY(read_json(f, "tokenizer.json", &tok));
    if (!tok) {
        uint8_t *spm = NULL;
        uint64_t len = 0;
        KITE_TRY(f->read_all(f->user, "tokenizer.model", &spm, &len));
        free(spm);
        return kite__fail(spm ? KITE_ERR_UNSUPPORTED : KITE_ERR_INVALID,
                          spm ? "tokenizer.model (SentencePiece) without tokenizer.json is not supported yet"
                              : "tokenizer.json is missing");
    }
    kite_status s = read_json(f, "tokenizer_config.json", &tc);
    if (s == KITE_OK && tok->type != KITE__J_OBJ) s = kite__fail(KITE_ERR_INVALID, "tokenizer.json: not a JSON object");
    if (s == KITE_OK && tc && tc->type != KITE__J_OBJ) s = kite__fail(KITE_ERR_INVALID, "tokenizer_config.json: not a JSON object");
    if (s == KITE_OK) s = vocab_keys(f, cfg, m, w, tok, tc);
    kite__json_free(tok);
    kite__json_free(tc);
    return s;
}
