// cmd_bench.c - `kite bench -m MODEL [-p 128] [-n 64] [-d 0,512] [-t 1,2] [-r 3]`: prefill (pp) and
// decode (tg) speed in a llama-bench-like table, at the cache depths asked for, with the weight
// bandwidth each implies.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "cpu_cores.h"
#include "model_cli.h"

#define MAX_LIST 16 // thread counts or depths in one -t / -d list

static void usage(FILE *f) {
    fprintf(f,
            "usage: kite bench [-m MODEL] [-p N] [-n N] [-d D1,D2,...] [-t T1,T2,...] [-r N] [-b N] [-o md|csv|json]\n"
            "                  [-nr]\n"
            "  -p N    prompt tokens of the prefill test (default 128; 0 skips it)\n"
            "  -n N    tokens of the decode test (default 64; 0 skips it)\n"
            "  -d LIST cache depths: each test runs after that many random tokens are in the cache,\n"
            "          untimed, as llama-bench's -d (default 0)\n"
            "  -t LIST thread counts (default: the physical cores this process may use)\n"
            "  -r N    repetitions, the mean and deviation are shown (default 3)\n"
            "  -o FMT  md (a table with aligned columns, default), csv (a header line, then one line per\n"
            "          test) or json (one object per line, with cpu_tps: tokens per CPU second of the\n"
            "          process over the timed runs, a steady rate on a shared machine at one thread)\n"
            "  -nr, --no-repack  keep the weights in the file's layout (see kite run --help)\n"
            "GB/s = weight bytes read per token x tokens/s (decode reads every weight once per token).\n");
}

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double now_s(void) { return clock_s(CLOCK_MONOTONIC); }

static int32_t random_token(int32_t n_vocab, uint32_t *rng) {
    *rng = *rng * 1664525u + 1013904223u;
    return (int32_t)((*rng >> 8) % (uint32_t)n_vocab);
}

// One timed run: prefill n_p random tokens in batches, or decode n_g tokens one by one (after
// one BOS-like token, as llama-bench's tg test does), after `depth` random tokens (untimed) in the
// cache. Returns seconds, < 0 on error, and adds the process's CPU seconds over the same timed
// part to *cpu.
static double run_once(kite_ctx *c, int32_t n_vocab, int32_t depth, int32_t n_p, int32_t n_g, uint32_t *rng,
                       double *cpu) {
    const int32_t n_toks = depth > n_p ? depth : n_p;
    int32_t *toks = malloc(sizeof(int32_t) * (size_t)(n_toks > 0 ? n_toks : 1));
    if (!toks) return -1;
    kite_ctx_reset(c);
    double t = -1;
    if (depth > 0) {
        for (int32_t i = 0; i < depth; i++) toks[i] = random_token(n_vocab, rng);
        if (kite_ctx_eval(c, toks, depth, NULL) != KITE_OK) {
            free(toks);
            return -1;
        }
    }
    for (int32_t i = 0; i < n_p; i++) toks[i] = random_token(n_vocab, rng);
    double cpu0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    if (n_p > 0) {
        double t0 = now_s();
        if (kite_ctx_eval(c, toks, n_p, NULL) == KITE_OK) t = now_s() - t0;
    } else {
        int32_t tok = 1 % n_vocab;
        if (depth > 0 || kite_ctx_eval(c, &tok, 1, NULL) == KITE_OK) {
            cpu0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
            double t0 = now_s();
            t = 0;
            for (int32_t i = 0; i < n_g; i++) {
                tok = random_token(n_vocab, rng);
                if (kite_ctx_eval(c, &tok, 1, NULL) != KITE_OK) {
                    t = -1;
                    break;
                }
            }
            if (t == 0) t = now_s() - t0;
        }
    }
    *cpu += clock_s(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
    free(toks);
    return t;
}

// A comma-separated list of at most MAX_LIST integers in [lo, hi] into out[*n]; false (after
// printing why) on a bad value, an empty item or an empty list.
static bool parse_list(const char *flag, const char *v, int32_t lo, int32_t hi, int32_t *out, int32_t *n) {
    *n = 0;
    for (const char *p = v;; p++) {
        const char *end = strchr(p, ',');
        const size_t len = end ? (size_t)(end - p) : strlen(p);
        char item[32];
        if (*n == MAX_LIST) {
            fprintf(stderr, "kite bench: at most %d values in %s\n", MAX_LIST, flag);
            return false;
        }
        if (len >= sizeof item) {
            fprintf(stderr, "kite bench: %s expects integers, got '%s'\n", flag, v);
            return false;
        }
        snprintf(item, sizeof item, "%.*s", (int)len, p);
        if (!model_cli_int(flag, item, lo, hi, &out[(*n)++])) return false;
        if (!end) return true;
        p = end;
    }
}

int kite_cmd_bench(int argc, char **argv) {
    const char *model = NULL, *fmt = "md";
    int32_t n_p = 128, n_g = 64, reps = 3, n_batch = 0;
    bool no_repack = false;
    int32_t threads[MAX_LIST] = {cli_default_threads()}, n_threads = 1;
    int32_t depths[MAX_LIST] = {0}, n_depths = 1, max_depth = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (model_cli_repack_flag(a, &no_repack)) continue;
        if (i + 1 >= argc) {
            fprintf(stderr, "kite bench: unknown option or missing value '%s'\n", a);
            usage(stderr);
            return 2;
        }
        const char *v = argv[++i];
        bool ok = true;
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "-p") || !strcmp(a, "--n-prompt")) ok = model_cli_int(a, v, 0, 1 << 20, &n_p);
        else if (!strcmp(a, "-n") || !strcmp(a, "--n-gen")) ok = model_cli_int(a, v, 0, 1 << 20, &n_g);
        else if (!strcmp(a, "-r") || !strcmp(a, "--repetitions")) ok = model_cli_int(a, v, 1, 1000, &reps);
        else if (!strcmp(a, "-b") || !strcmp(a, "--batch-size")) ok = model_cli_int(a, v, 1, 1 << 16, &n_batch);
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            fmt = v;
            ok = !strcmp(v, "md") || !strcmp(v, "json") || !strcmp(v, "csv");
            if (!ok) fprintf(stderr, "kite bench: -o expects md, csv or json, got '%s'\n", v);
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            ok = parse_list("-t", v, 1, 512, threads, &n_threads);
        } else if (!strcmp(a, "-d") || !strcmp(a, "--n-depth")) {
            ok = parse_list("-d", v, 0, 1 << 20, depths, &n_depths);
        } else {
            fprintf(stderr, "kite bench: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
        if (!ok) return 2;
    }

    if (n_p == 0 && n_g == 0) { // llama-bench skips both tests too, then prints an empty table
        fprintf(stderr, "kite bench: -p 0 and -n 0 leave nothing to measure: give -p or -n a token count above 0\n");
        return 2;
    }

    model_opts o;
    model_opts_init(&o);
    o.model = model;
    for (int32_t k = 0; k < n_depths; k++)
        if (depths[k] > max_depth) max_depth = depths[k];
    o.n_ctx = max_depth + n_p + n_g + 1;
    o.n_batch = n_batch;
    o.n_threads = threads[0];
    o.no_repack = no_repack;
    o.quiet = true; // the session's warnings name -c, which the user did not give: bench warns below
    model_session s;
    if (!model_session_open(&s, &o)) return 1;
    // the decode of the repacked weights is measured, not the first tokens' file rows
    if (kite_model_repack_wait(s.model) != KITE_OK)
        fprintf(stderr, "kite bench: warning: %s (those matrices stay in the file's layout)\n", kite_last_error());
    const kite_hparams *hp = kite_model_hparams(s.model);
    // the longest test: its last position, named in the flags that make it
    const bool pp_longest = n_p >= n_g;
    const int32_t n_longest = pp_longest ? n_p : n_g;
    if (hp->n_ctx_train > 0 && max_depth + n_longest > hp->n_ctx_train) {
        char depth[32] = "";
        if (max_depth > 0) snprintf(depth, sizeof depth, "-d %d + ", max_depth);
        fprintf(stderr,
                "kite bench: warning: %s%s %d is more than the %d tokens the model was trained on; the speed is "
                "measured all the same\n",
                depth, pp_longest ? "-p" : "-n", n_longest, hp->n_ctx_train);
    }
    const double wbytes = (double)kite_model_weight_bytes(s.model);
    const bool json = !strcmp(fmt, "json"), csv = !strcmp(fmt, "csv");
    const char *name = strrchr(s.path, '/') ? strrchr(s.path, '/') + 1 : s.path;
    // md: every column as wide as its widest cell, known before the first row (the model name,
    // fixed-width numbers), so rows can stream out as each test finishes
    const int wm = strlen(name) > 5 ? (int)strlen(name) : 5;
    const int wt = max_depth > 0 ? 18 : 8; // the test column: "tg64 @ d1048576" fits in 18
    if (csv) {
        printf("model,size_bytes,isa,threads,test,n,tps,tps_sd,gbps\n");
    } else if (!json) {
        printf("| %-*s | %10s | %-8s | %7s | %*s | %18s | %8s |\n", wm, "model", "weights", "isa", "threads", wt,
               "test", "t/s", "GB/s");
        printf("| ");
        for (int k = 0; k < wm; k++) putchar('-');
        printf(" | ---------: | -------- | ------: | ");
        for (int k = 0; k < wt - 1; k++) putchar('-');
        printf(": | -----------------: | -------: |\n");
    }
    int rc = 0;
    uint32_t rng = 42;
    for (int32_t ti = 0; ti < n_threads && rc == 0; ti++) {
        kite_ctx *c = NULL;
        kite_ctx_params cp = {.n_ctx = o.n_ctx, .n_threads = threads[ti], .n_batch = n_batch};
        if (kite_ctx_new(s.model, &cp, &c) != KITE_OK) {
            fprintf(stderr, "kite bench: %s\n", kite_last_error());
            rc = 1;
            break;
        }
        for (int test = 0; test < 2 * n_depths && rc == 0; test++) {
            const int32_t np = test % 2 == 0 ? n_p : 0, ng = test % 2 == 0 ? 0 : n_g, n = np + ng;
            const int32_t depth = depths[test / 2];
            if (n == 0) continue;
            double cpu_s = 0; // CPU seconds of the timed parts (the depth's fill left out)
            run_once(c, hp->n_vocab, depth, np, ng, &rng, &cpu_s); // warm-up (page in the weights, spin up threads)
            cpu_s = 0;
            double sum = 0, sum2 = 0;
            for (int32_t r = 0; r < reps && rc == 0; r++) {
                double t = run_once(c, hp->n_vocab, depth, np, ng, &rng, &cpu_s);
                if (t <= 0) {
                    fprintf(stderr, "kite bench: %s\n", kite_last_error());
                    rc = 1;
                }
                const double tps = n / t;
                sum += tps;
                sum2 += tps * tps;
            }
            if (rc) break;
            // tokens per CPU second of the whole process over the timed parts of the runs (json's
            // cpu_tps): with one thread, a rate other jobs on the machine barely move; with more,
            // waiting threads spin, so it says little
            const double mean = sum / reps, var = reps > 1 ? (sum2 - sum * sum / reps) / (reps - 1) : 0;
            const double sd = var > 0 ? sqrt(var) : 0;
            char test_name[48];
            if (depth > 0) snprintf(test_name, sizeof test_name, "%s%d @ d%d", np ? "pp" : "tg", n, depth);
            else snprintf(test_name, sizeof test_name, "%s%d", np ? "pp" : "tg", n);
            if (json)
                printf("{\"model\":\"%s\",\"size\":%.0f,\"isa\":\"%s\",\"threads\":%d,\"test\":\"%s\",\"n\":%d,"
                       "\"depth\":%d,\"tps\":%.3f,\"tps_sd\":%.3f,\"gbps\":%.3f,\"cpu_tps\":%.3f}\n",
                       name, wbytes, kite_kernels_isa(), threads[ti], test_name, n, depth, mean, sd, wbytes * mean / 1e9,
                       cpu_s > 0 ? (double)n * reps / cpu_s : 0.0);
            else if (csv) // RFC 4180: the name quoted (quotes doubled) when it has a comma or a quote
                printf("%s%s%s,%.0f,%s,%d,%s,%d,%.3f,%.3f,%.3f\n", strpbrk(name, ",\"") ? "\"" : "", name,
                       strpbrk(name, ",\"") ? "\"" : "", wbytes, kite_kernels_isa(), threads[ti], test_name, n, mean, sd,
                       wbytes * mean / 1e9);
            else
                printf("| %-*s | %6.2f MiB | %-8s | %7d | %*s | %9.2f ± %6.2f | %8.2f |\n", wm, name,
                       wbytes / (1024.0 * 1024.0), kite_kernels_isa(), threads[ti], wt, test_name, mean, sd,
                       wbytes * mean / 1e9);
            fflush(stdout);
        }
        kite_ctx_free(c);
    }
    model_session_close(&s);
    return rc;
}
