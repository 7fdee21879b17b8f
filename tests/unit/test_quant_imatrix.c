// test_quant_imatrix.c - quantizing with an importance matrix, against llama.cpp itself. The
// test makes imatrix files in both published formats: GGUF written by ggml's own gguf writer
// (libggml-base: W.in_sum2 / W.counts tensors and the imatrix.* keys, as llama-imatrix saves
// them) and the legacy .dat byte layout. It normalizes the values itself as llama-quantize does
// (GGUF: sums / per-expert count, 1 for an expert never run; legacy: stored / ncall) and hands
// them to llama_model_quantize with the kv overrides llama-quantize adds; Kite reads the file.
// The two outputs must be byte-identical: plain, 3-D expert and F32 models, every type that
// takes weights, Q2_K_S (which needs them), partial imatrices and --include/--exclude-weights.
// Then the refusals: no imatrix for Q2_K_S, a size mismatch, NaN values, malformed files.
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/kite_buf.h"
#include "base/internal.h"
#include "check.h"
#include "cli_run.h"
#include "kite.h"
#include "llama_quant_ref.h"

static char tmpdir[256];
static lq_ref ref;
static bool have_ref;

// ggml's gguf writer (libggml-base), to write the GGUF imatrix files as llama-imatrix does.
typedef struct gw {
    void *(*init_empty)(void);
    void (*set_str)(void *g, const char *k, const char *v);
    void (*set_arr_str)(void *g, const char *k, const char **v, size_t n);
    void (*set_u32)(void *g, const char *k, uint32_t v);
    void (*add_tensor)(void *g, const void *t);
    bool (*write)(const void *g, const char *path, bool only_meta);
    void (*free)(void *g);
    void *(*get_data)(const void *t);
} gw;
static gw G;
static bool have_gw;

// ---- the synthetic importance matrix ----------------------------------------------------------

typedef struct tmat {
    char name[128];
    uint64_t ne0, n_exp;
    float *sums;   // ne0 * n_exp
    float *counts; // n_exp (whole numbers stored as floats, as llama-imatrix stores them)
    float *norm;   // what llama-quantize computes from them (the reference's input)
} tmat;

typedef struct imat {
    tmat *t;
    size_t n;
} imat;

static uint64_t rs;
static uint32_t rnd(void) {
    rs = rs * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rs >> 33);
}

static void imat_free(imat *m) {
    for (size_t i = 0; i < m->n; i++) free(m->t[i].sums), free(m->t[i].counts), free(m->t[i].norm);
    free(m->t);
    memset(m, 0, sizeof *m);
}

// One entry per matrix of the model (what llama-imatrix collects: every mul_mat weight), with
// spread-out positive sums; 3-D expert tensors get one count per expert, expert 1 never run.
// skip: a name part whose tensors get no entry (NULL: none). bad_embd: add token_embd.weight
// with a size that does not match it.
static void imat_make(const char *model_path, imat *m, const char *skip, bool bad_embd, uint64_t seed) {
    memset(m, 0, sizeof *m);
    size_t len = 0;
    uint8_t *buf = check_read_file(model_path, &len);
    kite_gguf *g = NULL;
    if (!buf || kite_gguf_parse(buf, len, &g) != KITE_OK) {
        CHECK(0, "cannot read %s", model_path);
        free(buf);
        return;
    }
    m->t = calloc(g->n_tensors + 1, sizeof *m->t);
    rs = seed;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const kite_gguf_tensor *t = &g->tensors[i];
        bool embd = t->name.len == 17 && !memcmp(t->name.ptr, "token_embd.weight", 17);
        if (t->n_dims < 2 || (embd && !bad_embd)) continue;
        tmat *e = &m->t[m->n];
        snprintf(e->name, sizeof e->name, "%.*s", (int)t->name.len, t->name.ptr);
        if (skip && strstr(e->name, skip)) continue;
        e->ne0 = embd ? t->ne[0] + 1 : t->ne[0];
        e->n_exp = t->n_dims == 3 ? t->ne[2] : 1;
        e->sums = malloc(e->ne0 * e->n_exp * sizeof(float));
        e->counts = malloc(e->n_exp * sizeof(float));
        e->norm = malloc(e->ne0 * e->n_exp * sizeof(float));
        for (uint64_t x = 0; x < e->n_exp; x++) {
            e->counts[x] = (e->n_exp > 1 && x == 1) ? 0.0f : (float)(64 + rnd() % 512);
            for (uint64_t k = 0; k < e->ne0; k++) {
                float v = ldexpf((float)(1 + rnd() % 1000), (int)(rnd() % 16) - 8);
                e->sums[x * e->ne0 + k] = v;
                e->norm[x * e->ne0 + k] = e->counts[x] > 0.0f ? v / e->counts[x] : 1.0f;
            }
        }
        m->n++;
    }
    kite_gguf_free(g);
    free(buf);
}

// Writes the GGUF format through ggml's writer, as llama-imatrix's save_imatrix does.
static bool imat_write_gguf(const imat *m, const char *path, const char *dataset, uint32_t chunks) {
    if (!have_gw) return false;
    size_t mem = 1 << 20;
    for (size_t i = 0; i < m->n; i++) mem += (m->t[i].ne0 + 1) * m->t[i].n_exp * 4 + 1024;
    void *ctx = ref.ggml_init((lq_ggml_init_params){mem, NULL, false});
    void *g = G.init_empty();
    G.set_str(g, "general.type", "imatrix");
    const char *ds[1] = {dataset};
    G.set_arr_str(g, "imatrix.datasets", ds, dataset ? 1 : 0);
    G.set_u32(g, "imatrix.chunk_count", chunks);
    G.set_u32(g, "imatrix.chunk_size", 512);
    for (size_t i = 0; i < m->n; i++) {
        const tmat *e = &m->t[i];
        int64_t ne_s[2] = {(int64_t)e->ne0, (int64_t)e->n_exp}, ne_c[2] = {1, (int64_t)e->n_exp};
        void *s = ref.ggml_new_tensor(ctx, 0 /* F32 */, 2, ne_s), *c = ref.ggml_new_tensor(ctx, 0, 2, ne_c);
        char nm[160];
        snprintf(nm, sizeof nm, "%s.in_sum2", e->name);
        ref.ggml_set_name(s, nm);
        snprintf(nm, sizeof nm, "%s.counts", e->name);
        ref.ggml_set_name(c, nm);
        memcpy(G.get_data(s), e->sums, e->ne0 * e->n_exp * 4);
        memcpy(G.get_data(c), e->counts, e->n_exp * 4);
        G.add_tensor(g, s);
        G.add_tensor(g, c);
    }
    bool ok = G.write(g, path, false);
    G.free(g);
    ref.ggml_free(ctx);
    return ok;
}

// Writes the legacy format: values stored as mean * ncall. Returns false if it cannot.
static bool imat_write_dat(imat *m, const char *path, const char *dataset, int32_t chunks) {
    kite_buf b = {0};
    int32_t n = (int32_t)m->n;
    kite_buf_append(&b, &n, 4);
    for (size_t i = 0; i < m->n; i++) {
        tmat *e = &m->t[i];
        int32_t nl = (int32_t)strlen(e->name), ncall = 3 + (int32_t)(i % 5), nval = (int32_t)(e->ne0 * e->n_exp);
        kite_buf_append(&b, &nl, 4);
        kite_buf_append(&b, e->name, (size_t)nl);
        kite_buf_append(&b, &ncall, 4);
        kite_buf_append(&b, &nval, 4);
        for (int32_t k = 0; k < nval; k++) {
            float stored = e->norm[k] * (float)ncall;
            kite_buf_append(&b, &stored, 4);
            e->norm[k] = stored / (float)ncall; // what llama-quantize reads back
        }
    }
    kite_buf_append(&b, &chunks, 4);
    int32_t dl = dataset ? (int32_t)strlen(dataset) : 0;
    kite_buf_append(&b, &dl, 4);
    if (dl) kite_buf_append(&b, dataset, (size_t)dl);
    bool ok = check_write_file(path, b.bytes, b.len);
    kite_buf_free(&b);
    return ok;
}

static bool name_kept(const char *name, const char *incl, const char *excl) {
    if (excl && strstr(name, excl)) return false;
    return !incl || strstr(name, incl);
}

// ---- both quantizers ---------------------------------------------------------------------------

// llama_model_quantize with the imatrix entries kept by incl/excl and llama-quantize's kv
// overrides (file, dataset, entries_count, chunks_count). NULL on failure.
static uint8_t *llama_side(const char *in_path, const char *ftype, const imat *m, const char *file, const char *dataset,
                           int32_t chunks, const char *incl, const char *excl, size_t *len) {
    lq_params p = ref.default_params();
    int ft;
    kite_quantize_ftype_from_name(ftype, &ft);
    p.ftype = ft;
    p.nthread = 2;
    lq_imat *d = calloc(m->n + 1, sizeof *d);
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++)
        if (name_kept(m->t[i].name, incl, excl)) d[n++] = (lq_imat){m->t[i].name, m->t[i].norm, m->t[i].ne0 * m->t[i].n_exp};
    lq_kv kv[5];
    lq_set_imatrix(&p, d, n, kv, file, dataset, chunks);
    char out[512];
    snprintf(out, sizeof out, "%s/ref.gguf", tmpdir);
    uint32_t rc = ref.quantize(in_path, out, &p);
    free(d);
    if (rc != 0) return NULL;
    uint8_t *b = check_read_file(out, len);
    unlink(out);
    return b;
}

// Kite through the library: reads the imatrix file, filters it, quantizes.
static kite_status kite_side(const uint8_t *in, size_t len, const char *ftype, const char *im_path, const char *incl,
                             const char *excl, kite_buf *out) {
    kite_gguf *g = NULL;
    kite_imatrix *im = NULL;
    kite_status s = kite_gguf_parse(in, len, &g);
    kite_quantize_params p = kite_quantize_default_params();
    kite_quantize_ftype_from_name(ftype, &p.ftype);
    p.n_threads = 3; // rows split at other places than llama.cpp's: must not matter
    if (s == KITE_OK && im_path) {
        size_t il = 0;
        uint8_t *ib = check_read_file(im_path, &il);
        s = ib ? kite_imatrix_parse(ib, il, &im) : KITE_ERR_IO;
        free(ib);
        if (s == KITE_OK) {
            kite_imatrix_filter(im, &incl, incl ? 1 : 0, &excl, excl ? 1 : 0);
            p.imatrix = im;
            p.imatrix_file = im_path;
        }
    }
    kite_sink sink = kite_buf_sink(out);
    if (s == KITE_OK) s = kite_quantize_gguf(g, &sink, &p, NULL, NULL);
    kite_imatrix_free(im);
    kite_gguf_free(g);
    return s;
}

static void compare(const char *label, const uint8_t *got, size_t ng, const uint8_t *want, size_t nw) {
    size_t n = ng < nw ? ng : nw, i = 0;
    while (i < n && got[i] == want[i]) i++;
    CHECK(i == n && ng == nw, "%s: differs from llama.cpp at byte %zu (kite %zu bytes, llama.cpp %zu)", label, i, ng, nw);
}

typedef enum { FMT_GGUF, FMT_DAT } fmt;

// Makes an imatrix for model (in the given format), quantizes both ways and compares.
static void versus_llama(const char *model, const char *ftype, fmt f, const char *skip, bool bad_embd, const char *incl,
                         const char *excl) {
    if (!have_ref || (f == FMT_GGUF && !have_gw)) return;
    char in_path[512], im_path[512], label[256];
    check_model_path(model, in_path, sizeof in_path);
    snprintf(im_path, sizeof im_path, "%s/imatrix-%s.%s", tmpdir, ftype, f == FMT_GGUF ? "gguf" : "dat");
    snprintf(label, sizeof label, "%s %s (%s imatrix%s%s%s%s%s%s)", model, ftype, f == FMT_GGUF ? "GGUF" : "legacy",
             skip ? ", none for " : "", skip ? skip : "", incl ? ", include " : "", incl ? incl : "", excl ? ", exclude " : "",
             excl ? excl : "");
    size_t len = 0;
    uint8_t *in = check_read_model(model, &len);
    if (!in) return;
    imat m;
    imat_make(in_path, &m, skip, bad_embd, (uint64_t)strlen(ftype) * 131 + (uint64_t)f);
    const char *dataset = "wiki.train.raw";
    int32_t chunks = 17;
    bool wrote = f == FMT_GGUF ? imat_write_gguf(&m, im_path, dataset, (uint32_t)chunks) : imat_write_dat(&m, im_path, dataset, chunks);
    CHECK(wrote, "%s: cannot write the imatrix file", label);
    size_t nw = 0;
    uint8_t *want = wrote ? llama_side(in_path, ftype, &m, im_path, dataset, chunks, incl, excl, &nw) : NULL;
    CHECK(want != NULL, "%s: llama_model_quantize failed", label);
    kite_buf got = {0};
    kite_status s = kite_side(in, len, ftype, im_path, incl, excl, &got);
    CHECK(s == KITE_OK, "%s: kite failed: %s", label, kite_last_error());
    if (s == KITE_OK && want) compare(label, got.bytes, got.len, want, nw);
    // and the imatrix must have mattered: without it the bytes differ
    if (s == KITE_OK && want && strcmp(ftype, "Q8_0") != 0 && strcmp(ftype, "Q2_K_S") != 0) {
        kite_buf plain = {0};
        if (kite_side(in, len, ftype, NULL, NULL, NULL, &plain) == KITE_OK)
            CHECK(plain.len != got.len || memcmp(plain.bytes, got.bytes, got.len) != 0, "%s: the imatrix changed nothing", label);
        kite_buf_free(&plain);
    }
    kite_buf_free(&got);
    free(want);
    free(in);
    imat_free(&m);
    unlink(im_path);
}

// ---- tests -------------------------------------------------------------------------------------

static void test_every_type(void) {
    static const char *types[] = {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q2_K_S", "Q3_K_S", "Q3_K_M",
                                  "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K", "IQ4_NL", "IQ4_XS",
                                  "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ3_XXS", "IQ3_XS", "IQ3_S", "IQ3_M",
                                  "IQ1_S", "IQ1_M"};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        versus_llama("rand-llama-spm-f16.gguf", types[i], FMT_GGUF, NULL, false, NULL, NULL);
    // F32 input with 64-wide rows (the fallback types take the weights too)
    versus_llama("stories260K.gguf", "Q4_K_M", FMT_GGUF, NULL, false, NULL, NULL);
    versus_llama("stories260K.gguf", "Q4_0", FMT_DAT, NULL, false, NULL, NULL);
    // 3-D expert tensors: one slice of weights per expert, an expert never run gets ones
    versus_llama("arch/qwen3moe.gguf", "Q4_K_M", FMT_GGUF, NULL, false, NULL, NULL);
    versus_llama("arch/qwen3moe.gguf", "Q5_0", FMT_GGUF, NULL, false, NULL, NULL);
    versus_llama("arch/qwen3moe.gguf", "IQ4_XS", FMT_DAT, NULL, false, NULL, NULL);
    versus_llama("arch/qwen3moe.gguf", "IQ2_XXS", FMT_GGUF, NULL, false, NULL, NULL);
    versus_llama("stories260K.gguf", "IQ1_M", FMT_GGUF, NULL, false, NULL, NULL);
    // the legacy format; an entry-less tensor (quantized without weights); a token_embd entry
    // of the wrong size (ignored there, as llama.cpp does)
    versus_llama("rand-llama-spm-f16.gguf", "Q4_K_M", FMT_DAT, NULL, false, NULL, NULL);
    versus_llama("rand-llama-spm-f16.gguf", "Q3_K_M", FMT_GGUF, "attn_k", true, NULL, NULL);
    // --include-weights / --exclude-weights
    versus_llama("rand-llama-spm-f16.gguf", "Q4_K_M", FMT_GGUF, NULL, false, "ffn", NULL);
    versus_llama("rand-llama-spm-f16.gguf", "Q5_K_M", FMT_DAT, NULL, false, NULL, "attn");
}

// Writes bytes to tmpdir/name and parses them as an imatrix; returns the status.
static kite_status parse_bytes(const void *b, size_t n) {
    kite_imatrix *im = NULL;
    kite_status s = kite_imatrix_parse(b, n, &im);
    kite_imatrix_free(im);
    return s;
}

static void test_refusals(void) {
    size_t len = 0;
    uint8_t *in = check_read_model("rand-llama-spm-f16.gguf", &len);
    if (!in) return;
    kite_buf out = {0};
    // Q2_K_S without an imatrix: refused up front, naming the need
    kite_status s = kite_side(in, len, "Q2_K_S", NULL, NULL, NULL, &out);
    CHECK(s == KITE_ERR_UNSUPPORTED && strstr(kite_last_error(), "importance matrix") && strstr(kite_last_error(), "Q2_K_S"),
          "Q2_K_S without an imatrix: %d %s", s, kite_last_error());
    kite_buf_free(&out);
    // and with an imatrix that lacks the tensor
    char path[512];
    snprintf(path, sizeof path, "%s/part.dat", tmpdir);
    char mp[512];
    snprintf(mp, sizeof mp, "%s/rand-llama-spm-f16.gguf", check_models_dir());
    imat m;
    imat_make(mp, &m, "ffn_down", false, 5);
    CHECK(imat_write_dat(&m, path, NULL, 0), "write");
    s = kite_side(in, len, "Q2_K_S", path, NULL, NULL, &out);
    CHECK(s == KITE_ERR_INVALID && strstr(kite_last_error(), "ffn_down"), "Q2_K_S, entry missing: %d %s", s, kite_last_error());
    kite_buf_free(&out);
    // an entry whose size does not match its tensor
    m.t[0].ne0 -= 1;
    CHECK(imat_write_dat(&m, path, NULL, 0), "write");
    s = kite_side(in, len, "Q4_K_M", path, NULL, NULL, &out);
    CHECK(s == KITE_ERR_INVALID && strstr(kite_last_error(), m.t[0].name) && strstr(kite_last_error(), "size"),
          "size mismatch: %d %s", s, kite_last_error());
    kite_buf_free(&out);
    m.t[0].ne0 += 1;
    // a NaN anywhere (even in an entry no tensor uses) is refused, as llama_model_quantize does
    m.t[m.n - 1].norm[3] = NAN;
    snprintf(m.t[m.n - 1].name, sizeof m.t[m.n - 1].name, "blk.99.unused.weight");
    CHECK(imat_write_dat(&m, path, NULL, 0), "write");
    s = kite_side(in, len, "Q4_K_M", path, NULL, NULL, &out);
    CHECK(s == KITE_ERR_INVALID && strstr(kite_last_error(), "NaN"), "NaN: %d %s", s, kite_last_error());
    kite_buf_free(&out);
    // ... unless excluded
    s = kite_side(in, len, "Q4_K_M", path, NULL, "unused", &out);
    CHECK(s == KITE_OK, "excluded NaN entry: %s", kite_last_error());
    kite_buf_free(&out);
    unlink(path);
    imat_free(&m);
    free(in);

    // malformed files: each a clear error, never a crash
    uint8_t b[64] = {0};
    CHECK(parse_bytes(b, 0) == KITE_ERR_INVALID, "empty file");
    CHECK(parse_bytes(b, 4) == KITE_ERR_INVALID, "zero entries");
    int32_t hdr[3] = {1, 1000, 0};
    memcpy(b, hdr, sizeof hdr);
    CHECK(parse_bytes(b, 12) == KITE_ERR_INVALID && strstr(kite_last_error(), "entry 1"), "name past the end: %s", kite_last_error());
    int32_t e2[5] = {1, 1, 0, 1, 100}; // name "\0", ncall 1, 100 values missing
    memcpy(b, e2, 4);
    memcpy(b + 4, &e2[1], 4);
    b[8] = 'x';
    memcpy(b + 9, &e2[3], 4);
    memcpy(b + 13, &e2[4], 4);
    CHECK(parse_bytes(b, 17) == KITE_ERR_INVALID && strstr(kite_last_error(), "truncated"), "values past the end: %s",
          kite_last_error());
    CHECK(parse_bytes("GGUF\3\0\0\0", 8) == KITE_ERR_INVALID, "truncated GGUF");
    if (have_gw) {
        // GGUF without llama-imatrix's keys, and sums without counts
        void *ctx = ref.ggml_init((lq_ggml_init_params){1 << 16, NULL, false});
        void *g = G.init_empty();
        int64_t ne[2] = {4, 1};
        void *t = ref.ggml_new_tensor(ctx, 0, 2, ne);
        ref.ggml_set_name(t, "blk.0.ffn_up.weight.in_sum2");
        memset(G.get_data(t), 0, 16);
        G.add_tensor(g, t);
        snprintf(path, sizeof path, "%s/bad.gguf", tmpdir);
        G.write(g, path, false);
        size_t n = 0;
        uint8_t *fb = check_read_file(path, &n);
        CHECK(fb && parse_bytes(fb, n) == KITE_ERR_INVALID && strstr(kite_last_error(), "metadata"), "no metadata: %s",
              kite_last_error());
        free(fb);
        const char *ds[1] = {"x"};
        G.set_arr_str(g, "imatrix.datasets", ds, 1);
        G.set_u32(g, "imatrix.chunk_count", 1);
        G.set_u32(g, "imatrix.chunk_size", 1);
        G.write(g, path, false);
        fb = check_read_file(path, &n);
        CHECK(fb && parse_bytes(fb, n) == KITE_ERR_INVALID && strstr(kite_last_error(), "mismatched"), "sums without counts: %s",
              kite_last_error());
        free(fb);
        unlink(path);
        G.free(g);
        ref.ggml_free(ctx);
    }
}

// The CLI: --imatrix with the same bytes as the library path, and the refusal without it.
static void test_cli(void) {
    if (!getenv("KITE_BIN")) {
        fprintf(stderr, "skip: KITE_BIN not set: CLI tests skipped\n");
        return;
    }
    char mp[512], im_path[512], out[512];
    check_model_path("stories260K.gguf", mp, sizeof mp);
    snprintf(im_path, sizeof im_path, "%s/cli.dat", tmpdir);
    snprintf(out, sizeof out, "%s/cli-out.gguf", tmpdir);
    size_t len = 0;
    uint8_t *in = check_read_model("stories260K.gguf", &len);
    if (!in) return;
    imat m;
    imat_make(mp, &m, NULL, false, 9);
    CHECK(imat_write_dat(&m, im_path, "data.txt", 4), "write");
    const char *args[] = {"-q", "--imatrix", im_path, "--exclude-weights", "attn_q", mp, out, "Q2_K_S", "2", NULL};
    cli_result r = cli_run("quantize", args, NULL);
    CHECK(r.code == 0, "kite quantize --imatrix: exit %d: %s", r.code, r.err);
    kite_buf lib = {0};
    // the library path, given the same file and exclusion
    if (kite_side(in, len, "Q2_K_S", im_path, NULL, "attn_q", &lib) == KITE_OK) {
        size_t n = 0;
        uint8_t *cli = check_read_file(out, &n);
        CHECK(cli && n == lib.len && !memcmp(cli, lib.bytes, n), "CLI and library outputs differ");
        free(cli);
    }
    kite_buf_free(&lib);
    unlink(out);
    // (stories260K's rows all fall back to Q4_0 there, which needs none: use 256-wide rows)
    char big[512];
    snprintf(big, sizeof big, "%s/rand-llama-spm-f16.gguf", check_models_dir());
    const char *noim[] = {"-q", big, out, "Q2_K_S", NULL};
    r = cli_run("quantize", noim, NULL);
    CHECK(r.code == 2 && strstr(r.err, "importance matrix") && access(out, F_OK) != 0,
          "Q2_K_S without --imatrix: exit %d, %s", r.code, r.err);
    const char *both[] = {"--imatrix", im_path, "--include-weights", "a", "--exclude-weights", "b", mp, out, "Q4_0", NULL};
    r = cli_run("quantize", both, NULL);
    CHECK(r.code == 2 && strstr(r.err, "together"), "include and exclude: exit %d, %s", r.code, r.err);
    const char *missing[] = {"--imatrix", "/nonexistent/im.dat", mp, out, "Q4_0", NULL};
    r = cli_run("quantize", missing, NULL);
    CHECK(r.code == 1 && strstr(r.err, "/nonexistent/im.dat"), "missing imatrix file: exit %d, %s", r.code, r.err);
    unlink(im_path);
    imat_free(&m);
    free(in);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/kite_quant_imatrix_XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    int ci_fail = 0;
    have_ref = lq_open(&ref, &ci_fail);
    if (ci_fail) check_failed++;
    if (have_ref) {
#define GW(field, name) *(void **)&G.field = llama_lib_sym(ref.hg, name)
        GW(init_empty, "gguf_init_empty");
        GW(set_str, "gguf_set_val_str");
        GW(set_arr_str, "gguf_set_arr_str");
        GW(set_u32, "gguf_set_val_u32");
        GW(add_tensor, "gguf_add_tensor");
        GW(write, "gguf_write_to_file");
        GW(free, "gguf_free");
        GW(get_data, "ggml_get_data");
#undef GW
        have_gw = G.init_empty && G.set_str && G.set_arr_str && G.set_u32 && G.add_tensor && G.write && G.free && G.get_data &&
                  ref.ggml_init && ref.ggml_new_tensor && ref.ggml_set_name && ref.ggml_free;
        CHECK(have_gw, "libggml-base lacks the gguf writer");
    }
    test_every_type();
    test_refusals();
    test_cli();
    rmdir(tmpdir);
    return check_done("test_quant_imatrix");
}
