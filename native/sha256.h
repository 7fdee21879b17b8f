// sha256.h - SHA-256 (FIPS 180-4), to check downloaded models against a published digest.
#ifndef KITE_NATIVE_SHA256_H
#define KITE_NATIVE_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sha256_ctx {
    uint32_t h[8];
    uint64_t n_bytes; // message bytes so far
    uint8_t block[64];
    size_t n_block; // bytes waiting in block
} sha256_ctx;

void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const void *data, size_t n);
// Writes the digest as 64 lowercase hex digits and a NUL to hex[65].
void sha256_final_hex(sha256_ctx *c, char hex[65]);

// The SHA-256 of a file's bytes as hex (hex[65]); false (errno set) when it cannot be read.
bool sha256_file_hex(const char *path, char hex[65]);

#endif
