// dry_start_bench.c - what DRY adds to a generation start (kite_gen_seq_start, as `kite serve`
// and each chat turn run it) on a model's vocabulary: a start with DRY off, with DRY on and the
// breakers the model keeps, the walk over the vocabulary that makes them (kite_sampler_dry_breakers
// through the callbacks a start passes: what every start with DRY on paid before the model kept
// them, and the first start still pays), and llama.cpp's llama_sampler_init_dry on the same file
// (libllama from node-llama-cpp, dlopen'd: what llama.cpp's server pays per request). Medians of
// interleaved rounds, in this thread's CPU time (steadier than wall time on a shared machine; all
// of it is one thread's work). Not a test: prints numbers.
// Usage: dry_start_bench MODEL.gguf [ROUNDS]   (e.g. rand-qwen2-f16.gguf: qwen2's 151k vocabulary)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kite.h"
#include "kite_vocab_callbacks.h"
#include "llama_ref.h"

enum { MAX_ROUNDS = 64 };

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static bool quiet(void *user, const char *p, size_t n) {
    (void)user, (void)p, (void)n;
    return true;
}

// Seconds of the walk for the default breakers over m's vocabulary.
static double walk(const kite_model *m) {
    const char *defaults[] = KITE_SAMPLER_DRY_DEFAULT_BREAKERS;
    const kite_vocab *v = kite_model_vocab(m);
    int32_t *flat = NULL;
    size_t n_flat = 0;
    double t0 = now();
    kite_status st = kite_sampler_dry_breakers(defaults, 4, kite_vocab_n_tokens(v), vocab_cb_token_text,
                                               vocab_cb_tokenize, (void *)v, &flat, &n_flat);
    double t = now() - t0;
    free(flat);
    if (st != KITE_OK) {
        fprintf(stderr, "dry_start_bench: walk: %s\n", kite_last_error());
        exit(1);
    }
    return t;
}

// Seconds of one start and free of a sequence (DRY at multiplier dry).
static double start(const kite_model *m, float dry) {
    kite_gen_seq_params p = {.gen = kite_gen_default_params(), .on_piece = quiet};
    p.gen.sampling.dry_multiplier = dry;
    kite_gen_seq *g = NULL;
    double t0 = now();
    kite_status st = kite_gen_seq_start(m, "Hello: \"world\"", 0, 512, &p, &g);
    double t = now() - t0;
    kite_gen_seq_free(g);
    if (st != KITE_OK) {
        fprintf(stderr, "dry_start_bench: start: %s\n", kite_last_error());
        exit(1);
    }
    return t;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: dry_start_bench MODEL.gguf [ROUNDS]\n");
        return 2;
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 9;
    if (rounds < 1 || rounds > MAX_ROUNDS) rounds = 9;
    FILE *f = fopen(argv[1], "rb");
    if (!f) return fprintf(stderr, "dry_start_bench: cannot open %s\n", argv[1]), 1;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = len > 0 ? malloc((size_t)len) : NULL;
    if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) return fprintf(stderr, "dry_start_bench: read failed\n"), 1;
    fclose(f);
    kite_model *m = NULL;
    if (kite_model_load(buf, (uint64_t)len, NULL, &m) != KITE_OK)
        return fprintf(stderr, "dry_start_bench: %s\n", kite_last_error()), 1;
    // llama.cpp's DRY sampler, made on the same vocabulary (when libllama is there)
    int ci_fail = 0;
    void *h = llama_ref_open(&ci_fail);
    llref_model_api api;
    llref_dry_api d;
    llref_sampler_api sa;
    void *lm = h && llref_dry_load(h, &d) && llref_model_load(h, &api) && llref_sampler_load(h, &sa)
                   ? llref_vocab_model(&api, argv[1])
                   : NULL;
    const char *defaults[] = KITE_SAMPLER_DRY_DEFAULT_BREAKERS;
    double off[MAX_ROUNDS], kept[MAX_ROUNDS], walked[MAX_ROUNDS], llama[MAX_ROUNDS];
    start(m, 0.8f); // the first start walks once (and warms the caches)
    for (int r = 0; r < rounds; r++) {
        off[r] = start(m, 0.0f);
        kept[r] = start(m, 0.8f);
        walked[r] = walk(m);
        if (lm) {
            double t0 = now();
            void *s = d.dry(api.get_vocab(lm), 0.8f, 1.75f, 2, 4096, defaults, 4);
            llama[r] = now() - t0;
            if (s) sa.free_(s);
        }
    }
    printf("DRY at a generation start, %s (%d tokens), medians of %d rounds, CPU ms:\n", argv[1],
           kite_vocab_n_tokens(kite_model_vocab(m)), rounds);
    double mo = median(off, rounds), mk = median(kept, rounds), mf = median(walked, rounds);
    printf("  start, DRY off:                          %8.3f\n", 1e3 * mo);
    printf("  start, DRY on, breakers kept (now):      %8.3f  (+%.3f)\n", 1e3 * mk, 1e3 * (mk - mo));
    printf("  the walk (a start paid it before; now the first start per model and list): %8.3f\n", 1e3 * mf);
    if (lm) printf("  llama.cpp llama_sampler_init_dry:        %8.3f\n", 1e3 * median(llama, rounds));
    else printf("  llama.cpp: libllama not found, not compared\n");
    if (lm) api.free_model(lm);
    kite_model_free(m);
    free(buf);
    return 0;
}
