// cmd_quantize.c - `kite quantize IN.gguf OUT.gguf TYPE [NTHREADS]`: llama-quantize's command
// line over kite_quantize_gguf, writing OUT.tmp-XXXXXX beside OUT (a regular file or a new
// name), syncing it and renaming it only when complete; every error and terminating signal
// removes the temporary file.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#if !defined(__wasi__)
#include <sys/mman.h>
#endif
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "file_map.h"
#include "safe_output.h"
#include "kite.h"

static const char usage_head[] = "usage: kite quantize [options] IN.gguf OUT.gguf TYPE [NTHREADS]\n\n";

static const char usage_tail[] =
    "NTHREADS: worker threads (default: all cores)\n"
    "\n"
    "OUT must be a regular file or a new name. It is written as OUT.tmp-XXXXXX beside it, synced\n"
    "and renamed over OUT only when complete; on an error or a signal (INT, TERM, HUP, QUIT, PIPE)\n"
    "the temporary file is removed and an existing OUT is left as it was. A symbolic link, FIFO,\n"
    "device, directory or socket as OUT is refused (links are not written through: name the\n"
    "target), as is OUT being IN under any name.\n"
    "\n"
    "options (as llama-quantize's):\n"
    "  --allow-requantize           accept inputs whose tensors are already quantized\n"
    "  --leave-output-tensor        keep output.weight as it is\n"
    "  --pure                       one type for every tensor (no k-quant mixture)\n"
    "  --output-tensor-type T       type of output.weight\n"
    "  --token-embedding-type T     type of token_embd.weight\n"
    "  --tensor-type PATTERN=T      type of tensors whose name matches the regex (repeatable)\n"
    "  --imatrix FILE               importance matrix from llama-imatrix (GGUF or legacy .dat)\n"
    "  --include-weights NAME       use the imatrix only for tensors whose name contains NAME (repeatable)\n"
    "  --exclude-weights NAME       do not use the imatrix for tensors whose name contains NAME (repeatable)\n"
    "  -q, --quiet                  no progress bar\n";

// Prints the names in llama-quantize's list of one kind (0: made without an importance matrix,
// 1: made only with one, 2: refused), wrapped after the indent.
static int type_kind(int ft) {
    if (kite_quantize_ftype_check(ft) == KITE_OK) return 0;
    return kite_quantize_ftype_check_for(ft, true) == KITE_OK ? 1 : 2;
}

static void print_types(FILE *f, int kind, const char *indent) {
    int col = fprintf(f, "%s", indent), ft;
    const char *name;
    for (size_t i = 0; (name = kite_quantize_ftype_at(i, &ft)) != NULL; i++) {
        if (type_kind(ft) != kind) continue;
        if (col + 1 + (int)strlen(name) > 80) {
            fprintf(f, "\n%s", indent);
            col = (int)strlen(indent);
        }
        col += fprintf(f, " %s", name);
    }
    fputc('\n', f);
}

static void usage(FILE *f) {
    fputs(usage_head, f);
    fputs("TYPE (a name, case-insensitive, or its general.file_type number):\n", f);
    print_types(f, 0, "    ");
    fputs("    (Q3_K, Q4_K, Q5_K are aliases of the _M mixes)\n", f);
    fputs("  with --imatrix only (as llama-quantize: without one the result would be garbage):\n", f);
    print_types(f, 1, "    ");
    fputs("  refused: a quantizer kite does not have yet:\n", f);
    print_types(f, 2, "    ");
    fputc('\n', f);
    fputs(usage_tail, f);
}

// The signals that end a run early (the terminal closing, Ctrl-C, the quit key, kill, a reader
// gone): each only records itself here; the progress callback then stops the run and the
// temporary file is removed before exit.
#if !defined(__wasi__)
static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE};
#define N_STOP_SIGNALS (sizeof stop_signals / sizeof stop_signals[0])
#endif
static volatile sig_atomic_t g_abort; // the signal number, 0 while none came
#if !defined(__wasi__)
static void on_signal(int sig) { g_abort = sig; }
#endif

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

// ---- output file ---------------------------------------------------------------------------

static kite_status file_write(void *user, const void *data, size_t n) {
    return safe_output_write(user, data, n) ? KITE_OK : KITE_ERR_IO;
}

// Drops the pages of input bytes the quantizer is done with: the mapping is read-only and
// backed by the file, so they are simply re-read if touched again. Keeps resident memory near
// the scratch size instead of growing to the model's size.
static void release_input(void *user, const void *data, uint64_t len) {
    (void)user;
#if !defined(__wasi__)
    long pg = sysconf(_SC_PAGESIZE);
    uintptr_t a = ((uintptr_t)data + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1); // whole pages inside
    uintptr_t e = ((uintptr_t)data + len) & ~((uintptr_t)pg - 1);
    if (e > a) madvise((void *)a, e - a, MADV_DONTNEED);
#else
    (void)data, (void)len;
#endif
}

// ---- progress --------------------------------------------------------------------------------

typedef struct progress_state {
    bool show;
    double t0, last;
    uint64_t total;
    bool drawn;
} progress_state;

static bool on_progress(void *user, const char *what, uint64_t done, uint64_t total) {
    progress_state *ps = user;
    if (g_abort) return false;
    ps->total = total;
    if (!ps->show) return true;
    double t = now_s();
    // redraw at most 10 times a second: a terminal write per slice would cost more than it shows
    if (t - ps->last < 0.1 && done < total) return true;
    ps->last = t;
    double pct = total ? 100.0 * (double)done / (double)total : 100.0;
    double mbs = t > ps->t0 ? (double)done / 1e6 / (t - ps->t0) : 0.0;
    // time left at the rate so far (shown once a second of work gives the rate some meaning)
    double left = mbs > 0 && total > done ? (double)(total - done) / 1e6 / mbs : 0.0;
    char eta[32] = "";
    if (t - ps->t0 >= 1.0 && done < total) snprintf(eta, sizeof eta, "  %d:%02d left", (int)(left / 60), (int)left % 60);
    fprintf(stderr, "\r\033[K%-40.40s %5.1f%%  %7.1f MB/s%s", what, pct, mbs, eta);
    fflush(stderr);
    ps->drawn = true;
    return true;
}

// ---- arguments -------------------------------------------------------------------------------

static int usage_error(const char *fmt, const char *arg) {
    fprintf(stderr, "kite quantize: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see 'kite quantize --help')\n");
    return 2;
}

static bool parse_type(const char *s, int *out) {
    kite_type t;
    if (!kite_type_from_name(s, &t)) return false;
    *out = (int)t;
    return true;
}

// ---- the output path -------------------------------------------------------------------------

// Checks OUT before anything is written: it must not be IN or the --imatrix file (imatrix_path,
// or NULL) under any name (the same file through a symbolic or a hard link: same device and
// inode) and must be a regular file or not exist yet. A symbolic link is refused, not written
// through, so the file replaced is always the one named. Returns 0 when OUT is usable, else
// prints why and returns the exit code.
static int check_output(const char *in_path, const char *imatrix_path, const char *out_path) {
    char err[600];
    int rc = safe_output_check(out_path, in_path, err, sizeof err);
    if (rc == 0 && imatrix_path) rc = safe_output_check(out_path, imatrix_path, err, sizeof err);
    if (rc == 2) return usage_error("output %s (see 'kite quantize --help')", err);
    if (rc) fprintf(stderr, "kite quantize: output: %s\n", err);
    return rc;
}

static const char *signal_name(int sig) {
#if !defined(__wasi__)
    switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    case SIGQUIT: return "SIGQUIT";
    case SIGPIPE: return "SIGPIPE";
    }
#endif
    (void)sig;
    return "a signal";
}

int kite_cmd_quantize(int argc, char **argv) {
    kite_quantize_params p = kite_quantize_default_params();
    const char *pos[4];
    int n_pos = 0;
    bool quiet = false;
    kite_quantize_tensor_type *tt = calloc((size_t)argc + 1, sizeof *tt);
    char **patterns = calloc((size_t)argc + 1, sizeof *patterns);
    size_t n_tt = 0;
    int rc = 2;
    kite_file_map in_map = {0}, im_map = {0};
    kite_gguf *g = NULL;
    safe_output of = {0};
    const char *imatrix_path = NULL;
    const char **incl = calloc((size_t)argc + 1, sizeof *incl), **excl = calloc((size_t)argc + 1, sizeof *excl);
    size_t n_incl = 0, n_excl = 0;
    kite_imatrix *im = NULL;
#if !defined(__wasi__)
    struct sigaction old_sa[N_STOP_SIGNALS], old_xfsz;
    bool handlers_set = false;
#endif
    if (!tt || !patterns || !incl || !excl) {
        fprintf(stderr, "kite quantize: out of memory\n");
        rc = 1;
        goto out;
    }

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            rc = 0;
            goto out;
        } else if (!strcmp(a, "--allow-requantize")) {
            p.allow_requantize = true;
        } else if (!strcmp(a, "--pure")) {
            p.pure = true;
        } else if (!strcmp(a, "--leave-output-tensor")) {
            p.leave_output_tensor = true;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            quiet = true;
        } else if (!strcmp(a, "--output-tensor-type") || !strcmp(a, "--token-embedding-type")) {
            if (!next) {
                rc = usage_error("%s needs a type", a);
                goto out;
            }
            int *dst = a[2] == 'o' ? &p.output_tensor_type : &p.token_embedding_type;
            if (!parse_type(next, dst)) {
                rc = usage_error("unknown tensor type '%s'", next);
                goto out;
            }
            i++;
        } else if (!strcmp(a, "--imatrix") || !strcmp(a, "--include-weights") || !strcmp(a, "--exclude-weights")) {
            if (!next) {
                rc = usage_error("%s needs an argument", a);
                goto out;
            }
            if (a[2] == 'i' && a[3] == 'm') imatrix_path = next;
            else if (a[2] == 'i') incl[n_incl++] = next;
            else excl[n_excl++] = next;
            i++;
        } else if (!strcmp(a, "--tensor-type")) {
            if (!next) {
                rc = usage_error("%s needs PATTERN=TYPE", a);
                goto out;
            }
            const char *eq = strrchr(next, '=');
            if (!eq || eq == next || !eq[1]) {
                rc = usage_error("bad --tensor-type '%s': expected PATTERN=TYPE", next);
                goto out;
            }
            int ty;
            if (!parse_type(eq + 1, &ty)) {
                rc = usage_error("bad --tensor-type: unknown tensor type '%s'", eq + 1);
                goto out;
            }
            // llama-quantize lowercases the pattern (tensor names are lowercase)
            char *pat = strndup(next, (size_t)(eq - next));
            if (!pat) {
                rc = 1;
                goto out;
            }
            for (char *c = pat; *c; c++)
                if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
            patterns[n_tt] = pat;
            tt[n_tt].pattern = pat;
            tt[n_tt].type = (kite_type)ty;
            n_tt++;
            i++;
        } else if (a[0] == '-' && a[1] == '-') {
            rc = usage_error("unknown option '%s'", a);
            goto out;
        } else {
            if (n_pos == 4) {
                rc = usage_error("unexpected argument '%s'", a);
                goto out;
            }
            pos[n_pos++] = a;
        }
    }
    if (n_pos < 3) {
        usage(stderr);
        goto out;
    }
    if (n_incl && n_excl) {
        rc = usage_error("%s", "--include-weights and --exclude-weights cannot be used together");
        goto out;
    }
    const char *in_path = pos[0], *out_path = pos[1];
    if (!kite_quantize_ftype_from_name(pos[2], &p.ftype)) {
        rc = usage_error("unknown quantization type '%s'", pos[2]);
        goto out;
    }
    long nthreads = sysconf(_SC_NPROCESSORS_ONLN);
    if (n_pos == 4) {
        char *end;
        errno = 0;
        nthreads = strtol(pos[3], &end, 10);
        if (errno || *end || nthreads < 1 || nthreads > 1024) {
            rc = usage_error("bad thread count '%s'", pos[3]);
            goto out;
        }
    }
    p.n_threads = nthreads > 0 ? (int)nthreads : 1;
    p.tensor_types = tt;
    p.n_tensor_types = n_tt;
    if (kite_quantize_params_check(&p) != KITE_OK) {
        rc = usage_error("%s", kite_last_error());
        goto out;
    }
    if (kite_quantize_ftype_check_for(p.ftype, imatrix_path != NULL) != KITE_OK) {
        rc = usage_error("%s", kite_last_error());
        goto out;
    }
    if ((rc = check_output(in_path, imatrix_path, out_path)) != 0) goto out;

    // ---- run ----
    rc = 1;
    char err[512];
    if (!kite_file_map_open(in_path, &in_map, err, sizeof err)) {
        fprintf(stderr, "kite quantize: %s\n", err);
        goto out;
    }
    if (kite_gguf_parse(in_map.data, in_map.size, &g) != KITE_OK) {
        fprintf(stderr, "kite quantize: %s: %s\n", in_path, kite_last_error());
        goto out;
    }

    if (imatrix_path) {
        if (!kite_file_map_open(imatrix_path, &im_map, err, sizeof err)) {
            fprintf(stderr, "kite quantize: %s\n", err);
            goto out;
        }
        if (kite_imatrix_parse(im_map.data, im_map.size, &im) != KITE_OK) {
            fprintf(stderr, "kite quantize: %s: %s\n", imatrix_path, kite_last_error());
            goto out;
        }
        kite_file_map_close(&im_map);
        kite_imatrix_filter(im, incl, n_incl, excl, n_excl);
        if (!quiet)
            printf("kite quantize: %s: %zu importance matrix entries%s%s, %d chunks\n", imatrix_path, im->n_entries,
                   im->dataset ? " from " : "", im->dataset ? im->dataset : "", (int)im->chunk_count);
        p.imatrix = im;
        p.imatrix_file = imatrix_path;
    }

#if !defined(__wasi__) // WASI delivers no signals
    // From here on a terminating signal only sets a flag: the run stops at the next slice and
    // cleans up, so the handlers go in before the temporary file exists.
    struct sigaction sa, ign;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < N_STOP_SIGNALS; i++) sigaction(stop_signals[i], &sa, &old_sa[i]);
    // a file size limit (ulimit -f) must fail the write with EFBIG, not kill the process
    // before it can remove its temporary file
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGXFSZ, &ign, &old_xfsz);
    handlers_set = true;
#endif
    if (!safe_output_open(&of, out_path, err, sizeof err)) {
        fprintf(stderr, "kite quantize: %s\n", err);
        goto out;
    }
    setvbuf(of.f, NULL, _IOFBF, 4u << 20); // big writes: the sink sees whole slices anyway

    kite_quantize_stats st;
    p.stats = &st;
    if (in_map.mapped) p.release = release_input;
    progress_state ps = {!quiet && isatty(2), now_s(), 0, 0, false};
    kite_sink sink = {file_write, &of};
    kite_status s = kite_quantize_gguf(g, &sink, &p, on_progress, &ps);
    double secs = now_s() - ps.t0;
    if (ps.drawn) fprintf(stderr, "\r\033[K");
    if (s == KITE_OK && g_abort) s = KITE_ERR_ABORTED; // a signal after the last slice still stops it
    if (s != KITE_OK) {
        if (s == KITE_ERR_ABORTED && g_abort)
            fprintf(stderr, "kite quantize: interrupted by %s; %s not written\n", signal_name(g_abort), out_path);
        else if (s == KITE_ERR_IO && of.err) fprintf(stderr, "kite quantize: writing %s: %s\n", of.tmp_path, strerror(of.err));
        else fprintf(stderr, "kite quantize: %s\n", kite_last_error());
    } else if (!safe_output_commit(&of, err, sizeof err)) {
        fprintf(stderr, "kite quantize: %s\n", err);
    } else {
        rc = 0;
        double mib_in = st.bytes_in / 1048576.0, mib_out = st.bytes_out / 1048576.0;
        double n = st.n_elements ? (double)st.n_elements : 1.0;
        printf("kite quantize: %s -> %s (%s, %d threads)\n", in_path, out_path, kite_quantize_ftype_name(p.ftype), p.n_threads);
        printf("  tensors: %llu, quantized %llu", (unsigned long long)st.n_tensors, (unsigned long long)st.n_quantized);
        if (st.n_fallback)
            printf(", %llu fell back to another type (rows not a multiple of the block size)", (unsigned long long)st.n_fallback);
        printf("\n  size: %.2f MiB (%.2f BPW) -> %.2f MiB (%.2f BPW), %.1f%%\n", mib_in, st.bytes_in * 8.0 / n, mib_out,
               st.bytes_out * 8.0 / n, st.bytes_in ? 100.0 * st.bytes_out / st.bytes_in : 100.0);
        printf("  time: %.2f s, %.1f MB/s of input\n", secs, secs > 0 ? st.bytes_in / 1e6 / secs : 0.0);
    }

out:
    safe_output_close(&of);
#if !defined(__wasi__)
    if (handlers_set) {
        for (size_t i = 0; i < N_STOP_SIGNALS; i++) sigaction(stop_signals[i], &old_sa[i], NULL);
        sigaction(SIGXFSZ, &old_xfsz, NULL);
    }
#endif
    kite_gguf_free(g);
    kite_file_map_close(&in_map);
    kite_file_map_close(&im_map);
    kite_imatrix_free(im);
    free(incl);
    free(excl);
    for (size_t i = 0; i < n_tt; i++) free(patterns[i]);
    free(patterns);
    free(tt);
    return rc;
}
