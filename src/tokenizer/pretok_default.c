// pretok_default.c - the character-class splits llama.cpp runs through std::regex (on a text
// where each non-ASCII code point stands for its category), and the per-family sequence of
// splits (kite__pretokenize). In every split, text between matches becomes a piece too.
#include "tokenizer/tok_internal.h"
#include "tokenizer/unicode.h"

// The category of a non-ASCII code point as llama.cpp's regex sees it: whitespace first.
static uint16_t category(const kite__cpt_text *t, size_t i) {
    return (t->flags[i] & KITE_UC_WHITESPACE) ? KITE_UC_WHITESPACE : (t->flags[i] & KITE_UC_CATEGORIES);
}

// [\p{P}\$\+<=>\^~\|]: for ASCII that is every punctuation or symbol character but '`'.
static bool is_punct_class(const kite__cpt_text *t, size_t i) {
    uint32_t c = t->cpt[i];
    if (c < 128) return c != '`' && ((c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) ||
                                     (c >= 0x5B && c <= 0x60) || (c >= 0x7B && c <= 0x7E));
    return category(t, i) == KITE_UC_PUNCT;
}

// [\p{P}\$\+<=>\^~\|`] (falcon): the same with '`'.
static bool is_punct_tick_class(const kite__cpt_text *t, size_t i) {
    return t->cpt[i] == '`' || is_punct_class(t, i);
}

// \p{N}: ASCII digits, or a non-ASCII number.
static bool is_number_class(const kite__cpt_text *t, size_t i) {
    uint32_t c = t->cpt[i];
    if (c < 128) return c >= '0' && c <= '9';
    return category(t, i) == KITE_UC_NUMBER;
}

// Splits every piece into maximal runs of members and non-members of a class: the matches of
// "[class]+" and the text between them.
static kite_status split_runs(const kite__cpt_text *t, const kite__pieces *in, kite__pieces *out,
                              bool (*member)(const kite__cpt_text *, size_t)) {
    size_t ini = 0;
    for (size_t pi = 0; pi < in->n; pi++) {
        size_t end = ini + in->len[pi], start = ini;
        for (size_t i = ini + 1; i <= end; i++) {
            if (i == end || member(t, i) != member(t, i - 1)) {
                KITE_TRY(kite__pieces_push(out, i - start));
                start = i;
            }
        }
        ini = end;
    }
    return KITE_OK;
}

// regex: [\p{P}\$\+<=>\^~\|]+
kite_status kite__split_punct_runs(const kite__cpt_text *t, const kite__pieces *in, kite__pieces *out) {
    return split_runs(t, in, out, is_punct_class);
}

// ---- searched splits: a match may start anywhere, text between matches is a piece ---------

// Splits every piece into the matches of scanner m (with its options o), leftmost first, and the
// text between them.
static kite_status split_search(const kite__cpt_text *t, const kite__pieces *in, kite__pieces *out, kite__match_fn m,
                                const void *o) {
    size_t ini = 0;
    for (size_t pi = 0; pi < in->n; pi++) {
        size_t end = ini + in->len[pi], start = ini;
        for (size_t i = ini; i < end;) {
            size_t e = m(t, i, end, o);
            if (e == i) {
                i++;
                continue;
            }
            if (i > start) KITE_TRY(kite__pieces_push(out, i - start));
            KITE_TRY(kite__pieces_push(out, e - i));
            i = start = e;
        }
        if (end > start) KITE_TRY(kite__pieces_push(out, end - start));
        ini = end;
    }
    return KITE_OK;
}

static bool ws_at(const kite__cpt_text *t, size_t i, size_t end) { return i < end && (t->flags[i] & KITE_UC_WHITESPACE); }

// \s?X+ where X is one category: the optional space is taken only if X follows it.
static size_t ws_then_run(const kite__cpt_text *t, size_t i, size_t end, uint16_t cat) {
    size_t j = i + (ws_at(t, i, end) && i + 1 < end && category(t, i + 1) == cat);
    size_t e = j;
    while (e < end && category(t, e) == cat) e++;
    return e > j ? e : i;
}

// deepseek-coder's scanners (gpt2's, llama3's and gpt4o's are in pretok_<name>.c).
// regex: [\r\n]
static size_t m_newline(const kite__cpt_text *t, size_t i, size_t end, const void *o) {
    return i + (t->cpt[i] == '\r' || t->cpt[i] == '\n');
}
// regex: \s?\p{L}+
static size_t m_ws_letters(const kite__cpt_text *t, size_t i, size_t end, const void *o) {
    return ws_then_run(t, i, end, KITE_UC_LETTER);
}
// regex: \s?\p{P}+
static size_t m_ws_punct(const kite__cpt_text *t, size_t i, size_t end, const void *o) {
    return ws_then_run(t, i, end, KITE_UC_PUNCT);
}
// regex: [一-龥ࠀ-一가-퟿]+ (U+4E00..U+9FA5, U+0800..U+4E00, U+AC00..U+D7FF; llama.cpp hides
// non-ASCII spaces such as U+3000 from this one)
static bool cjk(const kite__cpt_text *t, size_t i) {
    uint32_t c = t->cpt[i];
    return !(t->flags[i] & KITE_UC_WHITESPACE) && ((c >= 0x0800 && c <= 0x9FA5) || (c >= 0xAC00 && c <= 0xD7FF));
}
static size_t m_cjk(const kite__cpt_text *t, size_t i, size_t end, const void *o) {
    while (i < end && cjk(t, i)) i++;
    return i;
}

// regex: \p{N}{1,3} (minicpm5)
static size_t m_num3(const kite__cpt_text *t, size_t i, size_t end, const void *o) {
    size_t j = i;
    while (j < end && j - i < 3 && is_number_class(t, j)) j++;
    return j;
}

// [^\n]+|[\n]+ (laguna): runs of newlines and runs of anything else
static bool is_newline(const kite__cpt_text *t, size_t i) { return t->cpt[i] == '\n'; }

// regex: \p{N}+ (single = false) or \p{N} (single = true)
kite_status kite__split_number_runs(const kite__cpt_text *t, const kite__pieces *in, kite__pieces *out,
                                    bool single) {
    if (!single) return split_runs(t, in, out, is_number_class);
    size_t ini = 0;
    for (size_t pi = 0; pi < in->n; pi++) {
        size_t end = ini + in->len[pi], start = ini;
        for (size_t i = ini; i < end; i++) {
            if (!is_number_class(t, i)) continue;
            if (i > start) KITE_TRY(kite__pieces_push(out, i - start));
            KITE_TRY(kite__pieces_push(out, 1));
            start = i + 1;
        }
        if (end > start) KITE_TRY(kite__pieces_push(out, end - start));
        ini = end;
    }
    return KITE_OK;
}

// regex: [0-9][0-9][0-9] (leftmost, non-overlapping)
kite_status kite__split_digit_triples(const kite__cpt_text *t, const kite__pieces *in, kite__pieces *out) {
    size_t ini = 0;
    for (size_t pi = 0; pi < in->n; pi++) {
        size_t end = ini + in->len[pi], start = ini;
        for (size_t i = ini; i + 3 <= end;) {
            const uint32_t *c = t->cpt + i;
            if (c[0] - '0' < 10 && c[1] - '0' < 10 && c[2] - '0' < 10) {
                if (i > start) KITE_TRY(kite__pieces_push(out, i - start));
                KITE_TRY(kite__pieces_push(out, 3));
                i += 3;
                start = i;
            } else {
                i++;
            }
        }
        if (end > start) KITE_TRY(kite__pieces_push(out, end - start));
        ini = end;
    }
    return KITE_OK;
}

typedef enum split_kind { SPLIT_PUNCT, SPLIT_PUNCT_TICK, SPLIT_NEWLINE, SPLIT_WS_LETTERS, SPLIT_WS_PUNCT,
                          SPLIT_CJK, SPLIT_GPT2, SPLIT_NUMBERS, SPLIT_DIGIT, SPLIT_TRIPLES,
                          SPLIT_LLAMA3, SPLIT_QWEN2, SPLIT_QWEN35, SPLIT_GPT4O, SPLIT_TEKKEN,
                          SPLIT_SEED_CODER, SPLIT_UFAKZEKA, SPLIT_MINICPM5, SPLIT_NL_RUNS, SPLIT_NUM3,
                          SPLIT_END } split_kind;

static kite_status run_split(split_kind k, const kite__cpt_text *t, const kite__pieces *in, kite__pieces *out) {
    switch (k) {
    case SPLIT_PUNCT: return kite__split_punct_runs(t, in, out);
    case SPLIT_PUNCT_TICK: return split_runs(t, in, out, is_punct_tick_class);
    case SPLIT_NEWLINE: return split_search(t, in, out, m_newline, NULL);
    case SPLIT_WS_LETTERS: return split_search(t, in, out, m_ws_letters, NULL);
    case SPLIT_WS_PUNCT: return split_search(t, in, out, m_ws_punct, NULL);
    case SPLIT_CJK: return split_search(t, in, out, m_cjk, NULL);
    case SPLIT_GPT2: return split_search(t, in, out, kite__match_gpt2, NULL);
    case SPLIT_NUMBERS: return kite__split_number_runs(t, in, out, false);
    case SPLIT_DIGIT: return kite__split_number_runs(t, in, out, true);
    case SPLIT_TRIPLES: return kite__split_digit_triples(t, in, out);
    case SPLIT_LLAMA3: return split_search(t, in, out, kite__match_llama3, &(kite__llama3_opts){3, false, true, true});
    case SPLIT_QWEN2: return split_search(t, in, out, kite__match_llama3, &(kite__llama3_opts){1, false, true, true});
    case SPLIT_QWEN35: return split_search(t, in, out, kite__match_llama3, &(kite__llama3_opts){1, true, true, true});
    case SPLIT_SEED_CODER: return split_search(t, in, out, kite__match_llama3, &(kite__llama3_opts){1, false, true, false});
    case SPLIT_UFAKZEKA: return split_search(t, in, out, kite__match_llama3, &(kite__llama3_opts){1, false, false, true});
    case SPLIT_MINICPM5: return split_search(t, in, out, kite__match_llama3, &(kite__llama3_opts){SIZE_MAX, false, true, true});
    case SPLIT_NL_RUNS: return split_runs(t, in, out, is_newline);
    case SPLIT_NUM3: return split_search(t, in, out, m_num3, NULL);
    case SPLIT_GPT4O: return split_search(t, in, out, kite__match_gpt4o, &(kite__gpt4o_opts){3, true});
    case SPLIT_TEKKEN: return split_search(t, in, out, kite__match_gpt4o, &(kite__gpt4o_opts){1, false});
    case SPLIT_END: break;
    }
    return KITE_OK;
}

kite_status kite__pretokenize(kite__pre_type pre, const kite__cpt_text *t, kite__pieces *out) {
    // The regex sequence of each family, as llama.cpp lists them.
    static const split_kind seq[][6] = {
        [KITE_PRE_DEFAULT] = {SPLIT_PUNCT, SPLIT_GPT2, SPLIT_NUMBERS, SPLIT_TRIPLES, SPLIT_END},
        [KITE_PRE_GPT2] = {SPLIT_GPT2, SPLIT_END},
        [KITE_PRE_STARCODER] = {SPLIT_DIGIT, SPLIT_GPT2, SPLIT_END},
        [KITE_PRE_LLAMA3] = {SPLIT_LLAMA3, SPLIT_END},
        [KITE_PRE_QWEN2] = {SPLIT_QWEN2, SPLIT_END},
        [KITE_PRE_QWEN35] = {SPLIT_QWEN35, SPLIT_END},
        [KITE_PRE_GPT4O] = {SPLIT_GPT4O, SPLIT_END},
        [KITE_PRE_TEKKEN] = {SPLIT_TEKKEN, SPLIT_END},
        [KITE_PRE_FALCON] = {SPLIT_PUNCT_TICK, SPLIT_GPT2, SPLIT_TRIPLES, SPLIT_END},
        [KITE_PRE_SEED_CODER] = {SPLIT_SEED_CODER, SPLIT_END},
        [KITE_PRE_UFAKZEKA] = {SPLIT_UFAKZEKA, SPLIT_END},
        [KITE_PRE_LAGUNA] = {SPLIT_NL_RUNS, SPLIT_QWEN2, SPLIT_END},
        [KITE_PRE_MINICPM5] = {SPLIT_NUM3, SPLIT_MINICPM5, SPLIT_END},
        [KITE_PRE_DEEPSEEK_CODER] = {SPLIT_NEWLINE, SPLIT_WS_LETTERS, SPLIT_WS_PUNCT, SPLIT_CJK, SPLIT_DIGIT, SPLIT_END},
    };
    out->n = 0;
    if (t->n == 0) return KITE_OK;
    kite__pieces a = {0}, b = {0};
    kite_status st = kite__pieces_push(&a, t->n);
    for (const split_kind *k = seq[pre]; st == KITE_OK && *k != SPLIT_END; k++) {
        b.n = 0;
        st = run_split(*k, t, &a, &b);
        kite__pieces tmp = a;
        a = b;
        b = tmp;
    }
    free(b.len);
    free(out->len);
    *out = a;
    return st;
}
