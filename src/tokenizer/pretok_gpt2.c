// pretok_gpt2.c - GPT-2's pre-tokenizer regex as a hand-written scanner:
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
#include "tokenizer/tok_internal.h"
#include "tokenizer/unicode.h"

size_t kite__contraction_len(const kite__cpt_text *t, size_t end, size_t p, bool any_case) {
    if (kite__cpt_at(t, end, p) != '\'') return 0;
    uint32_t a = kite__cpt_at(t, end, p + 1), b = kite__cpt_at(t, end, p + 2);
    if (any_case) { // ASCII only: no other code point folds to one of these letters
        a = a >= 'A' && a <= 'Z' ? a + 32 : a;
        b = b >= 'A' && b <= 'Z' ? b + 32 : b;
    }
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
}

size_t kite__match_gpt2(const kite__cpt_text *t, size_t pos, size_t end, const void *o) {
    const uint16_t L = KITE_UC_LETTER, N = KITE_UC_NUMBER, WS = KITE_UC_WHITESPACE;
    const uint32_t c = kite__cpt_at(t, end, pos);
    const uint16_t f = kite__flags_at(t, end, pos);
    // 's|'t|'re|'ve|'m|'ll|'d
    size_t nc = kite__contraction_len(t, end, pos, false);
    if (nc) return pos + nc;
    uint16_t f2 = c == ' ' ? kite__flags_at(t, end, pos + 1) : f; // the class after an optional space
    // ' ?\p{L}+' and ' ?\p{N}+'
    if (f2 & (L | N)) {
        const uint16_t cls = (f2 & L) ? L : N;
        pos += c == ' ';
        while (f2 & cls) f2 = kite__flags_at(t, end, ++pos);
        return pos;
    }
    // ' ?[^\s\p{L}\p{N}]+'
    if (!(f2 & (WS | L | N)) && f2) {
        pos += c == ' ';
        while (!(f2 & (WS | L | N)) && f2) f2 = kite__flags_at(t, end, ++pos);
        return pos;
    }
    size_t nws = 0;
    while (kite__flags_at(t, end, pos + nws) & WS) nws++;
    // '\s+(?!\S)' leaves the last space to the next word; then '\s+'; nothing matched: a piece
    // of one code point
    if (nws > 1 && kite__cpt_at(t, end, pos + nws) != UINT32_MAX) return pos + nws - 1;
    return pos + (nws > 0 ? nws : 1);
}
