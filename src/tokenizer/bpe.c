// bpe.c - byte-level BPE (gpt2-style) tokenization of one text fragment: decode to code points,
// split into words with the vocabulary's pre-tokenizer, map each word's bytes to GPT-2's
// printable code points, then repeatedly apply the lowest-ranked merge (ties: leftmost).
#include "base/kite_utf8.h"
#include "tokenizer/tok_internal.h"

// Rank of merging left+right, or -1. llama.cpp splits each merge string at its first space
// after the first byte, so a left part with a space past its first byte never matches.
static int32_t merge_rank(const kite_vocab *v, const char *l, size_t ln, const char *r, size_t rn) {
    if (ln > 1 && memchr(l + 1, ' ', ln - 1)) return -1;
    return kite__strmap_get(&v->merge_map, l, ln, r, rn);
}

static kite_status add_bigram(const kite_vocab *v, const char *w, const kite__symbol *sym, int32_t l,
                              int32_t r, kite__bigram_heap *q) {
    if (l < 0 || r < 0) return KITE_OK;
    int32_t rank = merge_rank(v, w + sym[l].off, sym[l].n, w + sym[r].off, sym[r].n);
    if (rank < 0) return KITE_OK;
    // Ranks stay below 2^24, so the float holds them exactly.
    kite__bigram b = {-(float)rank, l, r, sym[l].n + sym[r].n};
    return kite__heap_push(q, b);
}

// Merges the encoded word w[0..n) and appends its ids. sym has room for n symbols.
static kite_status merge_word(const kite_vocab *v, const char *w, size_t n, kite__symbol *sym,
                              kite__bigram_heap *q, kite__ids *out) {
    int32_t whole = v->ignore_merges ? kite__strmap_get(&v->tok_map, w, n, NULL, 0) : -1;
    if (whole >= 0) return kite__ids_push(out, whole); // llama3: a word that is a token stays whole

    int32_t ns = kite__symbols_from_utf8(w, n, sym);
    q->n = 0;
    kite_status st = KITE_OK;
    for (int32_t i = 1; i < ns && st == KITE_OK; i++) st = add_bigram(v, w, sym, i - 1, i, q);

    kite__bigram b;
    while (st == KITE_OK && kite__heap_pop(q, &b)) {
        kite__symbol *l = &sym[b.left], *r = &sym[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size) continue; // outdated
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) sym[r->next].prev = b.left;
        st = add_bigram(v, w, sym, l->prev, b.left, q);
        if (st == KITE_OK) st = add_bigram(v, w, sym, b.left, l->next, q);
    }

    for (int32_t i = 0; st == KITE_OK && i < ns; i++) {
        if (sym[i].n == 0) continue;
        const char *s = w + sym[i].off;
        int32_t id = kite__strmap_get(&v->tok_map, s, sym[i].n, NULL, 0);
        if (id >= 0) {
            st = kite__ids_push(out, id);
            continue;
        }
        // Not a token: llama.cpp tries each byte of the encoded symbol alone.
        for (uint32_t j = 0; j < sym[i].n && st == KITE_OK; j++) {
            int32_t bid = kite__strmap_get(&v->tok_map, s + j, 1, NULL, 0);
            if (bid >= 0) st = kite__ids_push(out, bid);
        }
    }
    return st;
}

kite_status kite__bpe_tokenize(const kite_vocab *v, const char *text, size_t n, kite__ids *out) {
    if (n == 0) return KITE_OK;
    if (n > INT32_MAX || n > SIZE_MAX / sizeof(uint32_t))
        return kite__fail(KITE_ERR_INVALID, "tokenize: text of %zu bytes is too long", n);
    uint32_t *cpt = malloc(n * sizeof *cpt);
    uint16_t *flags = malloc(n * sizeof *flags);
    char *word = NULL;
    kite__symbol *sym = NULL;
    kite__pieces words = {0};
    kite__bigram_heap q = {0};
    kite_status st = KITE_OK;
    if (!cpt || !flags) {
        st = kite__fail(KITE_ERR_NOMEM, "tokenize: out of memory for %zu bytes of text", n);
        goto done;
    }

    size_t nc = 0;
    for (size_t off = 0; off < n;) {
        size_t adv;
        uint32_t c = kite__utf8_decode((const uint8_t *)text + off, n - off, &adv);
        if (c >= KITE_UC_MAX) c = KITE_UC_REPLACEMENT; // 0xF4..0xF7 leads past U+10FFFF
        cpt[nc] = c;
        flags[nc++] = kite__uc_flags(c);
        off += adv;
    }
    kite__cpt_text t = {cpt, flags, nc};
    st = kite__pretokenize(v->pre, &t, &words);
    if (st != KITE_OK) goto done;

    // Buffers for the longest word: a code point is <= 4 bytes, each encoded as <= 2 bytes.
    size_t longest = 0;
    for (size_t wi = 0; wi < words.n; wi++) longest = KITE_MAX(longest, words.len[wi]);
    if (longest > SIZE_MAX / (8 * sizeof *sym)) {
        st = kite__fail(KITE_ERR_INVALID, "tokenize: a word of %zu characters is too long", longest);
        goto done;
    }
    word = malloc(8 * longest);
    sym = malloc(8 * longest * sizeof *sym);
    if (!word || !sym) {
        st = kite__fail(KITE_ERR_NOMEM, "tokenize: out of memory for a word of %zu characters", longest);
        goto done;
    }

    size_t pos = 0;
    for (size_t wi = 0; st == KITE_OK && wi < words.n; wi++) {
        size_t wn = 0;
        for (size_t i = pos; i < pos + words.len[wi]; i++) {
            char u8[4], enc[4];
            size_t k = kite_utf8_encode(cpt[i], KITE_UTF8_MAX_UNICODE, u8);
            for (size_t j = 0; j < k; j++) {
                size_t e = kite_utf8_encode(kite__byte_to_cpt((uint8_t)u8[j]), KITE_UTF8_MAX_UNICODE, enc);
                memcpy(word + wn, enc, e);
                wn += e;
            }
        }
        pos += words.len[wi];
        st = merge_word(v, word, wn, sym, &q, out);
    }
done:
    free(cpt);
    free(flags);
    free(word);
    free(sym);
    free(words.len);
    free(q.a);
    return st;
}
