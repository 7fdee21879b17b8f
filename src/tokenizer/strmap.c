// strmap.c - string -> int32 hash map (open addressing, linear probing) whose keys live in an
// arena the caller owns; used for token text -> id and BPE merge -> rank.
#include "tokenizer/tok_internal.h"

#define EMPTY UINT32_MAX

// FNV-1a over a, then (when b is given) ' ' and b: the hash of the concatenated key.
static uint64_t hash_parts(const char *a, size_t an, const char *b, size_t bn) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < an; i++) h = (h ^ (uint8_t)a[i]) * 1099511628211ull;
    if (b) {
        h = (h ^ (uint8_t)' ') * 1099511628211ull;
        for (size_t i = 0; i < bn; i++) h = (h ^ (uint8_t)b[i]) * 1099511628211ull;
    }
    return h ^ (h >> 29);
}

kite_status kite__strmap_init(kite__strmap *m, const char *base, size_t n_keys) {
    size_t slots = 16;
    while (slots < n_keys * 2) slots *= 2; // load factor <= 1/2 keeps probes short
    m->off = malloc(slots * sizeof *m->off);
    m->len = malloc(slots * sizeof *m->len);
    m->val = malloc(slots * sizeof *m->val);
    m->mask = (uint32_t)(slots - 1);
    m->base = base;
    if (!m->off || !m->len || !m->val) {
        kite__strmap_free(m);
        return kite__fail(KITE_ERR_NOMEM, "tokenizer: out of memory for a map of %zu keys", n_keys);
    }
    for (size_t i = 0; i < slots; i++) m->off[i] = EMPTY;
    return KITE_OK;
}

void kite__strmap_free(kite__strmap *m) {
    free(m->off);
    free(m->len);
    free(m->val);
    m->off = m->len = NULL;
    m->val = NULL;
}

void kite__strmap_put(kite__strmap *m, uint32_t off, uint32_t len, int32_t val, bool replace) {
    const char *key = m->base + off;
    uint32_t i = (uint32_t)hash_parts(key, len, NULL, 0) & m->mask;
    while (m->off[i] != EMPTY) {
        if (m->len[i] == len && memcmp(m->base + m->off[i], key, len) == 0) {
            if (replace) m->val[i] = val;
            return;
        }
        i = (i + 1) & m->mask;
    }
    m->off[i] = off;
    m->len[i] = len;
    m->val[i] = val;
}

int32_t kite__strmap_get(const kite__strmap *m, const char *a, size_t an, const char *b, size_t bn) {
    size_t len = an + (b ? 1 + bn : 0);
    uint32_t i = (uint32_t)hash_parts(a, an, b, bn) & m->mask;
    while (m->off[i] != EMPTY) {
        const char *k = m->base + m->off[i];
        if (m->len[i] == len && memcmp(k, a, an) == 0 &&
            (!b || (k[an] == ' ' && memcmp(k + an + 1, b, bn) == 0)))
            return m->val[i];
        i = (i + 1) & m->mask;
    }
    return -1;
}
