// stages.c - the sampler stages on a candidate array, following llama.cpp's semantics
// (src/llama-sampler.cpp) so the same logits give the same probabilities and tokens.
#include "sampler/sampler_stages.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

// Sort key of a logit: unsigned order of the keys is descending order of the logits
// (IEEE bits made monotonic, then inverted; -0 counts as +0).
static inline uint32_t desc_key(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if (u == 0x80000000u) u = 0;
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    return ~u;
}

// Stable LSD radix sort by desc_key, 8 bits per pass, through tmp. Stability keeps equal
// logits in their current order, which is ascending id when the caller checked so.
static void radix_sort(kite__cand *d, kite__cand *tmp, size_t n) {
    kite__cand *src = d, *dst = tmp;
    for (int shift = 0; shift < 32; shift += 8) {
        size_t count[257] = {0};
        for (size_t i = 0; i < n; i++) count[((desc_key(src[i].logit) >> shift) & 0xFF) + 1]++;
        if (count[((desc_key(src[0].logit) >> shift) & 0xFF) + 1] == n) continue; // one bucket: no-op pass
        for (int b = 0; b < 256; b++) count[b + 1] += count[b];
        for (size_t i = 0; i < n; i++) dst[count[(desc_key(src[i].logit) >> shift) & 0xFF]++] = src[i];
        kite__cand *t = src;
        src = dst;
        dst = t;
    }
    if (src != d) memcpy(d, src, n * sizeof *d);
}

void kite__cands_sort(kite__cands *c) {
    if (c->sorted) return;
    c->sorted = true;
    // Large lists (whole vocabularies) sort by radix: several times faster than a comparison
    // sort there. It orders ties by id only if ids ascend now, which the sampler's lists do.
    bool ascending = c->size > 1024;
    for (size_t i = 1; ascending && i < c->size; i++) ascending = c->data[i - 1].id < c->data[i].id;
    if (ascending) {
        kite__cand *tmp = c->tmp ? c->tmp : malloc(c->size * sizeof *tmp);
        if (tmp) {
            radix_sort(c->data, tmp, c->size);
            if (tmp != c->tmp) free(tmp);
            return;
        }
    }
    qsort(c->data, c->size, sizeof *c->data, cmp_cand);
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

// Copies the k best candidates of c, in descending order, to out (1 <= k <= c->size), leaving
// c as it is: a min-heap of the best so far (worst at the root), then a sort of those k.
static void select_top(const kite__cands *c, size_t k, kite__cand *out) {
    memcpy(out, c->data, k * sizeof *out);
    for (size_t i = k / 2; i-- > 0;) sift_down(out, k, i);
    float worst = out[0].logit; // the heap root's logit, kept in a register
    for (size_t i = k; i < c->size; i++) {
        const kite__cand *x = &c->data[i];
        if (x->logit < worst || !better(x, &out[0])) continue;
        out[0] = *x;
        sift_down(out, k, 0);
        worst = out[0].logit;
    }
    qsort(out, k, sizeof *out, cmp_cand);
}

void kite__cands_partial_sort(kite__cands *c, size_t k) {
    if (c->sorted) return;
    if (k > c->size) k = c->size;
    if (k == 0) return;
    // A heap of the k best costs n log k; once k is a sizeable part of n a full sort is as
    // cheap and simpler (the factor 8 is a rough crossover, not tuned).
    enum { STACK_K = 256 };
    kite__cand stack[STACK_K], *top = k <= STACK_K ? stack : malloc(k * sizeof *top);
    if (k * 8 >= c->size || !top) {
        kite__cands_sort(c);
    } else {
        // The k best go to the front, overwriting what was there: callers only use the
        // front afterwards (they cut the list to k).
        select_top(c, k, top);
        memcpy(c->data, top, k * sizeof *top);
    }
    if (top && top != stack) free(top);
}

void kite__select_top_logits(const float *logits, size_t n, const int32_t *ids, const float *vals, size_t n_ovr,
                             size_t k, kite__cand *out) {
    size_t o = 0;
    while (o < n_ovr && ids[o] < 0) o++;
    for (size_t i = 0; i < k; i++) {
        float v = o < n_ovr && (size_t)ids[o] == i ? vals[o++] : logits[i];
        out[i] = (kite__cand){(int32_t)i, isnan(v) ? -INFINITY : v, 0.0f};
    }
    for (size_t i = k / 2; i-- > 0;) sift_down(out, k, i);
    float worst = out[0].logit;
    for (size_t i = k; i < n;) {
        // A plain run up to the next replaced id: one compare per logit in the common case.
        size_t end = o < n_ovr && (size_t)ids[o] < n ? (size_t)ids[o] : n;
        for (; i < end; i++) {
            // Ids ascend, so a logit equal to the worst kept one loses the tie (NaN never wins).
            if (!(logits[i] > worst)) continue;
            out[0] = (kite__cand){(int32_t)i, logits[i], 0.0f};
            sift_down(out, k, 0);
            worst = out[0].logit;
        }
        if (i < n && o < n_ovr && (size_t)ids[o] == i) {
            float v = vals[o++];
            if (v > worst) {
                out[0] = (kite__cand){(int32_t)i, v, 0.0f};
                sift_down(out, k, 0);
                worst = out[0].logit;
            }
            i++;
        }
    }
    qsort(out, k, sizeof *out, cmp_cand);
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

size_t kite__window_counts(const int32_t *window, size_t n, int32_t *ids, int32_t *counts) {
    for (size_t i = 0; i < n; i++) ids[i] = window[i];
    qsort(ids, n, sizeof *ids, cmp_i32);
    size_t d = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && ids[j] == ids[i]) j++;
        ids[d] = ids[i];
        counts[d++] = (int32_t)(j - i);
        i = j;
    }
    return d;
}

float kite__penalize(float l, int32_t count, float repeat, float freq, float presence) {
    // Dividing a negative logit would raise its probability: multiply those instead (the
    // usual fix of the CTRL paper's rule, as llama.cpp does).
    l = l <= 0.0f ? l * repeat : l / repeat;
    return l - ((float)count * freq + presence);
}

void kite__smp_penalties(kite__cands *c, const int32_t *window, size_t n, int32_t *scratch, float repeat, float freq,
                         float presence) {
    if (n == 0 || (repeat == 1.0f && freq == 0.0f && presence == 0.0f)) return;
    size_t d = kite__window_counts(window, n, scratch, scratch + n);
    for (size_t i = 0; i < d; i++) {
        int64_t at = find_id(c, scratch[i]);
        if (at >= 0) c->data[at].logit = kite__penalize(c->data[at].logit, scratch[n + i], repeat, freq, presence);
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
    // look at those first (llama.cpp's adaptive scheme: 256 of more than 1024) without
    // disturbing the list, and sort it whole only when they do not reach p.
    enum { FIRST = 256 };
    if (!c->sorted && c->size > 1024) {
        kite__cand top[FIRST];
        select_top(c, FIRST, top);
        float cum = 0.0f;
        for (size_t i = 0; i < FIRST; i++) {
            cum += top[i].p;
            if (cum >= p && i + 1 >= min_keep) {
                memcpy(c->data, top, (i + 1) * sizeof *top);
                c->size = i + 1;
                c->sorted = true;
                return;
            }
        }
    }
    kite__cands_sort(c);
    float cum = 0.0f;
    size_t last = c->size;
    for (size_t i = 0; i < c->size; i++) {
        cum += c->data[i].p;
        if (cum >= p && i + 1 >= min_keep) {
            last = i + 1;
            break;
        }
    }
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
