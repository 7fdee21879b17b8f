// safe_output.h - writing an output file so that nothing is lost: the target must be a
// regular file or a new name (never the input, a FIFO, a device, a folder, or a link, which is
// refused rather than written through); the bytes go to a temporary file beside it that is
// fsynced and renamed over the target only when complete, and the folder is synced after.
// On any failure, or when the caller gives up, the temporary file is removed and the target
// is untouched.
#ifndef KITE_NATIVE_SAFE_OUTPUT_H
#define KITE_NATIVE_SAFE_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct safe_output {
    FILE *f;        // the temporary file, open for writing
    char *path;     // the target
    char *tmp_path; // the temporary file beside it (NULL once renamed or removed)
    int err;        // errno of the first failure
} safe_output;

// Whether path may be written: 0 yes (a regular file or absent), 2 no (it is in_path itself,
// also through a link, or not a regular file: why goes to err), 1 it cannot be checked.
// in_path may be NULL.
int safe_output_check(const char *path, const char *in_path, char *err, size_t err_len);

// Creates the temporary file beside path (mode 0666 less the umask). false with err (and errno)
// on failure.
bool safe_output_open(safe_output *o, const char *path, char *err, size_t err_len);

// fwrite to the temporary file; a short write records errno and returns false.
bool safe_output_write(safe_output *o, const void *data, size_t n);

// Flushes, fsyncs and closes the temporary file, checks that the target is still replaceable
// and renames over it, then syncs the folder. false with err (the temporary file removed).
bool safe_output_commit(safe_output *o, char *err, size_t err_len);

// Closes and removes the temporary file if it is still there; frees o's strings.
void safe_output_close(safe_output *o);

#endif
