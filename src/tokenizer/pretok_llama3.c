// pretok_llama3.c - the llama3 / qwen2 / qwen3.5 pre-tokenizer regex as a hand-written scanner:
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//   ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// Its relatives differ in a few places, set by kite__llama3_opts: qwen2 has \p{N} (one digit)
// for \p{N}{1,3} (max_digits 1), minicpm5 \p{N}+ (no limit); qwen3.5 reads [\p{L}\p{M}]
// wherever \p{L} stands (marks); ufakzeka has no contractions; seed-coder's punctuation run
// takes no [\r\n]* after it.
#include "tokenizer/tok_internal.h"
#include "tokenizer/unicode.h"

size_t kite__match_llama3(const kite__cpt_text *t, size_t pos, size_t end, const void *opts) {
    const kite__llama3_opts *o = opts;
    const uint16_t L = KITE_UC_LETTER | (o->marks ? KITE_UC_MARK : 0), N = KITE_UC_NUMBER, WS = KITE_UC_WHITESPACE;
    const uint32_t c = kite__cpt_at(t, end, pos);
    const uint16_t f = kite__flags_at(t, end, pos);
    // (?i:'s|'t|'re|'ve|'m|'ll|'d)
    size_t nc = o->contractions ? kite__contraction_len(t, end, pos, true) : 0;
    if (nc) return pos + nc;
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if (!(c == '\r' || c == '\n' || (f & N)) && ((f & L) || (kite__flags_at(t, end, pos + 1) & L))) {
        pos++;
        while (kite__flags_at(t, end, pos) & L) pos++;
        return pos;
    }
    // \p{N}{1,max_digits} (a longer run of digits is the next matches)
    if (f & N) {
        size_t k = 1;
        while (k < o->max_digits && (kite__flags_at(t, end, pos + k) & N)) k++;
        return pos + k;
    }
    // ' ?[^\s\p{L}\p{N}]+[\r\n]*' (llama.cpp tests the first code point's own flags for being
    // in the text, not the one after the space: kept as is)
    uint16_t f2 = c == ' ' ? kite__flags_at(t, end, pos + 1) : f;
    if (!(f2 & (WS | L | N)) && f) {
        pos += c == ' ';
        while (!(f2 & (WS | L | N)) && f2) f2 = kite__flags_at(t, end, ++pos);
        while (o->punct_newlines && (kite__cpt_at(t, end, pos) == '\r' || kite__cpt_at(t, end, pos) == '\n')) pos++;
        return pos;
    }
    size_t nws = 0, after_last_rn = 0;
    while (kite__flags_at(t, end, pos + nws) & WS) {
        uint32_t w = kite__cpt_at(t, end, pos + nws);
        if (w == '\r' || w == '\n') after_last_rn = pos + nws + 1;
        nws++;
    }
    if (after_last_rn > 0) return after_last_rn; // '\s*[\r\n]+'
    // '\s+(?!\S)' leaves the last space to the next word; then '\s+'; else one code point
    if (nws > 1 && kite__cpt_at(t, end, pos + nws) != UINT32_MAX) return pos + nws - 1;
    return pos + (nws > 0 ? nws : 1);
}
