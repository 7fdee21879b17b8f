// kld_file.c - reads and writes llama-perplexity's KL-divergence base files (see kld_file.h).
#include "kld_file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kite.h"

static const char MAGIC[8] = {'_', 'l', 'o', 'g', 'i', 't', 's', '_'};

static size_t row_bytes(const kld_file *k) { return (size_t)kite_kld_row_len(k->n_vocab) * sizeof(uint16_t); }

bool kld_file_open_read(kld_file *k, const char *path, char *err, size_t err_len) {
    memset(k, 0, sizeof *k);
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        return false;
    }
    if (!S_ISREG(st.st_mode)) { // a FIFO or device would block or never end
        snprintf(err, err_len, "%s is not a regular file", path);
        return false;
    }
    k->path = strdup(path);
    k->f = fopen(path, "rb");
    if (!k->f) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        return false;
    }
    char magic[8];
    int32_t h[3];
    if (fread(magic, 1, 8, k->f) != 8 || memcmp(magic, MAGIC, 8) != 0 || fread(h, sizeof h, 1, k->f) != 1) {
        snprintf(err, err_len, "%s does not look like a file of log-probabilities (no _logits_ header)", path);
        return false;
    }
    k->n_ctx = h[0];
    k->n_vocab = h[1];
    k->n_chunk = h[2];
    if (k->n_ctx < 4 || k->n_ctx > (1 << 22) || k->n_vocab < 1 || k->n_vocab > (1 << 24) || k->n_chunk < 1) {
        snprintf(err, err_len, "%s: bad header (n_ctx %d, n_vocab %d, n_chunk %d)", path, k->n_ctx, k->n_vocab,
                 k->n_chunk);
        return false;
    }
    const uint64_t want = 8 + sizeof h + (uint64_t)k->n_chunk * (uint64_t)k->n_ctx * 4 +
                          (uint64_t)k->n_chunk * (uint64_t)kld_file_rows(k) * row_bytes(k);
    if ((uint64_t)st.st_size != want) {
        snprintf(err, err_len, "%s: %llu bytes, but its header (n_ctx %d, n_vocab %d, %d chunks) needs %llu", path,
                 (unsigned long long)st.st_size, k->n_ctx, k->n_vocab, k->n_chunk, (unsigned long long)want);
        return false;
    }
    const size_t n_tok = (size_t)k->n_chunk * (size_t)k->n_ctx;
    k->tokens = malloc(n_tok * sizeof(int32_t));
    if (!k->tokens || fread(k->tokens, sizeof(int32_t), n_tok, k->f) != n_tok) {
        snprintf(err, err_len, "%s: cannot read its %zu tokens", path, n_tok);
        return false;
    }
    for (size_t i = 0; i < n_tok; i++) // the scores index a row of n_vocab by them
        if (k->tokens[i] < 0 || k->tokens[i] >= k->n_vocab) {
            snprintf(err, err_len, "%s: token %zu is %d, outside its vocabulary of %d", path, i, k->tokens[i],
                     k->n_vocab);
            return false;
        }
    return true;
}

bool kld_file_read_chunk(kld_file *k, uint16_t *rows, char *err, size_t err_len) {
    const size_t n = (size_t)kld_file_rows(k) * (size_t)kite_kld_row_len(k->n_vocab);
    if (fread(rows, sizeof(uint16_t), n, k->f) != n) {
        snprintf(err, err_len, "%s: short read of a chunk's log-probabilities", k->path ? k->path : "base file");
        return false;
    }
    return true;
}

bool kld_file_open_write(kld_file *k, const char *path, int32_t n_ctx, int32_t n_vocab, int32_t n_chunk,
                         const int32_t *tokens, char *err, size_t err_len) {
    memset(k, 0, sizeof *k);
    if (safe_output_check(path, NULL, err, err_len) != 0 || !safe_output_open(&k->out, path, err, err_len))
        return false;
    k->n_ctx = n_ctx;
    k->n_vocab = n_vocab;
    k->n_chunk = n_chunk;
    const int32_t h[3] = {n_ctx, n_vocab, n_chunk};
    if (!safe_output_write(&k->out, MAGIC, 8) || !safe_output_write(&k->out, h, sizeof h) ||
        !safe_output_write(&k->out, tokens, (size_t)n_chunk * (size_t)n_ctx * sizeof(int32_t))) {
        snprintf(err, err_len, "writing %s: %s", k->out.tmp_path, strerror(k->out.err));
        return false;
    }
    return true;
}

bool kld_file_write_chunk(kld_file *k, const uint16_t *rows, char *err, size_t err_len) {
    const size_t n = (size_t)kld_file_rows(k) * (size_t)kite_kld_row_len(k->n_vocab);
    if (!safe_output_write(&k->out, rows, n * sizeof(uint16_t))) {
        snprintf(err, err_len, "writing %s: %s", k->out.tmp_path, strerror(k->out.err));
        return false;
    }
    return true;
}

bool kld_file_commit(kld_file *k, char *err, size_t err_len) { return safe_output_commit(&k->out, err, err_len); }

void kld_file_close(kld_file *k) {
    if (k->f) fclose(k->f);
    safe_output_close(&k->out);
    free(k->path);
    free(k->tokens);
    memset(k, 0, sizeof *k);
}
