// file_map.h - read-only views of whole files for the CLI: mmap natively, a heap copy where
// mmap is unavailable (WASI; the owner may write it: model_cli.c lets the model repack in it).
// The core only ever sees the (ptr, len) pair.
#ifndef KITE_NATIVE_FILE_MAP_H
#define KITE_NATIVE_FILE_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

typedef struct kite_file_map {
    const uint8_t *data;
    uint64_t size;
    bool mapped; // true: munmap on close; false: free
} kite_file_map;

// Opens path read-only and maps it. Only a regular file is accepted: a FIFO, a device, a
// directory or a socket is refused without blocking (open is non-blocking, the type checked on
// the descriptor). On failure prints nothing, returns false and writes a one-line reason
// (naming the path) into err.
bool kite_file_map_open(const char *path, kite_file_map *m, char *err, size_t err_size);

// Drops the pages wholly inside [data, data + len) from the process's resident memory when the
// range lies in m's mapping: they become inaccessible (a later read faults), for ranges nothing
// reads again (kite_model_params.release). Does nothing for a heap copy or a range outside m.
// Returns true when the range was m's.
bool kite_file_map_drop(const kite_file_map *m, const void *data, uint64_t len);

// Releases the view. Safe on a zeroed struct.
void kite_file_map_close(kite_file_map *m);

// True when paths a and b name the same existing file (same device and inode).
bool kite_file_same(const char *a, const char *b);

// The most bytes a text input (-f FILE, --stdin) may have: far above any prompt or evaluation
// text, low enough that an endless input (/dev/zero) stops early instead of filling memory.
#define KITE_TEXT_MAX ((size_t)256 << 20)

// Reads the rest of stream f into a malloc'd, NUL-terminated buffer (*len: its bytes without the
// NUL). NULL on a read error, when memory runs out, or (with *too_long set) when the stream
// holds more than max bytes; it stops reading there. Prints nothing.
char *kite_read_stream(FILE *f, size_t max, size_t *len, bool *too_long);

// Reads the regular file path (a text input) into a malloc'd, NUL-terminated buffer (*len: its
// bytes without the NUL). Refuses, without blocking, anything but a regular file, and a file of
// more than max bytes (the message names the limit). NULL on failure with a one-line reason
// (naming the path) in err; prints nothing.
char *kite_read_text_file(const char *path, size_t max, size_t *len, char *err, size_t err_size);

// getline with a bound: reads one line (with its '\n', if any) into *line (malloc'd or grown,
// *cap its size; NUL-terminated) and returns its length. -1 at the end of input, on a read
// error or when memory runs out; -2 when the line holds more than max bytes (reading stops
// there). Prints nothing.
ssize_t kite_read_line(char **line, size_t *cap, FILE *f, size_t max);

// What kind of file a st_mode names, as a noun phrase for messages ("a FIFO (named pipe)",
// "a directory", "a regular file").
const char *kite_file_kind(unsigned mode);

#endif
