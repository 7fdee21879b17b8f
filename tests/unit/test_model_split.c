// test_model_split.c - models split into several GGUF files as llama-gguf-split writes them
// (NAME-00001-of-0000N.gguf: the first file holds all metadata, every file split.no, split.count
// and split.tensors.count, the tensors spread over the files): the split set of a shared model
// gives the same logits as the whole file, bit for bit, in memory and through `kite run`; a
// partial, shuffled or overlapping set is refused with a message that says what is wrong.
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/kite_buf.h"
#include "check.h"
#include "cli_run.h"
#include "kite.h"

#define N_PARTS 3

static kite_status set_u(kite_gguf_writer *w, const char *key, kite_gguf_type t, uint64_t u) {
    kite_gguf_value v = {.type = t};
    if (t == KITE_GGUF_INT32)
        v.i = (int64_t)u;
    else
        v.u = u;
    return kite_gguf_writer_set(w, key, &v);
}

// File `part` of g split into N_PARTS (tensors [lo, hi) of it, every one of them when dup), with
// split.no = no. The metadata goes to part 0 only, as llama-gguf-split does.
static kite_buf write_part(const kite_gguf *g, int part, int no, bool dup) {
    const uint64_t per = (g->n_tensors + N_PARTS - 1) / N_PARTS;
    const uint64_t lo = dup ? 0 : per * (uint64_t)part, hi = dup ? g->n_tensors : (lo + per < g->n_tensors ? lo + per : g->n_tensors);
    kite_buf b = {0};
    kite_gguf_writer *w = kite_gguf_writer_new();
    if (part == 0) kite_gguf_writer_copy_kvs(w, g);
    set_u(w, "split.no", KITE_GGUF_UINT16, (uint64_t)no);
    set_u(w, "split.count", KITE_GGUF_UINT16, N_PARTS);
    set_u(w, "split.tensors.count", KITE_GGUF_INT32, g->n_tensors);
    for (uint64_t i = lo; i < hi; i++) {
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)g->tensors[i].name.len, g->tensors[i].name.ptr);
        kite_gguf_writer_add_tensor(w, name, g->tensors[i].type, g->tensors[i].n_dims, g->tensors[i].ne);
    }
    kite_sink sink = kite_buf_sink(&b);
    kite_gguf_writer_write_header(w, &sink);
    for (uint64_t i = lo; i < hi; i++) kite_gguf_writer_write_data(w, &sink, i - lo, g->tensors[i].data);
    kite_gguf_writer_free(w);
    return b;
}

// Logits of a 6-token prompt (all rows) from a model.
static float *logits_of(kite_model *m) {
    const int32_t nv = kite_model_hparams(m)->n_vocab, toks[6] = {1, 450, 7483, 310, 3444, 338};
    kite_ctx_params cp = {.n_ctx = 32};
    kite_ctx *c = NULL;
    float *out = malloc(sizeof(float) * 6 * (size_t)nv);
    if (kite_ctx_new(m, &cp, &c) != KITE_OK || kite_ctx_eval_all(c, toks, 6, out) != KITE_OK) {
        free(out);
        out = NULL;
    }
    kite_ctx_free(c);
    return out;
}

static kite_status load_parts(kite_buf *parts, const int *order, int n, kite_model **m) {
    const uint8_t *bufs[N_PARTS];
    uint64_t lens[N_PARTS];
    for (int i = 0; i < n; i++) {
        bufs[i] = parts[order[i]].bytes;
        lens[i] = parts[order[i]].len;
    }
    return kite_model_load_split(bufs, lens, n, NULL, m);
}

static void test_split(const char *file) {
    size_t len;
    unsigned char *buf = check_read_model(file, &len);
    if (!buf) return;
    kite_model *whole = NULL;
    CHECK(kite_model_load(buf, len, NULL, &whole) == KITE_OK, "%s: %s", file, kite_last_error());
    if (!whole) {
        free(buf);
        return;
    }
    const kite_gguf *g = kite_model_gguf(whole);
    kite_buf parts[N_PARTS];
    for (int p = 0; p < N_PARTS; p++) parts[p] = write_part(g, p, p, false);

    // the set in order: the whole file's logits, bit for bit
    const int in_order[N_PARTS] = {0, 1, 2};
    kite_model *m = NULL;
    CHECK(load_parts(parts, in_order, N_PARTS, &m) == KITE_OK, "%s split: %s", file, kite_last_error());
    float *want = logits_of(whole), *got = m ? logits_of(m) : NULL;
    const size_t n_bytes = sizeof(float) * 6 * (size_t)kite_model_hparams(whole)->n_vocab;
    CHECK(want && got && !memcmp(want, got, n_bytes), "%s: split logits differ from the whole file's", file);
    free(want);
    free(got);
    kite_model_free(m);
    m = NULL;

    // the first file alone, a shuffled set, too few files, a tensor in two files
    kite_status s = load_parts(parts, in_order, 1, &m);
    CHECK(s == KITE_ERR_INVALID && !m && strstr(kite_last_error(), "split into 3 files"), "first alone: %s",
          kite_last_error());
    const int shuffled[N_PARTS] = {0, 2, 1};
    s = load_parts(parts, shuffled, N_PARTS, &m);
    CHECK(s == KITE_ERR_INVALID && !m && strstr(kite_last_error(), "split.no"), "shuffled: %s", kite_last_error());
    s = load_parts(parts, in_order, 2, &m);
    CHECK(s == KITE_ERR_INVALID && !m && strstr(kite_last_error(), "split.count is 3 but 2 files"), "two of three: %s",
          kite_last_error());
    kite_buf dup = write_part(g, 2, 2, true), saved = parts[2];
    parts[2] = dup;
    s = load_parts(parts, in_order, N_PARTS, &m);
    CHECK(s == KITE_ERR_INVALID && !m && strstr(kite_last_error(), "is in files"), "overlap: %s", kite_last_error());
    parts[2] = saved;
    kite_buf_free(&dup);

    // through the CLI: the set by its first file's name, as llama.cpp takes it
    char dir[] = "/tmp/kite-split-XXXXXX", path[N_PARTS][256];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    for (int p = 0; p < N_PARTS; p++) {
        snprintf(path[p], sizeof path[p], "%s/m-%05d-of-%05d.gguf", dir, p + 1, N_PARTS);
        FILE *f = fopen(path[p], "wb");
        CHECK(f && fwrite(parts[p].bytes, 1, parts[p].len, f) == parts[p].len, "write %s", path[p]);
        if (f) fclose(f);
    }
    char whole_path[4096];
    snprintf(whole_path, sizeof whole_path, "%s/%s", check_models_dir(), file);
    const char *args_whole[] = {"-m", whole_path, "-p", "The capital of France is", "-n", "8", "--temp", "0",
                                "--ids", "--no-stats", NULL};
    const char *args_split[] = {"-m", path[0], "-p", "The capital of France is", "-n", "8", "--temp", "0",
                                "--ids", "--no-stats", NULL};
    const char *args_second[] = {"-m", path[1], "-p", "x", "-n", "1", "--no-stats", NULL};
    cli_result a = cli_run("run", args_whole, NULL), b = cli_run("run", args_split, NULL);
    CHECK(a.code == 0 && b.code == 0 && !strcmp(a.out, b.out) && strlen(a.out) > 8,
          "kite run on the split set: %d '%s' (%s) vs whole %d '%s'", b.code, b.out, b.err, a.code, a.out);
    cli_result c = cli_run("run", args_second, NULL);
    CHECK(c.code == 1 && strstr(c.err, "give the first"), "kite run on file 2: %d %s", c.code, c.err);
    for (int p = 0; p < N_PARTS; p++) unlink(path[p]);
    rmdir(dir);

    for (int p = 0; p < N_PARTS; p++) kite_buf_free(&parts[p]);
    kite_model_free(whole);
    free(buf);
}

int main(void) {
    test_split("arch/gemma3.gguf");
    test_split("arch/qwen3moe.gguf");
    return check_done("test_model_split");
}
