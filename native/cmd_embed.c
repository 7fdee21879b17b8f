// cmd_embed.c - `kite embed -m MODEL -p TEXT`: the text's embedding (the model's final-normed
// hidden states, pooled) printed as one JSON array of floats, as llama-embedding does.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "model_cli.h"
#include "tokenizer/kite_tokenizer.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: kite embed [-m MODEL] -p TEXT [--pooling mean|cls|last] [--embd-normalize N]\n"
            "  -p, --prompt TEXT      text to embed (BOS added as the vocabulary says)\n"
            "  --pooling P            mean, cls (first token) or last (default: the model's, else mean)\n"
            "  --embd-normalize N     -1 none, 2 Euclidean (default, as llama.cpp)\n");
}

int kite_cmd_embed(int argc, char **argv) {
    model_opts o;
    model_opts_init(&o);
    int32_t norm = 2;
    const char *pooling_name = NULL;
    for (int i = 1; i < argc; i++) {
        int r = model_opts_parse(&o, argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        }
        if ((!strcmp(argv[i], "--pooling") || !strcmp(argv[i], "--embd-normalize")) && i + 1 >= argc) {
            fprintf(stderr, "kite embed: %s needs a value\n", argv[i]);
            return 2;
        }
        if (!strcmp(argv[i], "--pooling")) {
            pooling_name = argv[++i];
            if (strcmp(pooling_name, "mean") && strcmp(pooling_name, "cls") && strcmp(pooling_name, "last")) {
                fprintf(stderr, "kite embed: --pooling expects mean, cls or last, got '%s'\n", pooling_name);
                return 2;
            }
            continue;
        }
        if (!strcmp(argv[i], "--embd-normalize")) {
            const char *v = argv[++i]; // two choices: a word match, one message for any other text
            if (strcmp(v, "-1") && strcmp(v, "2")) {
                fprintf(stderr, "kite embed: --embd-normalize expects -1 (none) or 2 (Euclidean), got '%s'\n", v);
                return 2;
            }
            norm = (int32_t)atoi(v);
            continue;
        }
        fprintf(stderr, "kite embed: unknown option '%s'\n", argv[i]);
        usage(stderr);
        return 2;
    }
    if (!o.prompt) {
        fprintf(stderr, "kite embed: -p TEXT is required\n");
        return 2;
    }
    model_session s;
    if (!model_session_open(&s, &o)) return 1;
    int rc = 1;
    const int32_t E = kite_model_hparams(s.model)->n_embd;
    int32_t n = 0, *ids = NULL;
    float *v = malloc((size_t)E * sizeof(float));
    kite_pooling pooling = kite_model_pooling(s.model);
    if (pooling_name)
        pooling = !strcmp(pooling_name, "mean") ? KITE_POOLING_MEAN
                  : !strcmp(pooling_name, "cls") ? KITE_POOLING_CLS : KITE_POOLING_LAST;
    if (!v || kite_tokenize_alloc(kite_model_vocab(s.model), o.prompt, strlen(o.prompt), true, false, &ids, &n) != KITE_OK ||
        kite_ctx_embed(s.ctx, ids, n, pooling, v) != KITE_OK) {
        fprintf(stderr, "kite embed: %s\n", kite_last_error());
    } else {
        double sum = 0.0;
        for (int32_t d = 0; d < E; d++) sum += (double)v[d] * v[d];
        const double scale = norm == 2 && sum > 0 ? 1.0 / sqrt(sum) : 1.0;
        printf("[");
        for (int32_t d = 0; d < E; d++) printf("%s%.9g", d ? ", " : "", v[d] * scale);
        printf("]\n");
        rc = 0;
    }
    free(v);
    free(ids);
    model_session_close(&s);
    return rc;
}
