// cmd_perplexity.c - `kite perplexity -m MODEL -f TEXT [-c N]`: perplexity of a text file,
// computed as llama-perplexity does (chunks of N tokens, second half of each scored).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "model_cli.h"
#include "tokenizer/kite_tokenizer.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: kite perplexity -m MODEL -f TEXT [-c N] [-t N] [-b N]\n"
            "  -f, --file FILE        text to score\n"
            "  -c, --ctx-size N       chunk length in tokens (default 512)\n"
            "  -t, --threads N        threads (default 1)\n");
}

static bool progress(void *user, int32_t chunk, int32_t n_chunks, double ppl) {
    (void)user;
    fprintf(stderr, "[%d]%.4f,%s", chunk, ppl, chunk == n_chunks ? "\n" : "");
    fflush(stderr);
    return true;
}

// Reads a whole text file (NUL-terminated, malloc'd); NULL if it cannot.
static char *read_text(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *text = kite_read_stream(f, len);
    fclose(f);
    return text;
}

int kite_cmd_perplexity(int argc, char **argv) {
    model_opts o;
    model_opts_init(&o);
    o.n_ctx = 512; // llama-perplexity's default chunk
    for (int i = 1; i < argc; i++) {
        int r = model_opts_parse(&o, argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        }
        fprintf(stderr, "kite perplexity: unknown option '%s'\n", argv[i]);
        usage(stderr);
        return 2;
    }
    if (!o.file) {
        fprintf(stderr, "kite perplexity: -f TEXT is required\n");
        usage(stderr);
        return 2;
    }
    if (o.n_ctx < 2) {
        fprintf(stderr, "kite perplexity: -c must be at least 2\n");
        return 2;
    }
    size_t len = 0;
    char *text = read_text(o.file, &len);
    if (!text) {
        fprintf(stderr, "kite perplexity: cannot read %s\n", o.file);
        return 1;
    }
    model_session s;
    if (!model_session_open(&s, &o)) {
        free(text);
        return 1;
    }
    int rc = 1;
    int32_t n_tok = 0, *ids = NULL;
    kite_ppl_result res;
    if (kite_tokenize_alloc(kite_model_vocab(s.model), text, len, true, false, &ids, &n_tok) != KITE_OK) {
        fprintf(stderr, "kite perplexity: tokenizing %s: %s\n", o.file, kite_last_error());
    } else {
        fprintf(stderr, "perplexity: %d tokens, %lld chunks of %d\n", n_tok, (long long)(n_tok / o.n_ctx), o.n_ctx);
        if (kite_perplexity(s.ctx, ids, n_tok, progress, NULL, &res) != KITE_OK) {
            fprintf(stderr, "kite perplexity: %s\n", kite_last_error());
        } else {
            printf("Final estimate: PPL = %.4f +/- %.5f\n", res.ppl, res.ppl_err);
            rc = 0;
        }
    }
    free(ids);
    free(text);
    model_session_close(&s);
    return rc;
}
