// fuzz_spm.c - libFuzzer target for the SentencePiece tokenizer.model reader of kite convert
// (a protobuf ModelProto): the input is the file; no other file of the folder exists.
#include <stddef.h>
#include <stdint.h>

#include "convert/convert_internal.h"

static bool none(void *user, const char *name) {
    (void)user, (void)name;
    return false;
}

static kite_status absent(void *user, const char *name, uint8_t **data, uint64_t *len) {
    (void)user, (void)name;
    *data = NULL;
    *len = 0;
    return KITE_OK;
}

static kite_status no_size(void *user, const char *name, uint64_t *size) {
    (void)user, (void)size;
    return kite_set_error(KITE_ERR_INVALID, "%s: absent", name);
}

static kite_status no_read(void *user, const char *name, uint64_t offset, void *dst, uint64_t n) {
    (void)user, (void)offset, (void)dst, (void)n;
    return kite_set_error(KITE_ERR_INVALID, "%s: absent", name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    kite_hf_files files = {NULL, none, absent, no_size, no_read};
    kite__hf_model m = {.arch = "llama", .llama_like = true};
    kite_gguf_writer *w = kite_gguf_writer_new();
    if (!w) return 0;
    uint32_t n_vocab = 0;
    kite__hf_spm_vocab(&files, data, size, NULL, NULL, NULL, &m, w, &n_vocab);
    kite_gguf_writer_free(w);
    return 0;
}
