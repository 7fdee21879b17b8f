// pretok_gpt4o.c - the gpt-4o / llama4 and mistral tekken pre-tokenizer as a hand-written
// scanner. llama.cpp runs this regex through std::regex on a text where every non-ASCII
// letter became one byte that is neither a-z nor A-Z, so "upper" means "a letter but not
// a-z" and "lower" means "a letter but not A-Z" (a non-ASCII letter is both):
//   [^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|
//   [^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*(?:'[sS]|...|'[dD])?|
//   \p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
// tekken's is the same without the contractions and with \p{N} (one digit) for \p{N}{1,3}.
// Alternatives are tried in order and the first that matches wins (ECMAScript), with greedy
// quantifiers giving back as needed.
#include "tokenizer/tok_internal.h"

typedef struct scan {
    const kite__cpt_text *t;
    size_t end; // end of the current piece: nothing past it is seen
} scan;

static uint32_t cp(const scan *s, size_t i) { return kite__cpt_at(s->t, s->end, i); }
static uint16_t fl(const scan *s, size_t i) { return kite__flags_at(s->t, s->end, i); }
static bool letter(const scan *s, size_t i) { return fl(s, i) & KITE_UC_LETTER; }
static bool upper(const scan *s, size_t i) { return letter(s, i) && !(cp(s, i) >= 'a' && cp(s, i) <= 'z'); }
static bool lower(const scan *s, size_t i) { return letter(s, i) && !(cp(s, i) >= 'A' && cp(s, i) <= 'Z'); }
// [^\r\n\p{L}\p{N}] (inside the piece)
static bool lead(const scan *s, size_t i) {
    return i < s->end && cp(s, i) != '\r' && cp(s, i) != '\n' && !(fl(s, i) & (KITE_UC_LETTER | KITE_UC_NUMBER));
}

static size_t run(const scan *s, size_t i, bool (*cls)(const scan *, size_t)) {
    size_t j = i;
    while (cls(s, j)) j++;
    return j - i;
}

// The end of the match starting at p (> p).
static size_t match_at(const scan *s, size_t p, size_t max_digits, bool contractions) {
    const uint16_t L = KITE_UC_LETTER, N = KITE_UC_NUMBER, WS = KITE_UC_WHITESPACE;
    size_t q = p + lead(s, p); // the optional lead character; without it nothing else can match
    // upper* lower+ contraction?: the upper run gives back until a lower letter follows it
    size_t u = run(s, q, upper);
    for (size_t k = u + 1; k-- > 0;) {
        size_t w = run(s, q + k, lower);
        if (w) {
            size_t e = q + k + w;
            return e + (contractions ? kite__contraction_len(s->t, s->end, e, true) : 0);
        }
    }
    // upper+ lower* contraction?
    if (u) {
        size_t e = q + u;
        e += run(s, e, lower);
        return e + (contractions ? kite__contraction_len(s->t, s->end, e, true) : 0);
    }
    // \p{N}{1,max_digits}
    if (fl(s, p) & N) {
        size_t k = 1;
        while (k < max_digits && (fl(s, p + k) & N)) k++;
        return p + k;
    }
    // ' ?[^\s\p{L}\p{N}]+[\r\n/]*'
    {
        size_t r = p + (cp(s, p) == ' ' && p + 1 < s->end && !(fl(s, p + 1) & (WS | L | N)));
        if (r < s->end && !(fl(s, r) & (WS | L | N))) {
            while (r < s->end && !(fl(s, r) & (WS | L | N))) r++;
            while (cp(s, r) == '\r' || cp(s, r) == '\n' || cp(s, r) == '/') r++;
            return r;
        }
    }
    // whitespace: '\s*[\r\n]+', then '\s+(?!\S)', then '\s+'
    size_t e = p, after_last_rn = 0;
    while (fl(s, e) & WS) {
        if (cp(s, e) == '\r' || cp(s, e) == '\n') after_last_rn = e + 1;
        e++;
    }
    if (after_last_rn) return after_last_rn;
    if (e > p) return (e == s->end || e - p == 1) ? e : e - 1;
    return p + 1; // unreachable in practice: every code point matches one alternative
}

size_t kite__match_gpt4o(const kite__cpt_text *t, size_t p, size_t end, const void *opts) {
    const kite__gpt4o_opts *o = opts;
    const scan s = {t, end};
    return match_at(&s, p, o->max_digits, o->contractions);
}
