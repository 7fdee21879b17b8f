// sampler.c - the sampler chain: penalties -> DRY -> top-n-sigma -> top-k -> typical-p -> top-p ->
// min-p -> XTC -> temperature -> draw, or temperature -> Mirostat.
#include "base/internal.h"
#include "sampler/kite_sampler.h"
#include "sampler/dry.h"
#include "sampler/sampler_stages.h"

#include <math.h>

struct kite_sampler {
    kite_sampler_params p;
    kite__mt19937 rng;     // the draw's (or Mirostat's) random source
    kite__mt19937 rng_xtc; // XTC's own, seeded alike (llama.cpp's XTC sampler has its own)
    float mu;              // Mirostat's running maximum surprise
    kite__dry *dry;        // NULL: DRY off
    int32_t *window;  // ring of the last penalty_last_n accepted tokens
    int32_t *scratch; // 2 * penalty_last_n ints: distinct ids, then their counts
    float *pen_vals;  // penalty_last_n penalized logits
    size_t n_window, head;
    kite__cand *cand; // n_cap candidates
    kite__cand *tmp;  // n_cap candidates of sort scratch
    size_t n_cap;
};

kite_sampler_params kite_sampler_default_params(void) {
    kite_sampler_params p = {
        .temp = 0.8f, .top_k = 40, .top_p = 0.95f, .min_p = 0.05f,
        .repeat_penalty = 1.0f, .presence_penalty = 0.0f, .frequency_penalty = 0.0f,
        .penalty_last_n = 64, .seed = 0xFFFFFFFFu,
        .typical_p = 1.0f, .top_n_sigma = -1.0f, .xtc_probability = 0.0f, .xtc_threshold = 0.1f,
        .mirostat = 0, .mirostat_tau = 5.0f, .mirostat_eta = 0.1f,
        .dry_multiplier = 0.0f, .dry_base = 1.75f, .dry_allowed_length = 2, .dry_penalty_last_n = 64,
    };
    return p;
}

static kite_status check_params(const kite_sampler_params *p) {
    const struct { const char *name; float v; } f[] = {
        {"temp", p->temp}, {"top_p", p->top_p}, {"min_p", p->min_p},
        {"repeat_penalty", p->repeat_penalty}, {"presence_penalty", p->presence_penalty},
        {"frequency_penalty", p->frequency_penalty}, {"typical_p", p->typical_p}, {"top_n_sigma", p->top_n_sigma},
        {"xtc_probability", p->xtc_probability}, {"xtc_threshold", p->xtc_threshold},
        {"mirostat_tau", p->mirostat_tau}, {"mirostat_eta", p->mirostat_eta},
        {"dry_multiplier", p->dry_multiplier}, {"dry_base", p->dry_base},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (!isfinite(f[i].v)) return kite__fail(KITE_ERR_INVALID, "sampler: %s is not a finite number", f[i].name);
    if (p->repeat_penalty <= 0.0f)
        return kite__fail(KITE_ERR_INVALID, "sampler: repeat_penalty %g must be > 0", p->repeat_penalty);
    const struct { const char *name; float v; } unit[] = {
        {"xtc_probability", p->xtc_probability}, {"xtc_threshold", p->xtc_threshold},
    };
    for (size_t i = 0; i < sizeof unit / sizeof unit[0]; i++)
        if (unit[i].v < 0.0f || unit[i].v > 1.0f)
            return kite__fail(KITE_ERR_INVALID, "sampler: %s %g must be in [0, 1]", unit[i].name, unit[i].v);
    if (p->mirostat < 0 || p->mirostat > 2)
        return kite__fail(KITE_ERR_INVALID, "sampler: mirostat %d must be 0, 1 or 2", p->mirostat);
    if (p->mirostat_tau < 0.0f || p->mirostat_eta < 0.0f)
        return kite__fail(KITE_ERR_INVALID, "sampler: %s %g must be >= 0",
                          p->mirostat_tau < 0.0f ? "mirostat_tau" : "mirostat_eta",
                          p->mirostat_tau < 0.0f ? p->mirostat_tau : p->mirostat_eta);
    if (p->penalty_last_n < 0 || p->penalty_last_n > KITE_SAMPLER_MAX_PENALTY_LAST_N)
        return kite__fail(KITE_ERR_INVALID, "sampler: penalty_last_n %d must be in 0..%d", p->penalty_last_n,
                          KITE_SAMPLER_MAX_PENALTY_LAST_N);
    if (p->dry_penalty_last_n < 0 || p->dry_penalty_last_n > KITE_SAMPLER_MAX_PENALTY_LAST_N)
        return kite__fail(KITE_ERR_INVALID, "sampler: dry_penalty_last_n %d must be in 0..%d", p->dry_penalty_last_n,
                          KITE_SAMPLER_MAX_PENALTY_LAST_N);
    if (p->dry_allowed_length < 0 || p->dry_allowed_length > KITE_SAMPLER_MAX_PENALTY_LAST_N)
        return kite__fail(KITE_ERR_INVALID, "sampler: dry_allowed_length %d must be in 0..%d", p->dry_allowed_length,
                          KITE_SAMPLER_MAX_PENALTY_LAST_N);
    return KITE_OK;
}

kite_status kite_sampler_new(const kite_sampler_params *p, kite_sampler **out) {
    if (!p || !out) return kite__fail(KITE_ERR_INVALID, "sampler: NULL argument");
    KITE_TRY(check_params(p));
    kite_sampler *s = calloc(1, sizeof *s);
    if (!s) return kite__fail(KITE_ERR_NOMEM, "sampler: out of memory");
    s->p = *p;
    if (p->penalty_last_n > 0) {
        s->window = malloc((size_t)p->penalty_last_n * sizeof *s->window);
        s->scratch = malloc(2 * (size_t)p->penalty_last_n * sizeof *s->scratch);
        s->pen_vals = malloc((size_t)p->penalty_last_n * sizeof *s->pen_vals);
        if (!s->window || !s->scratch || !s->pen_vals) {
            kite_sampler_free(s);
            return kite__fail(KITE_ERR_NOMEM, "sampler: out of memory for a window of %d tokens", p->penalty_last_n);
        }
    }
    kite_status st = kite__dry_new(p, &s->dry);
    if (st != KITE_OK) {
        kite_sampler_free(s);
        return st;
    }
    s->p.dry_breakers = NULL; // the copy lives in s->dry
    s->p.n_dry_breakers = 0;
    kite_sampler_reset(s);
    *out = s;
    return KITE_OK;
}

void kite_sampler_free(kite_sampler *s) {
    if (!s) return;
    free(s->window);
    free(s->scratch);
    free(s->pen_vals);
    free(s->cand);
    free(s->tmp);
    kite__dry_free(s->dry);
    free(s);
}

void kite_sampler_reset(kite_sampler *s) {
    s->n_window = s->head = 0;
    kite__mt_seed(&s->rng, s->p.seed);
    kite__mt_seed(&s->rng_xtc, s->p.seed);
    s->mu = 2.0f * s->p.mirostat_tau;
    kite__dry_reset(s->dry);
}

void kite_sampler_accept(kite_sampler *s, int32_t token) {
    kite__dry_accept(s->dry, token);
    size_t cap = (size_t)s->p.penalty_last_n;
    if (cap == 0) return;
    s->window[s->head] = token; // the oldest token drops out once the ring is full
    s->head = (s->head + 1) % cap;
    if (s->n_window < cap) s->n_window++;
}

// Makes room for need candidates and as much sort scratch; false (error set) when out of memory.
static bool reserve(kite_sampler *s, size_t need) {
    if (need <= s->n_cap) return true;
    free(s->cand);
    free(s->tmp);
    s->cand = malloc(need * sizeof *s->cand);
    s->tmp = malloc(need * sizeof *s->tmp);
    s->n_cap = s->cand && s->tmp ? need : 0;
    if (!s->n_cap) kite__fail(KITE_ERR_NOMEM, "sampler: out of memory for %zu candidates", need);
    return s->n_cap != 0;
}

// All n logits as candidates in id order, NaN as -inf, into s->cand.
static kite__cands all_candidates(kite_sampler *s, const float *logits, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float l = logits[i];
        s->cand[i] = (kite__cand){(int32_t)i, isnan(l) ? -INFINITY : l, 0.0f};
    }
    return (kite__cands){s->cand, n, false, s->tmp};
}

// llama.cpp's Mirostat chain: temperature, then Mirostat (no penalties, no other stage).
// Greedy is the argmax of the raw logits, which is what that chain yields for temp <= 0.
static int32_t sample_mirostat(kite_sampler *s, const float *logits, int32_t n_vocab) {
    size_t n = (size_t)n_vocab;
    if (!reserve(s, s->p.temp <= 0.0f ? 1 : n)) return -1;
    if (s->p.temp <= 0.0f) {
        kite__select_top_logits(logits, n, NULL, NULL, 0, 1, s->cand);
        return s->cand[0].id;
    }
    kite__cands c = all_candidates(s, logits, n);
    kite__smp_temp(&c, s->p.temp);
    int64_t at = kite__smp_mirostat(&c, s->p.mirostat, n_vocab, s->p.mirostat_tau, s->p.mirostat_eta, &s->mu, &s->rng);
    return at >= 0 ? c.data[at].id : -1;
}

int32_t kite_sampler_sample(kite_sampler *s, const float *logits, int32_t n_vocab) {
    if (!s || !logits || n_vocab <= 0) {
        kite__fail(KITE_ERR_INVALID, "sampler: no logits (n_vocab %d)", (int)n_vocab);
        return -1;
    }
    if (s->p.mirostat) return sample_mirostat(s, logits, n_vocab);
    bool penalize = s->n_window > 0 &&
                    (s->p.repeat_penalty != 1.0f || s->p.frequency_penalty != 0.0f || s->p.presence_penalty != 0.0f);
    size_t n = (size_t)n_vocab, n_pen = 0, cap = (size_t)s->p.penalty_last_n;
    if (penalize) {
        n_pen = kite__window_counts(s->window, s->n_window, s->scratch, s->scratch + cap);
        for (size_t i = 0; i < n_pen; i++) {
            int32_t id = s->scratch[i];
            float l = id >= 0 && id < n_vocab ? logits[id] : 0.0f; // out-of-range ids are never read
            s->pen_vals[i] = kite__penalize(isnan(l) ? -INFINITY : l, s->scratch[cap + i], s->p.repeat_penalty,
                                            s->p.frequency_penalty, s->p.presence_penalty);
        }
    }
    // Greedy is the best single candidate, unless typical-p or XTC may drop it (then the whole
    // chain runs and temperature 0 keeps the best survivor). A small top-k needs only its k
    // candidates, unless top-n-sigma needs the whole vocabulary's statistics first. Both are
    // picked straight from the logits (penalized ones swapped in), never building all n.
    bool typical = s->p.typical_p < 1.0f, xtc = s->p.xtc_probability > 0.0f && s->p.xtc_threshold <= 0.5f;
    // DRY's penalties go onto the whole list, indexed by id (none: the fast paths stay).
    const int32_t *dry_ids;
    const float *dry_pens;
    size_t n_dry = kite__dry_penalties(s->dry, &dry_ids, &dry_pens);
    bool greedy = s->p.temp <= 0.0f && !typical && !xtc;
    size_t k = n_dry                                                                          ? 0
               : greedy                                                                       ? 1
               : s->p.top_n_sigma <= 0.0f && s->p.top_k > 0 && (size_t)s->p.top_k * 8 < n ? (size_t)s->p.top_k
                                                                                          : 0;
    if (!reserve(s, k ? k : n)) return -1;
    kite__cands c = {s->cand, n, false, s->tmp};
    if (k) {
        kite__select_top_logits(logits, n, s->scratch, s->pen_vals, n_pen, k, c.data);
        if (k == 1) return c.data[0].id;
        c.size = k;
        c.sorted = true;
    } else {
        c = all_candidates(s, logits, n);
        for (size_t i = 0; i < n_pen; i++) // the window's tokens, already penalized above
            if (s->scratch[i] >= 0 && s->scratch[i] < n_vocab) c.data[s->scratch[i]].logit = s->pen_vals[i];
        for (size_t i = 0; i < n_dry; i++)
            if (dry_ids[i] >= 0 && dry_ids[i] < n_vocab) c.data[dry_ids[i]].logit -= dry_pens[i];
    }
    kite__smp_top_n_sigma(&c, s->p.top_n_sigma);
    kite__smp_top_k(&c, s->p.top_k);
    kite__smp_typical(&c, s->p.typical_p, 0);
    kite__smp_top_p(&c, s->p.top_p, 0);
    kite__smp_min_p(&c, s->p.min_p, 0);
    kite__smp_xtc(&c, s->p.xtc_probability, s->p.xtc_threshold, 0, &s->rng_xtc);
    kite__smp_temp(&c, s->p.temp);
    int64_t at = kite__smp_dist(&c, &s->rng);
    return at >= 0 ? c.data[at].id : -1;
}
