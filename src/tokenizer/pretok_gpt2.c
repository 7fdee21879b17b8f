// pretok_gpt2.c - GPT-2's pre-tokenizer regex as a hand-written scanner:
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
#include "tokenizer/tok_internal.h"
#include "tokenizer/unicode.h"

#define OUT_OF_PIECE UINT32_MAX

// Code point / flags at p, or OUT_OF_PIECE / 0 past the piece's end: lookaheads stop there.
static inline uint32_t cpt_at(const kite__cpt_text *t, size_t end, size_t p) {
    return p < end ? t->cpt[p] : OUT_OF_PIECE;
}
static inline uint16_t flags_at(const kite__cpt_text *t, size_t end, size_t p) {
    return p < end ? t->flags[p] : 0;
}

kite_status kite__split_gpt2(const kite__cpt_text *t, const kite__pieces *in, kite__pieces *out) {
    const uint16_t L = KITE_UC_LETTER, N = KITE_UC_NUMBER, WS = KITE_UC_WHITESPACE;
    size_t ini = 0;
    for (size_t pi = 0; pi < in->n; pi++) {
        const size_t end = ini + in->len[pi];
        size_t pos = ini;
        while (pos < end) {
            const size_t start = pos;
            const uint32_t c = cpt_at(t, end, pos);
            const uint16_t f = flags_at(t, end, pos);
            // 's|'t|'re|'ve|'m|'ll|'d
            if (c == '\'' && pos + 1 < end) {
                uint32_t c1 = cpt_at(t, end, pos + 1);
                if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') {
                    pos += 2;
                    goto emit;
                }
                if (pos + 2 < end) {
                    uint32_t c2 = cpt_at(t, end, pos + 2);
                    if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) {
                        pos += 3;
                        goto emit;
                    }
                }
            }
            uint16_t f2 = c == ' ' ? flags_at(t, end, pos + 1) : f; // the class after an optional space
            // ' ?\p{L}+' and ' ?\p{N}+'
            if (f2 & (L | N)) {
                const uint16_t cls = (f2 & L) ? L : N;
                pos += c == ' ';
                while (f2 & cls) f2 = flags_at(t, end, ++pos);
                goto emit;
            }
            // ' ?[^\s\p{L}\p{N}]+'
            if (!(f2 & (WS | L | N)) && f2) {
                pos += c == ' ';
                while (!(f2 & (WS | L | N)) && f2) f2 = flags_at(t, end, ++pos);
                goto emit;
            }
            {
                size_t nws = 0;
                while (flags_at(t, end, pos + nws) & WS) nws++;
                if (nws > 1 && cpt_at(t, end, pos + nws) != OUT_OF_PIECE) {
                    pos += nws - 1; // '\s+(?!\S)': leave the last space to the next word
                } else if (nws > 0) {
                    pos += nws; // '\s+'
                } else {
                    pos++; // nothing matched: a piece of one code point
                }
            }
        emit:
            KITE_TRY(kite__pieces_push(out, pos - start));
        }
        ini = end;
    }
    return KITE_OK;
}
