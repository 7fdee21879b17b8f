// fuzz_kld_file.c - libFuzzer target for llama-perplexity's KL-divergence base files
// (native/kld_file.c), which `kite perplexity --kl-divergence-base` reads from wherever a user
// got them. Input: the file's bytes (written to a temporary file: the reader wants a path).
// Invariants: the file opens, or is refused with a message; an opened file's header is in range
// (n_ctx >= 4, n_vocab and n_chunk >= 1) and its tokens are ids of its vocabulary; every chunk
// reads, and each row scores against a model's logits (kite_kld_add_row, as the command does,
// with the file's tokens) without reading outside the row or the logits.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kite.h"
#include "file_map.c"
#include "kld_file.c"
#include "safe_output.c"

static char kld_path[4096];
static void remove_file(void) { remove(kld_path); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!kld_path[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(kld_path, sizeof kld_path, "%s/fuzz_kld_%d.bin", tmp && *tmp ? tmp : "/tmp", (int)getpid());
        atexit(remove_file);
    }
    FILE *f = fopen(kld_path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    fclose(f);
    kld_file k;
    char err[512] = "";
    if (!kld_file_open_read(&k, kld_path, err, sizeof err)) {
        if (!err[0]) abort();
        kld_file_close(&k);
        return 0;
    }
    if (k.n_ctx < 4 || k.n_vocab < 1 || k.n_chunk < 1 || !k.tokens) abort();
    const size_t n_tok = (size_t)k.n_chunk * (size_t)k.n_ctx;
    for (size_t i = 0; i < n_tok; i++)
        if (k.tokens[i] < 0 || k.tokens[i] >= k.n_vocab) abort();
    const int32_t rows = kld_file_rows(&k), nv = kite_kld_row_len(k.n_vocab);
    uint16_t *row = malloc((size_t)rows * (size_t)nv * sizeof *row);
    float *logits = calloc((size_t)k.n_vocab, sizeof *logits);
    if (!row || !logits) abort();
    kite_kld_stats st = {0};
    const int32_t first = k.n_ctx / 2;
    for (int32_t c = 0; c < k.n_chunk; c++) {
        if (!kld_file_read_chunk(&k, row, err, sizeof err)) abort(); // the size was checked at open
        const int32_t *tokens = k.tokens + (size_t)c * (size_t)k.n_ctx;
        for (int32_t j = 0; j < rows; j++) {
            float kld = 0, p_diff = 0;
            kite_kld_add_row(&st, logits, k.n_vocab, row + (size_t)j * (size_t)nv, tokens[first + j + 1], &kld, &p_diff);
        }
    }
    free(row);
    free(logits);
    kld_file_close(&k);
    return 0;
}
