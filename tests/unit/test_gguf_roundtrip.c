// test_gguf_roundtrip.c - parsing then re-writing every shared GGUF file (llama.cpp-made
// models, quantized refs, vocab-only files) must give the original bytes back.
#include "base/kite_buf.h"
#include "check.h"
#include "kite.h"


static void roundtrip(const char *rel) {
    size_t len = 0;
    unsigned char *buf = check_read_model(rel, &len);
    if (!buf) return;
    kite_gguf *g = NULL;
    kite_status s = kite_gguf_parse(buf, len, &g);
    CHECK(s == KITE_OK, "%s: parse: %s", rel, kite_last_error());
    if (s != KITE_OK) { free(buf); return; }
    kite_gguf_writer *w = kite_gguf_writer_new();
    CHECK(kite_gguf_writer_copy_kvs(w, g) == KITE_OK, "%s: copy kvs", rel);
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const kite_gguf_tensor *t = &g->tensors[i];
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        CHECK(kite_gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne) == KITE_OK, "%s: add %s", rel, name);
    }
    kite_buf m = {0};
    kite_sink sink = kite_buf_sink(&m);
    uint64_t expect = kite_gguf_writer_total_size(w);
    CHECK(kite_gguf_writer_write_header(w, &sink) == KITE_OK, "%s: header", rel);
    for (uint64_t i = 0; i < g->n_tensors; i++)
        CHECK(kite_gguf_writer_write_data(w, &sink, i, g->tensors[i].data) == KITE_OK, "%s: data %llu", rel,
              (unsigned long long)i);
    CHECK(m.len == expect, "%s: total_size %llu but wrote %zu", rel, (unsigned long long)expect, m.len);
    // A file whose last tensor is not padded may end before our padding; compare the common part
    // and require any extra bytes to be the zero padding.
    size_t first_diff = (size_t)-1;
    for (size_t i = 0; i < len && i < m.len; i++)
        if (buf[i] != m.bytes[i]) { first_diff = i; break; }
    CHECK(first_diff == (size_t)-1, "%s: first differing byte at offset %zu", rel, first_diff);
    CHECK(m.len == len, "%s: wrote %zu bytes, original has %zu", rel, m.len, len);
    printf("%-40s %llu keys %llu tensors: %s\n", rel, (unsigned long long)g->n_kv, (unsigned long long)g->n_tensors,
           first_diff == (size_t)-1 && m.len == len ? "identical" : "DIFFERENT");
    kite_buf_free(&m);
    kite_gguf_writer_free(w);
    kite_gguf_free(g);
    free(buf);
}

int main(void) {
    const char *files[] = {
        "stories260K.gguf", "rand-llama-spm-f16.gguf", "rand-phi3-f16.gguf", "rand-qwen2-f16.gguf",
        "ref/rand-llama-spm-Q8_0.gguf", "ref/rand-llama-spm-Q4_0.gguf", "ref/rand-llama-spm-Q4_K_M.gguf",
        "ref/rand-llama-spm-Q6_K.gguf", "ref/rand-llama-spm-IQ4_NL.gguf",
        "../vocab/ggml-vocab-gpt-2.gguf", "../vocab/ggml-vocab-llama-bpe.gguf", "../vocab/ggml-vocab-llama-spm.gguf",
        "../vocab/ggml-vocab-phi-3.gguf", "../vocab/ggml-vocab-qwen2.gguf",
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) roundtrip(files[i]);
    return check_done("gguf_roundtrip");
}
