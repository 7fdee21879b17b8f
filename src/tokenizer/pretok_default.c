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

typedef enum split_kind { SPLIT_PUNCT, SPLIT_GPT2, SPLIT_NUMBERS, SPLIT_DIGIT, SPLIT_TRIPLES,
                          SPLIT_LLAMA3, SPLIT_QWEN2, SPLIT_QWEN35, SPLIT_GPT4O, SPLIT_TEKKEN,
                          SPLIT_END } split_kind;

static kite_status run_split(split_kind k, const kite__cpt_text *t, const kite__pieces *in, kite__pieces *out) {
    switch (k) {
    case SPLIT_PUNCT: return kite__split_punct_runs(t, in, out);
    case SPLIT_GPT2: return kite__split_gpt2(t, in, out);
    case SPLIT_NUMBERS: return kite__split_number_runs(t, in, out, false);
    case SPLIT_DIGIT: return kite__split_number_runs(t, in, out, true);
    case SPLIT_TRIPLES: return kite__split_digit_triples(t, in, out);
    case SPLIT_LLAMA3: return kite__split_llama3(t, in, out, 3, false);
    case SPLIT_QWEN2: return kite__split_llama3(t, in, out, 1, false);
    case SPLIT_QWEN35: return kite__split_llama3(t, in, out, 1, true);
    case SPLIT_GPT4O: return kite__split_gpt4o(t, in, out, 3, true);
    case SPLIT_TEKKEN: return kite__split_gpt4o(t, in, out, 1, false);
    case SPLIT_END: break;
    }
    return KITE_OK;
}

kite_status kite__pretokenize(kite__pre_type pre, const kite__cpt_text *t, kite__pieces *out) {
    // The regex sequence of each family, as llama.cpp lists them.
    static const split_kind seq[][5] = {
        [KITE_PRE_DEFAULT] = {SPLIT_PUNCT, SPLIT_GPT2, SPLIT_NUMBERS, SPLIT_TRIPLES, SPLIT_END},
        [KITE_PRE_GPT2] = {SPLIT_GPT2, SPLIT_END},
        [KITE_PRE_STARCODER] = {SPLIT_DIGIT, SPLIT_GPT2, SPLIT_END},
        [KITE_PRE_LLAMA3] = {SPLIT_LLAMA3, SPLIT_END},
        [KITE_PRE_QWEN2] = {SPLIT_QWEN2, SPLIT_END},
        [KITE_PRE_QWEN35] = {SPLIT_QWEN35, SPLIT_END},
        [KITE_PRE_GPT4O] = {SPLIT_GPT4O, SPLIT_END},
        [KITE_PRE_TEKKEN] = {SPLIT_TEKKEN, SPLIT_END},
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
