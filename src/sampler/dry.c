// dry.c - the DRY penalty (Koboldcpp's, as llama.cpp's dry sampler computes it): a token that
// would extend a sequence already repeated in the window, longer than the allowed length, loses
// multiplier * base ^ (length - allowed length) of its logit. Sequence breakers stop the
// repeat length: no repeat reaches back across the most recent breaker.
#include "base/internal.h"
#include "sampler/dry.h"

#include <math.h>

// One breaker: its head token and the tail tokens that follow it (tail[0] right after head).
typedef struct dry_breaker {
    int32_t head;
    uint32_t off, n_tail; // tail = tails + off
} dry_breaker;

typedef struct dry_repeat {
    int32_t id, len;
} dry_repeat;

struct kite__dry {
    float multiplier, base;
    int32_t allowed, cap;
    int32_t *ring; // cap tokens
    int32_t n, head;
    int *count;          // cap repeat counts (llama.cpp's dry_repeat_count)
    dry_repeat *repeats; // cap (token, repeat length) pairs
    int32_t *pen_ids;
    float *pens;
    dry_breaker *breakers; // sorted by head
    size_t n_breakers;
    int32_t *tails;
};

// The i-th most recent token (i = 0: the last accepted).
static int32_t rat(const kite__dry *d, int i) { return d->ring[(d->head - 1 - i + 2 * d->cap) % d->cap]; }

static int cmp_breaker(const void *a, const void *b) {
    int32_t x = ((const dry_breaker *)a)->head, y = ((const dry_breaker *)b)->head;
    return (x > y) - (x < y);
}

static int cmp_repeat(const void *a, const void *b) {
    const dry_repeat *x = a, *y = b;
    if (x->id != y->id) return (x->id > y->id) - (x->id < y->id);
    return (x->len < y->len) - (x->len > y->len); // longest first
}

// The breakers whose head is token: [*first, return value) in d->breakers.
static size_t breakers_of(const kite__dry *d, int32_t token, size_t *first) {
    size_t lo = 0, hi = d->n_breakers;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (d->breakers[mid].head < token) lo = mid + 1;
        else hi = mid;
    }
    *first = lo;
    while (hi < d->n_breakers && d->breakers[hi].head == token) hi++;
    return hi;
}

static kite_status load_breakers(kite__dry *d, const int32_t *flat, size_t n_flat) {
    size_t n = 0, n_tail = 0;
    for (size_t i = 0; i < n_flat; i += 1 + (size_t)flat[i]) {
        if (flat[i] < 1 || (size_t)flat[i] > n_flat - i - 1)
            return kite__fail(KITE_ERR_INVALID, "sampler: dry_breakers: entry at %zu has a bad length %d", i,
                              (int)flat[i]);
        n++;
        n_tail += (size_t)flat[i] - 1;
    }
    d->breakers = malloc((n ? n : 1) * sizeof *d->breakers);
    d->tails = malloc((n_tail ? n_tail : 1) * sizeof *d->tails);
    if (!d->breakers || !d->tails) return kite__fail(KITE_ERR_NOMEM, "sampler: out of memory for DRY breakers");
    size_t k = 0, t = 0;
    for (size_t i = 0; i < n_flat; i += 1 + (size_t)flat[i]) {
        d->breakers[k++] = (dry_breaker){flat[i + 1], (uint32_t)t, (uint32_t)(flat[i] - 1)};
        for (int32_t j = 2; j <= flat[i]; j++) d->tails[t++] = flat[i + (size_t)j];
    }
    d->n_breakers = n;
    qsort(d->breakers, n, sizeof *d->breakers, cmp_breaker);
    return KITE_OK;
}

kite_status kite__dry_new(const kite_sampler_params *p, kite__dry **out) {
    *out = NULL;
    if (p->dry_multiplier == 0.0f || p->dry_base < 1.0f || p->dry_penalty_last_n <= 0) return KITE_OK;
    kite__dry *d = calloc(1, sizeof *d);
    if (!d) return kite__fail(KITE_ERR_NOMEM, "sampler: out of memory for DRY");
    d->multiplier = p->dry_multiplier;
    d->base = p->dry_base;
    d->allowed = p->dry_allowed_length;
    d->cap = p->dry_penalty_last_n;
    size_t cap = (size_t)d->cap;
    d->ring = malloc(cap * sizeof *d->ring);
    d->count = malloc(cap * sizeof *d->count);
    d->repeats = malloc(cap * sizeof *d->repeats);
    d->pen_ids = malloc(cap * sizeof *d->pen_ids);
    d->pens = malloc(cap * sizeof *d->pens);
    kite_status st = d->ring && d->count && d->repeats && d->pen_ids && d->pens
                         ? load_breakers(d, p->dry_breakers, p->dry_breakers ? p->n_dry_breakers : 0)
                         : kite__fail(KITE_ERR_NOMEM, "sampler: out of memory for a DRY window of %d", d->cap);
    if (st != KITE_OK) {
        kite__dry_free(d);
        return st;
    }
    *out = d;
    return KITE_OK;
}

void kite__dry_free(kite__dry *d) {
    if (!d) return;
    free(d->ring);
    free(d->count);
    free(d->repeats);
    free(d->pen_ids);
    free(d->pens);
    free(d->breakers);
    free(d->tails);
    free(d);
}

void kite__dry_accept(kite__dry *d, int32_t token) {
    if (!d) return;
    d->ring[d->head] = token;
    d->head = (d->head + 1) % d->cap;
    if (d->n < d->cap) d->n++;
}

void kite__dry_reset(kite__dry *d) {
    if (d) d->n = d->head = 0;
}

// How far back a repeat may reach: up to the most recent complete breaker (its longest match
// when several start with the same token), else the whole window.
static int repeat_limit(const kite__dry *d, int n) {
    for (int i = 0; i < n; i++) {
        size_t first, end = breakers_of(d, rat(d, i), &first);
        int longest = -1;
        for (size_t b = first; b < end; b++) {
            int len = (int)d->breakers[b].n_tail;
            if (len <= longest || len > i) continue;
            const int32_t *tail = d->tails + d->breakers[b].off;
            int k = 0;
            while (k < len && tail[k] == rat(d, i - k - 1)) k++;
            if (k == len) longest = len;
        }
        if (longest >= 0) return i - longest;
    }
    return n;
}

// count[last - k] = length of the longest suffix of the window that also ends k tokens earlier
// (capped at limit): the Z-algorithm run backwards over the window.
static void repeat_counts(kite__dry *d, int n, int limit) {
    int last = n - 1, lt = 0, rt = 0;
    for (int k = 0; k < n; k++) d->count[k] = 0;
    for (int k = 1; k < n; k++) {
        if (k > rt) {
            int m = 0;
            while (m + k < n && rat(d, m) == rat(d, m + k)) m++;
            d->count[last - k] = m < limit ? m : limit;
            if (m > 0) lt = k, rt = k + m - 1;
        } else {
            int pair = k - lt, right = rt - k + 1;
            if (d->count[last - pair] < right) {
                int m = d->count[last - pair];
                d->count[last - k] = m < limit ? m : limit;
            } else {
                int i = rt + 1;
                while (i < n && rat(d, i) == rat(d, i - k)) i++;
                d->count[last - k] = i - k < limit ? i - k : limit;
                lt = k, rt = i - 1;
            }
        }
    }
}

static bool single_token_breaker(const kite__dry *d, int32_t token) {
    size_t first, end = breakers_of(d, token, &first);
    for (size_t b = first; b < end; b++)
        if (d->breakers[b].n_tail == 0) return true;
    return false;
}

size_t kite__dry_penalties(kite__dry *d, const int32_t **ids, const float **pens) {
    *ids = d ? d->pen_ids : NULL;
    *pens = d ? d->pens : NULL;
    if (!d || d->n <= d->allowed) return 0;
    int n = d->n, limit = repeat_limit(d, n);
    if (limit < d->allowed) return 0;
    repeat_counts(d, n, limit);
    // The token after each repeat would extend it: its longest such repeat decides its penalty.
    size_t n_rep = 0;
    for (int i = 0; i < n - 1; i++)
        if (d->count[i] >= d->allowed) d->repeats[n_rep++] = (dry_repeat){rat(d, n - 2 - i), d->count[i]};
    qsort(d->repeats, n_rep, sizeof *d->repeats, cmp_repeat);
    // pow's overflow guard: the exponent stops at log(FLT_MAX) / log(base) (llama.cpp's constant).
    int max_exp = d->base > 1.000001f ? (int)(88.7228391f / logf(d->base)) : 0;
    size_t n_pen = 0;
    for (size_t i = 0; i < n_rep; i++) {
        if (i > 0 && d->repeats[i].id == d->repeats[i - 1].id) continue;
        if (single_token_breaker(d, d->repeats[i].id)) continue;
        int e = d->repeats[i].len - d->allowed;
        if (max_exp > 0 && e > max_exp) e = max_exp;
        d->pen_ids[n_pen] = d->repeats[i].id;
        d->pens[n_pen++] = (float)((double)d->multiplier * pow((double)d->base, (double)e));
    }
    return n_pen;
}
