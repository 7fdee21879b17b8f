// hf_vocab.c - the vocabulary step: tokenizer.model goes to hf_spm.c; tokenizer.json (a
// byte-level BPE) -> the GGUF tokenizer keys, as llama.cpp's get_vocab_base / _set_vocab_gpt2
// write them. llama.cpp names the pre-tokenizer by hashing a tokenization it runs with HF's
// library; Kite cannot run that, so it names it from the pre_tokenizer's own structure and
// regex (the names llama.cpp gives those tokenizers) and refuses what it does not recognise.
#include "convert/convert_internal.h"
#include "base/kite_buf.h"
#include "base/internal.h"

#include <stdio.h>


enum { TT_NORMAL = 1, TT_CONTROL = 3, TT_USER_DEFINED = 4, TT_UNUSED = 5 };

// The Split regexes of tokenizer.json files as HF ships them (llama-vocab.cpp quotes both).
static const char llama3_re[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
                                "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char qwen2_re[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
                               "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
// o200k's (gpt-4o, Phi-4-mini): case-aware letter runs with the contractions as a suffix.
static const char gpt4o_re[] = "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"
                               "(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+"
                               "[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+"
                               "[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

// A ByteLevel pre-tokenizer without a prefix space, using GPT-2's regex or not.
static bool is_byte_level(const kite__jval *v, bool use_regex) {
    return kite__hf_is_type(v, "ByteLevel") && !kite__hf_bool(v, "add_prefix_space", false) && kite__hf_bool(v, "use_regex", true) == use_regex;
}

// The tokenizer.ggml.pre name for tokenizer.json's pre_tokenizer, or NULL.
static const char *pre_name(const kite__jval *pt) {
    if (is_byte_level(pt, true)) return "gpt-2";
    if (!kite__hf_is_type(pt, "Sequence")) return NULL;
    const kite__jval *seq = kite__json_get(pt, "pretokenizers");
    if (!seq || seq->type != KITE__J_ARR || seq->n != 2) return NULL;
    const kite__jval *a = seq->items[0], *b = seq->items[1];
    if (kite__hf_is_type(a, "Digits") && kite__hf_bool(a, "individual_digits", false) && is_byte_level(b, true)) return "smollm";
    if (!kite__hf_is_type(a, "Split") || !is_byte_level(b, false)) return NULL;
    // The matches kept as pieces: "Isolated", or "Removed" inverted (the gaps between matches
    // dropped: as every regex below matches any character, there are none), as Phi-4's files
    // write it.
    const kite__jval *beh = kite__json_get(a, "behavior"), *pat = kite__json_get(a, "pattern");
    const kite__jval *re = pat ? kite__json_get(pat, "Regex") : NULL;
    bool invert = kite__hf_bool(a, "invert", false);
    if (!beh || beh->type != KITE__J_STR || strcmp(beh->s, invert ? "Removed" : "Isolated") || !re || re->type != KITE__J_STR)
        return NULL;
    if (!strcmp(re->s, llama3_re)) return "llama-bpe";
    if (!strcmp(re->s, qwen2_re)) return "qwen2";
    if (!strcmp(re->s, gpt4o_re)) return "gpt-4o";
    return NULL;
}

typedef struct vocab_build {
    uint32_t n;
    const char **text;     // per id (NULL: a [PADi] hole)
    const kite__jval **added; // per id: its added_tokens entry, or NULL
    int32_t *types;
} vocab_build;

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
        } else if (kite__hf_bool(a, "special", false) || kite__hf_looks_special(b->text[i])) {
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
    if (s == KITE_OK) s = kite__hf_put_strs(w, "tokenizer.ggml.tokens", strs, b->n);
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
    if (s == KITE_OK) s = kite__hf_put_strs(w, "tokenizer.ggml.merges", strs, merges->n);
    free(text.ptr);
    free(ends);
    free(strs);
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
    if (kite__hf_bool(model, "byte_fallback", false))
        return kite__fail(KITE_ERR_UNSUPPORTED, "tokenizer.json: a BPE with byte_fallback (SentencePiece style) is not supported");
    const kite__jval *norm = kite__json_get(tok, "normalizer");
    if (norm && norm->type != KITE__J_NULL && !kite__hf_is_type(norm, "NFC")) { // llama.cpp ignores NFC
        const kite__jval *nt = kite__json_get(norm, "type");
        return kite__fail(KITE_ERR_UNSUPPORTED, "tokenizer.json: normalizer %s is not supported (none or NFC only)",
                          nt && nt->type == KITE__J_STR ? nt->s : "(without a type)");
    }
    const kite__jval *vocab = kite__json_get(model, "vocab");
    if (!vocab || vocab->type != KITE__J_OBJ) return kite__fail(KITE_ERR_INVALID, "tokenizer.json: model has no \"vocab\" object");
    *pre = pre_name(kite__json_get(tok, "pre_tokenizer"));
    if (!*pre)
        return kite__fail(KITE_ERR_UNSUPPORTED, "tokenizer.json: pre_tokenizer is none Kite knows (GPT-2's ByteLevel, Llama 3's, "
                                                "Qwen2's or o200k's Split regex + ByteLevel, SmolLM's Digits + ByteLevel)");
    return KITE_OK;
}

static kite_status vocab_keys(const kite_hf_files *f, const kite__jval *cfg, const kite__hf_model *m, kite_gguf_writer *w,
                              const kite__jval *tok, const kite__jval *tc, uint32_t *n_out) {
    const char *pre = NULL;
    KITE_TRY(check_model(tok, &pre));
    const kite__jval *model = kite__json_get(tok, "model"), *vocab = kite__json_get(model, "vocab");
    const kite__jval *added = kite__json_get(tok, "added_tokens");
    if (added && added->type != KITE__J_ARR) added = NULL;
    uint32_t n_vocab = 0;
    int r = kite__hf_u32(cfg, "vocab_size", &n_vocab);
    if (r < 0) return KITE_ERR_INVALID;
    if (r == 0) { // len(tokenizer.vocab): the distinct ids of vocab and added tokens, taken as max + 1
        int64_t top = -1;
        for (size_t i = 0; i < vocab->n; i++)
            if (vocab->items[i]->is_int && vocab->items[i]->i > top) top = vocab->items[i]->i;
        for (size_t i = 0; added && i < added->n; i++) {
            const kite__jval *id = kite__json_get(added->items[i], "id");
            if (id && id->is_int && id->i > top) top = id->i;
        }
        n_vocab = top >= KITE__HF_MAX_VOCAB ? KITE__HF_MAX_VOCAB + 1 : (uint32_t)(top + 1);
    }
    if (n_vocab == 0) return kite__fail(KITE_ERR_INVALID, "tokenizer.json: empty vocabulary");
    if (n_vocab > KITE__HF_MAX_VOCAB) // the largest real vocabularies have about 262k tokens
        return kite__fail(KITE_ERR_INVALID, "vocab size %u is over %u", n_vocab, KITE__HF_MAX_VOCAB);
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
    *n_out = n_vocab;
    return kite__hf_special_keys(f, tok, tc, cfg, m, n_vocab, w);
}

kite_status kite__hf_vocab(const kite_hf_files *f, const kite__jval *cfg, const kite__hf_model *m, kite_gguf_writer *w,
                           uint32_t *n_vocab) {
    kite__jval *tok = NULL, *tc = NULL;
    uint8_t *spm = NULL;
    uint64_t spm_len = 0;
    KITE_TRY(kite__hf_read_all(f, "tokenizer.model", &spm, &spm_len));
    kite_status s = kite__hf_read_json(f, "tokenizer.json", &tok);
    if (s == KITE_OK) s = kite__hf_read_json(f, "tokenizer_config.json", &tc);
    if (s == KITE_OK && tok && tok->type != KITE__J_OBJ) s = kite__fail(KITE_ERR_INVALID, "tokenizer.json: not a JSON object");
    if (s == KITE_OK && tc && tc->type != KITE__J_OBJ) s = kite__fail(KITE_ERR_INVALID, "tokenizer_config.json: not a JSON object");
    // Phi3MiniModel.set_vocab: tokenizer_config.json's GPT2Tokenizer (Phi-4-mini) means
    // tokenizer.json's BPE; else tokenizer.model is required
    const kite__jval *tok_class = kite__json_get(tc, "tokenizer_class");
    if (m->family == KITE__HF_PHI3 && tok_class && tok_class->type == KITE__J_STR && !strcmp(tok_class->s, "GPT2Tokenizer")) {
        free(spm);
        spm = NULL;
    } else if (s == KITE_OK && m->family == KITE__HF_PHI3 && !spm) {
        s = kite__fail(KITE_ERR_INVALID, "tokenizer.model is missing (phi3 needs it unless tokenizer_config.json's tokenizer_class "
                                         "is GPT2Tokenizer)");
    }
    // Gemma2Model reads tokenizer.model only; Gemma3Model takes tokenizer.json without it, but
    // names the pre-tokenizer by a hash none of Gemma's SentencePiece-style BPE files matches
    bool gemma = m->family == KITE__HF_GEMMA2 || m->family == KITE__HF_GEMMA3;
    if (s == KITE_OK && gemma && !spm)
        s = kite__fail(KITE_ERR_UNSUPPORTED, "tokenizer.model is missing (%s's vocabulary is converted from it, as llama.cpp "
                                             "does; its tokenizer.json is a SentencePiece-style BPE)", m->arch);
    if (s == KITE_OK && !spm && !tok) s = kite__fail(KITE_ERR_INVALID, "tokenizer.json is missing (and no tokenizer.model)");
    // LlamaModel.set_vocab: tokenizer_config.json's add_prefix_space, before the vocabulary
    const kite__jval *aps = kite__json_get(tc, "add_prefix_space");
    if (s == KITE_OK && m->llama_like && aps && aps->type == KITE__J_BOOL)
        s = kite__hf_set_bool(w, "tokenizer.ggml.add_space_prefix", aps->b);
    if (s == KITE_OK)
        s = spm ? kite__hf_spm_vocab(f, spm, spm_len, tok, tc, cfg, m, w, n_vocab) : vocab_keys(f, cfg, m, w, tok, tc, n_vocab);
    // Gemma2Model / Gemma3Model: SentencePiece without the leading space
    if (s == KITE_OK && spm && gemma) s = kite__hf_set_bool(w, "tokenizer.ggml.add_space_prefix", false);
    free(spm);
    kite__json_free(tok);
    kite__json_free(tc);
    return s;
}
