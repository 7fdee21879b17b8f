// test_sampler.c - samplers against llama.cpp: the expectations of its tests/test-sampling.cpp
// (same inputs, same expected probabilities; typical, XTC and top-n-sigma included) and
// token-for-token agreement with its sampler chain (Mirostat 1 / 2 included) loaded from
// libllama (dlopen), plus seeds, greedy, range checks and stop strings.
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "kite.h"
#include "kite_vocab_callbacks.h"
#include "llama_ref.h"
#include "sampler/dry.h"
#include "sampler/sampler_stages.h"

static kite_sampler_params with_settings(const char *settings);

// ---- llama.cpp's test-sampling.cpp expectations ---------------------------------------------

enum stage { ST_TEMP, ST_TOP_K, ST_TOP_P, ST_MIN_P, ST_TOP_N_SIGMA, ST_TYPICAL, ST_XTC };

// Builds candidates with logit = log(prob) and p = prob (as its sampler_tester does), applies
// one stage (XTC: probability arg, threshold arg2, seed 0), then the dist draw (seed 0; not
// after typical and XTC, as there), and compares the probabilities within 1e-5.
static void expect_stage(int line, enum stage st, const float *probs, size_t n, const float *want, size_t n_want,
                         float arg, float arg2) {
    kite__cand d[16], tmp[16];
    for (size_t i = 0; i < n; i++) d[i] = (kite__cand){(int32_t)i, logf(probs[i]), probs[i]};
    kite__cands c = {d, n, false, tmp};
    kite__mt19937 r;
    kite__mt_seed(&r, 0);
    switch (st) {
    case ST_TEMP: kite__smp_temp(&c, arg); break;
    case ST_TOP_K: kite__smp_top_k(&c, (int32_t)arg); break;
    case ST_TOP_P: kite__smp_top_p(&c, arg, 0); break;
    case ST_MIN_P: kite__smp_min_p(&c, arg, 0); break;
    case ST_TOP_N_SIGMA: kite__smp_top_n_sigma(&c, arg); break;
    case ST_TYPICAL: kite__smp_typical(&c, arg, 0); break;
    case ST_XTC: kite__smp_xtc(&c, arg, arg2, 0, &r); break;
    }
    if (st != ST_TYPICAL && st != ST_XTC) kite__smp_dist(&c, &r);
    CHECK(c.size == n_want, "line %d: %zu candidates left, want %zu", line, c.size, n_want);
    for (size_t i = 0; i < c.size && i < n_want; i++)
        CHECK(fabsf(c.data[i].p - want[i]) < 1e-5f, "line %d: p[%zu] = %f, want %f", line, i, c.data[i].p, want[i]);
}

#define P4 ((const float[]){0.1f, 0.2f, 0.3f, 0.4f})
#define EXPECT(st, arg, ...)                                                                        \
    do {                                                                                            \
        const float w_[] = {__VA_ARGS__};                                                           \
        expect_stage(__LINE__, st, P4, 4, w_, sizeof w_ / sizeof w_[0], arg, 0.0f);                 \
    } while (0)
#define P4D ((const float[]){0.4f, 0.3f, 0.2f, 0.1f})
#define EXPECT_XTC(thr, ...)                                                                        \
    do {                                                                                            \
        const float w_[] = {__VA_ARGS__};                                                           \
        expect_stage(__LINE__, ST_XTC, P4D, 4, w_, sizeof w_ / sizeof w_[0], 0.99f, thr);           \
    } while (0)
#define EXPECT_TYPICAL(probs, ...)                                                                  \
    do {                                                                                            \
        const float w_[] = {__VA_ARGS__};                                                           \
        expect_stage(__LINE__, ST_TYPICAL, probs, 4, w_, sizeof w_ / sizeof w_[0], 0.5f, 0.0f);     \
    } while (0)

static void expect_penalties(int line, const int32_t *last, size_t n_last, const float *want, float rep, float freq,
                             float pres) {
    kite__cand d[5];
    for (int i = 0; i < 5; i++) d[i] = (kite__cand){i, logf(0.2f), 0.2f};
    kite__cands c = {d, 5, false, NULL};
    int32_t scratch[16];
    kite__smp_penalties(&c, last, n_last, scratch, rep, freq, pres);
    kite__mt19937 r;
    kite__mt_seed(&r, 0);
    kite__smp_dist(&c, &r);
    for (int i = 0; i < 5; i++)
        CHECK(fabsf(c.data[i].p - want[i]) < 1e-5f, "line %d: p[%d] = %f, want %f", line, i, c.data[i].p, want[i]);
}

#define PEN(last, rep, freq, pres, ...)                                                             \
    do {                                                                                            \
        const int32_t l_[] = last;                                                                  \
        const float w_[] = {__VA_ARGS__};                                                           \
        expect_penalties(__LINE__, l_, sizeof l_ / sizeof l_[0], w_, rep, freq, pres);              \
    } while (0)
#define T(...) {__VA_ARGS__}

static void test_llama_expectations(void) {
    EXPECT(ST_TEMP, 1.0f, 0.1f, 0.2f, 0.3f, 0.4f);
    EXPECT(ST_TEMP, 0.0f, 0.0f, 0.0f, 0.0f, 1.0f);

    EXPECT(ST_TOP_K, 1, 1.0f);
    EXPECT(ST_TOP_K, 3, 0.44444f, 0.33333f, 0.22222f);
    EXPECT(ST_TOP_K, 4, 0.4f, 0.3f, 0.2f, 0.1f);
    EXPECT(ST_TOP_K, 0, 0.1f, 0.2f, 0.3f, 0.4f);

    EXPECT(ST_TOP_P, 0.0f, 1.0f);
    EXPECT(ST_TOP_P, 0.7f, 0.571429f, 0.428571f);
    EXPECT(ST_TOP_P, 0.8f, 0.44444f, 0.33333f, 0.22222f);
    EXPECT(ST_TOP_P, 1.0f, 0.1f, 0.2f, 0.3f, 0.4f);

    EXPECT(ST_MIN_P, 0.00f, 0.1f, 0.2f, 0.3f, 0.4f);
    EXPECT(ST_MIN_P, 0.24f, 0.1f, 0.2f, 0.3f, 0.4f);
    EXPECT(ST_MIN_P, 0.26f, 0.2f / 0.9f, 0.3f / 0.9f, 0.4f / 0.9f);
    EXPECT(ST_MIN_P, 0.49f, 0.2f / 0.9f, 0.3f / 0.9f, 0.4f / 0.9f);
    EXPECT(ST_MIN_P, 0.51f, 0.3f / 0.7f, 0.4f / 0.7f);
    EXPECT(ST_MIN_P, 0.74f, 0.3f / 0.7f, 0.4f / 0.7f);
    EXPECT(ST_MIN_P, 0.76f, 1.0f);
    EXPECT(ST_MIN_P, 1.00f, 1.0f);
    EXPECT(ST_MIN_P, 1.05f, 1.0f);

    EXPECT(ST_TOP_N_SIGMA, 1.0f, 0.0f, 0.0f, 0.428571f, 0.571429f);
    EXPECT(ST_TOP_N_SIGMA, 0.0f, 0.1f, 0.2f, 0.3f, 0.4f);
    EXPECT(ST_TOP_N_SIGMA, 3.0f, 0.1f, 0.2f, 0.3f, 0.4f);

    EXPECT_XTC(0.09f, 0.1f);
    EXPECT_XTC(0.19f, 0.2f, 0.1f);
    EXPECT_XTC(0.29f, 0.3f, 0.2f, 0.1f);
    EXPECT_XTC(0.39f, 0.4f, 0.3f, 0.2f, 0.1f);

    EXPECT_TYPICAL(((const float[]){0.97f, 0.01f, 0.01f, 0.01f}), 0.97f);
    EXPECT_TYPICAL(((const float[]){0.4f, 0.2f, 0.2f, 0.2f}), 0.2f, 0.2f, 0.2f);

    PEN(T(0), 50.0f, 0.0f, 0.0f, 0, 0.25f, 0.25f, 0.25f, 0.25f);
    PEN(T(0, 1, 2), 50.0f, 0.0f, 0.0f, 0, 0, 0, 0.5f, 0.5f);
    PEN(T(0, 1, 2, 0, 0), 50.0f, 0.0f, 0.0f, 0, 0, 0, 0.5f, 0.5f);
    PEN(T(0), 1.0f, 5.0f, 5.0f, 0.000011f, 0.249997f, 0.249997f, 0.249997f, 0.249997f);
    PEN(T(0, 1, 2), 1.0f, 5.0f, 5.0f, 0.000023f, 0.000023f, 0.000023f, 0.499966f, 0.499966f);
    PEN(T(0, 1, 2, 0, 0), 1.0f, 5.0f, 5.0f, 0.000000f, 0.000023f, 0.000023f, 0.499977f, 0.499977f);
}

// llama.cpp's test_sampler_queue: logits log(id) over n_vocab tokens, stages in the given order
// (each followed by a draw), with its formulas for the expected size and end tokens.
static void sampler_queue(int n_vocab, const char *seq, int top_k, float top_p, float min_p) {
    static kite__cand d[10000];
    for (int i = 0; i < n_vocab; i++) d[i] = (kite__cand){i, logf((float)i), 0.0f};
    kite__cands c = {d, (size_t)n_vocab, false, NULL};
    int min_id = 0;
    const int max_id = n_vocab - 1;
    for (const char *s = seq; *s; s++) {
        if (*s == 'k') kite__smp_top_k(&c, top_k);
        if (*s == 'p') kite__smp_top_p(&c, top_p, 1);
        if (*s == 'm') kite__smp_min_p(&c, min_p, 1);
        kite__mt19937 r;
        kite__mt_seed(&r, 0);
        kite__smp_dist(&c, &r);
        const int size = (int)c.size;
        int want = 0;
        if (*s == 'k') {
            want = size < top_k ? size : top_k;
            if (n_vocab - top_k > min_id) min_id = n_vocab - top_k;
            CHECK(size == want && c.data[0].id == max_id && c.data[want - 1].id == min_id,
                  "queue %s k: size %d (want %d), ends %d..%d", seq, size, want, c.data[0].id, c.data[size - 1].id);
            continue;
        }
        if (*s == 'p') {
            const int div = n_vocab * (n_vocab - 1) / 2 - min_id * (min_id - 1) / 2;
            const int target = (int)ceilf(top_p * div);
            min_id = n_vocab;
            int cum = 0;
            do {
                min_id--;
                want++;
                cum += min_id;
            } while (cum < target);
            if (min_id == 1) { // token 0 has p 0: the cumulative sum stops before it
                min_id--;
                want++;
            }
        } else {
            want = (int)ceilf((1.0f - min_p) * n_vocab);
            if (want < 1) want = 1;
            if (want > size) want = size;
            min_id = (int)floorf(min_p * n_vocab);
            if (min_id < 1) min_id = 1;
            if (min_id < n_vocab - size) min_id = n_vocab - size;
            if (min_id > n_vocab - 1) min_id = n_vocab - 1;
        }
        CHECK(size == want, "queue %s %c (k %d p %g m %g): size %d, want %d", seq, *s, top_k, top_p, min_p, size, want);
        if (c.sorted && size == want)
            CHECK(c.data[0].id == max_id && c.data[want - 1].id == min_id, "queue %s %c: ends %d..%d, want %d..%d",
                  seq, *s, c.data[0].id, c.data[want - 1].id, max_id, min_id);
    }
}

static void test_sampler_queues(void) {
    sampler_queue(10000, "k", 10000, 1.0f, 1.0f);
    sampler_queue(10000, "k", 1, 1.0f, 1.0f);
    sampler_queue(10000, "p", 10000, 1.0f, 1.0f);
    sampler_queue(10000, "p", 10000, 0.0f, 1.0f);
    sampler_queue(10000, "m", 10000, 1.0f, 1.0f);
    sampler_queue(10000, "m", 10000, 1.0f, 1e-12f);
    sampler_queue(10000, "k", 100, 1.0000f, 1.0f);
    sampler_queue(10000, "p", 10000, 0.0003f, 1.0f);
    sampler_queue(10000, "p", 10000, 0.8000f, 1.0f);
    sampler_queue(10000, "m", 10000, 1.0000f, 9997.9f / 9999.0f);
    sampler_queue(10000, "m", 10000, 1.0000f, 0.1f);
    const char *two[] = {"kp", "km", "pk", "pm", "mk", "mp", "kpm", "kmp", "pkm", "pmk", "mkp", "mpk"};
    for (size_t i = 0; i < sizeof two / sizeof two[0]; i++) sampler_queue(10000, two[i], 100, 0.8f, 0.1f);
    sampler_queue(10000, "mp", 100, 0.8f, 9997.9f / 9999.0f);
}

// ---- the random source ----------------------------------------------------------------------

static void test_mt19937(void) {
    // C++ [rand.predef]: the 10000th output of a default-constructed mt19937 (seed 5489).
    kite__mt19937 r;
    kite__mt_seed(&r, 5489);
    uint32_t v = 0;
    for (int i = 0; i < 10000; i++) v = kite__mt_next(&r);
    CHECK(v == 4123659995u, "mt19937 10000th output %u, want 4123659995", v);
}

// ---- whole chain against libllama -----------------------------------------------------------

// Test input only: a small LCG spreading logits over about [-6, 6].
static uint32_t lcg_state;
static float next_logit(void) {
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return ((float)(lcg_state >> 8) / 16777216.0f - 0.5f) * 12.0f;
}

// Samples n_steps tokens with both samplers from the same fresh logits each step (accepting
// each token into both) and requires the same token every time.
static void compare_chain(const llref_sampler_api *a, const char *what, kite_sampler_params p, int n_vocab,
                          int n_steps) {
    if (!llref_sampler_has(a, &p)) {
        fprintf(stderr, "test_sampler: skipped '%s': this libllama lacks one of its samplers\n", what);
        return;
    }
    void *ref = llref_sampler_chain(a, &p, n_vocab);
    kite_sampler *s = NULL;
    CHECK(kite_sampler_new(&p, &s) == KITE_OK, "%s: kite_sampler_new: %s", what, kite_last_error());
    float *logits = malloc((size_t)n_vocab * sizeof *logits);
    llref_token_data *cur = malloc((size_t)n_vocab * sizeof *cur);
    int mismatches = 0, distinct = 0, prev = -1;
    lcg_state = 12345u + (uint32_t)n_vocab;
    for (int step = 0; s && step < n_steps; step++) {
        for (int i = 0; i < n_vocab; i++) {
            logits[i] = next_logit();
            cur[i] = (llref_token_data){i, logits[i], 0.0f};
        }
        llref_token_data_array arr = {cur, (size_t)n_vocab, -1, false};
        a->apply(ref, &arr);
        int want = arr.selected >= 0 ? arr.data[arr.selected].id : -1;
        int got = kite_sampler_sample(s, logits, n_vocab);
        if (got != want && mismatches++ < 3) fprintf(stderr, "%s: step %d: kite %d, llama.cpp %d\n", what, step, got, want);
        distinct += want != prev;
        prev = want;
        a->accept(ref, want);
        kite_sampler_accept(s, want);
    }
    CHECK(mismatches == 0, "%s: %d of %d tokens differ from llama.cpp", what, mismatches, n_steps);
    CHECK(distinct > n_steps / 2, "%s: the reference drew too few distinct tokens (%d) to test much", what, distinct);
    free(logits);
    free(cur);
    kite_sampler_free(s);
    a->free_(ref);
}

// llama.cpp's defaults with seed 42, then the space-separated NAME=VALUE settings (the
// kite_sampler_params field names).
static kite_sampler_params with_settings(const char *settings) {
    kite_sampler_params p = kite_sampler_default_params();
    p.seed = 42;
    const struct { const char *name; float *f; int32_t *i; } fields[] = {
        {"temp", &p.temp, NULL},
        {"top_k", NULL, &p.top_k},
        {"top_p", &p.top_p, NULL},
        {"min_p", &p.min_p, NULL},
        {"repeat_penalty", &p.repeat_penalty, NULL},
        {"presence_penalty", &p.presence_penalty, NULL},
        {"typical_p", &p.typical_p, NULL},
        {"top_n_sigma", &p.top_n_sigma, NULL},
        {"xtc_probability", &p.xtc_probability, NULL},
        {"xtc_threshold", &p.xtc_threshold, NULL},
        {"mirostat", NULL, &p.mirostat},
        {"mirostat_tau", &p.mirostat_tau, NULL},
        {"mirostat_eta", &p.mirostat_eta, NULL},
        {"dry_multiplier", &p.dry_multiplier, NULL},
        {"dry_base", &p.dry_base, NULL},
        {"dry_allowed_length", NULL, &p.dry_allowed_length},
        {"dry_penalty_last_n", NULL, &p.dry_penalty_last_n},
    };
    char name[32];
    double v;
    int used;
    for (const char *s = settings; sscanf(s, " %31[^=]=%lf%n", name, &v, &used) == 2; s += used) {
        bool known = !strcmp(name, "seed");
        if (known) p.seed = (uint32_t)v;
        for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++) {
            if (strcmp(name, fields[k].name)) continue;
            known = true;
            if (fields[k].f) *fields[k].f = (float)v;
            else *fields[k].i = (int32_t)v;
        }
        CHECK(known, "test setting '%s' is not a field", name);
    }
    return p;
}

// typical-p, top-n-sigma, XTC and Mirostat in llama.cpp's chain, alone and together.
static void test_adaptive_against_llama(const llref_sampler_api *a) {
    static const struct {
        const char *settings;
        int n_vocab, n_steps;
    } cases[] = {
        {"typical_p=0.9", 1000, 300},
        {"typical_p=0.5 top_k=0 top_p=1 min_p=0", 32000, 40},
        {"top_n_sigma=0.1", 1000, 300}, // keeps fewer than top-k's 40
        {"top_n_sigma=2 top_k=0 min_p=0", 32000, 40},
        {"xtc_probability=0.5 xtc_threshold=0.03", 1000, 300}, // top-k 40 leaves p ~ 0.025: some pass
        {"xtc_probability=1 xtc_threshold=0.001 top_k=0 top_p=1 min_p=0 temp=3", 2000, 200},
        {"temp=0 xtc_probability=0.7 xtc_threshold=0.02 typical_p=0.8 repeat_penalty=1.2", 500, 300},
        {"top_n_sigma=1.5 typical_p=0.95 xtc_probability=0.3 presence_penalty=0.4 seed=99", 3000, 200},
        {"mirostat=1", 1000, 300},
        {"mirostat=2", 1000, 300},
        // llama.cpp's mirostat chain has no penalties: repeat_penalty is unused there, and by kite
        {"mirostat=1 temp=1.3 mirostat_tau=3 mirostat_eta=0.3 repeat_penalty=2 seed=8", 32000, 60},
        {"mirostat=2 temp=1.3 mirostat_tau=3 mirostat_eta=0.3 repeat_penalty=2 seed=9", 32000, 60},
        {"mirostat=1 temp=0", 300, 100},
        {"mirostat=2 temp=0", 300, 100},
#if defined(__x86_64__) || defined(__i386__)
        // Mirostat 1's k past int's range (mu 20: finite, mu 200: 2^mu is inf): llama.cpp's int(k)
        // is x86's cvttss2si there, INT_MIN, so top-k 1 (an ARM build of llama.cpp saturates instead)
        {"mirostat=1 mirostat_tau=10 mirostat_eta=0", 1000, 60},
        {"mirostat=1 mirostat_tau=100", 1000, 60},
#endif
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        compare_chain(a, cases[i].settings, with_settings(cases[i].settings), cases[i].n_vocab, cases[i].n_steps);
}

// Mirostat 1's k on every ISA as x86 builds of llama.cpp compute int(k) (float k; out of int's
// range or NaN: INT_MIN, so top-k 1), checked against libllama above where that is x86. 64
// candidates with logits -0.1 i: s_hat ~ 0.46, so k ~ (0.064 * 2^mu)^2.2: ~8.6e3 at mu 10 (all
// kept), ~2.9e10 at mu 20 (past INT_MAX: one kept), inf at mu 200 (one kept).
static void test_mirostat_k_edge(void) {
    static const struct {
        float mu;
        size_t kept;
    } cases[] = {{10.0f, 64}, {20.0f, 1}, {200.0f, 1}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        kite__cand d[64], tmp[64];
        for (int i = 0; i < 64; i++) d[i] = (kite__cand){i, -0.1f * (float)i, 0.0f};
        kite__cands c = {d, 64, false, tmp};
        kite__mt19937 r;
        kite__mt_seed(&r, 3);
        float mu = cases[k].mu;
        int64_t at = kite__smp_mirostat(&c, 1, 64, 5.0f, 0.0f, &mu, &r);
        CHECK(c.size == cases[k].kept && at >= 0 && (cases[k].kept > 1 || c.data[at].id == 0),
              "mirostat 1 at mu %g: %zu candidates kept, want %zu", cases[k].mu, c.size, cases[k].kept);
    }
}

// ---- DRY against llama.cpp on a real vocabulary ----------------------------------------------

// (dry_vocab, dry_text, dry_tokenize: libllama's vocabulary as DRY's callbacks, llama_ref.h)

// Accepts the prompt, then samples n_steps tokens with llama.cpp's chain (DRY after the
// penalties) and kite's from the same logits: random ones with the prompt's tokens raised by
// boost, so the draws repeat the prompt's sequences. Requires the same token every step, DRY's
// logits bit for bit the same as llama.cpp's dry sampler alone gives, and that DRY changed some
// token (a Kite sampler without DRY runs alongside). Returns the tokens
// (n_steps, free them).
static int32_t *compare_dry(const llref_sampler_api *a, const dry_vocab *x, const char *what, kite_sampler_params p,
                            const char **breakers, size_t n_breakers, const int32_t *prompt, int n_prompt,
                            float boost, int n_steps) {
    int n_vocab = x->d->n_tokens(x->v);
    int32_t *flat = NULL;
    size_t n_flat = 0;
    CHECK(kite_sampler_dry_breakers(breakers, n_breakers, n_vocab, dry_text, dry_tokenize, (void *)x, &flat,
                                    &n_flat) == KITE_OK,
          "%s: kite_sampler_dry_breakers: %s", what, kite_last_error());
    p.dry_breakers = flat;
    p.n_dry_breakers = n_flat;
    kite_sampler_params p0 = p;
    p0.dry_multiplier = 0.0f;
    kite_sampler *s = NULL, *s0 = NULL;
    CHECK(kite_sampler_new(&p, &s) == KITE_OK && kite_sampler_new(&p0, &s0) == KITE_OK, "%s: %s", what,
          kite_last_error());
    void *ref = llref_sampler_chain_with(a, &p, n_vocab,
                                         x->d->dry(x->v, p.dry_multiplier, p.dry_base, p.dry_allowed_length,
                                                   p.dry_penalty_last_n, breakers, n_breakers));
    void *ref_dry = a->chain_init((llref_chain_params){true});
    a->chain_add(ref_dry, x->d->dry(x->v, p.dry_multiplier, p.dry_base, p.dry_allowed_length, p.dry_penalty_last_n,
                                    breakers, n_breakers));
    p.dry_breakers = flat;
    kite__dry *kd = NULL;
    CHECK(kite__dry_new(&p, &kd) == KITE_OK && kd, "%s: kite__dry_new: %s", what, kite_last_error());
    free(flat); // kite_sampler_new and kite__dry_new copied it
    float *logits = malloc((size_t)n_vocab * sizeof *logits), *dry_logits = malloc((size_t)n_vocab * sizeof *logits);
    llref_token_data *cur = malloc((size_t)n_vocab * sizeof *cur);
    int32_t *out = calloc((size_t)n_steps, sizeof *out);
    for (int i = 0; s && s0 && i < n_prompt; i++) {
        kite__dry_accept(kd, prompt[i]);
        a->accept(ref_dry, prompt[i]);
        a->accept(ref, prompt[i]);
        kite_sampler_accept(s, prompt[i]);
        kite_sampler_accept(s0, prompt[i]);
    }
    int mismatches = 0, changed = 0, logit_diffs = 0, penalized = 0;
    lcg_state = 777u + (uint32_t)n_steps;
    for (int step = 0; s && s0 && step < n_steps; step++) {
        // distinct logits: llama.cpp orders tied candidates in no defined way
        for (int i = 0; i < n_vocab; i++) logits[i] = (float)i;
        for (int i = n_vocab - 1; i > 0; i--) {
            int j = (int)((next_logit() / 12.0f + 0.5f) * (float)(i + 1));
            float t = logits[i];
            logits[i] = logits[j < i ? j : i];
            logits[j < i ? j : i] = t;
        }
        for (int i = 0; i < n_vocab; i++) logits[i] = logits[i] / (float)n_vocab * 12.0f - 6.0f;
        for (int i = 0; i < n_prompt; i++) // once per token (the raw values are at most 6)
            if (logits[prompt[i]] <= 6.0f) logits[prompt[i]] = boost + logits[prompt[i]] * 0.1f;
        // DRY alone: llama.cpp's logits against kite's penalties
        for (int i = 0; i < n_vocab; i++) cur[i] = (llref_token_data){i, logits[i], 0.0f};
        llref_token_data_array arr = {cur, (size_t)n_vocab, -1, false};
        a->apply(ref_dry, &arr);
        memcpy(dry_logits, logits, (size_t)n_vocab * sizeof *logits);
        const int32_t *ids;
        const float *pens;
        size_t n_pen = kite__dry_penalties(kd, &ids, &pens);
        for (size_t i = 0; i < n_pen; i++) dry_logits[ids[i]] -= pens[i];
        penalized += (int)n_pen;
        for (int i = 0; i < n_vocab; i++) {
            bool same = cur[i].id == i && memcmp(&cur[i].logit, &dry_logits[i], sizeof(float)) == 0;
            if (!same && logit_diffs++ < 3)
                fprintf(stderr, "%s: step %d: token %d: kite %.9g, llama.cpp %.9g\n", what, step, i, dry_logits[i],
                        cur[i].logit);
        }
        for (int i = 0; i < n_vocab; i++) cur[i] = (llref_token_data){i, logits[i], 0.0f};
        arr = (llref_token_data_array){cur, (size_t)n_vocab, -1, false};
        a->apply(ref, &arr);
        int want = arr.selected >= 0 ? arr.data[arr.selected].id : -1;
        int got = kite_sampler_sample(s, logits, n_vocab), without = kite_sampler_sample(s0, logits, n_vocab);
        if (got != want && mismatches++ < 3) fprintf(stderr, "%s: step %d: kite %d, llama.cpp %d\n", what, step, got, want);
        changed += without != want;
        out[step] = want;
        kite__dry_accept(kd, want);
        a->accept(ref_dry, want);
        a->accept(ref, want);
        kite_sampler_accept(s, want);
        kite_sampler_accept(s0, want);
    }
    CHECK(mismatches == 0, "%s: %d of %d tokens differ from llama.cpp", what, mismatches, n_steps);
    CHECK(logit_diffs == 0 && penalized > 0, "%s: %d logits after DRY differ from llama.cpp's (%d penalized)", what,
          logit_diffs, penalized);
    CHECK(changed > 0, "%s: DRY changed no token: the case tests nothing", what);
    printf("dry '%s': %d steps, %d tokens changed by DRY, %d penalties, %zu breaker ints\n", what, n_steps, changed,
           penalized, n_flat);
    free(logits);
    free(dry_logits);
    kite__dry_free(kd);
    a->free_(ref_dry);
    free(cur);
    kite_sampler_free(s);
    kite_sampler_free(s0);
    a->free_(ref);
    return out;
}

// The breakers made through Kite's own tokenizer equal those made through libllama's vocabulary
// (llama.cpp's defaults and strings that overlap token ends, so tails get tokenized).
static void compare_dry_breakers(const llref_dry_api *d, const llref_model_api *m, const char *file) {
    char path[2048], rel[256];
    snprintf(rel, sizeof rel, "../vocab/%s", file);
    snprintf(path, sizeof path, "%s/%s", check_models_dir(), rel);
    size_t len = 0;
    unsigned char *buf = check_read_model(rel, &len);
    if (!buf) return;
    kite_gguf *gg = NULL;
    kite_vocab *v = NULL;
    CHECK(kite_gguf_parse(buf, len, &gg) == KITE_OK && kite_vocab_load(gg, &v) == KITE_OK, "%s: %s", file,
          kite_last_error());
    void *model = llref_vocab_model(m, path);
    if (v && model) {
        dry_vocab x = {d, m->get_vocab(model)};
        const char *strs[] = {"\n", ":", "\"", "*", "ing the", " sat on", "ion:", "é日本"};
        size_t n_strs = sizeof strs / sizeof strs[0];
        int32_t *want = NULL, *got = NULL;
        size_t n_want = 0, n_got = 0;
        CHECK(kite_sampler_dry_breakers(strs, n_strs, d->n_tokens(x.v), dry_text, dry_tokenize, &x, &want, &n_want) ==
                      KITE_OK &&
                  kite_sampler_dry_breakers(strs, n_strs, kite_vocab_n_tokens(v), vocab_cb_token_text,
                                            vocab_cb_tokenize, v, &got, &n_got) == KITE_OK,
              "%s: %s", file, kite_last_error());
        size_t at = 0;
        while (at < n_want && at < n_got && want[at] == got[at]) at++;
        CHECK(n_want > 100 && n_got == n_want && at == n_want,
              "%s: kite's DRY breakers differ from those through libllama at int %zu (%zu vs %zu ints)", file, at,
              n_got, n_want);
        printf("dry breakers through kite's tokenizer, %s: %zu ints, the same\n", file, n_got);
        free(want);
        free(got);
    }
    if (model) m->free_model(model);
    kite_vocab_free(v);
    kite_gguf_free(gg);
    free(buf);
}

static void test_dry_against_llama(void *h, const llref_sampler_api *a) {
    llref_model_api m;
    llref_dry_api d;
    if (!llref_dry_load(h, &d) || !llref_model_load(h, &m)) {
        fprintf(stderr, "test_sampler: skipped DRY: this libllama lacks llama_sampler_init_dry or a vocab call\n");
        return;
    }
    char path[2048];
    snprintf(path, sizeof path, "%s/../vocab/ggml-vocab-llama-spm.gguf", check_models_dir());
    size_t len;
    unsigned char *file = check_read_model("../vocab/ggml-vocab-llama-spm.gguf", &len); // missing: skipped
    if (!file) return;
    free(file);
    void *model = llref_vocab_model(&m, path);
    if (!model) return;
    dry_vocab x = {&d, m.get_vocab(model)};
    static const char text[] = "Once: the cat sat on the mat and the dog sat on the mat,\nand \"the cat sat on the "
                               "mat\" * and the dog sat on the";
    int32_t prompt[256];
    int n_prompt = d.tokenize(x.v, text, (int32_t)strlen(text), prompt, 256, true, false);
    CHECK(n_prompt > 20, "tokenizing the DRY prompt gave %d", n_prompt);
    const char *defaults[] = KITE_SAMPLER_DRY_DEFAULT_BREAKERS;
    const char *custom[] = {"at on", " sat on the", "\n", "", "and \"the"}; // overlaps; "" is skipped
    kite_sampler_params p = with_settings("dry_multiplier=0.8");
    int32_t *with = compare_dry(a, &x, "defaults + DRY 0.8", p, defaults, 4, prompt, n_prompt, 8.0f, 150);
    int32_t *none = compare_dry(a, &x, "defaults + DRY 0.8, no breakers", p, NULL, 0, prompt, n_prompt, 8.0f, 150);
    CHECK(memcmp(with, none, 150 * sizeof *with) != 0, "DRY's breakers changed no token");
    free(with);
    free(none);
    p = with_settings("dry_multiplier=2 dry_base=1.1 dry_allowed_length=1 dry_penalty_last_n=32 repeat_penalty=1.2");
    free(compare_dry(a, &x, "DRY window 32, allowed 1", p, custom, 5, prompt, n_prompt, 8.0f, 150));
    p = with_settings("temp=0 dry_multiplier=0.5 dry_penalty_last_n=300 top_k=0 min_p=0.1");
    free(compare_dry(a, &x, "greedy + DRY, custom breakers", p, custom, 5, prompt, n_prompt, 8.0f, 150));
    p = with_settings("dry_multiplier=1 dry_base=1 dry_allowed_length=0 typical_p=0.9 xtc_probability=0.5");
    free(compare_dry(a, &x, "DRY base 1, allowed 0 + typical + XTC", p, defaults, 4, prompt, n_prompt, 8.0f, 100));
    // a long repeat: base 3's exponent stops at log(FLT_MAX) / log(3) = 80
    int32_t loop[200];
    for (int i = 0; i < 200; i++) loop[i] = prompt[3 + i % 7];
    p = with_settings("dry_multiplier=0.5 dry_base=3 dry_allowed_length=3 dry_penalty_last_n=256 top_k=0 min_p=0");
    free(compare_dry(a, &x, "DRY exponent clamp", p, defaults, 4, loop, 200, 8.0f, 60));
    m.free_model(model);
    static const char *vocabs[] = {"ggml-vocab-llama-spm.gguf", "ggml-vocab-qwen2.gguf", "ggml-vocab-phi-3.gguf"};
    for (size_t i = 0; i < sizeof vocabs / sizeof vocabs[0]; i++) compare_dry_breakers(&d, &m, vocabs[i]);
}

static void test_against_llama(void) {
    int ci_fail;
    void *h = llama_ref_open(&ci_fail);
    if (ci_fail) check_failed++;
    if (!h) return;
    llref_sampler_api a;
    bool ok = llref_sampler_load(h, &a);
    CHECK(ok, "libllama lacks a sampler symbol");
    if (ok) {
        kite_sampler_params p = kite_sampler_default_params();
        p.seed = 42;
        compare_chain(&a, "defaults", p, 1000, 300);
        compare_chain(&a, "defaults, 32000 vocab", p, 32000, 60);
        p.repeat_penalty = 1.5f;
        p.presence_penalty = -0.5f; // negative: a penalized token can climb into the top k
        p.penalty_last_n = 32;
        compare_chain(&a, "defaults + penalties", p, 2000, 300);
        p.top_k = 100; // more than n_vocab / 8: the whole list is built and sorted
        compare_chain(&a, "top-k 100 of 512 + penalties", p, 512, 300);
        p = (kite_sampler_params){.typical_p = 1.0f, .temp = 1.0f, .top_k = 0, .top_p = 0.9f, .min_p = 0.0f,
                                  .repeat_penalty = 1.0f,
                                  .penalty_last_n = 64, .seed = 7};
        compare_chain(&a, "top-p only, 32000 vocab", p, 32000, 60);
        p = (kite_sampler_params){.typical_p = 1.0f, .temp = 1.5f, .top_k = 0, .top_p = 1.0f, .min_p = 0.1f,
                                  .repeat_penalty = 1.3f,
                                  .frequency_penalty = 0.2f, .presence_penalty = 0.3f, .penalty_last_n = 16,
                                  .seed = 1234567};
        compare_chain(&a, "penalties + min-p", p, 500, 300);
        p.temp = 0.0f;
        p.repeat_penalty = 3.0f;
        compare_chain(&a, "greedy + penalties", p, 50, 200);
        test_adaptive_against_llama(&a);
        test_dry_against_llama(h, &a);
    }
    dlclose(h);
}

// ---- properties -----------------------------------------------------------------------------

static void test_greedy_and_seed(void) {
    enum { N = 300 };
    float logits[N];
    lcg_state = 99;
    for (int i = 0; i < N; i++) logits[i] = next_logit();
    int argmax = 0;
    for (int i = 1; i < N; i++)
        if (logits[i] > logits[argmax]) argmax = i;
    kite_sampler_params p = kite_sampler_default_params();
    p.temp = 0.0f;
    kite_sampler *g = NULL;
    CHECK(kite_sampler_new(&p, &g) == KITE_OK, "greedy sampler");
    float copy[N];
    memcpy(copy, logits, sizeof copy);
    CHECK(g && kite_sampler_sample(g, logits, N) == argmax, "greedy is not argmax %d", argmax);
    CHECK(memcmp(copy, logits, sizeof copy) == 0, "sample modified the logits");
    kite_sampler_free(g);

    // Same seed, same sequence; reset replays it; another seed differs somewhere.
    p = kite_sampler_default_params();
    p.temp = 1.5f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.seed = 5;
    kite_sampler *a = NULL, *b = NULL;
    kite_sampler_new(&p, &a);
    p.seed = 6;
    kite_sampler_new(&p, &b);
    int seq[64], same_as_other = 0;
    for (int i = 0; i < 64; i++) {
        seq[i] = kite_sampler_sample(a, logits, N);
        same_as_other += seq[i] == kite_sampler_sample(b, logits, N);
    }
    CHECK(same_as_other < 64, "seeds 5 and 6 gave identical sequences");
    kite_sampler_reset(a);
    int replay_ok = 1;
    for (int i = 0; i < 64; i++) replay_ok &= seq[i] == kite_sampler_sample(a, logits, N);
    CHECK(replay_ok, "reset did not replay the seeded sequence");
    kite_sampler_free(a);
    kite_sampler_free(b);

    // Hostile parameters are refused with a message.
    p = kite_sampler_default_params();
    p.top_p = NAN;
    kite_sampler *bad = NULL;
    CHECK(kite_sampler_new(&p, &bad) == KITE_ERR_INVALID && bad == NULL && strstr(kite_last_error(), "top_p"),
          "NaN top_p accepted (%s)", kite_last_error());
    p = kite_sampler_default_params();
    p.penalty_last_n = -1;
    CHECK(kite_sampler_new(&p, &bad) == KITE_ERR_INVALID, "negative penalty_last_n accepted");
    CHECK(kite_sampler_sample(NULL, logits, N) == -1, "NULL sampler gave a token");
    const struct { const char *name; kite_sampler_params p; } bad_ones[] = {
        {"typical_p", {.typical_p = NAN, .repeat_penalty = 1}},
        {"top_n_sigma", {.top_n_sigma = INFINITY, .repeat_penalty = 1, .typical_p = 1}},
        {"xtc_probability", {.xtc_probability = 1.5f, .repeat_penalty = 1, .typical_p = 1}},
        {"xtc_threshold", {.xtc_threshold = -0.1f, .repeat_penalty = 1, .typical_p = 1}},
        {"mirostat", {.mirostat = 3, .repeat_penalty = 1, .typical_p = 1}},
        {"mirostat_tau", {.mirostat = 2, .mirostat_tau = -1, .repeat_penalty = 1, .typical_p = 1}},
        {"mirostat_eta", {.mirostat = 1, .mirostat_eta = NAN, .repeat_penalty = 1, .typical_p = 1}},
    };
    for (size_t i = 0; i < sizeof bad_ones / sizeof bad_ones[0]; i++) {
        CHECK(kite_sampler_new(&bad_ones[i].p, &bad) == KITE_ERR_INVALID && bad == NULL &&
                  strstr(kite_last_error(), bad_ones[i].name),
              "bad %s accepted or not named (%s)", bad_ones[i].name, kite_last_error());
    }

    // Logits that are all NaN or -inf give a token in range with every sampler (no crash).
    float hostile[N];
    for (int i = 0; i < N; i++) hostile[i] = i % 2 ? NAN : -INFINITY;
    const char *configs[] = {"typical_p=0.5 top_k=0", "top_n_sigma=1 top_k=0", "xtc_probability=1 xtc_threshold=0",
                             "mirostat=1", "mirostat=2", "top_n_sigma=1 typical_p=0.9 xtc_probability=1 temp=0"};
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
        kite_sampler_params hp = with_settings(configs[i]);
        kite_sampler *h = NULL;
        CHECK(kite_sampler_new(&hp, &h) == KITE_OK, "%s: %s", configs[i], kite_last_error());
        for (int step = 0; h && step < 3; step++) {
            int32_t t = kite_sampler_sample(h, hostile, N);
            CHECK(t >= 0 && t < N, "%s: token %d for all -inf/NaN logits", configs[i], t);
        }
        kite_sampler_free(h);
    }

    // Mirostat's running estimate restarts on reset: the seeded sequence replays.
    p = kite_sampler_default_params();
    p.mirostat = 2;
    p.seed = 11;
    kite_sampler *m = NULL;
    CHECK(kite_sampler_new(&p, &m) == KITE_OK, "mirostat sampler: %s", kite_last_error());
    for (int i = 0; m && i < 64; i++) seq[i] = kite_sampler_sample(m, logits, N);
    if (m) kite_sampler_reset(m);
    replay_ok = 1;
    for (int i = 0; m && i < 64; i++) replay_ok &= seq[i] == kite_sampler_sample(m, logits, N);
    CHECK(replay_ok, "reset did not replay mirostat's sequence");
    kite_sampler_free(m);
}

static void test_stop_match(void) {
    const char *stops[] = {"</s>", "\nUser:"};
    kite_stop_result r = kite_stop_match("Hello wor", 9, stops, 2);
    CHECK(r.n_release == 9 && !r.stopped, "plain text held back (%zu)", r.n_release);
    r = kite_stop_match("Hello </", 8, stops, 2);
    CHECK(r.n_release == 6 && !r.stopped, "partial stop string released (%zu)", r.n_release);
    r = kite_stop_match("Hi\nUs", 5, stops, 2);
    CHECK(r.n_release == 2 && !r.stopped, "partial second stop string released (%zu)", r.n_release);
    r = kite_stop_match("Hi</s>tail\nUser:", 16, stops, 2);
    CHECK(r.stopped && r.n_release == 2, "earliest stop string not cut (%zu)", r.n_release);
    r = kite_stop_match("<<", 2, (const char *[]){"<<<", ""}, 2);
    CHECK(r.n_release == 0 && !r.stopped, "overlapping prefix (%zu)", r.n_release);
    r = kite_stop_match("abc", 3, NULL, 0);
    CHECK(r.n_release == 3 && !r.stopped, "no stop strings");
}

// ---- DRY's breakers from text, and its parameter checks ------------------------------------

static const char *const toy_vocab[] = {"a", "ab", "b:", "zb:x", "b"};

static int32_t toy_text(void *ud, int32_t id, char *buf, int32_t cap) {
    (void)ud;
    int32_t n = (int32_t)strlen(toy_vocab[id]);
    if (n > cap) return -n;
    memcpy(buf, toy_vocab[id], (size_t)n);
    return n;
}

// One token per byte: 'x' is 5, ':' is 6, anything else 7.
static int32_t toy_tokenize(void *ud, const char *text, int32_t len, int32_t *out, int32_t cap) {
    (void)ud;
    if (len > cap) return -len;
    for (int32_t i = 0; i < len; i++) out[i] = text[i] == 'x' ? 5 : text[i] == ':' ? 6 : 7;
    return len;
}

static void test_dry_breakers_and_params(void) {
    // llama.cpp's rule for the breaker "b:x": "zb:x" contains it (a breaker alone); "ab", "b:"
    // and "b" end with its start "b", "b:", "b" (heads, the rest ":x", "x", ":x" tokenized as
    // the tails); "a" has no part of it. "" is skipped.
    const char *strs[] = {"b:x", ""};
    int32_t *flat = NULL;
    size_t n = 0;
    CHECK(kite_sampler_dry_breakers(strs, 2, 5, toy_text, toy_tokenize, NULL, &flat, &n) == KITE_OK, "%s",
          kite_last_error());
    static const int32_t want[] = {3, 1, 6, 5, 2, 2, 5, 1, 3, 3, 4, 6, 5};
    CHECK(flat && n == sizeof want / sizeof want[0] && !memcmp(flat, want, sizeof want), "toy breakers: %zu ints", n);
    free(flat);
    kite_sampler_params p = kite_sampler_default_params();
    p.dry_multiplier = 1.0f;
    static const int32_t bad[][3] = {{0, 1, 1}, {3, 1, 1}, {-1, 1, 1}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kite_sampler *s = NULL;
        p.dry_breakers = bad[i];
        p.n_dry_breakers = 3;
        CHECK(kite_sampler_new(&p, &s) == KITE_ERR_INVALID && !s && strstr(kite_last_error(), "dry_breakers"),
              "malformed breakers %zu: %s", i, kite_last_error());
    }
    p.dry_breakers = NULL;
    const struct { const char *what; float mult, base; int32_t allowed, last_n; } refused[] = {
        {"dry_multiplier", NAN, 1.75f, 2, 64}, {"dry_base", 1.0f, INFINITY, 2, 64},
        {"dry_allowed_length", 1.0f, 1.75f, -1, 64}, {"dry_penalty_last_n", 1.0f, 1.75f, 2, -1},
        {"dry_penalty_last_n", 1.0f, 1.75f, 2, KITE_SAMPLER_MAX_PENALTY_LAST_N + 1},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        kite_sampler *s = NULL;
        p.dry_multiplier = refused[i].mult;
        p.dry_base = refused[i].base;
        p.dry_allowed_length = refused[i].allowed;
        p.dry_penalty_last_n = refused[i].last_n;
        CHECK(kite_sampler_new(&p, &s) == KITE_ERR_INVALID && !s && strstr(kite_last_error(), refused[i].what),
              "%s refused: %s", refused[i].what, kite_last_error());
    }
}

int main(void) {
    test_llama_expectations();
    test_sampler_queues();
    test_mt19937();
    test_greedy_and_seed();
    test_stop_match();
    test_dry_breakers_and_params();
    test_mirostat_k_edge();
    test_against_llama();
    return check_done("test_sampler");
}
