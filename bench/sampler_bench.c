// sampler_bench.c - time per sampled token of kite's sampler chain against llama.cpp's chain
// (libllama from node-llama-cpp, dlopen'd; its candidates are rebuilt from the logits each
// step, as common_sampler_sample does) on random logits, for a few vocabulary sizes and
// settings. Not a test: prints numbers and ratios.
// Build: cc -O2 -Isrc -Itests/unit bench/sampler_bench.c src/base/*.c src/sampler/*.c -lm -ldl
// Run from the repository root (or set KITE_ROOT).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "kite.h"
#include "llama_ref.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint32_t lcg = 1;
static float rnd_logit(void) {
    lcg = lcg * 1664525u + 1013904223u;
    return ((float)(lcg >> 8) / 16777216.0f - 0.5f) * 16.0f;
}

static void bench(const llref_sampler_api *a, const char *label, kite_sampler_params p, int n_vocab, int steps) {
    float *logits = malloc((size_t)n_vocab * sizeof *logits);
    llref_token_data *cur = malloc((size_t)n_vocab * sizeof *cur);
    for (int i = 0; i < n_vocab; i++) logits[i] = rnd_logit();
    kite_sampler *s;
    if (kite_sampler_new(&p, &s) != KITE_OK) return;
    double t0 = now();
    for (int i = 0; i < steps; i++) kite_sampler_accept(s, kite_sampler_sample(s, logits, n_vocab));
    double t_kite = (now() - t0) / steps;
    kite_sampler_free(s);
    double t_ref = NAN;
    if (a) {
        void *c = llref_sampler_chain(a, &p, n_vocab);
        t0 = now();
        for (int i = 0; i < steps; i++) {
            for (int k = 0; k < n_vocab; k++) cur[k] = (llref_token_data){k, logits[k], 0.0f};
            llref_token_data_array arr = {cur, (size_t)n_vocab, -1, false};
            a->apply(c, &arr);
            a->accept(c, arr.data[arr.selected].id);
        }
        t_ref = (now() - t0) / steps;
        a->free_(c);
    }
    printf("%-34s n_vocab %6d: kite %8.1f us/token, llama.cpp %8.1f us/token, llama.cpp/kite %.2fx\n", label, n_vocab,
           t_kite * 1e6, t_ref * 1e6, t_ref / t_kite);
    free(logits);
    free(cur);
}

int main(void) {
    int ci_fail;
    void *h = llama_ref_open(&ci_fail);
    llref_sampler_api a, *ap = h && llref_sampler_load(h, &a) ? &a : NULL;
    (void)ci_fail; // a bench reports no failures: without the library it times kite only
    const int vocabs[] = {32000, 151936};
    for (int v = 0; v < 2; v++) {
        int n = vocabs[v], steps = n > 100000 ? 200 : 500;
        kite_sampler_params p = kite_sampler_default_params();
        p.seed = 1;
        bench(ap, "defaults (top-k 40)", p, n, steps);
        p.repeat_penalty = 1.1f;
        bench(ap, "defaults + repeat penalty 1.1", p, n, steps);
        p = kite_sampler_default_params();
        p.top_k = 0;
        p.seed = 1;
        bench(ap, "no top-k (top-p 0.95, min-p 0.05)", p, n, steps);
        p.temp = 0.0f;
        bench(ap, "greedy", p, n, steps);
    }
    return 0;
}
