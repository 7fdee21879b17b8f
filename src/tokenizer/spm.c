// spm.c - SentencePiece (llama) tokenization of one text fragment: start from single UTF-8
// characters, repeatedly merge the adjacent pair whose concatenation is the vocabulary token
// with the highest score (ties: leftmost), then fall back to <0xXX> byte tokens for symbols
// that are not tokens.
#include "tokenizer/tok_internal.h"

// The id of byte b: its <0xXX> token, else a token that is that one byte, else unk.
static int32_t byte_token(const kite_vocab *v, uint8_t b) {
    static const char hex[] = "0123456789ABCDEF";
    char s[6] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>'};
    int32_t id = kite__strmap_get(&v->tok_map, s, 6, NULL, 0);
    if (id >= 0) return id;
    id = kite__strmap_get(&v->tok_map, (const char *)&b, 1, NULL, 0);
    // llama.cpp throws here (a vocabulary without byte tokens); we degrade to unk.
    return id >= 0 ? id : v->unk;
}

// Queues the merge of symbols l and r if their concatenation is a token.
static kite_status try_bigram(const kite_vocab *v, const char *text, const kite__symbol *sym,
                              int32_t l, int32_t r, kite__bigram_heap *q) {
    if (l < 0 || r < 0) return KITE_OK;
    uint32_t size = sym[l].n + sym[r].n;
    int32_t id = kite__strmap_get(&v->tok_map, text + sym[l].off, size, NULL, 0);
    if (id < 0) return KITE_OK;
    kite__bigram b = {v->tok[id].score, l, r, size};
    return kite__heap_push(q, b);
}

// Merges one segment text[0..n) (sym and q have room for it) and appends its ids.
static kite_status spm_segment(const kite_vocab *v, const char *text, size_t n, kite__symbol *sym,
                               kite__bigram_heap *q, kite__ids *out) {
    kite_status st = KITE_OK;
    int32_t ns = kite__symbols_from_utf8(text, n, sym);
    q->n = 0;
    for (int32_t i = 1; i < ns && st == KITE_OK; i++) st = try_bigram(v, text, sym, i - 1, i, q);

    kite__bigram b;
    while (st == KITE_OK && kite__heap_pop(q, &b)) {
        kite__symbol *l = &sym[b.left], *r = &sym[b.right];
        // Stale entry: one side was merged away or has grown since it was queued.
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size) continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) sym[r->next].prev = b.left;
        st = try_bigram(v, text, sym, l->prev, b.left, q);
        if (st == KITE_OK) st = try_bigram(v, text, sym, b.left, l->next, q);
    }

    // Every merged symbol is a token by construction; single characters may not be.
    for (int32_t i = 0; st == KITE_OK && i != -1; i = sym[i].next) {
        const char *s = text + sym[i].off;
        int32_t id = kite__strmap_get(&v->tok_map, s, sym[i].n, NULL, 0);
        if (id >= 0) {
            st = kite__ids_push(out, id);
            continue;
        }
        for (uint32_t j = 0; j < sym[i].n && st == KITE_OK; j++) {
            int32_t bid = byte_token(v, (uint8_t)s[j]);
            if (bid >= 0) st = kite__ids_push(out, bid);
        }
    }
    return st;
}

static bool is_space_mark(const char *s) { return memcmp(s, "\xe2\x96\x81", 3) == 0; } // U+2581

// Finds where the segments of text[0..n) start (into starts, when given; *n_starts gets their
// count) and returns the longest one's length. Merges never reach across a
// point no token spans, so when no token has a U+2581 right after another character (cut),
// the text is cut before each U+2581 that follows another character and every word merges on
// its own, with the same result and far smaller queues. Cuts fall on symbol boundaries as
// spm_segment splits symbols (invalid UTF-8 included). Returns the longest segment.
static size_t segments(const char *text, size_t n, bool cut, size_t *starts, size_t *n_starts) {
    size_t start = 0, longest = 0, k = 0;
    bool prev_mark = false;
    for (size_t off = 0; cut && off < n;) {
        size_t len = KITE_MIN(kite__utf8_len((uint8_t)text[off]), n - off);
        bool mark = len == 3 && is_space_mark(text + off);
        if (mark && off > start && !prev_mark) {
            if (starts) starts[k] = start;
            k++;
            longest = KITE_MAX(longest, off - start);
            start = off;
        }
        prev_mark = mark;
        off += len;
    }
    if (starts) starts[k] = start;
    *n_starts = k + 1;
    return KITE_MAX(longest, n - start);
}

kite_status kite__spm_tokenize(const kite_vocab *v, const char *text, size_t n, kite__ids *out) {
    if (n == 0) return KITE_OK;
    if (n > INT32_MAX || n > SIZE_MAX / sizeof(kite__symbol))
        return kite__fail(KITE_ERR_INVALID, "tokenize: text of %zu bytes is too long", n);
    size_t n_seg, longest = segments(text, n, v->spm_cut_words, NULL, &n_seg);
    size_t *starts = malloc(n_seg * sizeof *starts);
    kite__symbol *sym = malloc(longest * sizeof *sym); // symbols of the longest segment
    kite__bigram_heap q = {0};
    kite_status st = KITE_OK;
    if (!starts || !sym) {
        st = kite__fail(KITE_ERR_NOMEM, "tokenize: out of memory for %zu symbols", longest);
    } else {
        segments(text, n, v->spm_cut_words, starts, &n_seg);
        for (size_t i = 0; st == KITE_OK && i < n_seg; i++) {
            size_t end = i + 1 < n_seg ? starts[i + 1] : n;
            st = spm_segment(v, text + starts[i], end - starts[i], sym, &q, out);
        }
    }
    free(starts);
    free(sym);
    free(q.a);
    return st;
}
