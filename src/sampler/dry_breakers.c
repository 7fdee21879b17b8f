// dry_breakers.c - DRY's sequence breakers from their text to token sequences, the way
// llama.cpp's dry sampler prepares them (Koboldcpp's overlapping token sequences): a token whose
// text contains a breaker is a breaker on its own; a token whose text ends with the start of a
// breaker begins one, followed by the tokenization of the rest of the breaker's text.
#include "base/internal.h"
#include "sampler/kite_sampler.h"

#include <string.h>

enum { MAX_BREAKER_CHARS = 40, MAX_BREAKER_TAIL = 20 };

typedef struct flat_out {
    int32_t *v;
    size_t n, cap;
} flat_out;

static bool push(flat_out *o, int32_t x) {
    if (o->n == o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 256;
        int32_t *v = realloc(o->v, cap * sizeof *v);
        if (!v) return false;
        o->v = v, o->cap = cap;
    }
    o->v[o->n++] = x;
    return true;
}

// Calls fn(ud, a, b, buf, cap)-style functions through a growing buffer: text or tokens.
static kite_status token_text(kite_token_text_fn fn, void *ud, int32_t id, char **buf, int32_t *cap, int32_t *len) {
    for (int tries = 0; tries < 2; tries++) {
        int32_t r = fn(ud, id, *buf, *cap);
        if (r >= 0 && r <= *cap) return *len = r, KITE_OK;
        int32_t need = r < 0 ? -r : r;
        if (need <= *cap || need > (1 << 24)) break;
        char *b = realloc(*buf, (size_t)need);
        if (!b) return kite__fail(KITE_ERR_NOMEM, "sampler: out of memory for a token's text");
        *buf = b, *cap = need;
    }
    return kite__fail(KITE_ERR_INVALID, "sampler: DRY breakers: no text for token %d", (int)id);
}

// Appends the breaker [head, tokenization of rest]; the tail keeps at most MAX_BREAKER_TAIL tokens.
static kite_status add_partial(flat_out *o, int32_t head, const char *rest, size_t n_rest, kite_tokenize_fn tokenize,
                               void *ud) {
    int32_t toks[MAX_BREAKER_CHARS + 8];
    int32_t n = tokenize(ud, rest, (int32_t)n_rest, toks, (int32_t)(sizeof toks / sizeof toks[0]));
    if (n < 0) return kite__fail(KITE_ERR_INVALID, "sampler: DRY breakers: cannot tokenize '%.*s'", (int)n_rest, rest);
    if (n > MAX_BREAKER_TAIL) n = MAX_BREAKER_TAIL;
    if (!push(o, n + 1) || !push(o, head)) return kite__fail(KITE_ERR_NOMEM, "sampler: out of memory for DRY breakers");
    for (int32_t i = 0; i < n; i++)
        if (!push(o, toks[i])) return kite__fail(KITE_ERR_NOMEM, "sampler: out of memory for DRY breakers");
    return KITE_OK;
}

// The breakers of one string str (len bytes, at most MAX_BREAKER_CHARS) that token id, whose
// text is w (n bytes), heads.
static kite_status token_breakers(flat_out *o, int32_t id, const char *w, size_t n, const char *str, size_t len,
                                  kite_tokenize_fn tokenize, void *ud) {
    for (size_t at = 0; at + len <= n; at++)
        if (!memcmp(w + at, str, len)) {
            if (!push(o, 1) || !push(o, id)) return kite__fail(KITE_ERR_NOMEM, "sampler: out of memory for DRY breakers");
            return KITE_OK;
        }
    bool seen[MAX_BREAKER_CHARS + 1] = {false}; // the same overlap gives the same tail once
    for (const char *p = memchr(w, str[0], n); p; p = memchr(p + 1, str[0], n - (size_t)(p + 1 - w))) {
        size_t pos = (size_t)(p - w), i = 1;
        while (i < len && pos + i < n && w[pos + i] == str[i]) i++;
        if (i < len && pos + i < n) continue; // a mismatch inside the word
        if (seen[i]) continue;
        seen[i] = true;
        KITE_TRY(add_partial(o, id, str + i, len - i, tokenize, ud));
    }
    return KITE_OK;
}

kite_status kite_sampler_dry_breakers(const char *const *strs, size_t n_strs, int32_t n_vocab, kite_token_text_fn text,
                                      kite_tokenize_fn tokenize, void *ud, int32_t **out, size_t *n_out) {
    if (!out || !n_out || (n_strs && !strs) || !text || !tokenize || n_vocab < 0)
        return kite__fail(KITE_ERR_INVALID, "sampler: DRY breakers: bad argument");
    // One pass over the vocabulary (each token's text made once) fills one list per string; the
    // lists are joined in the strings' order, as a walk per string gives them.
    flat_out *per = calloc(n_strs ? n_strs : 1, sizeof *per);
    int32_t cap = 256;
    char *buf = malloc((size_t)cap);
    kite_status st = buf && per ? KITE_OK : kite__fail(KITE_ERR_NOMEM, "sampler: out of memory");
    for (int32_t id = 0; st == KITE_OK && id < n_vocab; id++) {
        int32_t wlen = 0;
        st = token_text(text, ud, id, &buf, &cap, &wlen);
        for (size_t i = 0; st == KITE_OK && i < n_strs; i++) {
            if (!strs[i] || !strs[i][0]) continue; // llama.cpp skips empty breakers
            size_t len = strlen(strs[i]);
            st = token_breakers(&per[i], id, buf, (size_t)wlen, strs[i], len > MAX_BREAKER_CHARS ? MAX_BREAKER_CHARS : len,
                                tokenize, ud);
        }
    }
    free(buf);
    flat_out o = {0};
    for (size_t i = 0; st == KITE_OK && i < n_strs; i++)
        for (size_t k = 0; st == KITE_OK && k < per[i].n; k++)
            if (!push(&o, per[i].v[k])) st = kite__fail(KITE_ERR_NOMEM, "sampler: out of memory for DRY breakers");
    for (size_t i = 0; per && i < n_strs; i++) free(per[i].v);
    free(per);
    if (st != KITE_OK) {
        free(o.v);
        return st;
    }
    *out = o.v;
    *n_out = o.n;
    return KITE_OK;
}
