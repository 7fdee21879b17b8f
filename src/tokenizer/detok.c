// detok.c - token -> bytes (kite_token_to_piece) and ids -> text (kite_detokenize), as
// llama.cpp renders them.
#include "base/kite_utf8.h"
#include "tokenizer/tok_internal.h"
#include "tokenizer/unicode.h"

#include <stdio.h>

// Appends bytes to buf[0..cap) at *n; past cap only *n keeps counting.
static void put(char *buf, int64_t cap, int64_t *n, const char *s, size_t k) {
    if (k && *n + (int64_t)k <= cap) memcpy(buf + *n, s, k);
    *n += (int64_t)k;
}

// BPE: every code point of a normal token stands for one byte (GPT-2's map); one outside the
// map is rendered "[UNK_BYTE_0x<its utf-8 in hex><the token text>]" as llama.cpp does.
static void decode_bpe(const char *s, size_t n, char *buf, int64_t cap, int64_t *out) {
    for (size_t off = 0; off < n;) {
        size_t adv;
        uint32_t c = kite__utf8_decode((const uint8_t *)s + off, n - off, &adv);
        off += adv;
        int b = kite__cpt_to_byte(c);
        if (b >= 0) {
            char ch = (char)b;
            put(buf, cap, out, &ch, 1);
            continue;
        }
        char u8[4], hex[3];
        size_t k = kite_utf8_encode(c, KITE_UTF8_MAX_UNICODE, u8);
        put(buf, cap, out, "[UNK_BYTE_0x", 12);
        for (size_t j = 0; j < k; j++) {
            snprintf(hex, sizeof hex, "%02x", (uint8_t)u8[j]);
            put(buf, cap, out, hex, 2);
        }
        put(buf, cap, out, s, n);
        put(buf, cap, out, "]", 1);
    }
}

// The byte of a <0xXX> token.
static char byte_of(const char *t, size_t n) {
    unsigned v = 0;
    for (size_t i = 3; i < 5 && i < n; i++) {
        char c = t[i];
        v = v * 16 + (unsigned)(c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                : c >= 'a' && c <= 'f' ? c - 'a' + 10 : 0);
    }
    return (char)v;
}

// Renders token id into buf (capacity cap) from *n on, skipping up to lstrip leading spaces.
static void piece(const kite_vocab *v, int32_t id, char *buf, int64_t cap, int64_t *n, int lstrip, bool special) {
    if (id < 0 || id >= v->n_tokens) return;
    const kite__token *t = &v->tok[id];
    const char *s = v->text + t->off;
    size_t len = t->len;
    if (!special && (t->attr & (KITE_ATTR_UNKNOWN | KITE_ATTR_CONTROL))) return;

    char tmp[4096]; // a normal token's rendering, for lstrip; longer ones go through a heap copy
    char *r = tmp;
    int64_t rn = 0, rcap = sizeof tmp;
    if (t->attr & (KITE_ATTR_UNKNOWN | KITE_ATTR_CONTROL | KITE_ATTR_USER_DEFINED)) {
        rn = -1; // rendered as stored
    } else if (t->attr & KITE_ATTR_NORMAL) {
        for (int pass = 0; pass < 2; pass++) {
            rn = 0;
            if (v->type == KITE_VOCAB_SPM) {
                for (size_t i = 0; i < len;) { // U+2581 -> ' '
                    if (i + 3 <= len && memcmp(s + i, "\xe2\x96\x81", 3) == 0) {
                        put(r, rcap, &rn, " ", 1);
                        i += 3;
                    } else {
                        put(r, rcap, &rn, s + i, 1);
                        i++;
                    }
                }
            } else {
                decode_bpe(s, len, r, rcap, &rn);
            }
            if (rn <= rcap) break;
            r = malloc((size_t)rn); // rare: a very long token
            rcap = rn;
            if (!r) return;
        }
    } else if (t->attr & KITE_ATTR_BYTE) {
        tmp[0] = byte_of(s, len);
        rn = 1;
    } else {
        return; // unused / undefined tokens render as nothing
    }
    const char *src = rn < 0 ? s : r;
    size_t k = rn < 0 ? len : (size_t)rn;
    for (int i = 0; i < lstrip && k && *src == ' '; i++) src++, k--;
    put(buf, cap, n, src, k);
    if (r != tmp) free(r);
}

int32_t kite_token_to_piece(const kite_vocab *v, int32_t id, char *buf, int32_t cap, bool special) {
    int64_t n = 0;
    piece(v, id, buf, cap < 0 ? 0 : cap, &n, 0, special);
    if (n > INT32_MAX) return INT32_MIN;
    return n <= cap ? (int32_t)n : -(int32_t)n;
}

// llama.cpp's clean_up_tokenization_spaces on buf[0..n): drop the space before ?!., ,
// around a lone apostrophe, and before 's 'm 're 've. Returns the new length.
static int64_t clean_spaces(char *t, int64_t n) {
    int64_t total = n ? 1 : 0;
    for (int64_t i = 1; i < n; i++) { // " ?", " !", " .", " ,"
        char x = t[i];
        if (t[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) total--;
        t[total++] = x;
    }
    n = total;
    total = n ? 1 : 0;
    for (int64_t i = 1; i < n; i++) { // " ' " -> "'"
        char x = t[i];
        if (x == '\'' && i + 1 < n && t[i - 1] == ' ' && t[i + 1] == ' ') {
            total--;
            t[++i] = 0;
        }
        t[total++] = x;
    }
    n = total;
    total = n ? 1 : 0;
    for (int64_t i = 1; i < n; i++) { // " 's", " 'm", " 're", " 've"
        char x = t[i];
        if (t[i - 1] == ' ' && x == '\'' && i + 1 < n) {
            char x1 = t[i + 1];
            if (x1 == 's' || x1 == 'm') total--;
            else if (i + 2 < n && ((x1 == 'r' && t[i + 2] == 'e') || (x1 == 'v' && t[i + 2] == 'e'))) total--;
        }
        t[total++] = x;
    }
    return total;
}

int32_t kite_detokenize(const kite_vocab *v, const int32_t *ids, int32_t n, char *buf, int32_t cap,
                        bool remove_special, bool unparse_special) {
    if (cap < 0) cap = 0;
    bool remove_space = v->add_space_prefix;
    if (remove_special && v->add_bos && n > 0 && ids[0] == v->bos) {
        remove_space = false;
        ids++, n--;
    }
    if (remove_special && v->add_eos && n > 0 && ids[n - 1] == v->eos) n--;
    int64_t total = 0;
    for (int32_t i = 0; i < n; i++) {
        piece(v, ids[i], buf, cap, &total, remove_space ? 1 : 0, unparse_special);
        remove_space = false;
    }
    if (total > INT32_MAX) return INT32_MIN;
    if (total > cap) return -(int32_t)total;
    if (v->clean_spaces) total = clean_spaces(buf, total);
    return (int32_t)total;
}
