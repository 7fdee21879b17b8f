// vocab_special.c - llama.cpp's rules for special tokens: ids from keys or found by text,
// end-of-generation tokens, unused and strip attributes, the list split out before tokenizing.
#include "tokenizer/tok_internal.h"

#include <ctype.h>

static int32_t find_text(const kite_vocab *v, const char *z) { return kite_vocab_find(v, z, strlen(z)); }

static const char *tok_text(const kite_vocab *v, int32_t id) { return kite_vocab_token_text(v, id); }

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
void kite__vocab_read_special_ids(const kite_gguf *g, kite_vocab *v) {
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

kite_status kite__vocab_special_rules(const kite_gguf *g, kite_vocab *v) {
    detect_special_tokens(v);
    mark_unused(v);
    mark_eog(v);
    KITE_TRY(build_special_list(v));
    apply_model_attrs(g, v);
    return KITE_OK;
}
