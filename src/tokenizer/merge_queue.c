// merge_queue.c - the binary max-heap of candidate merges both SPM and BPE pop from, their
// symbol lists, and the growable id / piece lists.
#include "tokenizer/tok_internal.h"

// True when x should be merged before y: higher score, then the leftmost.
static bool better(const kite__bigram *x, const kite__bigram *y) {
    return x->score > y->score || (x->score == y->score && x->left < y->left);
}

// Grows *p (elements of size sz, capacity *cap) to hold at least need elements.
static kite_status grow(void **p, size_t *cap, size_t need, size_t sz) {
    if (need <= *cap) return KITE_OK;
    size_t c = *cap ? *cap : 16;
    while (c < need) c *= 2;
    void *q = realloc(*p, c * sz);
    if (!q) return kite__fail(KITE_ERR_NOMEM, "tokenizer: out of memory (%zu elements)", c);
    *p = q;
    *cap = c;
    return KITE_OK;
}

kite_status kite__heap_push(kite__bigram_heap *h, kite__bigram b) {
    KITE_TRY(grow((void **)&h->a, &h->cap, h->n + 1, sizeof *h->a));
    size_t i = h->n++;
    while (i > 0) { // sift up
        size_t parent = (i - 1) / 2;
        if (!better(&b, &h->a[parent])) break;
        h->a[i] = h->a[parent];
        i = parent;
    }
    h->a[i] = b;
    return KITE_OK;
}

bool kite__heap_pop(kite__bigram_heap *h, kite__bigram *out) {
    if (h->n == 0) return false;
    *out = h->a[0];
    kite__bigram last = h->a[--h->n];
    size_t i = 0, n = h->n;
    for (;;) { // sift the last element down from the root
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && better(&h->a[c + 1], &h->a[c])) c++;
        if (!better(&h->a[c], &last)) break;
        h->a[i] = h->a[c];
        i = c;
    }
    if (n) h->a[i] = last;
    return true;
}

kite_status kite__ids_push(kite__ids *ids, int32_t id) {
    KITE_TRY(grow((void **)&ids->p, &ids->cap, ids->n + 1, sizeof *ids->p));
    ids->p[ids->n++] = id;
    return KITE_OK;
}

kite_status kite__pieces_push(kite__pieces *p, size_t len) {
    KITE_TRY(grow((void **)&p->len, &p->cap, p->n + 1, sizeof *p->len));
    p->len[p->n++] = len;
    return KITE_OK;
}

int32_t kite__symbols_from_utf8(const char *text, size_t n, kite__symbol *sym) {
    int32_t ns = 0;
    for (size_t off = 0; off < n;) {
        size_t len = KITE_MIN(kite__utf8_len((uint8_t)text[off]), n - off);
        sym[ns] = (kite__symbol){ns - 1, off + len == n ? -1 : ns + 1, (uint32_t)off, (uint32_t)len};
        ns++;
        off += len;
    }
    return ns;
}
