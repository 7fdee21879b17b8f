// stages.c - the sampler stages on a candidate array, following llama.cpp's semantics
// (src/llama-sampler.cpp) so the same logits give the same probabilities and tokens.
#include "sampler/sampler_stages.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

// ---- ordering -----------------------------------------------------------------------------

// a ranks before b: higher logit first; ties broken by lower id so the order (and so the
// drawn token) never depends on the C library's qsort.
static inline bool better(const kite__cand *a, const kite__cand *b) {
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

static int cmp_cand(const void *pa, const void *pb) {
    const kite__cand *a = pa, *b = pb;
    return better(a, b) ? -1 : better(b, a) ? 1 : 0;
}

void kite__cands_sort(kite__cands *c) {
    if (!c->sorted) qsort(c->data, c->size, sizeof *c->data, cmp_cand);
    c->sorted = true;
}

// Restores the min-heap property (worst candidate at the root) below node i of h[0..n).
static void sift_down(kite__cand *h, size_t n, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && better(&h[w], &h[l])) w = l;
        if (r < n && better(&h[w], &h[r])) w = r;
        if (w == i) return;
        kite__cand t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

void kite__cands_partial_sort(kite__cands *c, size_t k) {
    if (c->sorted) return;
    if (k > c->size) k = c->size;
    // A heap of the k best costs n log k; once k is a sizeable part of n a full sort is as
    // cheap and simpler (the factor 8 is a rough crossover, not tuned).
    if (k == 0) return;
    if (k * 8 >= c->size) {
        kite__cands_sort(c);
        return;
    }
    kite__cand *d = c->data;
    for (size_t i = k / 2; i-- > 0;) sift_down(d, k, i);
    for (size_t i = k; i < c->size; i++) {
        if (better(&d[i], &d[0])) {
            kite__cand t = d[0];
            d[0] = d[i];
            d[i] = t;
            sift_down(d, k, 0);
        }
    }
    qsort(d, k, sizeof *d, cmp_cand);
}

// ---- probabilities ------------------------------------------------------------------------

static float max_logit(const kite__cands *c) {
    if (c->sorted) return c->data[0].logit;
    float m = c->data[0].logit;
    for (size_t i = 1; i < c->size; i++)
        if (c->data[i].logit > m) m = c->data[i].logit;
    return m;
}

void kite__smp_softmax(kite__cands *c) {
    if (c->size == 0) return;
    float m = max_logit(c), sum = 0.0f;
    for (size_t i = 0; i < c->size; i++) {
        c->data[i].p = expf(c->data[i].logit - m);
        sum += c->data[i].p;
    }
    for (size_t i = 0; i < c->size; i++) c->data[i].p /= sum;
}

// ---- stages -------------------------------------------------------------------------------

static int cmp_i32(const void *pa, const void *pb) {
    int32_t a = *(const int32_t *)pa, b = *(const int32_t *)pb;
    return (a > b) - (a < b);
}

// Index of token id in the list, or -1. The chain's list is the whole vocabulary in id order
// at this stage, so the direct slot is tried first.
static int64_t find_id(const kite__cands *c, int32_t id) {
    if (id >= 0 && (size_t)id < c->size && c->data[id].id == id) return id;
    for (size_t i = 0; i < c->size; i++)
        if (c->data[i].id == id) return (int64_t)i;
    return -1;
}

void kite__smp_penalties(kite__cands *c, const int32_t *window, size_t n, int32_t *scratch,
                         float repeat, float freq, float presence) {
    if (n == 0 || (repeat == 1.0f && freq == 0.0f && presence == 0.0f)) return;
    for (size_t i = 0; i < n; i++) scratch[i] = window[i];
    qsort(scratch, n, sizeof *scratch, cmp_i32);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && scratch[j] == scratch[i]) j++;
        int64_t at = find_id(c, scratch[i]);
        if (at >= 0) {
            float *l = &c->data[at].logit;
            // Dividing a negative logit would raise its probability: multiply those instead
            // (the usual fix of the CTRL paper's rule, as llama.cpp does).
            if (*l <= 0.0f) *l *= repeat;
            else *l /= repeat;
            *l -= (float)(j - i) * freq + presence;
        }
        i = j;
    }
    c->sorted = false;
}

void kite__smp_top_k(kite__cands *c, int32_t k) {
    if (k <= 0) return;
    size_t kk = (size_t)k < c->size ? (size_t)k : c->size;
    kite__cands_partial_sort(c, kk);
    c->size = kk;
    c->sorted = true;
}

void kite__smp_top_p(kite__cands *c, float p, size_t min_keep) {
    if (p >= 1.0f || c->size == 0) return;
    kite__smp_softmax(c);
    // Large unsorted lists: most of the mass usually sits in the best few hundred tokens, so
    // sort only those first and fall back to a full sort if they do not reach p (llama.cpp's
    // adaptive scheme: 256 of more than 1024).
    size_t k = c->size;
    if (!c->sorted && c->size > 1024) {
        k = 256;
        kite__cands_partial_sort(c, k);
    } else {
        kite__cands_sort(c);
    }
    float cum = 0.0f;
    size_t last = c->size;
    for (size_t i = 0; i < c->size; i++) {
        cum += c->data[i].p;
        if (cum >= p && i + 1 >= min_keep) {
            last = i + 1;
            break;
        }
        if (!c->sorted && i == k - 1) kite__cands_sort(c);
    }
    c->sorted = true;
    c->size = last;
}

void kite__smp_min_p(kite__cands *c, float p, size_t min_keep) {
    if (p <= 0.0f || c->size == 0) return;
    if (!c->sorted) {
        // Unsorted: keep, in place and in order, every token with logit >= max + log(p),
        // i.e. probability >= p * p_max, if that leaves enough tokens.
        float cut = max_logit(c) + logf(p);
        size_t n = 0;
        for (size_t i = 0; i < c->size; i++) n += c->data[i].logit >= cut;
        if (n > 0 && n >= min_keep) {
            size_t o = 0;
            for (size_t i = 0; i < c->size; i++)
                if (c->data[i].logit >= cut) c->data[o++] = c->data[i];
            c->size = o;
            return;
        }
        kite__cands_sort(c);
    }
    float cut = c->data[0].logit + logf(p);
    size_t i = 1; // the best token always stays
    while (i < c->size && !(c->data[i].logit < cut && i >= min_keep)) i++;
    c->size = i;
}

void kite__smp_temp(kite__cands *c, float t) {
    if (c->size == 0) return;
    if (t <= 0.0f) {
        size_t best = 0;
        for (size_t i = 1; i < c->size; i++) {
            if (c->data[i].logit > c->data[best].logit) {
                c->data[best].logit = -INFINITY;
                best = i;
            } else {
                c->data[i].logit = -INFINITY;
            }
        }
        return;
    }
    for (size_t i = 0; i < c->size; i++) c->data[i].logit /= t;
}

int64_t kite__smp_dist(kite__cands *c, kite__mt19937 *r) {
    if (c->size == 0) return -1;
    if (c->size == 1) {
        (void)kite__mt_uniform(r); // one draw per token in every case, as llama.cpp does
        c->data[0].p = 1.0f;
        return 0;
    }
    float m = max_logit(c);
    double sum = 0.0;
    for (size_t i = 0; i < c->size; i++) {
        c->data[i].p = expf(c->data[i].logit - m);
        sum += c->data[i].p;
    }
    // Walk the unnormalized masses up to u * total: one pass, no division before the draw.
    double target = sum * kite__mt_uniform(r), run = 0.0;
    int64_t pick = -1;
    for (size_t i = 0; i < c->size; i++) {
        if (pick < 0) {
            run += c->data[i].p;
            if (run >= target) pick = (int64_t)i;
        }
        c->data[i].p = (float)(c->data[i].p / sum);
    }
    return pick >= 0 ? pick : (int64_t)c->size - 1; // rounding can leave run a hair short
}
