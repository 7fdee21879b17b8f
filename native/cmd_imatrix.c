// cmd_imatrix.c - `kite imatrix -m MODEL -f TEXT [-o FILE] [-c N] [--chunks N]`: the importance
// matrix of a model over a text, as llama-imatrix computes it (the text cut into chunks of N
// tokens, each run from an empty cache with BOS first, the squared inputs of every matmul
// summed per column), written in llama-imatrix's GGUF or legacy .dat format for
// `kite quantize --imatrix`. `--in-file F` adds matrices made before (to combine them, or to go
// on with more text); `--show-statistics` prints llama-imatrix's statistics of one.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_signals.h"
#include "commands.h"
#include "file_map.h"
#include "imatrix_collect.h"
#include "imatrix_stats.h"
#include "model_cli.h"
#include "safe_output.h"
#include "tokenizer/kite_tokenizer.h"

// llama-imatrix's defaults: its logical batch (-b) and the tokens of one forward pass (-ub).
#define DEFAULT_BATCH 2048
#define UBATCH 512
#define MAX_SEQ 256 // kite_ctx_new's limit on sequences
#define MAX_IN_FILES 64

static void usage(FILE *f) {
    fprintf(f,
            "usage: kite imatrix -m MODEL -f TEXT [-o FILE] [-c N] [--chunks N] [--output-format gguf|dat]\n"
            "       kite imatrix --in-file F [--in-file F2 ...] [-m MODEL -f TEXT] [-o FILE]\n"
            "       kite imatrix --in-file F --show-statistics\n"
            "  -f, --file FILE        text to run the model over (a regular file, at most 256 MiB)\n"
            "  --in-file F            add a matrix made before (GGUF or .dat; repeatable): without -f the\n"
            "                         files are combined into -o, with -f the run adds to them\n"
            "  --show-statistics      print per-weight and per-layer statistics of the one --in-file\n"
            "  -o, --output FILE      where to write the matrix (default imatrix.gguf)\n"
            "  -c, --ctx-size N       chunk length in tokens (default 512); the text needs 2 chunks at least\n"
            "  -b, --batch-size N     tokens per batch (default 2048): N / chunk chunks run side by side\n"
            "  --chunks N             use at most N chunks\n"
            "  --output-format F      gguf (llama-imatrix's format, the default) or dat (its legacy format)\n"
            "  --process-output       also collect the output head (output.weight)\n"
            "  -t, --threads N        threads (default: the physical cores this process may use)\n"
            "  -ngl N                 layers on the offload backend (it must report matmul inputs)\n");
}


// Runs the chunks through the model, llama-imatrix's way: n_seq chunks side by side in one batch
// (each its own sequence, from an empty cache, its first token replaced by BOS when the
// vocabulary adds one), batches of at most n_batch tokens, forward passes of UBATCH tokens.
// Logits are asked for only when the output head is collected. false with a message printed.
static bool run_chunks(kite_ctx *ctx, const int32_t *tokens, int32_t n_chunk, int32_t n_ctx, int32_t n_seq,
                       int32_t n_batch, bool want_logits) {
    const kite_vocab *vocab = kite_model_vocab(kite_ctx_model(ctx));
    const int32_t bos = kite_vocab_bos(vocab), n_vocab = kite_model_hparams(kite_ctx_model(ctx))->n_vocab;
    const bool add_bos = kite_vocab_add_bos(vocab) && bos != KITE_TOKEN_NULL;
    const int32_t n_batches = (n_ctx + n_batch - 1) / n_batch;
    const size_t cap = (size_t)n_batch * (size_t)n_seq;
    int32_t *tok = malloc(cap * sizeof *tok), *seq = malloc(cap * sizeof *seq);
    bool *want = want_logits ? malloc(UBATCH * sizeof *want) : NULL;
    float *logits = want_logits ? malloc((size_t)UBATCH * (size_t)n_vocab * sizeof *logits) : NULL;
    bool ok = tok && seq && (!want_logits || (want && logits));
    if (!ok) fprintf(stderr, "kite imatrix: out of memory for a batch of %zu tokens\n", cap);
    for (int32_t i = 0; i < UBATCH && want; i++) want[i] = true;
    for (int32_t i = 0; ok && i < n_chunk; i += n_seq) {
        const int32_t n_seq_batch = n_chunk - i < n_seq ? n_chunk - i : n_seq;
        kite_ctx_reset(ctx);
        for (int32_t j = 0; ok && j < n_batches; j++) {
            const int64_t start = (int64_t)i * n_ctx + (int64_t)j * n_batch;
            const int32_t size = n_ctx - j * n_batch < n_batch ? n_ctx - j * n_batch : n_batch;
            int32_t n = 0;
            for (int32_t s = 0; s < n_seq_batch; s++)
                for (int32_t k = 0; k < size; k++) {
                    tok[n] = add_bos && j == 0 && k == 0 ? bos : tokens[start + (int64_t)s * n_ctx + k];
                    seq[n++] = s;
                }
            for (int32_t u = 0; ok && u < n; u += UBATCH) {
                const kite_batch b = {.tokens = tok + u, .seq = seq + u, .want = want, .n = n - u < UBATCH ? n - u : UBATCH};
                float none; // no logits are written without want: any pointer does
                if (kite_ctx_decode(ctx, &b, logits ? logits : &none) != KITE_OK) {
                    fprintf(stderr, "kite imatrix: chunk %d: %s\n", i + 1, kite_last_error());
                    ok = false;
                } else if (cli_stop_requested) {
                    fprintf(stderr, "\nkite imatrix: interrupted, nothing written\n");
                    ok = false;
                }
            }
        }
        if (ok) fprintf(stderr, "[%d]", i + n_seq_batch);
    }
    if (ok) fprintf(stderr, "\n");
    free(tok);
    free(seq);
    free(want);
    free(logits);
    return ok;
}

// Writes the matrix to out (opened on out_path) in the GGUF or legacy format and commits it;
// dataset is the text this run read (NULL when it only combines files). false with a message
// printed.
static bool write_matrix(const imatrix_collector *col, safe_output *out, const char *out_path, bool dat,
                         const char *dataset, int32_t chunk_size) {
    char err[600];
    const bool wrote = dat ? imatrix_write_dat(col, out, dataset, chunk_size, err, sizeof err)
                           : imatrix_write_gguf(col, out, dataset, chunk_size, err, sizeof err);
    if (!wrote || !safe_output_commit(out, err, sizeof err)) {
        fprintf(stderr, "kite imatrix: %s\n", err);
        return false;
    }
    printf("kite imatrix: %zu weights over %d chunks of %d tokens -> %s (%s)\n", col->n_entries,
           imatrix_chunk_count(col, chunk_size), chunk_size, out_path, dat ? "dat" : "gguf");
    return true;
}

// Without a text: the --in-file matrices added up, written to out_path. Returns the exit code.
static int write_combined(imatrix_collector *col, const char *out_path, bool dat, int32_t chunk_size) {
    char err[600];
    safe_output out = {0};
    const int oc = safe_output_check(out_path, NULL, err, sizeof err);
    int rc = oc == 2 ? 2 : 1;
    if (oc != 0 || !safe_output_open(&out, out_path, err, sizeof err))
        fprintf(stderr, "kite imatrix: output: %s\n", err);
    else if (write_matrix(col, &out, out_path, dat, NULL, chunk_size))
        rc = 0;
    safe_output_close(&out);
    imatrix_collector_free(col);
    return rc;
}

int kite_cmd_imatrix(int argc, char **argv) {
    model_opts o;
    model_opts_init(&o);
    o.n_ctx = 512; // llama-imatrix's default chunk
    o.n_batch = 0; // 0: not given
    const char *out_path = "imatrix.gguf", *format = NULL;
    int32_t max_chunks = 0;
    const char *in_files[MAX_IN_FILES];
    int n_in_files = 0;
    bool show_statistics = false;
    imatrix_collector col = {0};
    for (int i = 1; i < argc; i++) {
        int r = model_opts_parse(&o, argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--process-output")) {
            col.process_output = true;
            continue;
        }
        if (!strcmp(a, "--show-statistics")) {
            show_statistics = true;
            continue;
        }
        const bool takes_value = !strcmp(a, "-o") || !strcmp(a, "--output") || !strcmp(a, "--output-file") ||
                                 !strcmp(a, "--chunks") || !strcmp(a, "--output-format") || !strcmp(a, "--in-file");
        if (!takes_value) {
            fprintf(stderr, "kite imatrix: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "kite imatrix: %s needs a value\n", a);
            return 2;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--chunks")) {
            if (!model_cli_int(a, v, 1, 1 << 30, &max_chunks)) return 2;
        } else if (!strcmp(a, "--in-file")) {
            if (n_in_files == MAX_IN_FILES) {
                fprintf(stderr, "kite imatrix: at most %d --in-file\n", MAX_IN_FILES);
                return 2;
            }
            in_files[n_in_files++] = v;
        } else if (!strcmp(a, "--output-format")) {
            if (strcmp(v, "gguf") != 0 && strcmp(v, "dat") != 0) {
                fprintf(stderr, "kite imatrix: --output-format must be gguf or dat, not '%s'\n", v);
                return 2;
            }
            format = v;
        } else {
            out_path = v;
        }
    }
    if (show_statistics && n_in_files != 1) {
        fprintf(stderr, "kite imatrix: --show-statistics needs exactly one --in-file (%d given)\n", n_in_files);
        return 2;
    }
    if (!o.file && !n_in_files) {
        fprintf(stderr, "kite imatrix: -f TEXT is required (or --in-file to combine matrices)\n");
        usage(stderr);
        return 2;
    }
    if (o.n_ctx < 1) {
        fprintf(stderr, "kite imatrix: -c must be at least 1 (the chunk length in tokens), not %d\n", o.n_ctx);
        return 2;
    }
    // the files' sums, as llama-imatrix loads them (legacy ones scaled by the chunk length -c)
    for (int f = 0; f < n_in_files; f++) {
        char err[600];
        kite_file_map m = {0};
        kite_imatrix *im = NULL;
        bool ok = kite_file_map_open(in_files[f], &m, err, sizeof err);
        if (!ok) {
            fprintf(stderr, "kite imatrix: --in-file: %s\n", err);
        } else if (kite_imatrix_parse(m.data, m.size, &im) != KITE_OK) {
            fprintf(stderr, "kite imatrix: --in-file %s: %s\n", in_files[f], kite_last_error());
            ok = false;
        } else if (!imatrix_collector_add(&col, im, o.n_ctx)) {
            fprintf(stderr, "kite imatrix: --in-file %s: %s\n", in_files[f], col.err);
            ok = false;
        }
        kite_imatrix_free(im);
        kite_file_map_close(&m);
        if (!ok) {
            imatrix_collector_free(&col);
            return 1;
        }
    }
    if (show_statistics) {
        char err[600];
        const bool ok = imatrix_print_statistics(&col, in_files[0], stdout, err, sizeof err);
        if (!ok) fprintf(stderr, "kite imatrix: %s\n", err);
        imatrix_collector_free(&col);
        return ok ? 0 : 1;
    }
    const bool dat = format && !strcmp(format, "dat");
    const size_t ol = strlen(out_path);
    if (!format && (ol < 5 || strcmp(out_path + ol - 5, ".gguf") != 0))
        fprintf(stderr, "kite imatrix: writing the GGUF format to %s (--output-format dat for the legacy one)\n",
                out_path);
    if (!o.file) return write_combined(&col, out_path, dat, o.n_ctx);
    // llama-imatrix's layout: as many chunks side by side as fit the batch
    const int32_t n_chunk_len = o.n_ctx, batch = o.n_batch ? o.n_batch : DEFAULT_BATCH;
    int32_t n_seq = batch / n_chunk_len;
    n_seq = n_seq < 1 ? 1 : n_seq > MAX_SEQ ? MAX_SEQ : n_seq;
    const int32_t n_batch = batch < n_seq * n_chunk_len ? batch : n_seq * n_chunk_len;
    o.n_seq = n_seq;
    o.n_batch = UBATCH;

    char err[600];
    size_t len = 0;
    char *text = kite_read_text_file(o.file, KITE_TEXT_MAX, &len, err, sizeof err);
    if (!text) {
        fprintf(stderr, "kite imatrix: %s\n", err);
        imatrix_collector_free(&col); // it may hold --in-file matrices
        return 1;
    }
    // the output is made writable before the long run: a temporary file beside it, renamed at the end
    safe_output out = {0};
    const int oc = safe_output_check(out_path, o.file, err, sizeof err);
    if (oc != 0 || !safe_output_open(&out, out_path, err, sizeof err)) {
        fprintf(stderr, "kite imatrix: output: %s\n", err);
        free(text);
        imatrix_collector_free(&col);
        return oc == 2 ? 2 : 1;
    }
    model_session s;
    if (!model_session_open(&s, &o)) {
        safe_output_close(&out);
        free(text);
        imatrix_collector_free(&col);
        return 1;
    }
    cli_stop_on_signals();
    int rc = 1;
    int32_t n_tok = 0, *ids = NULL;
    if (model_session_output_check(&s, out_path, NULL, err, sizeof err) != 0) { // -o naming the model
        fprintf(stderr, "kite imatrix: output: %s\n", err);
        rc = 2;
        goto done;
    }
    if (kite_ctx_set_matmul_observer(s.ctx, imatrix_observe, &col) != KITE_OK) {
        fprintf(stderr, "kite imatrix: %s\n", kite_last_error());
        goto done;
    }
    if (kite_tokenize_alloc(kite_model_vocab(s.model), text, len, true, false, &ids, &n_tok) != KITE_OK) {
        fprintf(stderr, "kite imatrix: tokenizing %s: %s\n", o.file, kite_last_error());
        goto done;
    }
    if (n_tok / 2 < n_chunk_len) {
        fprintf(stderr, "kite imatrix: %s has %d tokens; chunks of %d need at least %lld (2 chunks)\n", o.file, n_tok,
                n_chunk_len, 2LL * n_chunk_len);
        goto done;
    }
    int32_t n_chunk = n_tok / n_chunk_len;
    if (max_chunks > 0 && max_chunks < n_chunk) n_chunk = max_chunks;
    fprintf(stderr, "imatrix: %d tokens, %d chunks of %d, %d side by side\n", n_tok, n_chunk, n_chunk_len, n_seq);
    if (!run_chunks(s.ctx, ids, n_chunk, n_chunk_len, n_seq, n_batch, col.process_output)) goto done;
    if (col.err[0]) {
        fprintf(stderr, "kite imatrix: %s\n", col.err);
        goto done;
    }
    if (!write_matrix(&col, &out, out_path, dat, o.file, n_chunk_len)) goto done;
    rc = 0;
done:
    kite_ctx_set_matmul_observer(s.ctx, NULL, NULL);
    safe_output_close(&out);
    imatrix_collector_free(&col);
    free(ids);
    free(text);
    model_session_close(&s);
    return rc;
}
