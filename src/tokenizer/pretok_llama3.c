// pretok_llama3.c - the llama3 / qwen2 / qwen3.5 pre-tokenizer regex as a hand-written scanner:
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//   ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// Its relatives differ in a few places, set by kite__llama3_opts: qwen2 has \p{N} (one digit)
// for \p{N}{1,3} (max_digits 1), minicpm5 \p{N}+ (no limit); qwen3.5 reads [\p{L}\p{M}]
// wherever \p{L} stands (marks); ufakzeka has no contractions; seed-coder's punctuation run
// takes no [\r\n]* after it.
#include "tokenizer/tok_internal.h"
#include "tokenizer/unicode.h"


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
            const uint32_t c = kite__cpt_at(t, end, pos);
            const uint16_t f = kite__flags_at(t, end, pos);
            // (?i:'s|'t|'re|'ve|'m|'ll|'d)
            size_t nc = o->contractions ? kite__contraction_len(t, end, pos, true) : 0;
            if (nc) {
                pos += nc;
                goto emit;
            }
            // [^\r\n\p{L}\p{N}]?\p{L}+
            if (!(c == '\r' || c == '\n' || (f & N)) && ((f & L) || (kite__flags_at(t, end, pos + 1) & L))) {
                pos++;
                while (kite__flags_at(t, end, pos) & L) pos++;
                goto emit;
            }
            // \p{N}{1,max_digits}: the whole run of digits, cut every max_digits
            if (f & N) {
                size_t group = pos;
                while (kite__flags_at(t, end, pos) & N) {
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
                uint16_t f2 = c == ' ' ? kite__flags_at(t, end, pos + 1) : f;
                if (!(f2 & (WS | L | N)) && f) {
                    pos += c == ' ';
                    while (!(f2 & (WS | L | N)) && f2) f2 = kite__flags_at(t, end, ++pos);
                    while (o->punct_newlines && (kite__cpt_at(t, end, pos) == '\r' || kite__cpt_at(t, end, pos) == '\n')) pos++;
                    goto emit;
                }
            }
            {
                size_t nws = 0, after_last_rn = 0;
                while (kite__flags_at(t, end, pos + nws) & WS) {
                    uint32_t w = kite__cpt_at(t, end, pos + nws);
                    if (w == '\r' || w == '\n') after_last_rn = pos + nws + 1;
                    nws++;
                }
                if (after_last_rn > 0) {
                    pos = after_last_rn; // '\s*[\r\n]+'
                } else if (nws > 1 && kite__cpt_at(t, end, pos + nws) != UINT32_MAX) {
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
