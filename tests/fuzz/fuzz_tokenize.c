// fuzz_tokenize.c - libFuzzer target for the tokenizers: the first input byte picks a shared
// vocabulary (SPM, BPE with each pre-tokenizer family) and the add/parse-special flags, the
// rest is the text; it is tokenized, detokenized and rendered piece by piece. Vocabularies
// come from $KITE_MODELS/../vocab (the target does nothing without them).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kite.h"

typedef struct fz_vocab {
    unsigned char *buf;
    kite_gguf *g;
    kite_vocab *v;
} fz_vocab;

static fz_vocab vocabs[5];
static int n_vocabs;

static void load(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) return;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    fz_vocab *z = &vocabs[n_vocabs];
    z->buf = malloc((size_t)n);
    if (z->buf && fread(z->buf, 1, (size_t)n, f) == (size_t)n && kite_gguf_parse(z->buf, (uint64_t)n, &z->g) == KITE_OK &&
        kite_vocab_load(z->g, &z->v) == KITE_OK)
        n_vocabs++;
    fclose(f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const char *models = getenv("KITE_MODELS");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/../vocab", models && *models ? models : "../shared/models");
    static const char *names[] = {"ggml-vocab-llama-spm.gguf", "ggml-vocab-phi-3.gguf", "ggml-vocab-gpt-2.gguf",
                                  "ggml-vocab-llama-bpe.gguf", "ggml-vocab-qwen2.gguf"};
    for (int i = 0; i < 5; i++) load(dir, names[i]);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || n_vocabs == 0) return 0;
    const kite_vocab *v = vocabs[(data[0] & 7) % n_vocabs].v;
    bool add_special = data[0] & 8, parse_special = data[0] & 16;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    int32_t n = 0;
    kite_tokenize(v, text, len, add_special, parse_special, NULL, 0, &n); // learns the count
    int32_t *ids = malloc(((size_t)n + 1) * sizeof *ids);
    if (!ids) return 0;
    if (kite_tokenize(v, text, len, add_special, parse_special, ids, n, &n) == KITE_OK) {
        int32_t need = kite_detokenize(v, ids, n, NULL, 0, data[0] & 32, data[0] & 64);
        int32_t cap = need < 0 ? -need : need;
        char *s = malloc((size_t)cap + 1);
        if (s) kite_detokenize(v, ids, n, s, cap, data[0] & 32, data[0] & 64);
        free(s);
        char piece[64];
        for (int32_t i = 0; i < n; i++) kite_token_to_piece(v, ids[i], piece, sizeof piece, data[0] & 128);
    }
    free(ids);
    return 0;
}
