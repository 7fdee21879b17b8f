// test_sampling_file.c - kite_sampling_from_file: the general.sampling.* keys of an in-memory
// GGUF become the defaults of the settings not given; wrong types and out-of-range values are
// named in the warning and leave Kite's default; the warning buffer is never overrun.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "kite.h"

typedef struct kv {
    const char *key;
    kite_gguf_type type;
    double f;    // FLOAT32
    int64_t i;   // INT32 / UINT32
    const char *s; // STRING
} kv;
#define F32(k, x) {.key = "general.sampling." k, .type = KITE_GGUF_FLOAT32, .f = (x)}
#define I32(k, x) {.key = "general.sampling." k, .type = KITE_GGUF_INT32, .i = (x)}
#define U32(k, x) {.key = "general.sampling." k, .type = KITE_GGUF_UINT32, .i = (x)}
#define STR(k, x) {.key = "general.sampling." k, .type = KITE_GGUF_STRING, .s = (x)}

// A GGUF (no tensors) holding kvs, parsed; *bytes owns the buffer it points into.
static kite_gguf *make(const kv *kvs, size_t n, kite_buf *bytes) {
    kite_gguf_writer *w = kite_gguf_writer_new();
    for (size_t k = 0; k < n; k++) {
        kite_gguf_value v = {.type = kvs[k].type};
        if (kvs[k].type == KITE_GGUF_FLOAT32) v.f = kvs[k].f;
        else if (kvs[k].type == KITE_GGUF_STRING) v.s = (kite_str){kvs[k].s, strlen(kvs[k].s)};
        else if (kvs[k].type == KITE_GGUF_INT32) v.i = kvs[k].i;
        else v.u = (uint64_t)kvs[k].i;
        CHECK(kite_gguf_writer_set(w, kvs[k].key, &v) == KITE_OK, "set %s", kvs[k].key);
    }
    *bytes = (kite_buf){0};
    kite_sink sink = kite_buf_sink(bytes);
    CHECK(kite_gguf_writer_write_header(w, &sink) == KITE_OK, "header");
    kite_gguf_writer_free(w);
    kite_gguf *g = NULL;
    CHECK(kite_gguf_parse(bytes->bytes, bytes->len, &g) == KITE_OK, "parse: %s", kite_last_error());
    return g;
}

static void test_good_keys(void) {
    const kv kvs[] = {
        F32("temp", 0.5),           I32("top_k", 20),        F32("top_p", 0.75), F32("min_p", 0.125),
        F32("penalty_repeat", 1.25), U32("penalty_last_n", 32), // any integer type
        F32("xtc_probability", 0.5), F32("xtc_threshold", 0.25), I32("mirostat", 2),
        F32("mirostat_tau", 4.5),   F32("mirostat_eta", 0.2),  STR("sequence", "top_k;temperature"), // not read
    };
    kite_buf b;
    kite_gguf *g = make(kvs, sizeof kvs / sizeof kvs[0], &b);
    kite_sampler_params p = kite_sampler_default_params();
    char warn[256] = "stale";
    uint32_t got = kite_sampling_from_file(g, 0, &p, warn, sizeof warn);
    CHECK(got == KITE_SAMPLING_ALL, "all eleven set (mask %#x)", got);
    CHECK(p.temp == 0.5f && p.top_k == 20 && p.top_p == 0.75f && p.min_p == 0.125f && p.repeat_penalty == 1.25f &&
              p.penalty_last_n == 32 && p.xtc_probability == 0.5f && p.xtc_threshold == 0.25f && p.mirostat == 2 &&
              p.mirostat_tau == 4.5f && p.mirostat_eta == 0.2f,
          "the file's values");
    CHECK(warn[0] == 0, "no warning, got '%s'", warn);
    CHECK(p.seed == kite_sampler_default_params().seed && p.presence_penalty == 0, "the rest untouched");

    // the settings given keep their values
    kite_sampler_params q = kite_sampler_default_params();
    q.temp = 0.0f;
    q.top_k = 7;
    got = kite_sampling_from_file(g, KITE_SAMPLING_TEMP | KITE_SAMPLING_TOP_K, &q, NULL, 0);
    CHECK(got == (KITE_SAMPLING_ALL & ~(KITE_SAMPLING_TEMP | KITE_SAMPLING_TOP_K)), "mask %#x", got);
    CHECK(q.temp == 0.0f && q.top_k == 7 && q.top_p == 0.75f, "given: temp 0, top_k 7; top_p from the file");
    kite_gguf_free(g);
    kite_buf_free(&b);
}

static void test_bad_keys(void) {
    const kv kvs[] = {
        F32("temp", NAN),         I32("top_k", -3),
        STR("top_p", "0.9"),      F32("min_p", 0.25), // min_p is good
        F32("penalty_repeat", 0), F32("penalty_last_n", 64),
        I32("mirostat", 3),       F32("xtc_probability", 1.5), F32("mirostat_eta", -0.1),
    };
    kite_buf b;
    kite_gguf *g = make(kvs, sizeof kvs / sizeof kvs[0], &b);
    const kite_sampler_params d = kite_sampler_default_params();
    kite_sampler_params p = d;
    char warn[512];
    uint32_t got = kite_sampling_from_file(g, 0, &p, warn, sizeof warn);
    CHECK(got == KITE_SAMPLING_MIN_P, "only min_p set (mask %#x)", got);
    CHECK(p.temp == d.temp && p.top_k == d.top_k && p.top_p == d.top_p && p.min_p == 0.25f &&
              p.repeat_penalty == d.repeat_penalty && p.penalty_last_n == d.penalty_last_n &&
              p.mirostat == d.mirostat && p.xtc_probability == d.xtc_probability && p.mirostat_eta == d.mirostat_eta,
          "Kite's defaults kept for the bad keys");
    static const char *named[] = {"general.sampling.temp nan", "general.sampling.top_k -3",
                                  "general.sampling.top_p is not a float", "general.sampling.penalty_repeat 0",
                                  "general.sampling.penalty_last_n is not an integer", "general.sampling.mirostat 3",
                                  "general.sampling.xtc_probability 1.5", "general.sampling.mirostat_eta -0.1"};
    for (size_t k = 0; k < sizeof named / sizeof named[0]; k++)
        CHECK(strstr(warn, named[k]) != NULL, "the warning names '%s': '%s'", named[k], warn);
    CHECK(strstr(warn, "min_p") == NULL, "min_p is good: '%s'", warn);

    // a short buffer: cut, terminated, not overrun
    char small[24 + 4];
    memset(small, 'x', sizeof small);
    kite_sampler_params q = d;
    kite_sampling_from_file(g, 0, &q, small, 24);
    CHECK(strlen(small) == 23 && small[24] == 'x' && small[27] == 'x', "cut at 23 bytes, nothing written past 24");
    kite_gguf_free(g);
    kite_buf_free(&b);
}

// The bounds are kite run's flags' (--repeat-penalty takes 0.0001..100): a file's 0.00005 is
// refused as the flag would refuse it, 0.0001 and 100 are taken.
static void test_flag_bounds(void) {
    const struct { double v; bool taken; } cases[] = {{0.00005, false}, {0.0001, true}, {100, true}, {100.5, false}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const kv kvs[] = {F32("penalty_repeat", cases[c].v)};
        kite_buf b;
        kite_gguf *g = make(kvs, 1, &b);
        kite_sampler_params p = kite_sampler_default_params();
        char warn[256];
        uint32_t got = kite_sampling_from_file(g, 0, &p, warn, sizeof warn);
        CHECK((got == KITE_SAMPLING_REPEAT_PENALTY) == cases[c].taken, "penalty_repeat %g taken: %d (warning '%s')",
              cases[c].v, cases[c].taken, warn);
        CHECK(!cases[c].taken || p.repeat_penalty == (float)cases[c].v, "penalty_repeat %g set", cases[c].v);
        kite_gguf_free(g);
        kite_buf_free(&b);
    }
}

int main(void) {
    test_good_keys();
    test_bad_keys();
    test_flag_bounds();
    return check_done("test_sampling_file");
}
