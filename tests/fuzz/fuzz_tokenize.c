// fuzz_tokenize.c - libFuzzer target for the tokenizers: the first input byte picks a shared
// vocabulary (SPM, BPE with each pre-tokenizer family) and the add/parse-special flags, the
// rest is the text; it is tokenized, detokenized and rendered piece by piece. Vocabularies
// come from $KITE_MODELS/../vocab. A first byte of 0xFF instead makes the rest a GGUF file
// whose vocabulary is loaded and used on a fixed text (seeds: tiny SPM and BPE vocabularies).
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

static void run(const kite_vocab *v, uint8_t mode, const char *text, size_t len);

// The vocabulary of a fuzzed GGUF file, used on a text that reaches every code path.
static void fuzz_vocab_file(const uint8_t *data, size_t size) {
    kite_gguf *g = NULL;
    kite_vocab *v = NULL;
    if (kite_gguf_parse(data, size, &g) == KITE_OK && kite_vocab_load(g, &v) == KITE_OK) {
        static const char text[] = " Hello  world's 123 \xc3\xa4\xf0\x9f\xa6\x99\n\n<s></s><|im_end|>\xff!";
        for (int mode = 0; mode < 256; mode += 8) run(v, (uint8_t)mode, text, sizeof text - 1);
        for (int32_t id = -1; id <= kite_vocab_n_tokens(v) && id < 4096; id++) {
            char piece[32];
            kite_token_to_piece(v, id, piece, sizeof piece, id & 1);
            (void)kite_vocab_is_eog(v, id);
            (void)kite_vocab_token_text(v, id);
        }
    }
    kite_vocab_free(v);
    kite_gguf_free(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    if (data[0] == 0xFF) {
        fuzz_vocab_file(data + 1, size - 1);
        return 0;
    }
    if (n_vocabs == 0) return 0;
    run(vocabs[(data[0] & 7) % n_vocabs].v, data[0], (const char *)data + 1, size - 1);
    return 0;
}

// Tokenizes text with the flags of mode, then detokenizes and renders every piece.
static void run(const kite_vocab *v, uint8_t mode, const char *text, size_t len) {
    bool add_special = mode & 8, parse_special = mode & 16;
    int32_t n = 0;
    kite_tokenize(v, text, len, add_special, parse_special, NULL, 0, &n); // learns the count
    int32_t *ids = malloc(((size_t)n + 1) * sizeof *ids);
    if (!ids) return;
    if (kite_tokenize(v, text, len, add_special, parse_special, ids, n, &n) == KITE_OK) {
        int32_t need = kite_detokenize(v, ids, n, NULL, 0, mode & 32, mode & 64);
        int32_t cap = need < 0 ? -need : need;
        char *s = malloc((size_t)cap + 1);
        if (s) kite_detokenize(v, ids, n, s, cap, mode & 32, mode & 64);
        free(s);
        char piece[64];
        for (int32_t i = 0; i < n; i++) kite_token_to_piece(v, ids[i], piece, sizeof piece, mode & 128);
    }
    free(ids);
}
