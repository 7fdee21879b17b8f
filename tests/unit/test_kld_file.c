// test_kld_file.c - llama-perplexity's KL-divergence base files (native/kld_file.c): a file
// written is read back, and malformed ones are refused with a message (the inputs
// fuzz_kld_file found or checks).
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

#if defined(__wasi__)
int main(void) { return 0; } // the CLI's file code is native only
#else
#include "../../native/file_map.c"
#include "../../native/kld_file.c"
#include "../../native/safe_output.c"

static char dir[] = "/tmp/test_kld_XXXXXX";

// Writes a file of n_chunk chunks with the given tokens (rows of levels i * 7); true on success.
static bool write_file(const char *path, int32_t n_ctx, int32_t n_vocab, int32_t n_chunk, const int32_t *tokens) {
    kld_file k;
    char err[256];
    bool ok = kld_file_open_write(&k, path, n_ctx, n_vocab, n_chunk, tokens, err, sizeof err);
    const size_t n = (size_t)kld_file_rows(&k) * (size_t)kite_kld_row_len(n_vocab);
    uint16_t rows[64] = {0};
    for (size_t i = 0; i < n && i < 64; i++) rows[i] = (uint16_t)(i * 7);
    for (int32_t c = 0; ok && c < n_chunk; c++) ok = kld_file_write_chunk(&k, rows, err, sizeof err);
    ok = ok && kld_file_commit(&k, err, sizeof err);
    CHECK(ok, "writing %s: %s", path, err);
    kld_file_close(&k);
    return ok;
}

int main(void) {
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char path[64];
    snprintf(path, sizeof path, "%s/base.kld", dir);
    // a good file reads back: header, tokens, rows
    const int32_t good[8] = {0, 4, 2, 1, 3, 3, 0, 4};
    if (write_file(path, 4, 5, 2, good)) {
        kld_file k;
        char err[256] = "";
        CHECK(kld_file_open_read(&k, path, err, sizeof err), "%s", err);
        CHECK(k.n_ctx == 4 && k.n_vocab == 5 && k.n_chunk == 2 && k.tokens && !memcmp(k.tokens, good, sizeof good),
              "header %d %d %d", k.n_ctx, k.n_vocab, k.n_chunk);
        uint16_t rows[16];
        CHECK(kld_file_read_chunk(&k, rows, err, sizeof err) && rows[5] == 35, "chunk 0: %s", err);
        kld_file_close(&k);
    }
    // a token outside the vocabulary (the scores index a row of n_vocab by it) is refused (found
    // by fuzz_kld_file: it was read outside the row and the logits)
    const int32_t bad[2][4] = {{0, 1, 5, 2}, {0, -1, 2, 2}};
    for (int i = 0; i < 2; i++) {
        if (!write_file(path, 4, 5, 1, bad[i])) continue;
        kld_file k;
        char err[256] = "";
        CHECK(!kld_file_open_read(&k, path, err, sizeof err) && strstr(err, "outside its vocabulary of 5"),
              "bad tokens %d taken (err '%s')", i, err);
        kld_file_close(&k);
    }
    // a size that does not match the header, no magic
    FILE *f = fopen(path, "ab");
    if (f) fputc(0, f), fclose(f);
    kld_file k;
    char err[256] = "";
    CHECK(!kld_file_open_read(&k, path, err, sizeof err) && strstr(err, "needs"), "a longer file taken: %s", err);
    kld_file_close(&k);
    f = fopen(path, "wb");
    if (f) fputs("_logits", f), fclose(f);
    CHECK(!kld_file_open_read(&k, path, err, sizeof err) && strstr(err, "no _logits_ header"), "%s", err);
    kld_file_close(&k);
    remove(path);
    rmdir(dir);
    return check_done("test_kld_file");
}
#endif
