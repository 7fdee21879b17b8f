// kld_file.h - llama-perplexity's --kl-divergence-base file: "_logits_", int32 n_ctx, n_vocab,
// n_chunk, the n_chunk * n_ctx evaluated tokens, then per chunk n_ctx - 1 - n_ctx/2 compressed
// rows of log-probabilities (kite_kld_row_len(n_vocab) uint16 each). Little-endian, as written
// by llama.cpp on the hosts it runs on.
#ifndef KITE_NATIVE_KLD_FILE_H
#define KITE_NATIVE_KLD_FILE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "safe_output.h"

typedef struct kld_file {
    FILE *f;          // reader
    safe_output out;  // writer: the temporary file renamed over path at kld_file_commit
    char *path;
    int32_t n_ctx, n_vocab, n_chunk;
    int32_t *tokens;  // reader: (n_chunk * n_ctx)
} kld_file;

// Rows per chunk.
static inline int32_t kld_file_rows(const kld_file *k) { return k->n_ctx - 1 - k->n_ctx / 2; }

// Opens path for reading and checks the header and the file's size against it (every chunk
// present, nothing after), and that its tokens are ids of its vocabulary. On failure writes a
// message naming the problem to err.
bool kld_file_open_read(kld_file *k, const char *path, char *err, size_t err_len);

// Reads the next chunk's rows into rows (kld_file_rows * kite_kld_row_len uint16).
bool kld_file_read_chunk(kld_file *k, uint16_t *rows, char *err, size_t err_len);

// Creates a temporary file beside path (which must be a regular file or a new name) and writes
// the header with tokens (n_chunk * n_ctx).
bool kld_file_open_write(kld_file *k, const char *path, int32_t n_ctx, int32_t n_vocab, int32_t n_chunk,
                         const int32_t *tokens, char *err, size_t err_len);

// Appends one chunk's rows.
bool kld_file_write_chunk(kld_file *k, const uint16_t *rows, char *err, size_t err_len);

// Writer: flushes, fsyncs and renames the temporary file over path. false (with err) on any
// failure, the temporary file removed.
bool kld_file_commit(kld_file *k, char *err, size_t err_len);

// Closes the file; a writer that was not committed removes its temporary file.
void kld_file_close(kld_file *k);

#endif
