// pretok_llama3.c - the llama3 / qwen2 / qwen3.5 pre-tokenizer regex as a hand-written scanner:
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//   ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// Its relatives differ in a few places, set by kite__llama3_opts: qwen2 has \p{N} (one digit)
// for \p{N}{1,3} (max_digits 1), minicpm5 \p{N}+ (no limit); qwen3.5 reads [\p{L}\p{M}]
// wherever \p{L} stands (marks); ufakzeka has no contractions; seed-coder's punctuation run
// takes no [\r\n]* after it.
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

// ASCII lower case suffices: no other code point lower-cases to s, t, r, e, v, m, l or d.
static uint32_t lower(uint32_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

kite_status kite__split_llama3(const kite__cpt_text *t, const kite__pieces *in, kite__pieces *out,
                               const kite__llama3_opts *o) {
    const uint16_t L = KITE_UC_LETTER | (o->marks ? KITE_UC_MARK : 0), N = KITE_UC_NUMBER, WS = KITE_UC_WHITESPACE;
    const size_t max_digits = o->max_digits;
    size_t ini = 0;
    for (size_t pi = 0; pi < in->n; pi++) {
        const size_t end = ini + in->len[pi];
        size_t pos = ini;
        while (pos < end) {
            const size_t start = pos;
            const uint32_t c = cpt_at(t, end, pos);
            const uint16_t f = flags_at(t, end, pos);
            // (?i:'s|'t|'re|'ve|'m|'ll|'d)
            if (o->contractions && c == '\'' && pos + 1 < end) {
                uint32_t c1 = lower(cpt_at(t, end, pos + 1));
                if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') {
                    pos += 2;
                    goto emit;
                }
                if (pos + 2 < end) {
                    uint32_t c2 = lower(cpt_at(t, end, pos + 2));
                    if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) {
                        pos += 3;
                        goto emit;
                    }
                }
            }
            // [^\r\n\p{L}\p{N}]?\p{L}+
            if (!(c == '\r' || c == '\n' || (f & N)) && ((f & L) || (flags_at(t, end, pos + 1) & L))) {
                pos++;
                while (flags_at(t, end, pos) & L) pos++;
                goto emit;
            }
            // \p{N}{1,max_digits}: the whole run of digits, cut every max_digits
            if (f & N) {
                size_t group = pos;
                while (flags_at(t, end, pos) & N) {
                    if (++pos - group >= max_digits) {
                        KITE_TRY(kite__pieces_push(out, pos - group));
                        group = pos;
                    }
                }
                if (pos > group) KITE_TRY(kite__pieces_push(out, pos - group));
                continue;
            }
            // ' ?[^\s\p{L}\p{N}]+[\r\n]*' (llama.cpp tests the first code point's own flags
            // for being in the text, not the one after the space: kept as is)
            {
                uint16_t f2 = c == ' ' ? flags_at(t, end, pos + 1) : f;
                if (!(f2 & (WS | L | N)) && f) {
                    pos += c == ' ';
                    while (!(f2 & (WS | L | N)) && f2) f2 = flags_at(t, end, ++pos);
                    while (o->punct_newlines && (cpt_at(t, end, pos) == '\r' || cpt_at(t, end, pos) == '\n')) pos++;
                    goto emit;
                }
            }
            {
                size_t nws = 0, after_last_rn = 0;
                while (flags_at(t, end, pos + nws) & WS) {
                    uint32_t w = cpt_at(t, end, pos + nws);
                    if (w == '\r' || w == '\n') after_last_rn = pos + nws + 1;
                    nws++;
                }
                if (after_last_rn > 0) {
                    pos = after_last_rn; // '\s*[\r\n]+'
                } else if (nws > 1 && cpt_at(t, end, pos + nws) != OUT_OF_PIECE) {
                    pos += nws - 1; // '\s+(?!\S)'
                } else if (nws > 0) {
                    pos += nws; // '\s+'
                } else {
                    pos++;
                }
            }
        emit:
            KITE_TRY(kite__pieces_push(out, pos - start));
        }
        ini = end;
    }
    return KITE_OK;
}
