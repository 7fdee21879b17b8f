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
    h ^= h >> 33; // murmur3 fmix64: spread the high bits into the low ones the mask keeps
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

kite_status kite__strmap_init(kite__strmap *m, const char *base, size_t n_keys) {
    uint64_t slots = 16;
    while (slots * 3 < (uint64_t)n_keys * 4) slots *= 2; // load factor <= 3/4: short probes, tagged slots
    m->slot = slots <= UINT32_MAX && slots <= SIZE_MAX / sizeof *m->slot ? malloc((size_t)slots * sizeof *m->slot) : NULL;
    m->mask = (uint32_t)(slots - 1);
    m->base = base;
    if (!m->slot) return kite__fail(KITE_ERR_NOMEM, "tokenizer: out of memory for a map of %zu keys", n_keys);
    for (uint64_t i = 0; i < slots; i++) m->slot[i].off = EMPTY;
    return KITE_OK;
}

void kite__strmap_free(kite__strmap *m) {
    free(m->slot);
    m->slot = NULL;
}

void kite__strmap_put(kite__strmap *m, uint32_t off, uint32_t len, int32_t val, bool replace) {
    const char *key = m->base + off;
    uint64_t h = hash_parts(key, len, NULL, 0);
    uint32_t tag = (uint32_t)(h >> 32);
    for (uint32_t i = (uint32_t)h & m->mask;; i = (i + 1) & m->mask) {
        kite__strmap_slot *s = &m->slot[i];
        if (s->off == EMPTY) {
            *s = (kite__strmap_slot){off, len, val, tag};
            return;
        }
        if (s->hash == tag && s->len == len && memcmp(m->base + s->off, key, len) == 0) {
            if (replace) s->val = val;
            return;
        }
    }
}

int32_t kite__strmap_get(const kite__strmap *m, const char *a, size_t an, const char *b, size_t bn) {
    size_t len = an + (b ? 1 + bn : 0);
    uint64_t h = hash_parts(a, an, b, bn);
    uint32_t tag = (uint32_t)(h >> 32);
    for (uint32_t i = (uint32_t)h & m->mask;; i = (i + 1) & m->mask) {
        const kite__strmap_slot *s = &m->slot[i];
        if (s->off == EMPTY) return -1;
        if (s->hash != tag || s->len != len) continue;
        const char *k = m->base + s->off;
        if (memcmp(k, a, an) == 0 && (!b || (k[an] == ' ' && memcmp(k + an + 1, b, bn) == 0))) return s->val;
    }
}
