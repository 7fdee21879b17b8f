// tokenizer_bench.c - tokenization speed of kite_tokenize against llama.cpp's llama_tokenize
// (node-llama-cpp's libllama, dlopen'd) on the same vocabulary and text, one thread; also says
// whether the ids are identical. Not a test: prints numbers.
//   KITE_ROOT=$PWD build/<dir>/tokenizer_bench [TEXT_FILE] VOCAB.gguf...
// TEXT_FILE defaults to /usr/share/common-licenses/GPL-3 (English prose, ~35 KB).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kite.h"
#include "llama_ref.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static unsigned char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) b = (free(b), NULL);
    fclose(f);
    *len = (size_t)n;
    return b;
}

typedef struct { unsigned char b[512]; } llparams; // llama_model_params, padded
static void quiet(int l, const char *t, void *u) { (void)l, (void)t, (void)u; }

int main(int argc, char **argv) {
    int first = 1;
    const char *text_path = "/usr/share/common-licenses/GPL-3";
    if (argc > 1 && !strstr(argv[1], ".gguf")) text_path = argv[first++];
    if (first >= argc) {
        fprintf(stderr, "usage: %s [TEXT_FILE] VOCAB.gguf...\n", argv[0]);
        return 2;
    }
    size_t tlen;
    char *text = (char *)read_all(text_path, &tlen);
    if (!text) {
        fprintf(stderr, "cannot read %s\n", text_path);
        return 1;
    }
    int ci_fail; // a bench reports no failures: without the library it measures kite only
    void *h = llama_ref_open(&ci_fail);
    llparams (*defp)(void) = h ? (llparams(*)(void))dlsym(h, "llama_model_default_params") : NULL;
    void *(*load)(const char *, llparams) = h ? (void *(*)(const char *, llparams))dlsym(h, "llama_model_load_from_file") : NULL;
    const void *(*getv)(const void *) = h ? (const void *(*)(const void *))dlsym(h, "llama_model_get_vocab") : NULL;
    int32_t (*lltok)(const void *, const char *, int32_t, int32_t *, int32_t, bool, bool) =
        h ? (int32_t(*)(const void *, const char *, int32_t, int32_t *, int32_t, bool, bool))dlsym(h, "llama_tokenize") : NULL;
    void (*log_set)(void (*)(int, const char *, void *), void *) =
        h ? (void (*)(void (*)(int, const char *, void *), void *))dlsym(h, "llama_log_set") : NULL;
    if (log_set) log_set(quiet, NULL);

    printf("text: %s (%zu bytes), best of 5 runs, 1 thread\n", text_path, tlen);
    printf("%-28s %8s %10s %10s %7s  %s\n", "vocab", "tokens", "kite MB/s", "llama MB/s", "ratio", "ids");
    for (int a = first; a < argc; a++) {
        size_t len;
        unsigned char *buf = read_all(argv[a], &len);
        kite_gguf *g = NULL;
        kite_vocab *v = NULL;
        if (!buf || kite_gguf_parse(buf, len, &g) || kite_vocab_load(g, &v)) {
            fprintf(stderr, "%s: %s\n", argv[a], buf ? kite_last_error() : "cannot read");
            continue;
        }
        int32_t cap = (int32_t)tlen + 16, n = 0, nl = -1;
        int32_t *ids = malloc((size_t)cap * sizeof *ids), *ref = malloc((size_t)cap * sizeof *ref);
        double tk = 1e9, tl = 1e9;
        for (int r = 0; r < 5; r++) {
            double t0 = now();
            kite_tokenize(v, text, tlen, true, true, ids, cap, &n);
            double t1 = now();
            if (t1 - t0 < tk) tk = t1 - t0;
        }
        void *model = NULL;
        if (defp && load && getv && lltok) {
            llparams p = defp();
            p.b[72] = 1; // vocab_only (offsetof in this llama.h)
            model = load(argv[a], p);
        }
        if (model) {
            const void *rv = getv(model);
            for (int r = 0; r < 5; r++) {
                double t0 = now();
                nl = lltok(rv, text, (int32_t)tlen, ref, cap, true, true);
                double t1 = now();
                if (t1 - t0 < tl) tl = t1 - t0;
            }
        }
        const char *name = strrchr(argv[a], '/') ? strrchr(argv[a], '/') + 1 : argv[a];
        bool same = nl == n && memcmp(ids, ref, (size_t)n * sizeof *ids) == 0;
        if (model)
            printf("%-28s %8d %10.2f %10.2f %6.2fx  %s\n", name, n, tlen / tk / 1e6, tlen / tl / 1e6, tl / tk,
                   same ? "identical" : "DIFFER");
        else
            printf("%-28s %8d %10.2f %10s %7s  %s\n", name, n, tlen / tk / 1e6, "-", "-", "-");
        free(ids);
        free(ref);
        kite_vocab_free(v);
        kite_gguf_free(g);
        free(buf);
    }
    free(text);
    return 0;
}
