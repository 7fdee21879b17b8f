// vocab.c - builds a kite_vocab from a GGUF file's tokenizer.ggml.* keys with llama.cpp's
// defaults and rules (special ids, add_bos/add_eos, end-of-generation tokens, attributes).
#include "tokenizer/tok_internal.h"

#include <ctype.h>
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

static int32_t find_text(const kite_vocab *v, const char *z) {
    return kite__strmap_get(&v->tok_map, z, strlen(z), NULL, 0);
}

static const char *tok_text(const kite_vocab *v, int32_t id) { return v->text + v->tok[id].off; }

// The id of the first text of list (NULL-terminated) present in the vocabulary, or -1.
static int32_t find_first(const kite_vocab *v, const char *const *list) {
    for (; *list; list++) {
        int32_t id = find_text(v, *list);
        if (id >= 0) return id;
    }
    return -1;
}

// ---- special tokens ---------------------------------------------------------------------

// Reads the special ids from their keys, as llama.cpp: a default out of range is dropped, a
// key out of range is ignored.
static void read_special_ids(const kite_gguf *g, kite_vocab *v) {
    struct { const char *key; int32_t *id; } keys[] = {
        {"tokenizer.ggml.bos_token_id", &v->bos},         {"tokenizer.ggml.eos_token_id", &v->eos},
        {"tokenizer.ggml.eot_token_id", &v->eot},         {"tokenizer.ggml.eom_token_id", &v->eom},
        {"tokenizer.ggml.unknown_token_id", &v->unk},     {"tokenizer.ggml.seperator_token_id", &v->sep},
        {"tokenizer.ggml.padding_token_id", &v->pad},     {"tokenizer.ggml.mask_token_id", &v->mask},
        {"tokenizer.ggml.fim_pre_token_id", &v->fim_pre}, {"tokenizer.ggml.fim_suf_token_id", &v->fim_suf},
        {"tokenizer.ggml.fim_mid_token_id", &v->fim_mid}, {"tokenizer.ggml.fim_pad_token_id", &v->fim_pad},
        {"tokenizer.ggml.fim_rep_token_id", &v->fim_rep}, {"tokenizer.ggml.fim_sep_token_id", &v->fim_sep},
        // deprecated names of the FIM keys
        {"tokenizer.ggml.prefix_token_id", &v->fim_pre},  {"tokenizer.ggml.suffix_token_id", &v->fim_suf},
        {"tokenizer.ggml.middle_token_id", &v->fim_mid},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        int32_t *id = keys[i].id;
        if (*id >= v->n_tokens) *id = KITE_TOKEN_NULL;
        uint32_t x;
        if (kite_gguf_get_u32(g, keys[i].key, &x) && x < (uint32_t)v->n_tokens) *id = (int32_t)x;
    }
}

// Finds a special token by its text when no key named it, and makes sure it is a control token.
static void detect(kite_vocab *v, int32_t *id, const char *const *texts) {
    if (*id != KITE_TOKEN_NULL) return;
    *id = find_first(v, texts);
    if (*id >= 0) v->tok[*id].attr |= KITE_ATTR_CONTROL;
}

static void detect_special_tokens(kite_vocab *v) {
    // Candidate texts in llama.cpp's order; where a vocabulary has several, the first listed
    // wins (e.g. qwen2's <|im_end|> over <|endoftext|>).
    static const char *const eot[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                                      "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]",
                                      "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
                                      "<end_of_utterance>", NULL};
    static const char *const eom[] = {"<|eom_id|>", NULL};
    static const char *const fim_pre[] = {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",
                                          "<\xef\xbd\x9c" "fim\xe2\x96\x81" "begin\xef\xbd\x9c>", "<PRE>",
                                          "\xe2\x96\x81<PRE>", "<|code_prefix|>", "<|prefix|>", NULL};
    static const char *const fim_suf[] = {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
                                          "<\xef\xbd\x9c" "fim\xe2\x96\x81hole\xef\xbd\x9c>", "<SUF>",
                                          "\xe2\x96\x81<SUF>", "<|code_suffix|>", "<|suffix|>", NULL};
    static const char *const fim_mid[] = {"<|fim_middle|>", "<fim-middle>", "<fim_middle>",
                                          "<\xef\xbd\x9c" "fim\xe2\x96\x81" "end\xef\xbd\x9c>", "<MID>",
                                          "\xe2\x96\x81<MID>", "<|code_middle|>", "<|middle|>", NULL};
    static const char *const fim_pad[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]", NULL};
    static const char *const fim_rep[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>", NULL};
    static const char *const fim_sep[] = {"<|file_sep|>", NULL};
    detect(v, &v->eot, eot);
    detect(v, &v->eom, eom);
    detect(v, &v->fim_pre, fim_pre);
    detect(v, &v->fim_suf, fim_suf);
    detect(v, &v->fim_mid, fim_mid);
    detect(v, &v->fim_pad, fim_pad);
    detect(v, &v->fim_rep, fim_rep);
    detect(v, &v->fim_sep, fim_sep);
}

// Marks the end-of-generation tokens (llama.cpp decides by text as well as by id).
static void mark_eog(kite_vocab *v) {
    static const char *const texts[] = {
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
        "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
        "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
        "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>", "[e~[", NULL};
    int32_t ids[] = {v->fim_pad, v->fim_rep, v->fim_sep, v->eos, v->eot, v->eom};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        if (ids[i] >= 0) v->eog[ids[i]] = 1;
    for (const char *const *t = texts; *t; t++) {
        int32_t id = find_text(v, *t);
        if (id < 0) continue;
        v->eog[id] = 1;
        v->tok[id].attr |= KITE_ATTR_CONTROL;
    }
    // gpt-oss: these are always rendered.
    static const char *const shown[] = {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>", NULL};
    for (const char *const *t = shown; *t; t++) {
        int32_t id = find_text(v, *t);
        if (id >= 0) v->tok[id].attr = KITE_ATTR_USER_DEFINED;
    }
    // o200k_harmony / solar-open: <|end|> ends a message, not the generation.
    int32_t ret = find_text(v, "<|return|>"), call = find_text(v, "<|call|>"), calls = find_text(v, "<|calls|>");
    int32_t flush = find_text(v, "<|flush|>"), end = find_text(v, "<|end|>");
    bool has_call = (call >= 0 && v->eog[call]) || (calls >= 0 && v->eog[calls]);
    if (end >= 0 && v->eog[end] && has_call && ((ret >= 0 && v->eog[ret]) || (flush >= 0 && v->eog[flush]))) {
        v->eog[end] = 0;
        v->tok[end].attr = KITE_ATTR_USER_DEFINED;
    }
    // gemma4 / paddleocr: </s> is not an end of generation beside <|tool_response>.
    int32_t tool = find_text(v, "<|tool_response>"), s = find_text(v, "</s>");
    if (tool >= 0 && v->eog[tool] && s >= 0 && v->eog[s]) {
        v->eog[s] = 0;
        v->tok[s].attr = KITE_ATTR_NORMAL;
    }
}

// Control tokens whose text says "unused" are unused.
static void mark_unused(kite_vocab *v) {
    for (int32_t i = 0; i < v->n_tokens; i++)
        if ((v->tok[i].attr & KITE_ATTR_CONTROL) && find_text(v, tok_text(v, i)) == i && strstr(tok_text(v, i), "unused"))
            v->tok[i].attr |= KITE_ATTR_UNUSED;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

// The tokens the text is split on before tokenizing, longest first.
static kite_status build_special_list(kite_vocab *v) {
    uint64_t *keys = malloc((size_t)v->n_tokens * sizeof *keys);
    v->special = malloc((size_t)v->n_tokens * sizeof *v->special);
    if (!keys || !v->special) {
        free(keys);
        return kite__fail(KITE_ERR_NOMEM, "tokenizer: out of memory");
    }
    // Sort key: longer text first; ties in length (left unspecified by llama.cpp's std::sort)
    // go to the lower id.
    size_t n = 0;
    for (int32_t i = 0; i < v->n_tokens; i++)
        if (v->tok[i].attr & (KITE_ATTR_CONTROL | KITE_ATTR_USER_DEFINED | KITE_ATTR_UNKNOWN))
            keys[n++] = ((uint64_t)(UINT32_MAX - v->tok[i].len) << 32) | (uint32_t)i;
    qsort(keys, n, sizeof *keys, cmp_u64);
    for (size_t i = 0; i < n; i++) v->special[i] = (int32_t)(uint32_t)keys[i];
    v->n_special = (int32_t)n;
    free(keys);
    return KITE_OK;
}

static bool contains_ci(kite_str s, const char *needle) {
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= s.len; i++) {
        size_t j = 0;
        while (j < n && tolower((unsigned char)s.ptr[i + j]) == needle[j]) j++;
        if (j == n) return true;
    }
    return false;
}

static void set_attr(kite_vocab *v, const char *text, uint32_t attr, bool on) {
    int32_t id = find_text(v, text);
    if (id < 0) return;
    if (on) v->tok[id].attr |= attr;
    else v->tok[id].attr &= ~attr;
}

// Per-model strip attributes llama.cpp sets by model, tokenizer or architecture name.
static void apply_model_attrs(const kite_gguf *g, kite_vocab *v) {
    kite_str name = {"", 0}, pre = {"", 0}, arch = {"", 0};
    kite_gguf_get_str(g, "general.name", &name);
    kite_gguf_get_str(g, "tokenizer.ggml.pre", &pre);
    kite_gguf_get_str(g, "general.architecture", &arch);
    if (contains_ci(pre, "jina-v2-de") || contains_ci(pre, "jina-v2-es") || contains_ci(pre, "jina-v2-code") ||
        contains_ci(arch, "nomic-bert-moe") || contains_ci(arch, "jina-bert-v3")) {
        set_attr(v, "<mask>", KITE_ATTR_LSTRIP, true);
    } else if (contains_ci(name, "phi-3") || contains_ci(name, "phi3")) {
        // phi-3's special tokens swallow the whitespace after them.
        for (int32_t i = 0; i < v->n_special; i++) v->tok[v->special[i]].attr |= KITE_ATTR_RSTRIP;
        set_attr(v, "</s>", KITE_ATTR_RSTRIP, true);
        set_attr(v, "<unk>", KITE_ATTR_RSTRIP, false);
        set_attr(v, "<s>", KITE_ATTR_RSTRIP, false);
        set_attr(v, "<|endoftext|>", KITE_ATTR_RSTRIP, false);
    } else if (contains_ci(name, "modern-bert")) {
        set_attr(v, "[MASK]", KITE_ATTR_LSTRIP, true);
    }
}

// ---- loading ------------------------------------------------------------------------------

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
        read_special_ids(g, v);
        bool b;
        if (kite_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &b)) v->add_bos = b;
        if (kite_gguf_get_bool(g, "tokenizer.ggml.add_eos_token", &b)) v->add_eos = b;
        detect_special_tokens(v);
        mark_unused(v);
        mark_eog(v);
        st = build_special_list(v);
    }
    if (st == KITE_OK) apply_model_attrs(g, v);
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
    return id >= 0 && id < v->n_tokens ? tok_text(v, id) : "";
}

int32_t kite_vocab_find(const kite_vocab *v, const char *s, size_t n) {
    return kite__strmap_get(&v->tok_map, s, n, NULL, 0);
}
