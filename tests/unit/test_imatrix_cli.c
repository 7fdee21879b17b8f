// test_imatrix_cli.c - `kite imatrix` against llama.cpp's importance matrix: as node-llama-cpp's
// libllama computes it through llama-imatrix's algorithm (llama_imatrix_ref.h: an eval callback
// collecting the matmul inputs; this is the reference in CI), and, when bench/build_llama_cpp.sh
// built it into build/llama.cpp/bin, as the llama-imatrix binary writes it (then the libllama
// collector is checked against that file as well). On stories260K and on qwen3moe (3-D expert
// tensors, per-expert counts) over the shared text, Kite's GGUF file has the reference's header
// byte for byte (keys, tensor table), the same counts (for qwen3moe's experts up to MAX_MOVED
// rows routed the other way at router near-ties) and sums within SUM_RTOL per column
// (MOE_L1_RTOL per tensor past a router); the legacy .dat file has the entries, means and size
// of llama-imatrix's (its own .dat, read by Kite, when the binary runs); quantizing qwen3moe to
// IQ4_NL with Kite's matrix and with llama.cpp's gives the same mean KL divergence from the F16
// model within KLD_RTOL. Without a reference: the file reads back in both formats (.dat means =
// GGUF sums / counts), counts are the chunks' tokens, and hostile input (a missing text, -c 0, a
// text too short, an unwritable or non-file output, a bad format) fails with a message naming
// it, leaving the output and no temporary file behind.
#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "cli_run.h"
#include "kite.h"
#include "llama_imatrix_ref.h"

// Kite's forward pass rounds differently from ggml's (its own kernels and summation order), and
// the sums are float running sums in a different order (llama-imatrix sums experts slot by slot):
// each column's sum must be within this relative distance of llama-imatrix's.
#define SUM_RTOL 2e-3
// Past the first router of a MoE model (see MAX_MOVED), a tensor's mean squares (sums / counts)
// as a whole: L1 distance relative to llama-imatrix's L1 norm (measured up to 8.7e-3 on
// qwen3moe, 1.1e-4 where nothing was rerouted).
#define MOE_L1_RTOL 2e-2
// An expert tensor's counts may differ from llama-imatrix's by this much in all (the sum of the
// experts' |differences|: a token taking another expert counts 2; the total may not differ):
// qwen3moe's random router has tokens whose 2nd and 3rd expert logits lie within float
// rounding of each other (gaps down to 1.3e-4 against a median of 0.3), so a token can take the
// other expert.
#define MAX_MOVED 4
// Mean KL divergence of the quantized model from F16, Kite's matrix vs llama's.
#define KLD_RTOL 0.05

static char tmpdir[256];
static char root[4096];

static void at(char *buf, size_t cap, const char *name) { snprintf(buf, cap, "%s/%s", tmpdir, name); }

// ---- reading an imatrix GGUF ------------------------------------------------------------------

typedef struct imat_file {
    unsigned char *buf;
    size_t len;
    kite_gguf *g;
} imat_file;

static bool imat_open(imat_file *f, const char *path) {
    memset(f, 0, sizeof *f);
    f->buf = check_read_file(path, &f->len);
    if (!f->buf || kite_gguf_parse(f->buf, f->len, &f->g) != KITE_OK) {
        free(f->buf);
        f->buf = NULL;
        return false;
    }
    return true;
}

static void imat_close(imat_file *f) {
    kite_gguf_free(f->g);
    free(f->buf);
}

static const kite_gguf_tensor *tensor(const imat_file *f, const char *name) {
    const int64_t i = kite_gguf_find_tensor(f->g, name);
    return i < 0 ? NULL : &f->g->tensors[i];
}

static uint32_t u32_key(const imat_file *f, const char *key) {
    uint32_t v = 0xffffffffu;
    kite_gguf_get_u32(f->g, key, &v);
    return v;
}

static bool tname_eq(const kite_gguf_tensor *t, const char *s) { return kite_str_eq(t->name, s); }

// A file (k, named kname) against a reference file (l, named lname): header bytes, keys, tensor
// set, shapes, counts, sums.
static void compare_files(const char *what, const char *kname, const char *kpath, const char *lname,
                          const char *lpath) {
    imat_file k, l;
    const bool ko = imat_open(&k, kpath), lo = imat_open(&l, lpath);
    CHECK(ko && lo, "%s: cannot read %s or %s", what, kpath, lpath);
    if (!ko || !lo) {
        if (ko) imat_close(&k);
        if (lo) imat_close(&l);
        return;
    }
    // given the same -f path, the header (keys, tensor table, padding) is byte for byte the same
    CHECK(k.len == l.len && k.g->data_offset == l.g->data_offset && !memcmp(k.buf, l.buf, l.g->data_offset),
          "%s: %s's header differs from %s's (%zu vs %zu bytes)", what, kname, lname, k.len, l.len);
    kite_str kt = {0}, lt = {0};
    CHECK(kite_gguf_get_str(k.g, "general.type", &kt) && kite_gguf_get_str(l.g, "general.type", &lt) &&
              kt.len == lt.len && !memcmp(kt.ptr, lt.ptr, kt.len),
          "%s: general.type differs", what);
    CHECK(u32_key(&k, "imatrix.chunk_count") == u32_key(&l, "imatrix.chunk_count") &&
              u32_key(&k, "imatrix.chunk_size") == u32_key(&l, "imatrix.chunk_size"),
          "%s: chunk_count %u / chunk_size %u, %s %u / %u", what, u32_key(&k, "imatrix.chunk_count"),
          u32_key(&k, "imatrix.chunk_size"), lname, u32_key(&l, "imatrix.chunk_count"),
          u32_key(&l, "imatrix.chunk_size"));
    const kite_gguf_value *kd = kite_gguf_get_arr(k.g, "imatrix.datasets", KITE_GGUF_STRING),
                          *ld = kite_gguf_get_arr(l.g, "imatrix.datasets", KITE_GGUF_STRING);
    CHECK(kd && ld && kd->arr.n == ld->arr.n && kd->arr.n == 1 && kd->arr.strs[0].len == ld->arr.strs[0].len &&
              !memcmp(kd->arr.strs[0].ptr, ld->arr.strs[0].ptr, kd->arr.strs[0].len),
          "%s: imatrix.datasets differs", what);
    CHECK(k.g->n_tensors == l.g->n_tensors, "%s: %llu tensors, %s %llu", what, (unsigned long long)k.g->n_tensors,
          lname, (unsigned long long)l.g->n_tensors);
    double worst = 0.0;
    char worst_name[200] = "";
    int n_expert_tensors = 0, moved = 0;
    uint64_t n_cols = 0, n_cols_strict = 0; // columns compared as mean squares / one by one
    double worst_l1 = 0.0;
    bool moe = false; // any 3-D expert tensor
    for (uint64_t i = 0; i < l.g->n_tensors; i++) moe = moe || l.g->tensors[i].ne[1] > 1;
    for (uint64_t i = 0; i < l.g->n_tensors; i++) {
        const kite_gguf_tensor *lt_ = &l.g->tensors[i];
        char name[200], cname[220];
        snprintf(name, sizeof name, "%.*s", (int)lt_->name.len, lt_->name.ptr);
        const kite_gguf_tensor *kt_ = tensor(&k, name);
        CHECK(kt_ != NULL, "%s: %s's file has no %s", what, kname, name);
        if (!kt_) continue;
        CHECK(i < k.g->n_tensors && tname_eq(&k.g->tensors[i], name), "%s: tensor %llu is not %s (order)", what,
              (unsigned long long)i, name);
        CHECK(kt_->type == KITE_TYPE_F32 && lt_->type == KITE_TYPE_F32 && kt_->n_dims == lt_->n_dims &&
                  kt_->ne[0] == lt_->ne[0] && kt_->ne[1] == lt_->ne[1],
              "%s: %s shape/type differs", what, name);
        const size_t nl = strlen(name);
        if (kt_->nbytes != lt_->nbytes || nl < 9 || strcmp(name + nl - 8, ".in_sum2") != 0) continue;
        snprintf(cname, sizeof cname, "%.*s.counts", (int)(nl - 8), name);
        const kite_gguf_tensor *kc = tensor(&k, cname), *lc = tensor(&l, cname);
        CHECK(kc && lc && kc->nbytes == lc->nbytes && lc->nbytes == lt_->ne[1] * 4, "%s: %s", what, cname);
        if (!kc || !lc || kc->nbytes != lc->nbytes || lc->nbytes != lt_->ne[1] * 4) continue;
        const float *kn = (const float *)kc->data, *ln = (const float *)lc->data;
        const float *kv = (const float *)kt_->data, *lv = (const float *)lt_->data;
        const uint64_t n_in = lt_->ne[0], n_mat = lt_->ne[1];
        // dense: the same count; experts: the same rows in all, each expert's within MAX_MOVED
        double ksum = 0, lsum = 0;
        int diff = 0;
        for (uint64_t m = 0; m < n_mat; m++) {
            ksum += kn[m];
            lsum += ln[m];
            diff += (int)fabs((double)kn[m] - ln[m]);
        }
        if (n_mat > 1) n_expert_tensors++;
        moved += diff;
        CHECK(ksum == lsum && (n_mat > 1 ? diff <= MAX_MOVED : diff == 0),
              "%s: %s: %g rows, %s %g; %d moved between experts", what, cname, ksum, lname, lsum, diff);
        // per column where the rows are the same tokens with the same inputs; past a router (any
        // expert tensor, any later layer) a token routed the other way changes its expert's sums
        // and, through the residual and the KV cache, later layers: there the mean squares
        // (sum / count) as a whole are compared
        const bool strict = !moe || (n_mat == 1 && !strncmp(name, "blk.0.", 6));
        double l1 = 0, ref = 0;
        n_cols += n_in * n_mat;
        if (strict) n_cols_strict += n_in * n_mat;
        for (uint64_t m = 0; m < n_mat; m++)
            for (uint64_t j = 0; j < n_in; j++) {
                const double a = kv[m * n_in + j], b = lv[m * n_in + j];
                if (kn[m] > 0 && ln[m] > 0) {
                    l1 += fabs(a / kn[m] - b / ln[m]);
                    ref += fabs(b / ln[m]);
                }
                if (!strict) continue;
                const double d = fabs(a - b) / fmax(fabs(b), 1e-30);
                if (!(d <= worst)) {
                    worst = d;
                    snprintf(worst_name, sizeof worst_name, "%s[%llu][%llu] %g vs %g", name, (unsigned long long)m,
                             (unsigned long long)j, a, b);
                }
            }
        worst_l1 = fmax(worst_l1, ref > 0 ? l1 / ref : 0);
        CHECK(ref > 0 && l1 <= MOE_L1_RTOL * ref, "%s: %s: mean squares differ by %.3g (L1, relative)", what, name,
              ref > 0 ? l1 / ref : 0);
    }
    CHECK(n_cols > 0, "%s: no columns compared", what);
    CHECK(worst <= SUM_RTOL, "%s: sums differ by %.3g relative (> %g) at %s", what, worst, SUM_RTOL, worst_name);
    printf("%s: %s vs %s: %llu tensors, %llu columns compared (all in each tensor's mean squares, %llu also one by "
           "one), %d with per-expert counts, %d rows routed to another expert, largest relative sum difference "
           "%.3g (%s), largest L1 distance of a tensor's mean squares %.3g\n",
           what, kname, lname, (unsigned long long)l.g->n_tensors, (unsigned long long)n_cols,
           (unsigned long long)n_cols_strict, n_expert_tensors, moved, worst, worst_name, worst_l1);
    imat_close(&k);
    imat_close(&l);
}

// ---- running llama.cpp's tools ----------------------------------------------------------------

// Runs a shell command line (the test's own paths, quoted), its output to log; its exit code.
static int sh(const char *cmd, const char *log) {
    char line[24576];
    snprintf(line, sizeof line, "%.20000s >'%.4000s' 2>&1", cmd, log);
    const int st = system(line);
    return st == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

// Mean KLD from `kite perplexity --kl-divergence` output, or NAN.
static double mean_kld(const char *out) {
    const char *p = strstr(out, "Mean    KLD:");
    return p ? strtod(p + 12, NULL) : NAN;
}

// ---- the comparisons ------------------------------------------------------------------------

// Kite's legacy .dat file (`kite imatrix --output-format dat`) against llama.cpp's: when the
// llama-imatrix binary ran (bin), against the .dat it writes: the same size (entries, names,
// lengths), chunks and dataset, and means within SUM_RTOL, Kite's reader reading llama-imatrix's
// file; when the libllama collector ran (m), against its matrix: the entries llama-imatrix's
// legacy writer stores (those with a count, in name order), the means it stores (sums / count, 1
// for an expert never run), the chunk count and dataset, and the size that format's layout gives.
static void legacy_vs_llama(const char *bin, const lim_matrix *m, const char *model, const char *text) {
    char kout[512], lout[512], log[512], cmd[20000];
    at(kout, sizeof kout, "kite.dat");
    at(lout, sizeof lout, "llama.dat");
    at(log, sizeof log, "llama-imatrix-dat.log");
    const char *args[] = {"-m", model, "-f", text, "-o", kout, "-c", "128", "--output-format", "dat", NULL};
    cli_result r = cli_run("imatrix", args, NULL);
    CHECK(r.code == 0, "kite imatrix --output-format dat: %s", r.err);
    size_t kl = 0;
    unsigned char *kb = check_read_file(kout, &kl);
    kite_imatrix *ki = NULL;
    CHECK(kb && kite_imatrix_parse(kb, kl, &ki) == KITE_OK, "Kite's .dat: %s", kite_last_error());
    if (bin) {
        snprintf(cmd, sizeof cmd, "'%s' -m '%s' -f '%s' -o '%s' -c 128 --no-ppl -t 1 --output-format dat", bin,
                 model, text, lout);
        CHECK(sh(cmd, log) == 0, "llama-imatrix --output-format dat failed, see %s", log);
        size_t ll = 0;
        unsigned char *lb = check_read_file(lout, &ll);
        kite_imatrix *li = NULL;
        CHECK(lb && kl == ll, "dat sizes %zu vs %zu", kl, ll);
        CHECK(lb && kite_imatrix_parse(lb, ll, &li) == KITE_OK, "llama-imatrix's .dat: %s", kite_last_error());
        if (ki && li) {
            CHECK(ki->n_entries == li->n_entries && ki->chunk_count == li->chunk_count && ki->dataset &&
                      li->dataset && !strcmp(ki->dataset, li->dataset),
                  "dat: %zu entries / %d chunks vs %zu / %d", ki->n_entries, ki->chunk_count, li->n_entries,
                  li->chunk_count);
            double worst = 0;
            for (size_t i = 0; i < ki->n_entries && i < li->n_entries; i++) {
                CHECK(!strcmp(ki->entries[i].name, li->entries[i].name) && ki->entries[i].n == li->entries[i].n,
                      "dat %s", li->entries[i].name);
                for (uint64_t j = 0; j < ki->entries[i].n && j < li->entries[i].n; j++)
                    worst = fmax(worst, fabs((double)ki->entries[i].values[j] - li->entries[i].values[j]) /
                                            fabs((double)li->entries[i].values[j]));
            }
            CHECK(worst <= SUM_RTOL, "dat means differ by %.3g relative", worst);
            printf("stories260K .dat vs llama-imatrix's: %zu entries, %zu bytes as llama-imatrix's, means within "
                   "%.3g\n",
                   ki->n_entries, kl, worst);
        }
        kite_imatrix_free(li);
        free(lb);
        unlink(lout);
        unlink(log);
    } else {
        printf("note: no llama-imatrix binary (build/llama.cpp/bin): Kite's reading of a .dat that llama-imatrix "
               "wrote is not checked in this run\n");
    }
    if (m && ki) {
        // llama-imatrix's legacy layout: entry count; per entry name length, name, call count,
        // value count, values; chunk count; dataset length, dataset
        size_t size = 4 + 4 + 4 + strlen(text), n_stored = 0, compared = 0;
        double worst = 0;
        for (size_t i = 0; i < m->n; i++) {
            const lim_entry *e = &m->e[i];
            int64_t max_count = 0;
            for (int64_t k = 0; k < e->n_mat; k++) max_count = e->counts[k] > max_count ? e->counts[k] : max_count;
            if (max_count == 0) continue; // an entry no row reached is left out
            size += 4 + strlen(e->name) + 4 + 4 + 4 * (size_t)e->nval;
            const kite_imatrix_entry *ke = n_stored < ki->n_entries ? &ki->entries[n_stored] : NULL;
            n_stored++;
            CHECK(ke && !strcmp(ke->name, e->name) && ke->n == (uint64_t)e->nval, "dat entry %zu: %s, libllama %s",
                  n_stored - 1, ke ? ke->name : "(none)", e->name);
            if (!ke || strcmp(ke->name, e->name) || ke->n != (uint64_t)e->nval) continue;
            const int64_t row = e->nval / e->n_mat;
            for (int64_t j = 0; j < e->nval; j++) {
                const int64_t c = e->counts[j / row];
                const double mean = c ? (double)e->sums[j] / (double)c : 1.0;
                worst = fmax(worst, fabs(ke->values[j] - mean) / fabs(mean));
                compared++;
            }
        }
        CHECK(ki->n_entries == n_stored && ki->chunk_count == m->last_chunk && ki->dataset &&
                  !strcmp(ki->dataset, text),
              "dat: %zu entries / %d chunks / %s, libllama %zu / %d / %s", ki->n_entries, ki->chunk_count,
              ki->dataset ? ki->dataset : "(none)", n_stored, (int)m->last_chunk, text);
        CHECK(kl == size, "dat: %zu bytes, llama-imatrix's layout gives %zu", kl, size);
        CHECK(compared > 0 && worst <= SUM_RTOL, "dat means differ from libllama's by %.3g relative", worst);
        printf("stories260K .dat vs libllama: %zu entries, %zu bytes as llama-imatrix's layout gives, %zu means "
               "compared, within %.3g\n",
               n_stored, kl, compared, worst);
    }
    kite_imatrix_free(ki);
    free(kb);
    unlink(kout);
}

// Whether two collections are the same bits (sums, counts, chunks).
static bool same_matrix(const lim_matrix *a, const lim_matrix *b) {
    if (a->n != b->n || a->last_chunk != b->last_chunk) return false;
    for (size_t i = 0; i < a->n; i++) {
        const lim_entry *x = &a->e[i], *y = &b->e[i];
        if (strcmp(x->name, y->name) || x->nval != y->nval || x->n_mat != y->n_mat ||
            memcmp(x->sums, y->sums, (size_t)x->nval * sizeof *x->sums) ||
            memcmp(x->counts, y->counts, (size_t)x->n_mat * sizeof *x->counts))
            return false;
    }
    return true;
}

// The references: llama.cpp's importance matrix as libllama computes it (llama_imatrix_ref.h;
// needed under CI=true), and the llama-imatrix binary's file when build/llama.cpp/bin has it (then
// the collector is checked against it too). All run in the text's folder on `-f stories.txt`, so
// that the dataset name each file records is the same.
static void against_llama(const char *text_path) {
    char bin_path[4200], textdir[PATH_MAX], cwd[PATH_MAX], tmp[PATH_MAX + 64];
    snprintf(bin_path, sizeof bin_path, "%s/build/llama.cpp/bin/llama-imatrix", root);
    const char *bin = access(bin_path, X_OK) == 0 ? bin_path : NULL;
    lim_api api;
    int ci_fail = 0;
    bool broken = false;
    const bool lib = lim_open(&api, &ci_fail, &broken);
    if (ci_fail) check_failed++; // llama_lib_open said why
    CHECK(!broken, "llama.cpp's libraries cannot run the imatrix collector (see above)");
    if (!bin && !lib) {
        fprintf(stderr, "skip: neither libllama nor llama-imatrix: no comparison with llama.cpp\n");
        return;
    }
    snprintf(tmp, sizeof tmp, "%s", text_path);
    char *slash = strrchr(tmp, '/');
    if (slash) *slash = '\0';
    CHECK(slash && realpath(tmp, textdir) && !strcmp(slash + 1, "stories.txt") && getcwd(cwd, sizeof cwd),
          "the text's folder: %s", text_path);
    if (!slash) return;
    const char *text = "stories.txt";
    printf("references: libllama's collector %s; llama-imatrix %s\n", lib ? "runs" : "unavailable",
           bin ? bin : "not built (build/llama.cpp/bin)");
    struct {
        const char *what, *model, *ctx;
    } cases[] = {{"stories260K", "models/stories260K.gguf", "128"}, {"qwen3moe", "arch/qwen3moe.gguf", "128"}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char model[PATH_MAX], kout[512], lout[512], cout[512], log[512], cmd[20000];
        if (!strncmp(cases[c].model, "models/", 7)) snprintf(tmp, sizeof tmp, "%s/%s", root, cases[c].model);
        else snprintf(tmp, sizeof tmp, "%s/%s", check_models_dir(), cases[c].model);
        if (!realpath(tmp, model) || access(model, R_OK) != 0) {
            check_missing_ref("a shared test model for the imatrix comparison");
            continue;
        }
        if (chdir(textdir) != 0) {
            CHECK(false, "cannot enter %s", textdir);
            return;
        }
        at(kout, sizeof kout, "kite.gguf");
        at(lout, sizeof lout, "llama.gguf");
        at(cout, sizeof cout, "libllama.gguf");
        at(log, sizeof log, "llama-imatrix.log");
        const char *args[] = {"-m", model, "-f", text, "-o", kout, "-c", cases[c].ctx, NULL};
        cli_result r = cli_run("imatrix", args, NULL);
        CHECK(r.code == 0, "%s: kite imatrix exit %d: %s", cases[c].what, r.code, r.err);
        const bool kite_ok = r.code == 0;
        // libllama's collection, twice: single-threaded ggml gives the same bits
        lim_matrix m = {0};
        bool coll_ok = false;
        if (lib) {
            coll_ok = lim_collect(&api, model, text, atoi(cases[c].ctx), &m);
            CHECK(coll_ok, "%s: libllama's imatrix collection: %s", cases[c].what, m.err);
            if (coll_ok) {
                lim_matrix m2 = {0};
                const bool ok2 = lim_collect(&api, model, text, atoi(cases[c].ctx), &m2);
                CHECK(ok2 && same_matrix(&m, &m2), "%s: two libllama collections differ (%s)", cases[c].what,
                      m2.err);
                lim_matrix_free(&m2);
            }
            if (coll_ok) {
                coll_ok = lim_write_gguf(&api, &m, cout, text);
                CHECK(coll_ok, "%s: cannot write libllama's matrix to %s", cases[c].what, cout);
            }
        }
        int lrc = -1;
        if (bin) {
            snprintf(cmd, sizeof cmd, "'%s' -m '%s' -f '%s' -o '%s' -c %s --no-ppl -t 1", bin, model, text, lout,
                     cases[c].ctx);
            lrc = sh(cmd, log);
            CHECK(lrc == 0, "%s: llama-imatrix failed (%d), see %s", cases[c].what, lrc, log);
        }
        if (kite_ok && coll_ok) compare_files(cases[c].what, "Kite", kout, "libllama", cout);
        if (kite_ok && lrc == 0) compare_files(cases[c].what, "Kite", kout, "llama-imatrix", lout);
        if (coll_ok && lrc == 0) compare_files(cases[c].what, "libllama", cout, "llama-imatrix", lout);
        if (c == 0 && kite_ok && (coll_ok || lrc == 0))
            legacy_vs_llama(lrc == 0 ? bin : NULL, coll_ok ? &m : NULL, model, text);
        if (c == 1 && kite_ok && (coll_ok || lrc == 0)) {
            // qwen3moe: quantize with either matrix, KL divergence from the F16 model over the text
            char base[512], qk[512], qc[512], ql[512];
            at(base, sizeof base, "base.kld");
            at(qk, sizeof qk, "q-kite.gguf");
            at(qc, sizeof qc, "q-libllama.gguf");
            at(ql, sizeof ql, "q-llama.gguf");
            const char *bargs[] = {"-m", model, "-f", text_path, "-c", "128", "--kl-divergence-base", base, NULL};
            r = cli_run("perplexity", bargs, NULL);
            CHECK(r.code == 0, "perplexity base: %s", r.err);
            const char *names[3] = {"Kite", "libllama", "llama-imatrix"};
            const char *ims[3] = {kout, coll_ok ? cout : NULL, lrc == 0 ? lout : NULL}, *qs[3] = {qk, qc, ql};
            double kld[3] = {NAN, NAN, NAN};
            for (int i = 0; i < 3; i++) {
                if (!ims[i]) continue;
                const char *qargs[] = {"--imatrix", ims[i], model, qs[i], "IQ4_NL", NULL};
                r = cli_run("quantize", qargs, NULL);
                CHECK(r.code == 0, "quantize with %s: %s", ims[i], r.err);
                const char *kargs[] = {"-m", qs[i], "--kl-divergence-base", base, "--kl-divergence", NULL};
                r = cli_run("perplexity", kargs, NULL);
                CHECK(r.code == 0, "kl-divergence of %s: %s", qs[i], r.err);
                kld[i] = mean_kld(r.out);
                unlink(qs[i]);
            }
            for (int i = 1; i < 3; i++) {
                if (!ims[i]) continue;
                CHECK(isfinite(kld[0]) && isfinite(kld[i]) && fabs(kld[0] - kld[i]) <= KLD_RTOL * kld[i],
                      "IQ4_NL KLD with Kite's matrix %g, with %s's %g", kld[0], names[i], kld[i]);
                printf("qwen3moe IQ4_NL: mean KLD from F16 %.6f with Kite's matrix, %.6f with %s's\n", kld[0],
                       kld[i], names[i]);
            }
            unlink(base);
        }
        lim_matrix_free(&m);
        CHECK(chdir(cwd) == 0, "cannot return to %s", cwd);
        const char *rm[] = {kout, cout, lout, log};
        for (size_t i = 0; i < sizeof rm / sizeof rm[0]; i++) unlink(rm[i]);
    }
}

// The file Kite writes on its own: keys, tensor set and counts, and the legacy format's values.
static void own_file(const char *model, const char *text) {
    char gg[512], dat[512];
    at(gg, sizeof gg, "own.gguf");
    at(dat, sizeof dat, "own.dat");
    const char *args[] = {"-m", model, "-f", text, "-o", gg, "-c", "32", "--chunks", "3", NULL};
    cli_result r = cli_run("imatrix", args, NULL);
    CHECK(r.code == 0, "kite imatrix exit %d: %s", r.code, r.err);
    const char *dargs[] = {"-m", model, "-f", text, "-o", dat, "-c", "32", "--chunks", "3", "--output-format", "dat",
                           NULL};
    r = cli_run("imatrix", dargs, NULL);
    CHECK(r.code == 0, "kite imatrix --output-format dat exit %d: %s", r.code, r.err);
    // layers on a second backend (the observer runs on each) and more threads: the same bytes
    char split[512];
    at(split, sizeof split, "split.gguf");
    const char *sargs[] = {"-m", model, "-f", text, "-o", split, "-c", "32", "--chunks", "3", "-ngl", "3",
                           "--device", "cpu", "-t", "2", NULL};
    r = cli_run("imatrix", sargs, NULL);
    size_t l1 = 0, l2 = 0;
    unsigned char *b1 = check_read_file(gg, &l1), *b2 = check_read_file(split, &l2);
    CHECK(r.code == 0 && b1 && b2 && l1 == l2 && !memcmp(b1, b2, l1), "-ngl 3 --device cpu -t 2 differs: %s", r.err);
    free(b1);
    free(b2);
    unlink(split);
    imat_file f;
    if (!imat_open(&f, gg)) {
        CHECK(false, "cannot parse %s", gg);
        return;
    }
    CHECK(u32_key(&f, "imatrix.chunk_count") == 3 && u32_key(&f, "imatrix.chunk_size") == 32,
          "chunk_count %u chunk_size %u", u32_key(&f, "imatrix.chunk_count"), u32_key(&f, "imatrix.chunk_size"));
    // stories260K: 5 layers x q k v o gate up down, no output head (llama-imatrix leaves it out)
    CHECK(f.g->n_tensors == 5 * 7 * 2, "%llu tensors", (unsigned long long)f.g->n_tensors);
    const char *kinds[] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};
    for (int il = 0; il < 5; il++)
        for (size_t k = 0; k < 7; k++) {
            char name[128];
            snprintf(name, sizeof name, "blk.%d.%s.weight.counts", il, kinds[k]);
            const kite_gguf_tensor *t = tensor(&f, name);
            CHECK(t && t->nbytes == 4 && *(const float *)t->data == 96.0f, "%s: 3 chunks of 32 tokens", name);
        }
    // the legacy file holds the same means (it stores mean * calls; the reader divides back)
    size_t dl = 0;
    unsigned char *db = check_read_file(dat, &dl);
    kite_imatrix *gi = NULL, *di = NULL;
    CHECK(kite_imatrix_parse(f.buf, f.len, &gi) == KITE_OK, "GGUF: %s", kite_last_error());
    CHECK(db && kite_imatrix_parse(db, dl, &di) == KITE_OK, "dat: %s", kite_last_error());
    if (gi && di) {
        CHECK(di->legacy && di->n_entries == gi->n_entries && di->chunk_count == 3 && gi->chunk_count == 3,
              "entries %zu vs %zu, chunks %d / %d", di->n_entries, gi->n_entries, di->chunk_count, gi->chunk_count);
        CHECK(di->dataset && !strcmp(di->dataset, text) && gi->dataset && !strcmp(gi->dataset, text), "dataset");
        double worst = 0;
        for (size_t i = 0; i < gi->n_entries && i < di->n_entries; i++) {
            CHECK(!strcmp(gi->entries[i].name, di->entries[i].name) && gi->entries[i].n == di->entries[i].n,
                  "entry %zu: %s vs %s", i, gi->entries[i].name, di->entries[i].name);
            for (uint64_t j = 0; j < gi->entries[i].n && j < di->entries[i].n; j++) {
                const float a = gi->entries[i].values[j], b = di->entries[i].values[j];
                CHECK(a > 0.0f, "%s[%llu] = %g", gi->entries[i].name, (unsigned long long)j, a);
                worst = fmax(worst, fabs(a - b) / a);
            }
        }
        CHECK(worst < 1e-6, "GGUF and .dat means differ by %g relative", worst);
    }
    kite_imatrix_free(gi);
    kite_imatrix_free(di);
    free(db);
    imat_close(&f);
    unlink(gg);
    unlink(dat);
}

// Bad input: clear messages, exit codes, no output and no temporary file left behind.
static void hostile(const char *model, const char *text) {
    char out[512], dir[512], missing[512], short_text[512], nodir[512];
    at(out, sizeof out, "keep.gguf");
    at(dir, sizeof dir, "a_dir");
    at(missing, sizeof missing, "no-such-text.txt");
    at(short_text, sizeof short_text, "short.txt");
    at(nodir, sizeof nodir, "no-such-dir/out.gguf");
    CHECK(check_write_file(out, "keep", 4) && check_write_file(short_text, "Once upon a time.", 17) &&
              mkdir(dir, 0755) == 0,
          "setup");
    struct {
        const char *what, *file, *ctx, *o, *fmt;
        int code;
        const char *msg;
    } cases[] = {
        {"missing text", missing, "32", out, "gguf", 1, "no-such-text.txt"},
        {"-c 0", text, "0", out, "gguf", 2, "-c must be at least 1"},
        {"-c -5", text, "-5", out, "gguf", 2, "-c"},
        {"text too short", short_text, "32", out, "gguf", 1, "need at least 64"},
        {"output folder missing", text, "32", nodir, "gguf", 1, "no-such-dir"},
        {"output is a folder", text, "32", dir, "gguf", 2, "not a regular file"},
        {"bad format", text, "32", out, "json", 2, "--output-format must be gguf or dat"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *args[] = {"-m", model, "-f", cases[i].file, "-c", cases[i].ctx, "-o", cases[i].o,
                              "--output-format", cases[i].fmt, NULL};
        cli_result r = cli_run("imatrix", args, NULL);
        CHECK(r.code == cases[i].code && strstr(r.err, cases[i].msg), "%s: exit %d, stderr: %s", cases[i].what,
              r.code, r.err);
    }
    size_t len = 0;
    unsigned char *b = check_read_file(out, &len);
    CHECK(b && len == 4 && !memcmp(b, "keep", 4), "a failed run changed its output file");
    free(b);
    DIR *d = opendir(tmpdir);
    int stale = 0;
    for (struct dirent *e; d && (e = readdir(d));) stale += strstr(e->d_name, ".tmp-") != NULL;
    if (d) closedir(d);
    CHECK(stale == 0, "%d temporary files left behind", stale);
    unlink(out);
    unlink(short_text);
    rmdir(dir);
}

int main(void) {
    const char *r = getenv("KITE_ROOT");
    snprintf(root, sizeof root, "%s", r && *r ? r : ".");
    snprintf(tmpdir, sizeof tmpdir, "/tmp/kite_imatrix_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        fprintf(stderr, "cannot make a temporary folder\n");
        return 1;
    }
    char model[4200], text[4200];
    snprintf(model, sizeof model, "%s/models/stories260K.gguf", root);
    snprintf(text, sizeof text, "%s/../text/stories.txt", check_models_dir());
    if (access(text, R_OK) != 0) {
        check_missing_ref("the shared text ../text/stories.txt beside KITE_MODELS");
    } else {
        own_file(model, text);
        hostile(model, text);
        against_llama(text);
    }
    CHECK(rmdir(tmpdir) == 0, "files left in %s", tmpdir);
    return check_done("imatrix_cli");
}
