// sampler.c - the sampler chain: penalties -> top-k -> top-p -> min-p -> temperature -> draw.
#include "base/internal.h"
#include "sampler/kite_sampler.h"
#include "sampler/sampler_stages.h"

#include <math.h>

struct kite_sampler {
    kite_sampler_params p;
    kite__mt19937 rng;
    int32_t *window;  // ring of the last penalty_last_n accepted tokens
    int32_t *scratch; // penalty_last_n ints for counting
    size_t n_window, head;
    kite__cand *cand; // n_cap candidates
    size_t n_cap;
};

kite_sampler_params kite_sampler_default_params(void) {
    kite_sampler_params p = {
        .temp = 0.8f, .top_k = 40, .top_p = 0.95f, .min_p = 0.05f,
        .repeat_penalty = 1.0f, .presence_penalty = 0.0f, .frequency_penalty = 0.0f,
        .penalty_last_n = 64, .seed = 0xFFFFFFFFu,
    };
    return p;
}

// A window of more than 1M tokens is surely a mistake (contexts are far shorter).
#define MAX_PENALTY_WINDOW (1 << 20)

static kite_status check_params(const kite_sampler_params *p) {
    const struct { const char *name; float v; } f[] = {
        {"temp", p->temp}, {"top_p", p->top_p}, {"min_p", p->min_p},
        {"repeat_penalty", p->repeat_penalty}, {"presence_penalty", p->presence_penalty},
        {"frequency_penalty", p->frequency_penalty},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (!isfinite(f[i].v)) return kite__fail(KITE_ERR_INVALID, "sampler: %s is not a finite number", f[i].name);
    if (p->repeat_penalty <= 0.0f)
        return kite__fail(KITE_ERR_INVALID, "sampler: repeat_penalty %g must be > 0", p->repeat_penalty);
    if (p->penalty_last_n < 0 || p->penalty_last_n > MAX_PENALTY_WINDOW)
        return kite__fail(KITE_ERR_INVALID, "sampler: penalty_last_n %d must be in 0..%d", p->penalty_last_n,
                          MAX_PENALTY_WINDOW);
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
        s->scratch = malloc((size_t)p->penalty_last_n * sizeof *s->scratch);
        if (!s->window || !s->scratch) {
            kite_sampler_free(s);
            return kite__fail(KITE_ERR_NOMEM, "sampler: out of memory for a window of %d tokens", p->penalty_last_n);
        }
    }
    kite_sampler_reset(s);
    *out = s;
    return KITE_OK;
}

void kite_sampler_free(kite_sampler *s) {
    if (!s) return;
    free(s->window);
    free(s->scratch);
    free(s->cand);
    free(s);
}

void kite_sampler_reset(kite_sampler *s) {
    s->n_window = s->head = 0;
    kite__mt_seed(&s->rng, s->p.seed);
}

void kite_sampler_accept(kite_sampler *s, int32_t token) {
    size_t cap = (size_t)s->p.penalty_last_n;
    if (cap == 0) return;
    s->window[s->head] = token; // the oldest token drops out once the ring is full
    s->head = (s->head + 1) % cap;
    if (s->n_window < cap) s->n_window++;
}

int32_t kite_sampler_sample(kite_sampler *s, const float *logits, int32_t n_vocab) {
    if (!s || !logits || n_vocab <= 0) {
        kite__fail(KITE_ERR_INVALID, "sampler: no logits (n_vocab %d)", (int)n_vocab);
        return -1;
    }
    if ((size_t)n_vocab > s->n_cap) {
        kite__cand *c = realloc(s->cand, (size_t)n_vocab * sizeof *c);
        if (!c) {
            kite__fail(KITE_ERR_NOMEM, "sampler: out of memory for %d candidates", (int)n_vocab);
            return -1;
        }
        s->cand = c;
        s->n_cap = (size_t)n_vocab;
    }
    kite__cands c = {s->cand, (size_t)n_vocab, false};
    for (int32_t i = 0; i < n_vocab; i++) {
        float l = logits[i];
        c.data[i] = (kite__cand){i, isnan(l) ? -INFINITY : l, 0.0f};
    }
    // The window's order does not matter for counting, so the ring is passed as it lies.
    kite__smp_penalties(&c, s->window, s->n_window, s->scratch, s->p.repeat_penalty, s->p.frequency_penalty,
                        s->p.presence_penalty);
    if (s->p.temp <= 0.0f) {
        // Greedy: the filters below always keep the best token, so they cannot change it.
        size_t best = 0;
        for (size_t i = 1; i < c.size; i++)
            if (c.data[i].logit > c.data[best].logit) best = i;
        return c.data[best].id;
    }
    kite__smp_top_k(&c, s->p.top_k);
    kite__smp_top_p(&c, s->p.top_p, 0);
    kite__smp_min_p(&c, s->p.min_p, 0);
    kite__smp_temp(&c, s->p.temp);
    int64_t at = kite__smp_dist(&c, &s->rng);
    return at >= 0 ? c.data[at].id : -1;
}
