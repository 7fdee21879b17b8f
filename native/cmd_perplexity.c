// cmd_perplexity.c - `kite perplexity -m MODEL -f TEXT [-c N]`: perplexity of a text file,
// computed as llama-perplexity does (chunks of N tokens, second half of each scored); with
// --kl-divergence-base / --kl-divergence, the KL divergence from a base model's distributions
// in llama-perplexity's file format.
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_signals.h"
#include "commands.h"
#include "kld_file.h"
#include "model_cli.h"
#include "tokenizer/kite_tokenizer.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: kite perplexity -m MODEL -f TEXT [-c N] [-t N] [-b N] [--chunks N]\n"
            "       kite perplexity -m BASE_MODEL -f TEXT --kl-divergence-base FILE [-c N]\n"
            "       kite perplexity -m MODEL --kl-divergence-base FILE --kl-divergence\n"
            "  -f, --file FILE        text to score (a regular file, at most 256 MiB)\n"
            "  -c, --ctx-size N       chunk length in tokens (default 512; with --kl-divergence, the base file's)\n"
            "  -t, --threads N        threads (default: the physical cores this process may use)\n"
            "  --chunks N             score at most N chunks\n"
            "  --kl-divergence-base FILE  with -f: write the model's log-probabilities to FILE (llama-perplexity's\n"
            "                         format); with --kl-divergence: read them\n"
            "  --kl-divergence        KL divergence of this model from the base file's model, over the file's tokens\n");
}


static bool progress(void *user, int32_t chunk, int32_t n_chunks, double ppl) {
    (void)user;
    fprintf(stderr, "[%d]%.4f,%s", chunk, ppl, chunk == n_chunks ? "\n" : "");
    fflush(stderr);
    return !cli_stop_requested;
}

// ---- KL divergence ------------------------------------------------------------------------

typedef struct kld_run {
    kld_file file;
    int32_t n_vocab;
    uint16_t *rows;          // one chunk's compressed rows
    kite_kld_stats st;
    float *kld, *p_diff;     // per scored position
    char err[512];
} kld_run;

// Writer: each chunk's scored rows, compressed, appended to the base file.
static bool write_chunk(void *user, int32_t chunk, const int32_t *tokens, int32_t n_ctx, int32_t first,
                        const float *logits) {
    kld_run *r = user;
    (void)chunk;
    if (!r->rows) { // no chunk was expected (too few tokens): nothing to write into
        snprintf(r->err, sizeof r->err, "no base file rows for chunk %d", chunk + 1);
        return false;
    }
    const int32_t nv = kite_kld_row_len(r->n_vocab);
    for (int32_t j = 0; j < n_ctx - 1 - first; j++)
        kite_kld_encode_row(logits + (size_t)j * r->n_vocab, r->n_vocab, tokens[first + j + 1], r->rows + (size_t)j * nv);
    return kld_file_write_chunk(&r->file, r->rows, r->err, sizeof r->err) && !cli_stop_requested;
}

// Reader: each chunk's logits against the base file's rows, one line per chunk as llama-perplexity.
static bool compare_chunk(void *user, int32_t chunk, const int32_t *tokens, int32_t n_ctx, int32_t first,
                          const float *logits) {
    kld_run *r = user;
    if (!kld_file_read_chunk(&r->file, r->rows, r->err, sizeof r->err)) return false;
    const int32_t nv = kite_kld_row_len(r->n_vocab), n_rows = n_ctx - 1 - first;
    const size_t at = (size_t)chunk * (size_t)n_rows;
    for (int32_t j = 0; j < n_rows; j++)
        kite_kld_add_row(&r->st, logits + (size_t)j * r->n_vocab, r->n_vocab, r->rows + (size_t)j * nv,
                         tokens[first + j + 1], &r->kld[at + j], &r->p_diff[at + j]);
    kite_kld_report rep;
    kite_kld_report_make(&r->st, NULL, NULL, &rep);
    printf("%4d    %9.4f ± %9.4f    %10.5f ± %10.5f    %10.5f ± %10.5f    %6.3f ± %6.3f %%    %6.3f ± %6.3f %%\n",
           chunk + 1, rep.ppl, rep.ppl_err, rep.ln_ppl_ratio, rep.ln_ppl_ratio_err, rep.kld_mean, rep.kld_err,
           100 * rep.p_diff_rms, 100 * rep.p_diff_rms_err, 100 * rep.same_top, 100 * rep.same_top_err);
    fflush(stdout);
    return !cli_stop_requested;
}

static void print_kld_report(kld_run *r) {
    kite_kld_report p;
    kite_kld_report_make(&r->st, r->kld, r->p_diff, &p);
    static const char *names[KITE_KLD_N_PCT] = {"Maximum", "99.9%  ", "99.0%  ", "95.0%  ", "90.0%  ", "Median ",
                                               "10.0%  ", " 5.0%  ", " 1.0%  ", " 0.1%  ", "Minimum"};
    printf("\n====== Perplexity statistics ======\n");
    printf("Mean PPL(Q)                   : %10.6f ± %10.6f\n", p.ppl, p.ppl_err);
    printf("Mean PPL(base)                : %10.6f ± %10.6f\n", p.ppl_base, p.ppl_base_err);
    printf("Cor(ln(PPL(Q)), ln(PPL(base))): %6.2f%%\n", 100 * p.ppl_cor);
    printf("Mean ln(PPL(Q)/PPL(base))     : %10.6f ± %10.6f\n", p.ln_ppl_ratio, p.ln_ppl_ratio_err);
    printf("Mean PPL(Q)/PPL(base)         : %10.6f ± %10.6f\n", p.ppl_ratio, p.ppl_ratio * p.ln_ppl_ratio_err);
    printf("\n====== KL divergence statistics ======\n");
    printf("Mean    KLD: %10.6f ± %10.6f\n", p.kld_mean, p.kld_err);
    for (int i = 0; i < KITE_KLD_N_PCT; i++) printf("%s KLD: %10.6f\n", names[i], p.kld_pct[i]);
    printf("\n====== Token probability statistics ======\n");
    printf("Mean    Δp: %6.3f ± %5.3f %%\n", 100 * p.p_diff_mean, 100 * p.p_diff_err);
    for (int i = 0; i < KITE_KLD_N_PCT; i++) printf("%s Δp: %6.3f%%\n", names[i], 100 * p.p_diff_pct[i]);
    printf("RMS Δp    : %6.3f ± %5.3f %%\n", 100 * p.p_diff_rms, 100 * p.p_diff_rms_err);
    printf("Same top p: %6.3f ± %5.3f %%\n", 100 * p.same_top, 100 * p.same_top_err);
}

// --kl-divergence: the model against the base file, over the file's tokens.
static int run_kld(model_opts *o, const char *base, int32_t max_chunks) {
    kld_run r = {0};
    int rc = 1;
    if (!kld_file_open_read(&r.file, base, r.err, sizeof r.err)) {
        fprintf(stderr, "kite perplexity: %s\n", r.err);
        kld_file_close(&r.file);
        return 1;
    }
    if (o->n_ctx && o->n_ctx != r.file.n_ctx) {
        fprintf(stderr, "kite perplexity: %s was computed with -c %d, not %d\n", base, r.file.n_ctx, o->n_ctx);
        kld_file_close(&r.file);
        return 2;
    }
    o->n_ctx = r.file.n_ctx;
    model_session s;
    if (!model_session_open(&s, o)) {
        kld_file_close(&r.file);
        return 1;
    }
    r.n_vocab = kite_model_hparams(s.model)->n_vocab;
    const int32_t n_chunk = max_chunks > 0 && max_chunks < r.file.n_chunk ? max_chunks : r.file.n_chunk;
    const size_t n_scored = (size_t)n_chunk * (size_t)kld_file_rows(&r.file);
    if (r.n_vocab != r.file.n_vocab) {
        fprintf(stderr, "kite perplexity: %s has a vocabulary of %d tokens, the model %d\n", base, r.file.n_vocab,
                r.n_vocab);
    } else if (!(r.rows = malloc((size_t)kld_file_rows(&r.file) * kite_kld_row_len(r.n_vocab) * sizeof(uint16_t))) ||
               !(r.kld = malloc(n_scored * sizeof(float))) || !(r.p_diff = malloc(n_scored * sizeof(float)))) {
        fprintf(stderr, "kite perplexity: out of memory\n");
    } else {
        fprintf(stderr, "kl-divergence: %d chunks of %d from %s\n", n_chunk, r.file.n_ctx, base);
        printf("chunk             PPL               ln(PPL(Q)/PPL(base))          KL Divergence              Δp RMS            Same top p\n");
        kite_ppl_result res;
        if (kite_perplexity_ex(s.ctx, r.file.tokens, (int64_t)n_chunk * r.file.n_ctx, n_chunk, NULL, compare_chunk, &r,
                               &res) != KITE_OK) {
            fprintf(stderr, "kite perplexity: %s\n", r.err[0] ? r.err : kite_last_error());
        } else {
            print_kld_report(&r);
            rc = 0;
        }
    }
    free(r.rows);
    free(r.kld);
    free(r.p_diff);
    kld_file_close(&r.file);
    model_session_close(&s);
    return rc;
}

int kite_cmd_perplexity(int argc, char **argv) {
    model_opts o;
    model_opts_init(&o);
    o.n_ctx = 0; // 0: not given (512, llama-perplexity's default chunk; or the base file's)
    const char *base = NULL;
    bool kld = false;
    int32_t max_chunks = 0;
    for (int i = 1; i < argc; i++) {
        int r = model_opts_parse(&o, argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--kl-divergence")) {
            kld = true;
            continue;
        }
        if ((!strcmp(argv[i], "--kl-divergence-base") || !strcmp(argv[i], "--chunks")) && i + 1 >= argc) {
            fprintf(stderr, "kite perplexity: %s needs a value\n", argv[i]);
            return 2;
        }
        if (!strcmp(argv[i], "--kl-divergence-base")) {
            base = argv[++i];
            continue;
        }
        if (!strcmp(argv[i], "--chunks")) {
            if (!model_cli_int(argv[i], argv[i + 1], 1, 1 << 30, &max_chunks)) return 2;
            i++;
            continue;
        }
        fprintf(stderr, "kite perplexity: unknown option '%s'\n", argv[i]);
        usage(stderr);
        return 2;
    }
    cli_stop_on_signals();
    if (kld) {
        if (!base) {
            fprintf(stderr, "kite perplexity: --kl-divergence needs --kl-divergence-base FILE\n");
            return 2;
        }
        return run_kld(&o, base, max_chunks);
    }
    if (!o.file) {
        fprintf(stderr, "kite perplexity: -f TEXT is required\n");
        usage(stderr);
        return 2;
    }
    if (!o.n_ctx) o.n_ctx = 512;
    if (o.n_ctx < 4) {
        fprintf(stderr, "kite perplexity: -c must be at least 4 (the scored second half needs a token)\n");
        return 2;
    }
    size_t len = 0;
    char err[512];
    char *text = kite_read_text_file(o.file, KITE_TEXT_MAX, &len, err, sizeof err);
    if (!text) {
        fprintf(stderr, "kite perplexity: %s\n", err);
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
    kld_run w = {0};
    if (kite_tokenize_alloc(kite_model_vocab(s.model), text, len, true, false, &ids, &n_tok) != KITE_OK) {
        fprintf(stderr, "kite perplexity: tokenizing %s: %s\n", o.file, kite_last_error());
        goto done;
    }
    if (n_tok < 2 * (int64_t)o.n_ctx) { // llama-perplexity's rule for a text, --chunks 1 included
        fprintf(stderr, "kite perplexity: %s has %d tokens; a context of %d needs at least %d\n", o.file, n_tok, o.n_ctx,
                2 * o.n_ctx);
        goto done;
    }
    int32_t n_chunk = n_tok / o.n_ctx;
    if (max_chunks > 0 && max_chunks < n_chunk) n_chunk = max_chunks;
    fprintf(stderr, "perplexity: %d tokens, %d chunks of %d\n", n_tok, n_chunk, o.n_ctx);
    if (base && n_chunk >= 1) { // (--chunks 1 writes a one-chunk base file, as llama-perplexity)
        if (model_session_output_check(&s, base, o.file, w.err, sizeof w.err) != 0) { // the model or the text
            fprintf(stderr, "kite perplexity: --kl-divergence-base: %s\n", w.err);
            rc = 2;
            goto done;
        }
        w.n_vocab = kite_model_hparams(s.model)->n_vocab;
        if (!(w.rows = malloc((size_t)(o.n_ctx - 1 - o.n_ctx / 2) * kite_kld_row_len(w.n_vocab) * sizeof(uint16_t)))) {
            fprintf(stderr, "kite perplexity: out of memory\n");
            goto done;
        }
        if (!kld_file_open_write(&w.file, base, o.n_ctx, w.n_vocab, n_chunk, ids, w.err, sizeof w.err)) {
            fprintf(stderr, "kite perplexity: %s\n", w.err);
            goto done;
        }
    }
    if (kite_perplexity_ex(s.ctx, ids, n_tok, max_chunks, progress, base ? write_chunk : NULL, &w, &res) != KITE_OK) {
        fprintf(stderr, "kite perplexity: %s\n", w.err[0] ? w.err : kite_last_error());
        goto done;
    }
    if (base && !kld_file_commit(&w.file, w.err, sizeof w.err)) {
        fprintf(stderr, "kite perplexity: %s\n", w.err);
        goto done;
    }
    printf("Final estimate: PPL = %.4f +/- %.5f\n", res.ppl, res.ppl_err);
    rc = 0;
done:
    kld_file_close(&w.file);
    free(w.rows);
    free(ids);
    free(text);
    model_session_close(&s);
    return rc;
}
