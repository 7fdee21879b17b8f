// fuzz_convert_text.c - libFuzzer target for kite convert's text inputs: the bytes, split at NUL
// bytes, are config.json, generation_config.json, tokenizer.json, tokenizer_config.json,
// README.md and the folder's name (each may be absent: fewer parts, or an empty part), served
// as a checkpoint folder; they go through the converter's own steps as kite_convert_hf runs them
// (config.json's hyperparameters, the sampling keys, the vocabulary and special tokens, the
// model card and the identity heuristics). Any bytes must give keys or an error, never a
// crash, a leak or undefined behaviour.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "convert/convert_internal.h"

enum { N_PARTS = 6 };
static const char *const part_names[N_PARTS - 1] = {"config.json", "generation_config.json", "tokenizer.json",
                                                    "tokenizer_config.json", "README.md"};

typedef struct mem_folder {
    const uint8_t *part[N_PARTS];
    size_t len[N_PARTS];
} mem_folder;

static int find(const mem_folder *f, const char *name) {
    for (int i = 0; i < N_PARTS - 1; i++)
        if (!strcmp(name, part_names[i]) && f->part[i] && f->len[i]) return i;
    return -1;
}

static bool f_exists(void *user, const char *name) { return find(user, name) >= 0; }

static kite_status f_read_all(void *user, const char *name, uint8_t **data, uint64_t *len) {
    const mem_folder *f = user;
    int i = find(f, name);
    *data = NULL;
    *len = 0;
    if (i < 0) return KITE_OK;
    if (!(*data = malloc(f->len[i]))) return kite_set_error(KITE_ERR_NOMEM, "out of memory");
    memcpy(*data, f->part[i], f->len[i]);
    *len = f->len[i];
    return KITE_OK;
}

static kite_status f_size(void *user, const char *name, uint64_t *size) {
    int i = find(user, name);
    if (i < 0) return kite_set_error(KITE_ERR_INVALID, "%s: no such file", name);
    *size = ((const mem_folder *)user)->len[i];
    return KITE_OK;
}

static kite_status f_read_at(void *user, const char *name, uint64_t offset, void *dst, uint64_t n) {
    const mem_folder *f = user;
    int i = find(f, name);
    if (i < 0 || offset > f->len[i] || n > f->len[i] - offset) return kite_set_error(KITE_ERR_IO, "%s: read past the end", name);
    memcpy(dst, f->part[i] + offset, n);
    return KITE_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mem_folder f = {0};
    size_t at = 0;
    for (int i = 0; i < N_PARTS && at <= size; i++) {
        const uint8_t *nul = at < size ? memchr(data + at, 0, size - at) : NULL;
        size_t end = nul ? (size_t)(nul - data) : size;
        f.part[i] = data + at;
        f.len[i] = end - at;
        at = end + 1;
    }
    // the folder's name: the last part as a string
    char *dir = malloc(f.len[N_PARTS - 1] + 1);
    if (!dir) return 0;
    if (f.len[N_PARTS - 1]) memcpy(dir, f.part[N_PARTS - 1], f.len[N_PARTS - 1]);
    dir[f.len[N_PARTS - 1]] = 0;

    kite_hf_files files = {&f, f_exists, f_read_all, f_size, f_read_at};
    kite_gguf_writer *w = kite_gguf_writer_new();
    kite__jval *cfg = NULL;
    if (w && kite__hf_read_json(&files, "config.json", &cfg) == KITE_OK && cfg) {
        kite__hf_model m = {0};
        if (kite__hf_config(cfg, w, &m) == KITE_OK && kite__hf_sampling_keys(&files, w) == KITE_OK) {
            uint32_t n_vocab = 0;
            (void)kite__hf_vocab(&files, cfg, &m, w, &n_vocab);
        }
    }
    if (w) {
        // parameter counts from the input's size: dense and MoE labels, small and large
        kite__hf_params p = {(uint64_t)size * 7919u, (uint64_t)size * 13u, (uint64_t)size * 101u, size % 3 ? size % 129 : 0};
        (void)kite__hf_identity_keys(&files, cfg, f.len[N_PARTS - 1] ? dir : NULL, size % 5 ? NULL : "Override", &p, w);
    }
    kite__json_free(cfg);
    kite_gguf_writer_free(w);
    free(dir);
    return 0;
}
