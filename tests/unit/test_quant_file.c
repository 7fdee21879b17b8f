// test_quant_file.c - kite_quantize_gguf and `kite quantize` against llama.cpp's real output:
// the shared llama-quantize files, and for every file type (and options, requantizing, stories260K's
// fallbacks) a fresh llama_model_quantize run from libllama, compared byte for byte. Then the
// CLI's error cases: one clear line, non-zero exit, no OUT left behind, input untouched.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/kite_buf.h"
#include "check.h"
#include "cli_run.h"
#include "kite.h"
#include "llama_quant_ref.h"

static char tmpdir[256];

// ---- comparison with a located first difference ------------------------------------------------

// Names what lies at byte `off` of a GGUF file: a tensor's data, a tensor-table entry or a key.
static void locate(const uint8_t *buf, size_t len, uint64_t off, char *out, size_t cap) {
    kite_gguf *g = NULL;
    if (kite_gguf_parse(buf, len, &g) != KITE_OK) {
        snprintf(out, cap, "(file does not parse: %s)", kite_last_error());
        return;
    }
    snprintf(out, cap, "in the GGUF header");
    if (off >= g->data_offset) {
        for (uint64_t i = 0; i < g->n_tensors; i++) {
            uint64_t a = g->data_offset + g->tensors[i].offset;
            if (off >= a && off < a + g->tensors[i].nbytes + 64)
                snprintf(out, cap, "in tensor %.*s data (+%llu)", (int)g->tensors[i].name.len, g->tensors[i].name.ptr,
                         (unsigned long long)(off - a));
        }
    } else {
        for (uint64_t i = 0; i < g->n_kv; i++)
            if ((uint64_t)((const uint8_t *)g->kv[i].key.ptr - buf) <= off + 8)
                snprintf(out, cap, "in key %.*s", (int)g->kv[i].key.len, g->kv[i].key.ptr);
        for (uint64_t i = 0; i < g->n_tensors; i++)
            if ((uint64_t)((const uint8_t *)g->tensors[i].name.ptr - buf) <= off + 8)
                snprintf(out, cap, "in the tensor table entry of %.*s", (int)g->tensors[i].name.len, g->tensors[i].name.ptr);
    }
    kite_gguf_free(g);
}

static void compare_bytes(const char *what, const uint8_t *got, size_t ng, const uint8_t *want, size_t nw) {
    size_t n = ng < nw ? ng : nw, i = 0;
    while (i < n && got[i] == want[i]) i++;
    if (i == n && ng == nw) {
        CHECK(1, "%s", what);
        return;
    }
    char where[256];
    locate(want, nw, i, where, sizeof where);
    CHECK(0, "%s: differs from llama.cpp at byte %zu of %zu (llama.cpp: %zu bytes) %s", what, i, ng, nw, where);
}

// ---- kite through the library ------------------------------------------------------------------

typedef struct opts {
    const char *ftype;
    int threads;
    bool allow_requantize, pure, leave_output;
    const char *output_type, *embd_type; // NULL = default
    const char *tt_pattern, *tt_type;    // one --tensor-type, or NULL
} opts;

static bool abort_after_first(void *user, const char *what, uint64_t done, uint64_t total) {
    (void)what, (void)total;
    int *calls = user;
    return ++*calls < 3 || done == 0;
}

static kite_status kite_quantize_buf(const uint8_t *in, size_t len, const opts *o, kite_buf *out, kite_quantize_stats *st) {
    kite_gguf *g = NULL;
    kite_status s = kite_gguf_parse(in, len, &g);
    if (s != KITE_OK) return s;
    kite_quantize_params p = kite_quantize_default_params();
    if (!kite_quantize_ftype_from_name(o->ftype, &p.ftype)) return KITE_ERR_INVALID;
    p.n_threads = o->threads;
    p.allow_requantize = o->allow_requantize;
    p.pure = o->pure;
    p.leave_output_tensor = o->leave_output;
    kite_type t;
    if (o->output_type && kite_type_from_name(o->output_type, &t)) p.output_tensor_type = (int)t;
    if (o->embd_type && kite_type_from_name(o->embd_type, &t)) p.token_embedding_type = (int)t;
    kite_quantize_tensor_type tt;
    if (o->tt_pattern && kite_type_from_name(o->tt_type, &t)) {
        tt = (kite_quantize_tensor_type){o->tt_pattern, t};
        p.tensor_types = &tt;
        p.n_tensor_types = 1;
    }
    p.stats = st;
    kite_sink sink = kite_buf_sink(out);
    s = kite_quantize_gguf(g, &sink, &p, NULL, NULL);
    kite_gguf_free(g);
    return s;
}

// ---- llama.cpp through libllama ---------------------------------------------------------------

static lq_ref ref;
static bool have_ref;

// Runs llama_model_quantize(in -> tmpdir/name) with the same options; returns the file's bytes.
static uint8_t *llama_quantize_file(const char *in_path, const opts *o, const char *name, size_t *len) {
    lq_params p = ref.default_params();
    int ft;
    kite_quantize_ftype_from_name(o->ftype, &ft);
    p.ftype = ft;
    p.nthread = 2;
    p.allow_requantize = o->allow_requantize;
    p.pure = o->pure;
    p.quantize_output_tensor = !o->leave_output;
    kite_type t;
    if (o->output_type && kite_type_from_name(o->output_type, &t)) p.output_tensor_type = (int)t;
    if (o->embd_type && kite_type_from_name(o->embd_type, &t)) p.token_embedding_type = (int)t;
    lq_tensor_override ov[2] = {{0}};
    if (o->tt_pattern && kite_type_from_name(o->tt_type, &t)) {
        ov[0] = (lq_tensor_override){o->tt_pattern, (int)t};
        p.tt_overrides = ov;
    }
    char out[512];
    snprintf(out, sizeof out, "%s/%s", tmpdir, name);
    if (ref.quantize(in_path, out, &p) != 0) {
        CHECK(0, "llama_model_quantize failed for %s", name);
        return NULL;
    }
    uint8_t *b = check_read_file(out, len);
    unlink(out);
    return b;
}

// Quantizes `model` (relative to the models dir, or an absolute path) both ways and compares.
static void versus_llama(const char *model, const opts *o, const char *label) {
    if (!have_ref) return;
    char in_path[512];
    if (model[0] == '/') snprintf(in_path, sizeof in_path, "%s", model);
    else check_model_path(model, in_path, sizeof in_path);
    size_t len = 0, nl = 0;
    uint8_t *in = model[0] == '/' ? check_read_file(in_path, &len) : check_read_model(model, &len);
    if (!in) return;
    uint8_t *want = llama_quantize_file(in_path, o, "ref.gguf", &nl);
    kite_buf got = {0};
    kite_quantize_stats st;
    kite_status s = kite_quantize_buf(in, len, o, &got, &st);
    CHECK(s == KITE_OK, "%s: kite failed: %s", label, kite_last_error());
    if (s == KITE_OK && want) compare_bytes(label, got.bytes, got.len, want, nl);
    free(want);
    kite_buf_free(&got);
    free(in);
}

// ---- tests -------------------------------------------------------------------------------------

// The five files llama-quantize wrote for the shared set (no library needed).
static void test_shared_refs(void) {
    static const char *types[] = {"Q8_0", "Q4_0", "Q4_K_M", "Q6_K", "IQ4_NL"};
    size_t len = 0;
    uint8_t *in = check_read_model("rand-llama-spm-f16.gguf", &len);
    if (!in) return;
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "ref/rand-llama-spm-%s.gguf", types[i]);
        size_t nr = 0;
        uint8_t *want = check_read_model(rel, &nr);
        if (!want) continue;
        for (int threads = 1; threads <= 3; threads += 2) { // the row split must not matter
            opts o = {.ftype = types[i], .threads = threads};
            kite_buf got = {0};
            kite_quantize_stats st;
            kite_status s = kite_quantize_buf(in, len, &o, &got, &st);
            CHECK(s == KITE_OK, "%s: %s", rel, kite_last_error());
            char label[160];
            snprintf(label, sizeof label, "%s (%d threads)", rel, threads);
            if (s == KITE_OK) compare_bytes(label, got.bytes, got.len, want, nr);
            if (s == KITE_OK && threads == 1)
                CHECK(st.n_tensors == 20 && st.n_quantized == 15 && st.bytes_in > st.bytes_out,
                      "%s stats: %llu tensors, %llu quantized", rel, (unsigned long long)st.n_tensors,
                      (unsigned long long)st.n_quantized);
            kite_buf_free(&got);
        }
        free(want);
    }
    free(in);
}

static const char *all_types[] = {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S",
                                  "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K", "IQ4_NL", "IQ4_XS", "F16", "BF16", "F32",
                                  "TQ1_0", "TQ2_0", "MXFP4_MOE", "IQ3_S", "IQ3_M"};

static void test_every_type(void) {
    for (size_t i = 0; i < sizeof all_types / sizeof *all_types; i++) {
        opts o = {.ftype = all_types[i], .threads = 2};
        char label[128];
        snprintf(label, sizeof label, "rand-llama-spm-f16 %s", all_types[i]);
        versus_llama("rand-llama-spm-f16.gguf", &o, label);
        // stories260K: F32 input, 64-wide rows (fallbacks), 172-wide ffn_down (F16), own output
        snprintf(label, sizeof label, "stories260K %s", all_types[i]);
        versus_llama("stories260K.gguf", &o, label);
    }
}

static void test_options_and_archs(void) {
    static const opts cases[] = {
        {.ftype = "Q4_K_M", .threads = 2, .pure = true},
        {.ftype = "Q4_K_M", .threads = 2, .leave_output = true},
        {.ftype = "Q5_K_M", .threads = 2, .output_type = "q8_0", .embd_type = "q4_0"},
        {.ftype = "Q4_0", .threads = 2, .tt_pattern = "ffn_(up|gate)", .tt_type = "q6_K"},
        {.ftype = "Q3_K_M", .threads = 2, .tt_pattern = "^blk\\.1\\.attn_v", .tt_type = "q8_0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char label[160];
        snprintf(label, sizeof label, "stories260K %s option set %zu", cases[i].ftype, i);
        versus_llama("stories260K.gguf", &cases[i], label);
        snprintf(label, sizeof label, "rand-llama-spm-f16 %s option set %zu", cases[i].ftype, i);
        versus_llama("rand-llama-spm-f16.gguf", &cases[i], label);
    }
    // other architectures: phi3 (fused qkv and gate_up), qwen2 (biases, 151936-token vocab)
    opts q = {.ftype = "Q4_K_M", .threads = 2};
    versus_llama("rand-phi3-f16.gguf", &q, "rand-phi3-f16 Q4_K_M");
    versus_llama("rand-qwen2-f16.gguf", &q, "rand-qwen2-f16 Q4_K_M");
    opts q3 = {.ftype = "Q3_K_S", .threads = 2};
    versus_llama("rand-phi3-f16.gguf", &q3, "rand-phi3-f16 Q3_K_S");
}

// Requantizing: the shared Q8_0 file to other types (needs allow_requantize, as in llama.cpp).
static void test_requantize(void) {
    size_t len = 0;
    uint8_t *in = check_read_model("ref/rand-llama-spm-Q8_0.gguf", &len);
    if (!in) return;
    opts o = {.ftype = "Q4_K_M", .threads = 2};
    kite_buf got = {0};
    kite_quantize_stats st;
    CHECK(kite_quantize_buf(in, len, &o, &got, &st) == KITE_ERR_INVALID, "requantizing without the flag must fail");
    CHECK(strstr(kite_last_error(), "requantiz") != NULL, "message: %s", kite_last_error());
    kite_buf_free(&got);
    free(in);
    static const char *types[] = {"Q4_K_M", "Q4_0", "Q6_K", "F16", "IQ4_XS"};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        opts r = {.ftype = types[i], .threads = 2, .allow_requantize = true};
        char label[128];
        snprintf(label, sizeof label, "requantize Q8_0 -> %s", types[i]);
        versus_llama("ref/rand-llama-spm-Q8_0.gguf", &r, label);
    }
    // k-quant and non-linear sources go through their dequantizers
    opts r8 = {.ftype = "Q8_0", .threads = 2, .allow_requantize = true};
    versus_llama("ref/rand-llama-spm-Q4_K_M.gguf", &r8, "requantize Q4_K_M -> Q8_0");
    opts r6 = {.ftype = "Q5_K_S", .threads = 2, .allow_requantize = true};
    versus_llama("ref/rand-llama-spm-Q6_K.gguf", &r6, "requantize Q6_K -> Q5_K_S");
    opts r4 = {.ftype = "Q4_K_M", .threads = 2, .allow_requantize = true};
    versus_llama("ref/rand-llama-spm-IQ4_NL.gguf", &r4, "requantize IQ4_NL -> Q4_K_M");
    // a BF16 source (made by llama.cpp from the F16 model) is not "requantizing"
    if (!have_ref) return;
    char src[512], bf16[512];
    snprintf(src, sizeof src, "%s/rand-llama-spm-f16.gguf", check_models_dir());
    opts b = {.ftype = "BF16"};
    size_t nb = 0;
    uint8_t *bb = llama_quantize_file(src, &b, "bf16.gguf", &nb);
    if (!bb) return;
    snprintf(bf16, sizeof bf16, "%s/src-bf16.gguf", tmpdir);
    CHECK(check_write_file(bf16, bb, nb), "cannot write %s", bf16);
    free(bb);
    opts q = {.ftype = "Q4_K_M", .threads = 2};
    versus_llama(bf16, &q, "BF16 -> Q4_K_M");
    opts h = {.ftype = "F16", .threads = 2};
    versus_llama(bf16, &h, "BF16 -> F16");
    unlink(bf16);
}

// A 12-layer model whose tensors are stored in a scrambled order: llama-quantize writes them
// sorted (non-layer first, then layer 0, 1, ..., 10, 11 numerically, names bytewise), and so
// must kite. Built from stories260K's metadata and layer-0 weights.
static void test_many_layers(void) {
    if (!have_ref) return;
    size_t len = 0;
    uint8_t *in = check_read_model("stories260K.gguf", &len);
    if (!in) return;
    kite_gguf *g = NULL;
    CHECK(kite_gguf_parse(in, len, &g) == KITE_OK, "parse stories260K");
    if (!g) {
        free(in);
        return;
    }
    enum { NL = 12 };
    kite_gguf_writer *w = kite_gguf_writer_new();
    kite_gguf_writer_copy_kvs(w, g);
    kite_gguf_writer_set_u32(w, "llama.block_count", NL);
    // source index per output tensor: layers from last to first, each layer's tensors reversed,
    // the non-layer tensors in the middle
    int64_t src[512];
    char names[512][64];
    int n = 0;
    for (int l = NL - 1; l >= 0; l--) {
        if (l == NL / 2)
            for (uint64_t i = 0; i < g->n_tensors; i++)
                if (strncmp(g->tensors[i].name.ptr, "blk.", 4) != 0) {
                    snprintf(names[n], 64, "%.*s", (int)g->tensors[i].name.len, g->tensors[i].name.ptr);
                    src[n++] = (int64_t)i;
                }
        for (int64_t i = (int64_t)g->n_tensors - 1; i >= 0; i--)
            if (!strncmp(g->tensors[i].name.ptr, "blk.0.", 6)) {
                snprintf(names[n], 64, "blk.%d.%.*s", l, (int)g->tensors[i].name.len - 6, g->tensors[i].name.ptr + 6);
                src[n++] = i;
            }
    }
    for (int i = 0; i < n; i++) {
        const kite_gguf_tensor *t = &g->tensors[src[i]];
        kite_gguf_writer_add_tensor(w, names[i], t->type, t->n_dims, t->ne);
    }
    char path[512];
    snprintf(path, sizeof path, "%s/layers12.gguf", tmpdir);
    kite_buf mb = {0};
    kite_sink sink = kite_buf_sink(&mb);
    kite_status s = kite_gguf_writer_write_header(w, &sink);
    for (int i = 0; s == KITE_OK && i < n; i++) s = kite_gguf_writer_write_data(w, &sink, (uint64_t)i, g->tensors[src[i]].data);
    CHECK(s == KITE_OK, "building the 12-layer file: %s", kite_last_error());
    CHECK(check_write_file(path, mb.ptr, mb.len), "cannot write %s", path);
    kite_buf_free(&mb);
    kite_gguf_writer_free(w);
    kite_gguf_free(g);
    free(in);
    opts q = {.ftype = "Q4_K_M", .threads = 2};
    versus_llama(path, &q, "12 scrambled layers Q4_K_M");
    opts q8 = {.ftype = "Q8_0", .threads = 2};
    versus_llama(path, &q8, "12 scrambled layers Q8_0");
    unlink(path);
}

// One file of a split set (llama-gguf-split: split.count > 1) holds only some tensors: refused,
// naming the split, where the output was a model missing the other files' tensors. A split
// count of 1 (a whole model, as llama-gguf-split writes it alone) still quantizes.
static void test_split_part(void) {
    size_t len = 0;
    uint8_t *in = check_read_model("stories260K.gguf", &len);
    if (!in) return;
    kite_gguf *g = NULL;
    CHECK(kite_gguf_parse(in, len, &g) == KITE_OK, "parse stories260K");
    for (uint32_t count = 1; g && count <= 3; count += 2) {
        kite_gguf_writer *w = kite_gguf_writer_new();
        kite_gguf_writer_copy_kvs(w, g);
        kite_gguf_writer_set_u32(w, "split.count", count);
        for (uint64_t i = 0; i < g->n_tensors; i++) {
            const kite_gguf_tensor *t = &g->tensors[i];
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
            kite_gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne);
        }
        kite_buf mb = {0}, out = {0};
        kite_sink sink = kite_buf_sink(&mb);
        kite_status s = kite_gguf_writer_write_header(w, &sink);
        for (uint64_t i = 0; s == KITE_OK && i < g->n_tensors; i++) s = kite_gguf_writer_write_data(w, &sink, i, g->tensors[i].data);
        CHECK(s == KITE_OK, "building the split.count %u file: %s", count, kite_last_error());
        opts q = {.ftype = "Q8_0", .threads = 1};
        kite_quantize_stats st;
        s = kite_quantize_buf((const uint8_t *)mb.ptr, mb.len, &q, &out, &st);
        if (count == 1) {
            CHECK(s == KITE_OK, "split.count 1: %s", kite_last_error());
        } else {
            CHECK(s == KITE_ERR_INVALID, "split.count 3 accepted (status %d)", (int)s);
            CHECK(strstr(kite_last_error(), "split into 3 files") != NULL, "message: %s", kite_last_error());
        }
        kite_buf_free(&out);
        kite_buf_free(&mb);
        kite_gguf_writer_free(w);
    }
    kite_gguf_free(g);
    free(in);
}

// The progress callback can stop a run; the result is KITE_ERR_ABORTED.
static void test_abort(void) {
    size_t len = 0;
    uint8_t *in = check_read_model("stories260K.gguf", &len);
    if (!in) return;
    kite_gguf *g = NULL;
    CHECK(kite_gguf_parse(in, len, &g) == KITE_OK, "parse");
    kite_quantize_params p = kite_quantize_default_params();
    kite_buf out = {0};
    kite_sink sink = kite_buf_sink(&out);
    int calls = 0;
    CHECK(kite_quantize_gguf(g, &sink, &p, abort_after_first, &calls) == KITE_ERR_ABORTED, "abort via progress");
    kite_gguf_free(g);
    kite_buf_free(&out);
    free(in);
}

// Corrupted headers (a byte changed in the key/value or tensor tables): each run either
// succeeds or fails with a message; it never crashes (run under ASan in the sanitizer preset).
static void test_corrupted(void) {
    size_t len = 0;
    uint8_t *orig = check_read_model("stories260K.gguf", &len);
    if (!orig) return;
    kite_gguf *g = NULL;
    if (kite_gguf_parse(orig, len, &g) != KITE_OK) {
        free(orig);
        return;
    }
    size_t header = (size_t)g->data_offset;
    kite_gguf_free(g);
    uint8_t *buf = malloc(len);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    int ok = 0, failed = 0, silent = 0;
    for (int it = 0; it < 300; it++) {
        memcpy(buf, orig, len);
        for (int k = 0; k < 1 + it % 3; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            // the tensor table sits at the end of the header: aim most changes there
            size_t at = it % 2 ? header - 1 - (size_t)(x % (header < 4096 ? header : 4096)) : (size_t)(x % header);
            buf[at] = (uint8_t)(x >> 32);
        }
        opts o = {.ftype = it % 2 ? "Q4_K_M" : "Q8_0", .threads = 2, .allow_requantize = true};
        kite_buf out = {0};
        kite_quantize_stats st;
        kite_status s = kite_quantize_buf(buf, len, &o, &out, &st);
        if (s == KITE_OK) ok++;
        else if (*kite_last_error()) failed++;
        else silent++;
        kite_buf_free(&out);
    }
    CHECK(silent == 0, "%d corrupted inputs failed without a message", silent);
    printf("corrupted headers: %d quantized, %d refused with a message\n", ok, failed);
    free(buf);
    free(orig);
}

// ---- the CLI -----------------------------------------------------------------------------------

static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

// True when nothing named OUT or OUT.tmp-* exists in tmpdir.
static bool no_output_left(const char *out_name) {
    DIR *d = opendir(tmpdir);
    if (!d) return false;
    struct dirent *e;
    bool clean = true;
    size_t n = strlen(out_name);
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, out_name, n)) clean = false;
    closedir(d);
    return clean;
}

static void expect_error(const char *what, const char *const *args, const char *out_name, const char *needle) {
    cli_result r = cli_run("quantize", args, NULL);
    CHECK(r.code == 1 || r.code == 2, "%s: exit code %d", what, r.code);
    CHECK(count_lines(r.err) == 1, "%s: want one line on stderr, got: %s", what, r.err);
    CHECK(strstr(r.err, needle) != NULL, "%s: message should mention '%s': %s", what, needle, r.err);
    CHECK(no_output_left(out_name), "%s: output or temp file left behind", what);
}

static void test_cli(void) {
    if (!getenv("KITE_BIN")) {
        fprintf(stderr, "skip: KITE_BIN not set: CLI tests skipped\n");
        return;
    }
    char model[512], in[512], out[512], trunc[512], link[512];
    check_model_path("stories260K.gguf", model, sizeof model);
    size_t len = 0;
    uint8_t *orig = check_read_model("stories260K.gguf", &len);
    if (!orig) return;
    // a private copy of the input, so "input unchanged" is checked on a file the test owns
    snprintf(in, sizeof in, "%s/in.gguf", tmpdir);
    CHECK(check_write_file(in, orig, len), "cannot write %s", in);
    snprintf(out, sizeof out, "%s/out.gguf", tmpdir);

    // success: stories260K to Q8_0 equals llama.cpp's
    {
        const char *a[] = {in, out, "Q8_0", "2", NULL};
        cli_result r = cli_run("quantize", a, NULL);
        CHECK(r.code == 0, "kite quantize Q8_0: exit %d: %s", r.code, r.err);
        size_t n = 0, nl = 0;
        uint8_t *got = check_read_file(out, &n);
        CHECK(got != NULL, "no output written");
        opts o = {.ftype = "Q8_0"};
        uint8_t *want = have_ref ? llama_quantize_file(model, &o, "cli_ref.gguf", &nl) : NULL;
        if (got && want) compare_bytes("CLI stories260K Q8_0", got, n, want, nl);
        struct stat st;
        mode_t um = umask(0);
        umask(um);
        CHECK(stat(out, &st) == 0 && (st.st_mode & 0777) == (0666 & ~um), "OUT mode %o, want %o (not mkstemp's 0600)",
              (unsigned)(st.st_mode & 0777), (unsigned)(0666 & ~um));
        free(got);
        free(want);
        unlink(out);
    }
    // options reach the core: --pure gives a different file than the default mix
    {
        const char *a[] = {"--pure", "--tensor-type", "ATTN_V=q8_0", in, out, "q4_k_m", NULL};
        cli_result r = cli_run("quantize", a, NULL);
        CHECK(r.code == 0, "options: exit %d: %s", r.code, r.err);
        unlink(out);
    }

    const char *bad_type[] = {in, out, "Q9_X", NULL};
    expect_error("bad type", bad_type, "out.gguf", "Q9_X");
    const char *bad_pat[] = {"--tensor-type", "attn_(v=q8_0", in, out, "Q4_0", NULL};
    expect_error("bad pattern", bad_pat, "out.gguf", "attn_(v");
    const char *bad_tt[] = {"--tensor-type", "attn_v=q9_9", in, out, "Q4_0", NULL};
    expect_error("bad tensor type", bad_tt, "out.gguf", "q9_9");
    const char *bad_opt[] = {"--frobnicate", in, out, "Q4_0", NULL};
    expect_error("unknown option", bad_opt, "out.gguf", "--frobnicate");
    const char *bad_threads[] = {in, out, "Q4_0", "zero", NULL};
    expect_error("bad thread count", bad_threads, "out.gguf", "zero");
    const char *same[] = {in, in, "Q4_0", NULL};
    expect_error("OUT == IN", same, "in.gguf.tmp", "input");
    snprintf(link, sizeof link, "%s/alias.gguf", tmpdir);
    CHECK(symlink(in, link) == 0, "symlink");
    const char *same_inode[] = {in, link, "Q4_0", NULL};
    expect_error("OUT is IN through a link", same_inode, "alias.gguf.tmp", "input");
    unlink(link);
    char missing[512];
    snprintf(missing, sizeof missing, "%s/missing.gguf", tmpdir);
    const char *miss[] = {missing, out, "Q4_0", NULL};
    expect_error("missing input", miss, "out.gguf", "missing.gguf");
    snprintf(trunc, sizeof trunc, "%s/trunc.gguf", tmpdir);
    CHECK(check_write_file(trunc, orig, len / 2), "cannot write %s", trunc);
    const char *tr[] = {trunc, out, "Q4_0", NULL};
    expect_error("truncated input", tr, "out.gguf", "trunc.gguf");
    unlink(trunc);
    // an existing OUT survives a failed run untouched
    CHECK(check_write_file(out, "keep me", 7), "cannot write %s", out);
    const char *fail_keep[] = {"--tensor-type", "attn_q=q8_K", in, out, "Q4_0", NULL};
    cli_result r = cli_run("quantize", fail_keep, NULL);
    CHECK(r.code == 1, "q8_K override on 64-wide rows must fail: exit %d", r.code);
    size_t kn = 0;
    uint8_t *keep = check_read_file(out, &kn);
    CHECK(keep && kn == 7 && !memcmp(keep, "keep me", 7), "existing OUT was modified by a failed run");
    free(keep);
    unlink(out);
    CHECK(no_output_left("out.gguf"), "temp file left after a failed run");

    // the input is unchanged after all of the above
    size_t n2 = 0;
    uint8_t *after = check_read_file(in, &n2);
    CHECK(after && n2 == len && !memcmp(after, orig, len), "input file changed");
    free(after);
    unlink(in);
    free(orig);
}

// Ctrl-C during a run: exit non-zero with no OUT (or, if the run beat the signal, a whole OUT).
static void test_sigint(void) {
    const char *bin = getenv("KITE_BIN");
    if (!bin) return;
    char in[512], out[512];
    snprintf(in, sizeof in, "%s/rand-qwen2-f16.gguf", check_models_dir());
    if (access(in, R_OK) != 0) return;
    snprintf(out, sizeof out, "%s/sig.gguf", tmpdir);
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execl(bin, bin, "quantize", in, out, "Q4_K_M", "1", (char *)NULL);
        // a cross build tested under qemu-user cannot exec a foreign binary itself (as cli_run.h)
        execlp("qemu-aarch64", "qemu-aarch64", bin, "quantize", in, out, "Q4_K_M", "1", (char *)NULL);
        _exit(127);
    }
    // wait for the temporary file (the handler is installed before it is created), then stop
    for (int i = 0; i < 500 && no_output_left("sig.gguf"); i++) usleep(10000);
    kill(pid, SIGINT);
    int status;
    waitpid(pid, &status, 0);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code == 0) {
        fprintf(stderr, "note: the run finished before SIGINT arrived\n");
        unlink(out);
    } else {
        CHECK(code == 1, "interrupted run: exit %d", code);
    }
    CHECK(no_output_left("sig.gguf"), "interrupted run left a file");
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/kite_quant_file_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        fprintf(stderr, "cannot make a temp dir\n");
        return 1;
    }
    int ci_fail = 0;
    have_ref = lq_open(&ref, &ci_fail);
    if (ci_fail) check_failed++;
    test_shared_refs();
    test_every_type();
    test_options_and_archs();
    test_requantize();
    test_many_layers();
    test_split_part();
    test_abort();
    test_corrupted();
    test_cli();
    test_sigint();
    rmdir(tmpdir);
    return check_done("test_quant_file");
}
