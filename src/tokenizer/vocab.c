// vocab.c - builds a kite_vocab from a GGUF file's tokenizer.ggml.* keys with llama.cpp's
// defaults (model type, pre-tokenizer name, token texts/scores/types, merges, add_bos/add_eos).
#include "tokenizer/tok_internal.h"

#include <stdio.h>

// ---- pre-tokenizer names ----------------------------------------------------------------

typedef struct pre_entry {
    const char *name;
    kite__pre_type pre;
    bool clean_spaces;  // llama.cpp's clean_up_tokenization_spaces for this name
    bool ignore_merges; // a word that is a token is not split
    bool add_bos;       // default of add_bos (the file's key still overrides)
    bool no_bos;        // the bos id defaults to none
} pre_entry;

// The tokenizer.ggml.pre names whose regexes are one of our families, as llama-vocab.cpp
// maps them.
static const pre_entry pre_table[] = {
    {"default", KITE_PRE_DEFAULT, true, false, false, false},
    // llama3's regex
    {"llama3", KITE_PRE_LLAMA3, true, true, true, false},
    {"llama-v3", KITE_PRE_LLAMA3, true, true, true, false},
    {"llama-bpe", KITE_PRE_LLAMA3, true, true, true, false},
    {"falcon3", KITE_PRE_LLAMA3, true, true, true, false},
    {"falcon-h1", KITE_PRE_LLAMA3, true, true, true, false},
    {"pixtral", KITE_PRE_LLAMA3, true, true, true, false},
    {"midm-2.0", KITE_PRE_LLAMA3, true, true, true, false},
    {"lfm2", KITE_PRE_LLAMA3, true, true, true, false},
    {"jina-v5-nano", KITE_PRE_LLAMA3, true, true, true, false},
    {"dbrx", KITE_PRE_LLAMA3, true, false, false, false},
    {"smaug-bpe", KITE_PRE_LLAMA3, true, false, false, false},
    {"glm4", KITE_PRE_LLAMA3, true, false, false, true},
    {"chatglm-bpe", KITE_PRE_LLAMA3, true, false, false, true},
    // qwen2's regex
    {"qwen2", KITE_PRE_QWEN2, false, false, false, false},
    {"deepseek-r1-qwen", KITE_PRE_QWEN2, false, false, false, false},
    {"kormo", KITE_PRE_QWEN2, false, false, false, false},
    {"f2llmv2", KITE_PRE_QWEN2, false, false, false, false},
    {"stablelm2", KITE_PRE_QWEN2, true, false, false, false},
    {"megrez", KITE_PRE_QWEN2, true, false, false, false},
    {"hunyuan", KITE_PRE_QWEN2, false, false, false, false},
    {"solar-open", KITE_PRE_QWEN2, false, false, false, false},
    {"grok-2", KITE_PRE_QWEN2, false, false, false, false},
    {"qwen35", KITE_PRE_QWEN35, false, false, false, false},
    {"bailingmoe", KITE_PRE_QWEN2, false, false, false, false}, // its "\s*[\r\n]" splits alike
    {"bailingmoe2", KITE_PRE_QWEN2, false, false, false, false},
    {"llada-moe", KITE_PRE_QWEN2, false, false, false, false},
    {"seed-coder", KITE_PRE_SEED_CODER, false, false, false, false},
    {"ufakzeka", KITE_PRE_UFAKZEKA, false, false, false, false},
    {"laguna", KITE_PRE_LAGUNA, false, false, false, false},
    {"minicpm5", KITE_PRE_MINICPM5, true, true, false, false},
    // gpt-4o's regex (cased letter runs)
    {"gpt-4o", KITE_PRE_GPT4O, false, false, false, false},
    {"llama4", KITE_PRE_GPT4O, false, false, false, false},
    {"kanana2", KITE_PRE_GPT4O, false, false, false, false},
    {"talkie", KITE_PRE_GPT4O, false, false, false, false},
    {"minimax-m2", KITE_PRE_GPT4O, false, false, false, false},
    {"tekken", KITE_PRE_TEKKEN, false, true, true, false},
    {"falcon", KITE_PRE_FALCON, true, false, false, false},
    {"deepseek-coder", KITE_PRE_DEEPSEEK_CODER, false, false, false, false},
    // GPT-2's regex
    {"gpt-2", KITE_PRE_GPT2, true, false, false, false},
    {"phi-2", KITE_PRE_GPT2, true, false, false, false},
    {"jina-es", KITE_PRE_GPT2, true, false, false, false},
    {"jina-de", KITE_PRE_GPT2, true, false, false, false},
    {"gigachat", KITE_PRE_GPT2, true, false, false, false},
    {"jina-v2-es", KITE_PRE_GPT2, true, false, false, false},
    {"jina-v2-de", KITE_PRE_GPT2, true, false, false, false},
    {"a.x-4.0", KITE_PRE_GPT2, true, false, false, false},
    {"mellum", KITE_PRE_GPT2, true, false, false, false},
    {"modern-bert", KITE_PRE_GPT2, true, false, false, false},
    {"jina-v1-en", KITE_PRE_GPT2, true, false, false, false},
    {"jina-v2-code", KITE_PRE_GPT2, true, false, false, false},
    {"roberta-bpe", KITE_PRE_GPT2, true, false, false, false},
    {"exaone4", KITE_PRE_GPT2, true, false, false, false},
    {"mpt", KITE_PRE_GPT2, true, false, false, false},
    {"olmo", KITE_PRE_GPT2, true, false, false, false},
    {"jais", KITE_PRE_GPT2, true, false, false, false},
    {"trillion", KITE_PRE_GPT2, false, false, false, false},
    {"granite-docling", KITE_PRE_GPT2, false, false, false, false},
    // single digits, then GPT-2's regex
    {"starcoder", KITE_PRE_STARCODER, true, false, false, false},
    {"refact", KITE_PRE_STARCODER, true, false, false, false},
    {"command-r", KITE_PRE_STARCODER, false, false, false, false},
    {"smollm", KITE_PRE_STARCODER, false, false, false, false},
    {"codeshell", KITE_PRE_STARCODER, true, false, false, false},
    {"exaone", KITE_PRE_STARCODER, true, false, false, false},
    {"minerva-7b", KITE_PRE_STARCODER, true, false, false, false},
    {"mellum2", KITE_PRE_STARCODER, true, false, false, false},
};

// ---- small helpers ----------------------------------------------------------------------

static bool str_is(kite_str s, const char *z) { return kite_str_eq(s, z); }

// The array under key with string / numeric elements, NULL when absent; an error when present
// with another type.
static kite_status get_array(const kite_gguf *g, const char *key, int elem1, int elem2,
                             const kite_gguf_value **out) {
    *out = NULL;
    const kite_gguf_kv *kv = kite_gguf_find(g, key);
    if (!kv) return KITE_OK;
    if (kv->val.type != KITE_GGUF_ARRAY || ((int)kv->val.arr.elem != elem1 && (int)kv->val.arr.elem != elem2))
        return kite__fail(KITE_ERR_INVALID, "tokenizer: key %s has type %s, expected an array of %s", key,
                          kite_gguf_type_name(kv->val.type == KITE_GGUF_ARRAY ? kv->val.arr.elem : kv->val.type),
                          kite_gguf_type_name((kite_gguf_type)elem1));
    *out = &kv->val;
    return KITE_OK;
}

// ---- loading ------------------------------------------------------------------------------

// True when some token has U+2581 right after another character (then SPM merges can join a
// word to the next one, and the text is merged in one piece).
static bool any_space_mark_inside(const kite_vocab *v) {
    for (int32_t i = 0; i < v->n_tokens; i++) {
        const char *t = v->text + v->tok[i].off;
        uint32_t n = v->tok[i].len;
        for (uint32_t k = 1; k + 3 <= n; k++)
            if (memcmp(t + k, "\xe2\x96\x81", 3) == 0 && !(k >= 3 && memcmp(t + k - 3, "\xe2\x96\x81", 3) == 0))
                return true;
    }
    return false;
}

static kite_status load_tokens(const kite_gguf *g, kite_vocab *v) {
    const kite_gguf_value *toks, *scores, *types;
    KITE_TRY(get_array(g, "tokenizer.ggml.tokens", KITE_GGUF_STRING, KITE_GGUF_STRING, &toks));
    if (!toks) return kite__fail(KITE_ERR_INVALID, "tokenizer: key tokenizer.ggml.tokens missing");
    if (toks->arr.n == 0 || toks->arr.n > INT32_MAX / 2)
        return kite__fail(KITE_ERR_INVALID, "tokenizer: tokenizer.ggml.tokens has %llu tokens",
                          (unsigned long long)toks->arr.n);
    int32_t n = (int32_t)toks->arr.n;
    KITE_TRY(get_array(g, "tokenizer.ggml.scores", KITE_GGUF_FLOAT32, KITE_GGUF_INT32, &scores));
    KITE_TRY(get_array(g, "tokenizer.ggml.token_type", KITE_GGUF_INT32, KITE_GGUF_INT32, &types));
    if (scores && scores->arr.n < (uint64_t)n)
        return kite__fail(KITE_ERR_INVALID, "tokenizer: %llu scores for %d tokens",
                          (unsigned long long)scores->arr.n, n);
    if (types && types->arr.n < (uint64_t)n)
        return kite__fail(KITE_ERR_INVALID, "tokenizer: %llu token types for %d tokens",
                          (unsigned long long)types->arr.n, n);

    uint64_t total = 0;
    for (int32_t i = 0; i < n; i++) total += (toks->arr.strs[i].len ? toks->arr.strs[i].len : 20) + 1;
    if (total > UINT32_MAX) return kite__fail(KITE_ERR_INVALID, "tokenizer: token texts too large (%llu bytes)",
                                              (unsigned long long)total);
    v->n_tokens = n;
    v->tok = calloc((size_t)n, sizeof *v->tok);
    v->text = malloc((size_t)total);
    v->eog = calloc((size_t)n, 1);
    if (!v->tok || !v->text || !v->eog) return kite__fail(KITE_ERR_NOMEM, "tokenizer: out of memory for %d tokens", n);
    KITE_TRY(kite__strmap_init(&v->tok_map, v->text, (size_t)n));

    uint32_t off = 0;
    for (int32_t i = 0; i < n; i++) {
        kite_str s = toks->arr.strs[i];
        char *dst = v->text + off;
        uint32_t len;
        if (s.len == 0) { // llama.cpp renames empty tokens so they stay distinct
            len = (uint32_t)snprintf(dst, 21, "[EMPTY_%d]", i);
        } else {
            memcpy(dst, s.ptr, s.len);
            len = (uint32_t)s.len;
        }
        dst[len] = 0;
        kite__token *t = &v->tok[i];
        t->off = off;
        t->len = len;
        t->score = scores ? kite_gguf_arr_f32(scores, (uint64_t)i) : 0.0f;
        t->attr = KITE_ATTR_NORMAL;
        if (types) {
            static const uint32_t attr_of_type[7] = {0, KITE_ATTR_NORMAL, KITE_ATTR_UNKNOWN, KITE_ATTR_CONTROL,
                                                     KITE_ATTR_USER_DEFINED, KITE_ATTR_UNUSED, KITE_ATTR_BYTE};
            int64_t ty = kite_gguf_arr_i64(types, (uint64_t)i);
            t->attr = ty >= 0 && ty < 7 ? attr_of_type[ty] : 0;
        }
        kite__strmap_put(&v->tok_map, off, len, i, true);
        off += len + 1;
    }
    v->spm_cut_words = v->type == KITE_VOCAB_SPM && !any_space_mark_inside(v);
    return KITE_OK;
}

static kite_status load_merges(const kite_gguf *g, kite_vocab *v) {
    const kite_gguf_value *m;
    KITE_TRY(get_array(g, "tokenizer.ggml.merges", KITE_GGUF_STRING, KITE_GGUF_STRING, &m));
    if (!m) return kite__fail(KITE_ERR_INVALID, "tokenizer: BPE vocabulary without tokenizer.ggml.merges");
    if (m->arr.n > INT32_MAX / 2) return kite__fail(KITE_ERR_INVALID, "tokenizer: too many merges");
    uint64_t total = 0;
    for (uint64_t i = 0; i < m->arr.n; i++) total += m->arr.strs[i].len + 1;
    if (total > UINT32_MAX) return kite__fail(KITE_ERR_INVALID, "tokenizer: merges too large");
    v->merges = malloc((size_t)total + 1);
    if (!v->merges) return kite__fail(KITE_ERR_NOMEM, "tokenizer: out of memory for merges");
    KITE_TRY(kite__strmap_init(&v->merge_map, v->merges, (size_t)m->arr.n));
    uint32_t off = 0;
    for (uint64_t i = 0; i < m->arr.n; i++) {
        kite_str s = m->arr.strs[i];
        memcpy(v->merges + off, s.ptr, s.len);
        v->merges[off + s.len] = 0;
        // A merge is "left right", split at the first space after the first byte; one without
        // such a space can never match a pair, so it is left out.
        if (s.len > 1 && memchr(s.ptr + 1, ' ', s.len - 1))
            kite__strmap_put(&v->merge_map, off, (uint32_t)s.len, (int32_t)i, false);
        off += (uint32_t)s.len + 1;
    }
    return KITE_OK;
}

static kite_status configure(const kite_gguf *g, kite_vocab *v) {
    kite_str model, pre = {"", 0};
    if (!kite_gguf_get_str(g, "tokenizer.ggml.model", &model))
        return kite__fail(KITE_ERR_INVALID, "tokenizer: key tokenizer.ggml.model missing (no vocabulary)");
    bool has_pre = kite_gguf_get_str(g, "tokenizer.ggml.pre", &pre);
    v->eot = v->eom = v->sep = v->pad = v->mask = KITE_TOKEN_NULL;
    v->fim_pre = v->fim_suf = v->fim_mid = v->fim_pad = v->fim_rep = v->fim_sep = KITE_TOKEN_NULL;
    if (str_is(model, "llama")) {
        v->type = KITE_VOCAB_SPM;
        v->pre = KITE_PRE_DEFAULT;
        v->bos = 1, v->eos = 2, v->unk = 0;
        v->add_space_prefix = true;
        v->add_bos = true;
    } else if (str_is(model, "gpt2")) {
        v->type = KITE_VOCAB_BPE;
        v->bos = 11, v->eos = 11, v->unk = KITE_TOKEN_NULL; // llama.cpp's defaults
        v->clean_spaces = true;
        v->pre = KITE_PRE_DEFAULT;
        if (has_pre) { // a missing name means "default" (llama.cpp warns about quality)
            const pre_entry *e = NULL;
            for (size_t i = 0; i < sizeof pre_table / sizeof pre_table[0]; i++)
                if (str_is(pre, pre_table[i].name)) e = &pre_table[i];
            if (!e)
                return kite__fail(KITE_ERR_UNSUPPORTED, "tokenizer: unsupported pre-tokenizer tokenizer.ggml.pre='%.*s'",
                                  (int)KITE_MIN(pre.len, 64), pre.ptr);
            v->pre = e->pre;
            v->clean_spaces = e->clean_spaces;
            v->ignore_merges = e->ignore_merges;
            v->add_bos = e->add_bos;
            if (e->no_bos) v->bos = KITE_TOKEN_NULL;
        }
    } else {
        return kite__fail(KITE_ERR_UNSUPPORTED,
                          "tokenizer: unsupported tokenizer model tokenizer.ggml.model='%.*s' (supported: llama, gpt2)",
                          (int)KITE_MIN(model.len, 64), model.ptr);
    }
    bool b;
    if (kite_gguf_get_bool(g, "tokenizer.ggml.add_space_prefix", &b)) v->add_space_prefix = b;
    return KITE_OK;
}

kite_status kite_vocab_load(const kite_gguf *g, kite_vocab **out) {
    *out = NULL;
    if (!g) return kite__fail(KITE_ERR_INVALID, "tokenizer: no GGUF file given");
    kite_vocab *v = calloc(1, sizeof *v);
    if (!v) return kite__fail(KITE_ERR_NOMEM, "tokenizer: out of memory");
    kite_status st = configure(g, v);
    if (st == KITE_OK) st = load_tokens(g, v);
    if (st == KITE_OK && v->type == KITE_VOCAB_BPE) st = load_merges(g, v);
    if (st == KITE_OK) {
        kite__vocab_read_special_ids(g, v);
        bool b;
        if (kite_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &b)) v->add_bos = b;
        if (kite_gguf_get_bool(g, "tokenizer.ggml.add_eos_token", &b)) v->add_eos = b;
        st = kite__vocab_special_rules(g, v);
    }
    if (st != KITE_OK) {
        kite_vocab_free(v);
        return st;
    }
    *out = v;
    return KITE_OK;
}

void kite_vocab_free(kite_vocab *v) {
    if (!v) return;
    kite__strmap_free(&v->tok_map);
    kite__strmap_free(&v->merge_map);
    free(v->tok);
    free(v->text);
    free(v->merges);
    free(v->special);
    free(v->eog);
    free(v);
}

// ---- accessors ------------------------------------------------------------------------------

int32_t kite_vocab_n_tokens(const kite_vocab *v) { return v->n_tokens; }
int32_t kite_vocab_bos(const kite_vocab *v) { return v->bos; }
int32_t kite_vocab_eos(const kite_vocab *v) { return v->eos; }
int32_t kite_vocab_eot(const kite_vocab *v) { return v->eot; }
int32_t kite_vocab_pad(const kite_vocab *v) { return v->pad; }
int32_t kite_vocab_unk(const kite_vocab *v) { return v->unk; }
bool kite_vocab_add_bos(const kite_vocab *v) { return v->add_bos; }
bool kite_vocab_add_eos(const kite_vocab *v) { return v->add_eos; }
const char *kite_vocab_type_name(const kite_vocab *v) { return v->type == KITE_VOCAB_SPM ? "SPM" : "BPE"; }

bool kite_vocab_is_eog(const kite_vocab *v, int32_t id) { return id >= 0 && id < v->n_tokens && v->eog[id]; }

bool kite_vocab_is_control(const kite_vocab *v, int32_t id) {
    return id >= 0 && id < v->n_tokens && (v->tok[id].attr & KITE_ATTR_CONTROL);
}

const char *kite_vocab_token_text(const kite_vocab *v, int32_t id) {
    return id >= 0 && id < v->n_tokens ? v->text + v->tok[id].off : "";
}

int32_t kite_vocab_find(const kite_vocab *v, const char *s, size_t n) {
    return kite__strmap_get(&v->tok_map, s, n, NULL, 0);
}
