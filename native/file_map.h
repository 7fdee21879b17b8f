// file_map.h - read-only views of whole files for the CLI: mmap natively, a heap copy where
// mmap is unavailable (WASI). The core only ever sees the (ptr, len) pair.
#ifndef KITE_NATIVE_FILE_MAP_H
#define KITE_NATIVE_FILE_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct kite_file_map {
    const uint8_t *data;
    uint64_t size;
    bool mapped; // true: munmap on close; false: free
} kite_file_map;

// Opens path read-only and maps it. On failure prints nothing, returns false and writes a
// one-line reason (naming the path) into err.
bool kite_file_map_open(const char *path, kite_file_map *m, char *err, size_t err_size);

// Releases the view. Safe on a zeroed struct.
void kite_file_map_close(kite_file_map *m);

// True when paths a and b name the same existing file (same device and inode).
bool kite_file_same(const char *a, const char *b);

// Reads the rest of stream f into a malloc'd, NUL-terminated buffer (*len: its bytes without the
// NUL); NULL on a read error or when memory runs out. Prints nothing.
char *kite_read_stream(FILE *f, size_t *len);

#endif
