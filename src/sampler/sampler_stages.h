// sampler_stages.h - the sampler's building blocks on a candidate array (internal; the unit
// tests drive them one by one the way llama.cpp's test-sampling.cpp drives its samplers).
#ifndef KITE_SAMPLER_STAGES_H
#define KITE_SAMPLER_STAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// One candidate token: id, logit, probability (set by softmax / dist).
typedef struct kite__cand {
    int32_t id;
    float logit;
    float p;
} kite__cand;

// A candidate list. sorted: data is in descending logit order. tmp: optional scratch of at
// least size candidates for the sort (NULL: the sort allocates its own or falls back).
typedef struct kite__cands {
    kite__cand *data;
    size_t size;
    bool sorted;
    kite__cand *tmp;
} kite__cands;

// MT19937 state (the 32-bit Mersenne Twister of Matsumoto & Nishimura, std::mt19937).
typedef struct kite__mt19937 {
    uint32_t mt[624];
    uint32_t idx;
} kite__mt19937;

void kite__mt_seed(kite__mt19937 *r, uint32_t seed);
uint32_t kite__mt_next(kite__mt19937 *r);
// A double in [0,1) from two draws, as libstdc++'s generate_canonical<double, 53> makes it
// for std::uniform_real_distribution<double>(0, 1).
double kite__mt_uniform(kite__mt19937 *r);
// A float in [0,1) from one draw, as libstdc++'s std::uniform_real_distribution<float>(0, 1).
float kite__mt_uniform_f32(kite__mt19937 *r);

// Sorts the candidates by descending logit (ties: lower id first) and sets sorted.
void kite__cands_sort(kite__cands *c);

// Moves the k best candidates, in descending order, to the front (the rest keep no order)
// without changing size. k is clamped to size.
void kite__cands_partial_sort(kite__cands *c, size_t k);

// Sets p to the softmax of the logits (no reordering).
void kite__smp_softmax(kite__cands *c);

// The distinct tokens of window[0..n) in ascending order (ids) and how often each occurs
// (counts); returns how many. ids and counts need room for n each.
size_t kite__window_counts(const int32_t *window, size_t n, int32_t *ids, int32_t *counts);

// A logit after the repetition, frequency and presence penalties for a token seen count times.
float kite__penalize(float logit, int32_t count, float repeat, float freq, float presence);

// The k best of logits[0..n) (ids = indices), with the values of the ascending ids[0..n_ovr)
// replaced by vals (penalized tokens), into out[0..k) in descending order, ties to the lower
// id, NaN as -inf; k in 1..n. What penalties + top-k do, without building all n candidates.
void kite__select_top_logits(const float *logits, size_t n, const int32_t *ids, const float *vals, size_t n_ovr,
                             size_t k, kite__cand *out);

// Repetition / frequency / presence penalties for the tokens in window[0..n) (any order).
// scratch: room for 2n ints. Marks the list unsorted.
void kite__smp_penalties(kite__cands *c, const int32_t *window, size_t n, int32_t *scratch,
                         float repeat, float freq, float presence);

// Keeps the k best (k <= 0: no-op). Leaves the list sorted when it cuts.
void kite__smp_top_k(kite__cands *c, int32_t k);

// Keeps the smallest best-first prefix whose probability reaches p (p >= 1: no-op), at
// least min_keep. Computes p by softmax; leaves the list sorted.
void kite__smp_top_p(kite__cands *c, float p, size_t min_keep);

// Keeps the tokens whose probability is at least p times the best one's (p <= 0: no-op).
void kite__smp_min_p(kite__cands *c, float p, size_t min_keep);

// Divides the logits by t; t <= 0 keeps the first maximum and sets the others to -inf.
void kite__smp_temp(kite__cands *c, float t);

// Top-n-sigma: sets to -inf every logit below max - n * (standard deviation of the finite
// logits) (n <= 0 or fewer than 2 candidates: no-op). Keeps size and order.
void kite__smp_top_n_sigma(kite__cands *c, float n);

// Locally typical sampling: keeps the tokens whose surprise (-log p) is closest to the entropy,
// closest first, until their probability passes p (p >= 1: no-op), at least min_keep. Uses
// c->tmp (required, size candidates) as scratch. Leaves the list unsorted (closest first).
// Tokens of probability 0 add nothing to the entropy (llama.cpp gets NaN there).
void kite__smp_typical(kite__cands *c, float p, size_t min_keep);

// XTC: with chance prob (drawn as a float from r, only when there are 2+ candidates), drops
// every token at least thr likely except the least likely of them (prob <= 0 or thr > 0.5:
// no-op). Advances c->data past the dropped ones. Leaves the list sorted when it cuts.
void kite__smp_xtc(kite__cands *c, float prob, float thr, size_t min_keep, kite__mt19937 *r);

// Mirostat 1 (m = 100 tokens for the Zipf estimate) over a vocabulary of n_vocab, or
// Mirostat 2 (version 2), updating *mu; draws as std::discrete_distribution does (no draw for
// a single candidate). Returns the chosen index in data (-1 for an empty list).
int64_t kite__smp_mirostat(kite__cands *c, int version, int32_t n_vocab, float tau, float eta, float *mu,
                           kite__mt19937 *r);

// Softmax, then draws one candidate with r. Returns its index in data (0 for one candidate,
// -1 for none). Sets p of every candidate.
int64_t kite__smp_dist(kite__cands *c, kite__mt19937 *r);

#endif
