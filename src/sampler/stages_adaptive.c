// stages_adaptive.c - the samplers that cut by the shape of the distribution: top-n-sigma,
// locally typical, XTC and Mirostat 1 / 2, following llama.cpp's arithmetic (float sums in
// its order) so the same logits and seed give the same tokens.
#include "sampler/sampler_stages.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>

void kite__smp_top_n_sigma(kite__cands *c, float n) {
    if (n <= 0.0f || c->size <= 1) return;
    float max = c->data[0].logit, sum = 0.0f;
    size_t valid = 0;
    for (size_t i = 0; i < c->size; i++) {
        float l = c->data[i].logit;
        if (l == -INFINITY) continue; // masked tokens stay out of the statistics
        if (l > max) max = l;
        sum += l;
        valid++;
    }
    float mean = valid > 0 ? sum / (float)valid : 0.0f, acc = 0.0f;
    for (size_t i = 0; i < c->size; i++) {
        if (c->data[i].logit == -INFINITY) continue;
        double d = (double)(c->data[i].logit - mean);
        acc = (float)((double)acc + d * d); // the squares are taken in double, summed in float
    }
    float sd = valid > 0 ? (float)sqrt((double)(acc / (float)valid)) : 0.0f;
    float cut = max - n * sd;
    for (size_t i = 0; i < c->size; i++)
        if (c->data[i].logit < cut) c->data[i].logit = -INFINITY;
}

// Sort order of typical's scratch: smaller distance from the entropy first, NaN (all logits
// -inf) last; ties keep the probability order (lower index first). A consistent order even then.
static int cmp_distance(const void *pa, const void *pb) {
    const kite__cand *a = pa, *b = pb;
    bool a_nan = isnan(a->logit), b_nan = isnan(b->logit);
    if (a_nan != b_nan) return a_nan ? 1 : -1;
    if (!a_nan && a->logit != b->logit) return a->logit < b->logit ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

void kite__smp_typical(kite__cands *c, float p, size_t min_keep) {
    if (p >= 1.0f || c->size == 0 || !c->tmp) return;
    kite__cands_sort(c);
    kite__smp_softmax(c);
    float entropy = 0.0f;
    for (size_t i = 0; i < c->size; i++)
        if (c->data[i].p > 0.0f) entropy += -c->data[i].p * logf(c->data[i].p);
    // tmp[i]: index i into data with its distance |-log p - entropy| as the sort key.
    kite__cand *t = c->tmp;
    for (size_t i = 0; i < c->size; i++) t[i] = (kite__cand){(int32_t)i, fabsf(-logf(c->data[i].p) - entropy), 0.0f};
    qsort(t, c->size, sizeof *t, cmp_distance);
    float cum = 0.0f;
    size_t last = c->size;
    for (size_t i = 0; i < c->size; i++) {
        cum += c->data[t[i].id].p;
        if (cum > p && (min_keep == 0 || i + 1 >= min_keep)) {
            last = i + 1;
            break;
        }
    }
    for (size_t i = 0; i < last; i++) t[i] = c->data[t[i].id]; // slot i is read before it is written
    for (size_t i = 0; i < last; i++) c->data[i] = t[i];
    c->size = last;
    c->sorted = false;
}

void kite__smp_xtc(kite__cands *c, float prob, float thr, size_t min_keep, kite__mt19937 *r) {
    if (prob <= 0.0f || thr > 0.5f || c->size < 2) return;
    if (kite__mt_uniform_f32(r) > prob) return;
    kite__cands_sort(c);
    kite__smp_softmax(c);
    size_t last = 0; // the last of the leading tokens at or above the threshold
    for (size_t i = 0; i < c->size && c->data[i].p >= thr; i++) last = i;
    if (last > 0 && c->size - last >= min_keep) {
        c->data += last;
        c->size -= last;
    }
}

// Draws an index the way libstdc++'s std::discrete_distribution<int> does over the weights p:
// cumulative sums of p / sum in double, the last forced to 1, the first one >= a uniform
// double. One candidate: index 0 without a draw.
static int64_t draw_discrete(const kite__cands *c, kite__mt19937 *r) {
    if (c->size < 2) return c->size ? 0 : -1;
    double sum = 0.0;
    for (size_t i = 0; i < c->size; i++) sum += (double)c->data[i].p;
    double u = kite__mt_uniform(r), cum = 0.0;
    for (size_t i = 0; i + 1 < c->size; i++) {
        cum += (double)c->data[i].p / sum;
        if (cum >= u) return (int64_t)i;
    }
    return (int64_t)c->size - 1;
}

// int(k) as x86 builds of llama.cpp compute it: out-of-range values and NaN become INT_MIN.
static int32_t to_int_x86(float k) {
    return k >= -2147483648.0f && k < 2147483648.0f ? (int32_t)k : INT_MIN;
}

int64_t kite__smp_mirostat(kite__cands *c, int version, int32_t n_vocab, float tau, float eta, float *mu,
                           kite__mt19937 *r) {
    if (c->size == 0) return -1;
    kite__cands_sort(c);
    kite__smp_softmax(c);
    if (version == 1) {
        // Zipf exponent s_hat from the m = 100 most likely tokens, then the k that makes the
        // expected surprise mu.
        enum { M = 100 };
        float sum_tb = 0.0f, sum_tt = 0.0f;
        for (size_t i = 0; i < M - 1 && i < c->size - 1; i++) {
            float t = logf((float)(i + 2) / (float)(i + 1));
            float b = logf(c->data[i].p / c->data[i + 1].p);
            sum_tb += t * b;
            sum_tt += t * t;
        }
        float s_hat = sum_tb / sum_tt, eps = s_hat - 1.0f;
        float k = powf((eps * powf(2.0f, *mu)) / (1.0f - powf((float)n_vocab, -eps)), 1.0f / s_hat);
        int32_t ki = to_int_x86(k);
        kite__smp_top_k(c, ki > 1 ? ki : 1);
    } else {
        size_t keep = 0;
        while (keep < c->size && !(-log2f(c->data[keep].p) > *mu)) keep++;
        c->size = keep ? keep : 1;
    }
    kite__smp_softmax(c);
    int64_t at = draw_discrete(c, r);
    float surprise = -log2f(c->data[at].p);
    *mu = *mu - eta * (surprise - tau);
    return at;
}
